"""Automation policy shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from spectra.carbon.automation.guards import parse_window


class MaintenanceWindowIn(BaseModel):
    days: list[int] = Field(description="Weekdays the window opens, 0 = Monday … 6 = Sunday (UTC)")
    start: str = Field(default="00:00", pattern=r"^\d{2}:\d{2}$", description="Opening time, HH:MM UTC")
    hours: float = Field(gt=0, le=168)


class PolicyFields(BaseModel):
    mode: str = Field(default="recommend", pattern="^(off|recommend|apply)$")
    auto_schedule: bool = False
    auto_rightsize: bool = False
    rightsize_min_monthly_savings_usd: float = Field(default=10.0, ge=0)
    auto_migrate: bool = False
    migrate_min_savings_pct: float = Field(default=20.0, gt=0, le=100)
    migrate_max_latency_ms: float = Field(default=100.0, gt=0)
    stop_idle: bool = False
    idle_stop_after_hours: int = Field(default=24, ge=1, le=24 * 90)
    idle_notice_hours: int = Field(default=4, ge=0, le=24 * 7)
    daily_change_budget: int = Field(default=5, ge=0, le=10_000)
    maintenance_window: MaintenanceWindowIn | None = Field(
        default=None, description="When automatic changes may happen; none = any time"
    )

    @field_validator("maintenance_window")
    @classmethod
    def _valid_window(cls, value: MaintenanceWindowIn | None) -> MaintenanceWindowIn | None:
        if value is not None:
            parse_window(value.model_dump())  # raises ValueError → 422 naming the field
        return value


class PolicyUpdate(PolicyFields):
    version: int | None = Field(
        default=None, description="The version you read (required once a policy exists; stale → 409)"
    )


class PolicyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    client_id: str
    mode: str
    auto_schedule: bool
    auto_rightsize: bool
    rightsize_min_monthly_savings_usd: float
    auto_migrate: bool
    migrate_min_savings_pct: float
    migrate_max_latency_ms: float
    stop_idle: bool
    idle_stop_after_hours: int
    idle_notice_hours: int
    daily_change_budget: int
    maintenance_window: dict[str, Any] | None
    version: int
    updated_at: datetime | None = None


class RunOut(BaseModel):
    client_id: str
    at: datetime
    mode: str
    applied: list[dict[str, Any]]
    recommended: list[dict[str, Any]]
    notices: list[dict[str, Any]]
    skipped: list[dict[str, Any]]
