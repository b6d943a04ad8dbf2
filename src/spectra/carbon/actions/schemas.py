"""Shapes of recorded actions and realised savings."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ActionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    client_id: str
    kind: str
    origin: str
    status: str
    request_id: str
    instance_id: str | None
    entity_type: str
    entity_id: str
    summary: str
    co2e_kg_per_hour: float = Field(description="CO2e avoided per hour while the action is in effect")
    cost_usd_per_hour: float = Field(description="USD saved per hour while the action is in effect")
    effective_from: datetime | None
    effective_until: datetime | None
    details: dict[str, Any]
    created_at: datetime


class SavingsByKind(BaseModel):
    co2e_kg: float
    cost_usd: float
    actions: int


class RealisedSavings(BaseModel):
    start: datetime
    end: datetime
    co2e_kg: float
    cost_usd: float
    actions: int
    by_kind: dict[str, SavingsByKind]
    method: str
