"""Agent protocol shapes. Unknown fields are ignored so agents of several versions can talk to one server."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator


class AgentRegister(BaseModel):
    installation_id: str | None = Field(
        default=None, max_length=64, description="Stable per installation; a new installation gets a new agent id"
    )
    client_id: str | None = Field(default=None, description="Admins only: the client the agent belongs to")
    instance_id: str = Field(min_length=1, max_length=64, description="Cloud instance id, e.g. i-0abc…")
    instance_type: str = Field(min_length=1, max_length=40)
    region: str = Field(min_length=1, max_length=32)
    availability_zone: str = Field(min_length=1, max_length=40)
    product_description: str = Field(default="Linux/UNIX", max_length=60)
    lifecycle: str = Field(default="spot", pattern="^(spot|on_demand|on-demand)$")
    spot_price: float | None = Field(default=None, ge=0)
    on_demand_price: float | None = Field(default=None, ge=0)
    hostname: str | None = Field(default=None, max_length=255)
    logical_name: str | None = Field(default=None, max_length=120)
    agent_version: str | None = Field(default=None, max_length=32)


class AgentConfig(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    auto_switch_enabled: bool
    manual_replica_enabled: bool
    auto_terminate_enabled: bool
    terminate_wait_seconds: int
    heartbeat_interval_seconds: int
    config: dict[str, Any] | None = None


class AgentConfigUpdate(BaseModel):
    version: int = Field(description="The agent version you read; a stale one is refused with 409")
    auto_switch_enabled: bool | None = None
    manual_replica_enabled: bool | None = None
    auto_terminate_enabled: bool | None = None
    terminate_wait_seconds: int | None = Field(default=None, ge=0, le=86_400)
    heartbeat_interval_seconds: int | None = Field(default=None, ge=5, le=3600)
    config: dict[str, Any] | None = None


class AgentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    client_id: str
    installation_id: str
    logical_name: str | None
    hostname: str | None
    agent_version: str | None
    status: str
    region: str | None
    availability_zone: str | None
    instance_type: str | None
    auto_switch_enabled: bool
    manual_replica_enabled: bool
    auto_terminate_enabled: bool
    terminate_wait_seconds: int
    heartbeat_interval_seconds: int
    last_heartbeat_at: datetime | None
    heartbeats_received: int
    heartbeats_missed: int
    created_at: datetime
    version: int


class RegisterOut(BaseModel):
    agent_id: str
    created: bool
    instance_id: str
    role: str
    config: AgentConfig
    agent: AgentOut


class Heartbeat(BaseModel):
    status: str = Field(default="running", max_length=32)
    instance_id: str | None = Field(default=None, max_length=64)
    agent_version: str | None = Field(default=None, max_length=32)
    metrics: dict[str, Any] | None = None


class HeartbeatOut(BaseModel):
    agent_id: str
    status: str
    server_time: datetime
    missed_since_last: int
    pending_commands: int
    config: AgentConfig


class PriceObservation(BaseModel):
    instance_type: str = Field(max_length=40)
    availability_zone: str = Field(max_length=40)
    region: str | None = Field(default=None, max_length=32)
    product_description: str | None = Field(default=None, max_length=60)
    price: float = Field(ge=0, description="USD per instance-hour")
    observed_at: datetime | None = None
    on_demand_price: float | None = Field(default=None, ge=0)


class PricingReport(BaseModel):
    instance_id: str | None = Field(default=None, description="The reporting instance (its role sets precedence)")
    prices: list[PriceObservation] = Field(min_length=1, max_length=5000)


class PricingReportOut(BaseModel):
    accepted: int
    pools: int
    alerts_triggered: int


class SwitchReport(BaseModel):
    command_id: str | None = None
    old_instance_id: str | None = None
    new_instance_id: str = Field(min_length=1, max_length=64)
    new_instance_type: str | None = None
    new_availability_zone: str | None = None
    new_pool_id: str | None = None
    region: str | None = None
    lifecycle: str = Field(default="spot", pattern="^(spot|on_demand|on-demand)$")
    price: float | None = Field(default=None, ge=0)
    downtime_seconds: float | None = Field(default=None, ge=0)
    success: bool = True
    trigger: str | None = Field(default=None, max_length=24)
    reason: str | None = Field(default=None, max_length=200)
    started_at: datetime | None = None
    completed_at: datetime | None = None


class SwitchEventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    client_id: str
    agent_id: str
    command_id: str | None
    trigger: str
    old_instance_id: str | None
    new_instance_id: str | None
    from_pool_id: str | None
    to_pool_id: str | None
    from_mode: str | None
    to_mode: str | None
    old_price: float | None
    new_price: float | None
    on_demand_price: float | None
    savings_per_hour: float | None
    downtime_seconds: float | None
    success: bool
    started_at: datetime
    completed_at: datetime | None
    user_id: str | None


class TerminationReport(BaseModel):
    instance_ids: list[str] = Field(min_length=1, max_length=500, description="Instances the agent terminated")
    reason: str | None = Field(default=None, max_length=200)


class InstanceTermination(BaseModel):
    """v5 `termination`: the agent's own instance was (or is being) terminated by the cloud."""

    instance_id: str = Field(min_length=1, max_length=64)
    reason: str | None = Field(default=None, max_length=200)
    terminated_at: datetime | None = None


class CleanupReport(BaseModel):
    terminated_instance_ids: list[str] = Field(default_factory=list, max_length=500)
    deleted_volumes: list[str] = Field(default_factory=list, max_length=5000)
    deleted_snapshots: list[str] = Field(default_factory=list, max_length=5000)
    errors: list[str] = Field(default_factory=list, max_length=500)


class Notice(BaseModel):
    notice_time: datetime | None = Field(default=None, description="When the cloud issued the notice")
    termination_time: datetime | None = Field(default=None, description="When the cloud will reclaim the instance")
    instance_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description="The cloud instance the notice is about (one of the agent's replicas); none: its PRIMARY",
    )

    @model_validator(mode="after")
    def _aware(self) -> Notice:
        from datetime import UTC

        for name in ("notice_time", "termination_time"):
            value = getattr(self, name)
            if value is not None and value.tzinfo is None:
                setattr(self, name, value.replace(tzinfo=UTC))  # the seed sends naive UTC times
        return self
