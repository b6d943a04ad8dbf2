"""API shapes for carbon intensity, imports, forecasts and back-tests."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class IntensityHourOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    hour: datetime = Field(description="Start of the UTC hour")
    direct_g_per_kwh: float = Field(description="Operational gCO2e per kWh")
    lifecycle_g_per_kwh: float | None = Field(description="Life-cycle gCO2e per kWh")
    low_carbon_pct: float | None
    renewable_pct: float | None
    estimated: bool
    estimation_method: str | None
    data_source: str | None


class IntensitySummary(BaseModel):
    hours: int
    mean_g_per_kwh: float
    min_g_per_kwh: float
    max_g_per_kwh: float
    mean_effective_g_per_kwh: float = Field(description="Mean × PUE: grams per kWh of IT load")


class RegionCarbonOut(BaseModel):
    region: str
    zone: str | None
    pue: float
    start: datetime
    end: datetime
    hours: list[IntensityHourOut]
    summary: IntensitySummary | None = Field(description="None when no hour of the range is stored")


class ImportPathIn(BaseModel):
    path: str | None = Field(
        default=None, description="A file or a folder of *.csv on the server (default: SPECTRA_CSV_DIR)"
    )
    zone: str | None = Field(default=None, max_length=40, description="Zone of Time,Carbon Intensity series")
    region: str | None = Field(default=None, max_length=40, description="Region of an instance-type export")


class ImportOut(BaseModel):
    kind: str = Field(description="intensity or instance-types")
    files: list[str]
    rows: int
    zones: dict[str, Any] = Field(default_factory=dict, description="intensity: hours, first and last per zone")
    instance_types: dict[str, Any] | None = None


class ZoneCoverageOut(BaseModel):
    zone: str
    hours: int
    first: datetime
    last: datetime


class ForecastPointOut(BaseModel):
    hour: datetime
    mean_g_per_kwh: float
    std_g_per_kwh: float


class ForecastOut(BaseModel):
    zone: str
    region: str | None = None
    generated_at: datetime
    method: str
    history_hours: int = Field(description="Stored hours the forecast was made from")
    last_observed_hour: datetime
    points: list[ForecastPointOut]


class BacktestOut(BaseModel):
    zone: str
    start: datetime
    end: datetime
    horizon_hours: int
    step_hours: int
    forecasts: int
    points: int
    mae: float = Field(description="Mean absolute error, gCO2e/kWh")
    mape: float = Field(description="Mean absolute percentage error, %")
    seasonal_naive_mae: float = Field(description="Same hour yesterday, on the same points")
    ratio: float = Field(description="mae ÷ seasonal_naive_mae (below 1 beats the baseline)")
    mae_by_horizon: list[float]
    seasonal_naive_mae_by_horizon: list[float]


class LiveIntensityOut(BaseModel):
    zone: str
    g_per_kwh: float = Field(description="gCO2e/kWh")
    at: datetime
    provider: str
    estimated: bool
    detail: str
    cached: bool
    tried: list[dict[str, str]] = Field(description="Providers asked before this one, and why they did not answer")
