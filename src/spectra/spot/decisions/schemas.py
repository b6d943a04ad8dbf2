"""Decision and model-registry API shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field


class DecideIn(BaseModel):
    power_watts: float | None = Field(
        default=None,
        ge=0,
        le=100_000,
        description="Measured IT power of the instance (W), for the carbon price; by default the Cloud Carbon "
        "Footprint model of its type gives it. The region's PUE is applied.",
    )


class PoolRef(BaseModel):
    pool_id: str
    region: str
    availability_zone: str
    instance_type: str
    product_description: str


class CandidateOut(BaseModel):
    pool_id: str
    instance_type: str | None
    availability_zone: str | None
    price: float
    interruption_probability: float
    interruption_bucket: int | None
    volatility: float
    hours_since_change: float
    expected_cost_per_hour: float
    carbon_cost_per_hour: float | None = Field(
        description="USD/h of emissions in this pool at the policy's carbon price (null when carbon is not priced)"
    )
    power_watts: float | None = Field(description="Grid draw of one instance of the pool's type (IT power × PUE)")
    carbon_intensity_g_per_kwh: float | None = Field(description="The region's intensity over the decision horizon")
    fleet_count: int


class CarbonRegionOut(BaseModel):
    region: str
    zone: str | None
    intensity_g_per_kwh: float | None = Field(description="Mean over the window; null when nothing is known")
    method: str | None = Field(description='"stored", the forecast method, or "stored+<method>"')
    hours: int


class CarbonOut(BaseModel):
    """How the carbon price entered the decision."""

    price_usd_per_tonne: float
    horizon_hours: float = Field(description="The intensity window: the hours a move is paid back over")
    window_start: datetime
    window_end: datetime
    utilisation: float = Field(description="CPU utilisation the power model is taken at (the client's default)")
    power_source: Literal["stated", "ccf_model"]
    power_watts: dict[str, float | None] = Field(description="Grid draw (W) per instance type")
    regions: list[CarbonRegionOut]
    notes: list[str] = Field(description='Missing data, e.g. "no intensity for <zone>" (the term is 0 there)')
    cost_per_hour: float | None = Field(description="USD/h of emissions where the instance ends up")
    current_cost_per_hour: float | None = Field(description="USD/h of emissions where it is now")
    lookup_ms: float


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
    latency_ms: float = Field(description="The engine's own time")
    context_ms: float = Field(description="Reading the decision's inputs (database, carbon look-ups)")
    decided_at: datetime
    command_id: str | None = Field(description="The queued command when auto-switch acted on the decision")
    carbon: CarbonOut | None = Field(description="Set when the policy sets a carbon price")
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
