"""Instance and replica shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class InstanceOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    client_id: str
    agent_id: str
    cloud_instance_id: str
    role: str
    lifecycle: str
    pool_id: str | None
    region: str | None
    availability_zone: str | None
    instance_type: str | None
    launched_at: datetime | None
    role_changed_at: datetime | None
    terminated_at: datetime | None
    primary_since: datetime | None
    primary_until: datetime | None
    notice_status: str
    notice_deadline: datetime | None
    spot_price: float | None
    on_demand_price: float | None
    version: int


class ReplicaOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    client_id: str
    agent_id: str
    primary_instance_id: str | None
    instance_id: str | None
    pool_id: str | None
    kind: str
    status: str
    requested_at: datetime
    ready_at: datetime | None
    promoted_at: datetime | None
    terminated_at: datetime | None
    boot_seconds: float | None
    hourly_cost: float | None
    version: int


class SimulateSwitch(BaseModel):
    target_pool_id: str | None = None
    target_mode: str = Field(default="spot", pattern="^(spot|on_demand)$")


class ActivityOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: datetime
    client_id: str | None
    agent_id: str | None
    instance_id: str | None
    event_type: str
    severity: str
    message: str
    actor: str | None
    data: dict[str, Any] | None
