"""Decision and model-registry API shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field


class DecideIn(BaseModel):
    power_watts: float | None = Field(default=None, ge=0, description="Instance power draw, for the carbon price")


class PoolRef(BaseModel):
    pool_id: str
    region: str
    availability_zone: str
    instance_type: str
    product_description: str


class CandidateOut(BaseModel):
    pool_id: str
    availability_zone: str | None
    price: float
    interruption_probability: float
    interruption_bucket: int | None
    volatility: float
    hours_since_change: float
    expected_cost_per_hour: float
    fleet_count: int


class DecisionOut(BaseModel):
    decision_id: str | None = Field(description="Set when the decision was logged (decide), null for a recommendation")
    action: Literal["stay", "switch", "create_replica", "fallback_on_demand", "return_to_spot"]
    target_pool_id: str | None
    target_pool: PoolRef | None
    expected_cost_per_hour: float = Field(description="USD/h of the state the instance ends up in")
    current_cost_per_hour: float | None
    on_demand_price: float
    risk: float = Field(description="Monthly interruption probability of that state")
    reason: str
    engine: str
    engine_model_id: str | None
    risk_model_id: str | None
    latency_ms: float
    decided_at: datetime
    command_id: str | None = Field(description="The queued command when auto-switch acted on the decision")
    candidates: list[CandidateOut]
    policy: dict[str, Any]


class EngineUpload(BaseModel):
    name: str = Field(min_length=1, max_length=120)
    version: str = Field(min_length=1, max_length=60)
    engine: str = "cost-minimising-v1"
    policy: dict[str, Any] = Field(default_factory=dict, description="Any ClientPolicy field, e.g. hysteresis_pct")
    notes: str | None = None
    activate: bool = False


class ActivateIn(BaseModel):
    model_id: str


class FallbackIn(BaseModel):
    kind: Literal["decision_engine", "interruption_risk"] = "decision_engine"


class ModelOut(BaseModel):
    id: str
    name: str
    version: str
    kind: str
    framework: str
    status: str
    session_id: str
    sha256: str | None
    size_bytes: int
    config: dict[str, Any] | None
    validation: dict[str, Any] | None
    uploaded_by: str | None
    uploaded_at: datetime
    activated_at: datetime | None
    previous_model_id: str | None
    notes: str | None


class SessionModelOut(ModelOut):
    decisions: int


class ModelSessionOut(BaseModel):
    session_id: str
    uploaded_at: datetime
    active: bool
    models: list[SessionModelOut]


class FallbackOut(BaseModel):
    kind: str
    deactivated: ModelOut
    active: ModelOut | None
    using: str
