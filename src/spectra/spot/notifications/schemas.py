"""Notification and alert rule shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class NotificationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    client_id: str | None
    kind: str
    severity: str
    title: str
    message: str
    entity_type: str | None
    entity_id: str | None
    data: dict[str, Any] | None
    read_at: datetime | None
    created_at: datetime


class AlertRuleIn(BaseModel):
    name: str = Field(min_length=1, max_length=120)
    instance_type: str | None = Field(default=None, max_length=40)
    region: str | None = Field(default=None, max_length=32)
    availability_zone: str | None = Field(default=None, max_length=40)
    pool_id: str | None = Field(default=None, max_length=32)
    direction: str = Field(default="above", pattern="^(above|below)$")
    threshold_price: float | None = Field(default=None, gt=0, description="USD per instance-hour")
    threshold_pct_of_on_demand: float | None = Field(default=None, gt=0, le=1000)
    cooldown_minutes: int = Field(default=60, ge=0, le=7 * 24 * 60)


class AlertRuleOut(AlertRuleIn):
    model_config = ConfigDict(from_attributes=True)

    id: str
    client_id: str
    enabled: bool
    last_triggered_at: datetime | None
    created_at: datetime


class MarkedRead(BaseModel):
    marked: int
