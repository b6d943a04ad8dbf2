"""Dashboard shape. Headline CO2e = location-based operational + embodied (kg); market-based beside it."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, Field


class Totals(BaseModel):
    co2e_kg: float = Field(description="Location-based operational + embodied")
    co2e_market_kg: float = Field(description="Market-based operational + embodied")
    operational_location_kg: float
    operational_market_kg: float
    embodied_kg: float
    kwh: float
    cost_usd: float
    instance_hours: float


class ScopeTotals(BaseModel):
    scope1_kg: float
    scope2_location_kg: float
    scope2_market_kg: float
    scope3_kg: float


class Slice(BaseModel):
    key: str | None
    name: str
    co2e_kg: float
    kwh: float
    cost_usd: float
    share: float = Field(description="Share of the month's CO2e")


class RegionIntensity(BaseModel):
    region: str
    zone: str | None
    g_per_kwh: float | None = Field(description="Latest hourly location-based intensity at or before now")
    at: datetime | None
    renewable_pct: float | None = None
    source: str | None = None


class BudgetLine(BaseModel):
    budget_id: str
    team_id: str
    team_name: str
    budget_co2e_kg: float
    consumed_co2e_kg: float
    pct_used: float
    projected_co2e_kg: float
    status: str


class BudgetOverview(BaseModel):
    year: int
    quarter: int
    on_track: int
    at_risk: int
    over: int
    budgets: list[BudgetLine]


class Emitter(BaseModel):
    instance_id: str
    provider_id: str | None
    name: str | None
    team_name: str | None
    region: str
    instance_type: str
    co2e_kg: float
    kwh: float
    cost_usd: float


class DayPoint(BaseModel):
    day: date
    co2e_kg: float
    co2e_market_kg: float


class Dashboard(BaseModel):
    client_id: str | None
    as_of: datetime
    today: Totals
    month: Totals
    by_scope: ScopeTotals = Field(description="This month to date")
    by_team: list[Slice]
    by_region: list[Slice]
    intensity: list[RegionIntensity]
    budgets: BudgetOverview
    top_emitters: list[Emitter]
    last_30_days: list[DayPoint]
    savings: dict[str, Any] = Field(description="Realised savings of recorded optimisation actions, month to date")
    last_computed_day: date | None = Field(description="The newest day with stored emissions")
