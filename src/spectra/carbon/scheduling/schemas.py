"""Scheduled jobs API: what a client submits and what it reads back."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class JobCreate(BaseModel):
    """A deferrable job. Power is `power_kw` (IT power before PUE) or an `instance_type` × `instance_count`."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    team_id: str | None = None
    client_id: str | None = Field(default=None, description="Admins: the client the job belongs to")
    duration_minutes: int = Field(ge=1, le=14 * 24 * 60)
    power_kw: float | None = Field(default=None, gt=0, le=10_000)
    instance_type: str | None = Field(default=None, min_length=1, max_length=64)
    instance_count: int = Field(default=1, ge=1, le=10_000)
    earliest_start: datetime | None = Field(default=None, description="Default: now")
    deadline: datetime
    regions: list[str] = Field(min_length=1, max_length=20, description="Allowed regions, home region first")
    interruptible: bool = False


class JobUpdate(BaseModel):
    """Fields to change while the job has not started; `version` (optional) guards against lost updates."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    team_id: str | None = None
    duration_minutes: int | None = Field(default=None, ge=1, le=14 * 24 * 60)
    power_kw: float | None = Field(default=None, gt=0, le=10_000)
    instance_type: str | None = Field(default=None, min_length=1, max_length=64)
    instance_count: int | None = Field(default=None, ge=1, le=10_000)
    earliest_start: datetime | None = None
    deadline: datetime | None = None
    regions: list[str] | None = Field(default=None, min_length=1, max_length=20)
    interruptible: bool | None = None
    version: int | None = None


class PieceOut(BaseModel):
    start: datetime
    end: datetime


class RegionOptionOut(BaseModel):
    region: str
    intensity_g_per_kwh: float  # mean effective intensity (grid × PUE) over the best slots found there
    co2e_kg: float


class RecommendationOut(BaseModel):
    """The planner's answer. Emissions = IT kWh × PUE × forecast grid intensity; the baseline is
    running the remaining work from the earliest start (now, if later) in the home region."""

    status: str  # planned | deadline_unreachable | no_data | started | finished
    region: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    pieces: list[PieceOut] = []
    expected_co2e_kg: float | None = None
    co2e_std_kg: float | None = None
    baseline_region: str | None = None
    baseline_co2e_kg: float | None = None
    savings_kg: float | None = None
    savings_pct: float | None = None
    energy_kwh: float | None = None
    reason: str | None = None
    explanation: list[str] = []
    forecast_method: str | None = None
    regions: list[RegionOptionOut] = []
    computed_at: datetime | None = None
    # Set once the job is committed to this window (by hand or by the automation policy): {at, origin, reason}.
    committed: dict[str, Any] | None = None
    # Set when the automation policy would commit it but a guard-rail holds it back: {held_back}.
    auto_schedule: dict[str, Any] | None = None


class JobOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    client_id: str
    team_id: str | None
    name: str
    status: str
    duration_minutes: int
    power_kw: float
    instance_type: str | None
    instance_count: int
    earliest_start: datetime
    deadline: datetime
    regions: list[str]
    interruptible: bool
    submitted_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    run_region: str | None
    done_minutes: int
    runs: list[dict[str, Any]]
    recommendation: RecommendationOut
    recommended_at: datetime | None
    version: int
    created_at: datetime
    updated_at: datetime
