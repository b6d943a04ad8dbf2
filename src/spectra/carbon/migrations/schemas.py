"""Migration shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class MigrationIn(BaseModel):
    instance_id: str = Field(description="The instance (or workload's instance) to move")
    to_region: str | None = Field(
        default=None, max_length=64, description="Target region; omitted = the optimiser's best region"
    )
    request_id: str | None = Field(
        default=None, max_length=160, description="Idempotency: the same id never migrates twice (else X-Request-ID)"
    )
    dry_run: bool = Field(default=False, description="Only plan; execute later with the same request_id")
    max_latency_ms: float | None = Field(default=None, gt=0, description="Used when to_region is omitted")
    reason: str | None = Field(default=None, max_length=500)


class MigrationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    client_id: str
    request_id: str
    instance_id: str | None
    workload: str | None
    instance_type: str | None
    from_region: str
    to_region: str
    cloud: str
    status: str = Field(description="planned → executing → completed | failed")
    origin: str
    co2e_change_kg_per_month: float | None = Field(description="Negative = CO2e saved per month")
    cost_change_usd_per_month: float | None = Field(description="Negative = money saved per month")
    plan: dict[str, Any]
    error: str | None
    requested_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    version: int


class MigrationPage(BaseModel):
    items: list[MigrationOut]
    total: int
    limit: int
    offset: int
