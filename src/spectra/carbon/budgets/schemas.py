"""Budget shapes."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field


class BudgetCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    team_id: str
    year: int | None = Field(default=None, ge=2000, le=2100, description="Default: the current quarter's year")
    quarter: int | None = Field(default=None, ge=1, le=4, description="Default: the current quarter")
    budget_co2e_kg: float = Field(gt=0, le=1e12)
    basis: str = Field(default="location", pattern="^(location|market)$", description="Operational CO2e method")
    include_embodied: bool = Field(default=True, description="Count embodied (Scope 3) hardware emissions too")


class BudgetUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int = Field(description="The version you read; a stale one is refused with 409")
    budget_co2e_kg: float | None = Field(default=None, gt=0, le=1e12)
    basis: str | None = Field(default=None, pattern="^(location|market)$")
    include_embodied: bool | None = None


class BudgetOut(BaseModel):
    id: str
    client_id: str
    team_id: str
    team_name: str
    year: int
    quarter: int
    period_start: date
    period_end: date
    budget_co2e_kg: float
    basis: str
    include_embodied: bool
    consumed_co2e_kg: float = Field(description="Counted CO2e from the quarter's start to now")
    pct_used: float
    remaining_co2e_kg: float
    projected_co2e_kg: float = Field(description="Linear run-rate: consumed × quarter length ÷ time elapsed")
    status: str = Field(description="on_track | at_risk (projected over, or ≥ 80% used) | over (≥ 100% used)")
    thresholds_notified: list[int]
    cost_usd: float
    kwh: float
    version: int
    created_at: datetime
    updated_at: datetime
