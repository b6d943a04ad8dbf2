"""Shapes of the platform routes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class HealthData(BaseModel):
    status: str
    timestamp: datetime
    database: str


class SeedHealth(BaseModel):
    """The Spot seeds' /health envelope."""

    status: str
    data: HealthData


class ApiHealth(BaseModel):
    status: str
    timestamp: datetime
    database: str
    clock: datetime
    simulated_clock: bool
    scheduler: dict[str, Any]
    components: dict[str, dict[str, Any]]


class WhoAmI(BaseModel):
    role: str
    client_id: str | None
    name: str


class TickIn(BaseModel):
    minutes: float = Field(default=60, gt=0, le=60 * 24 * 366, description="How far to advance the clock")


class ClockIn(BaseModel):
    at: datetime | None = Field(default=None, description="Set the simulated clock to this instant")
    speed: float | None = Field(default=None, ge=0, le=100_000, description="Simulated seconds per real second")


class ClockOut(BaseModel):
    now: datetime
    simulated: bool
    speed: float | None = None


class JobRunOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    job_name: str
    period_start: datetime | None
    trigger: str
    started_at: datetime
    finished_at: datetime | None
    status: str
    error: str | None
    result: dict[str, Any] | None
    runner: str


class TickOut(BaseModel):
    before: datetime
    after: datetime
    jobs_run: list[JobRunOut]


class JobOut(BaseModel):
    name: str
    description: str
    interval_seconds: float
    last_run: JobRunOut | None


class AuditOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: datetime
    actor: str
    client_id: str | None
    action: str
    entity_type: str
    entity_id: str | None
    pre_state: dict[str, Any] | None
    post_state: dict[str, Any] | None
    request_id: str | None
