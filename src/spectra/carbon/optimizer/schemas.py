"""Region optimiser and latency shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator


class WeightsIn(BaseModel):
    carbon: float = Field(default=0.5, ge=0)
    latency: float = Field(default=0.2, ge=0)
    cost: float = Field(default=0.3, ge=0)

    @model_validator(mode="after")
    def _some_weight(self) -> WeightsIn:
        if self.carbon + self.latency + self.cost <= 0:
            raise ValueError("at least one weight must be positive")
        return self


class WorkloadIn(BaseModel):
    """A workload to place: an existing instance, an instance type, or a power draw."""

    instance_id: str | None = Field(default=None, description="An instance of yours: type, region and users from it")
    instance_type: str | None = Field(default=None, max_length=40, description="e.g. m5.xlarge")
    power_kw: float | None = Field(default=None, gt=0, le=10_000, description="IT power when no type is given")
    utilisation: float = Field(default=0.5, ge=0, le=1, description="Mean CPU utilisation for the power model")
    users_region: str | None = Field(default=None, max_length=64, description="Region nearest the users")
    current_region: str | None = Field(default=None, max_length=64)
    start: datetime | None = Field(default=None, description="Window start (default: now)")
    hours: float = Field(default=24, gt=0, le=24 * 14, description="Window length; carbon is the mean over it")
    max_latency_ms: float | None = Field(default=None, gt=0)
    providers: list[str] | None = Field(default=None, description="Allowed providers (aws, gcp, azure)")
    countries: list[str] | None = Field(default=None, description="Allowed ISO countries (data residency)")
    weights: WeightsIn = Field(default_factory=WeightsIn)

    @model_validator(mode="after")
    def _something_to_place(self) -> WorkloadIn:
        if self.instance_id is None and self.instance_type is None and self.power_kw is None:
            raise ValueError("give instance_id, instance_type or power_kw")
        return self


class RankedRegionOut(BaseModel):
    rank: int
    code: str
    name: str
    provider: str
    country: str | None
    score: float = Field(description="0–100, higher is better")
    components: dict[str, float] = Field(description="Each criterion scaled 0 (best) … 1 (worst)")
    intensity_g_per_kwh: float
    latency_ms: float | None
    latency_source: str
    co2e_kg: float = Field(description="Workload CO2e over the window in this region")
    cost_usd: float | None
    co2e_change_kg: float | None = Field(description="Versus the current region (negative = saving)")
    cost_change_usd: float | None
    is_current: bool
    explanation: list[str]


class ExcludedOut(BaseModel):
    code: str
    reasons: list[str]


class WindowOut(BaseModel):
    start: datetime
    end: datetime
    hours: float
    it_energy_kwh: float
    energy_method: str


class RankingOut(BaseModel):
    workload: dict[str, Any]
    window: WindowOut
    users_region: str | None
    current_region: str | None
    weights: dict[str, float]
    method: str
    regions: list[RankedRegionOut]
    excluded: list[ExcludedOut]
    best: str | None


class LatencyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    from_region: str
    to_region: str
    rtt_ms: float
    source: str
    measured_at: datetime
    details: dict[str, Any]


class LatencyFetchIn(BaseModel):
    date_range: str = Field(default="7d", pattern=r"^\d{1,3}[dw]$", description="Radar dateRange, e.g. 7d")


class LatencyFetchOut(BaseModel):
    source: str
    pairs: int
    countries: list[str]
    errors: list[dict[str, str]]
    measured_at: datetime
