"""Anomaly shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class AnomalyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    client_id: str
    instance_id: str | None
    team_id: str | None
    region: str | None
    kind: str
    status: str
    severity: str
    score: float = Field(description="Detector score in [0, 1]")
    title: str
    started_at: datetime = Field(description="Start of the evidence window")
    ended_at: datetime = Field(description="End of the evidence window")
    detected_at: datetime
    pattern: str
    evidence: dict[str, Any]
    co2e_kg: float = Field(description="Estimated CO2e of the anomaly (excess or wasted), kg")
    cost_usd: float = Field(description="Estimated cost of the anomaly (excess or wasted), USD")
    resolved_at: datetime | None
    note: str | None
    version: int


class AnomalyPage(BaseModel):
    items: list[AnomalyOut]
    total: int
    limit: int
    offset: int


class KindStats(BaseModel):
    total: int
    open: int
    co2e_kg: float
    cost_usd: float


class AnomalyStats(BaseModel):
    total: int
    open: int
    resolved: int
    dismissed: int
    by_kind: dict[str, KindStats]
    by_severity: dict[str, int]
    open_co2e_kg: float
    open_cost_usd: float


class ResolveIn(BaseModel):
    note: str | None = Field(default=None, max_length=2000)
    version: int | None = Field(default=None, description="The version you read; stale → 409")


class DismissIn(BaseModel):
    reason: str = Field(min_length=3, max_length=2000, description="Why this is not a problem")
    version: int | None = Field(default=None, description="The version you read; stale → 409")
    suppress_days: int | None = Field(
        default=None, ge=1, le=3650, description="Stay quiet on this pattern for N days (default: for good)"
    )
