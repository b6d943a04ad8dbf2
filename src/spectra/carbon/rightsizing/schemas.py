"""Rightsizing shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class OptimizeIn(BaseModel):
    window_hours: float = Field(default=168, ge=1, le=24 * 90, description="Utilisation window (p95 over it)")
    accept: bool = Field(default=False, description="Apply the recommendation now (records the action)")
    request_id: str | None = Field(default=None, max_length=160, description="Idempotency of the accept")
    allow_architecture_change: bool = Field(default=False, description="Also consider arm64 ↔ x86_64 types")


class RecommendationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    client_id: str
    instance_id: str
    region: str | None
    action: str = Field(description="downsize | upsize | keep | insufficient_data")
    status: str = Field(description="open | accepted | dismissed | superseded")
    current_type: str
    recommended_type: str | None
    scope: str = Field(description="same_family | compatible | none")
    cpu_p95: float | None
    memory_p95: float | None
    window_hours: float
    monthly_cost_savings_usd: float | None
    monthly_co2e_savings_kg: float | None
    details: dict[str, Any]
    computed_at: datetime
    decided_at: datetime | None
    action_id: str | None
    version: int


class RecommendationPage(BaseModel):
    items: list[RecommendationOut]
    total: int
    monthly_cost_savings_usd: float = Field(description="Sum over the listed recommendations")
    monthly_co2e_savings_kg: float


class DecisionIn(BaseModel):
    request_id: str | None = Field(default=None, max_length=160)
    reason: str | None = Field(default=None, max_length=1000)


class OptimizeOut(BaseModel):
    recommendation: RecommendationOut
    applied: bool = Field(description="True when the change was carried out (simulated cloud)")
    action_id: str | None = Field(description="The recorded optimisation action, when accepted")
