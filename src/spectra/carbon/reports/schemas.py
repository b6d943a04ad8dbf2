"""Report shapes. Masses in kg CO2e, energy in kWh, money in USD; periods are inclusive UTC days."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, Field


class Scope1(BaseModel):
    co2e_kg: float
    method: str


class Scope2(BaseModel):
    location_based_kg: float = Field(description="Operational CO2e at the grid's average hourly intensity")
    market_based_kg: float = Field(description="Operational CO2e after renewable / carbon-free energy")
    kwh: float = Field(description="Facility energy (IT energy × PUE)")


class Scope3(BaseModel):
    embodied_kg: float = Field(description="Hardware manufacture, amortised over its life")
    category_1_location_kg: float = Field(
        description="A cloud customer's view: all of it (operational location-based + embodied) is purchased services"
    )
    category_1_market_kg: float


class Breakdown(BaseModel):
    key: str | None = Field(description="Team id or region code")
    name: str
    location_based_kg: float
    market_based_kg: float
    embodied_kg: float
    total_kg: float = Field(description="Location-based operational + embodied")
    kwh: float
    cost_usd: float


class ReportInputs(BaseModel):
    instances: int
    instance_hours: float
    measured_utilisation_share: float = Field(description="Share of instance-hours with measured CPU utilisation")
    billed_cost_share: float = Field(description="Share of cost from a cloud bill (the rest: hours × list price)")
    regions: list[str]


class ReportMethod(BaseModel):
    name: str
    energy: str
    operational: str
    embodied: str
    scopes: str
    utilisation: str
    cost: str


class ReportSummary(BaseModel):
    client_id: str | None
    start: date
    end: date
    days: int
    scope1: Scope1
    scope2: Scope2
    scope3: Scope3
    total_location_based_kg: float = Field(description="Scope 1 + Scope 2 location-based + Scope 3 embodied")
    total_market_based_kg: float = Field(description="Scope 1 + Scope 2 market-based + Scope 3 embodied")
    cost_usd: float
    by_team: list[Breakdown]
    by_region: list[Breakdown]
    inputs: ReportInputs
    method: ReportMethod


class MonthPoint(BaseModel):
    month: str = Field(description="YYYY-MM")
    scope1_kg: float
    scope2_location_kg: float
    scope2_market_kg: float
    scope3_embodied_kg: float
    total_location_based_kg: float
    total_market_based_kg: float
    kwh: float
    cost_usd: float
    complete: bool = Field(description="False for the current month (to date)")


class ReportHistory(BaseModel):
    client_id: str | None
    months: list[MonthPoint]
