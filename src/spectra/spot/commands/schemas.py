"""Command shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class CommandOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    agent_id: str
    instance_id: str | None
    request_id: str
    command_type: str
    target_pool_id: str | None
    target_mode: str | None
    payload: dict[str, Any] | None
    status: str
    priority: int
    issued_by: str
    created_at: datetime
    delivered_at: datetime | None
    executed_at: datetime | None
    expires_at: datetime | None
    result: dict[str, Any] | None


class CommandExecuted(BaseModel):
    success: bool = True
    result: dict[str, Any] = Field(default_factory=dict, description="e.g. new_instance_id, instance_id, boot_seconds")
    message: str | None = Field(default=None, max_length=500)


class CommandAck(BaseModel):
    command: CommandOut
    changed: bool = Field(description="False when this outcome had already been recorded (a repeated report)")


class SwitchRequest(BaseModel):
    target_pool_id: str | None = Field(default=None, description="Pool to move to (spot)")
    target_pool: str | None = Field(default=None, description="Alias of target_pool_id (v6 README)")
    target_mode: str = Field(default="spot", pattern="^(spot|on_demand|ondemand|on-demand)$")
    reason: str = Field(default="manual", max_length=200)

    def pool(self) -> str | None:
        return self.target_pool_id or self.target_pool

    def mode(self) -> str:
        return "spot" if self.target_mode == "spot" else "on_demand"
