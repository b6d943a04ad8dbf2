"""Instance request/response shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

MAX_TAGS = 50


def _check_tags(value: dict[str, Any] | None) -> dict[str, Any] | None:
    if value is None:
        return value
    if len(value) > MAX_TAGS:
        raise ValueError(f"at most {MAX_TAGS} tags")
    for key, item in value.items():
        if not key or len(key) > 128:
            raise ValueError("tag keys are 1-128 characters")
        if not isinstance(item, str) or len(item) > 256:
            raise ValueError(f"tag {key!r}: values are strings of at most 256 characters")
    return value


class InstanceOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    client_id: str
    team_id: str | None
    provider: str
    source: str
    provider_id: str
    name: str | None
    region: str
    zone: str | None
    instance_type: str
    lifecycle: str
    state: str
    flexible: bool
    latency_sensitive: bool
    users_region: str | None
    tags: dict[str, Any]
    launched_at: datetime
    stopped_at: datetime | None
    terminated_at: datetime | None
    created_at: datetime
    updated_at: datetime
    version: int


class InstancePage(BaseModel):
    items: list[InstanceOut]
    total: int
    limit: int
    offset: int


class InstanceUpdate(BaseModel):
    """What a user may change: ownership and workload metadata (the cloud owns the rest)."""

    model_config = ConfigDict(extra="forbid")

    version: int = Field(description="The version you read; a stale one is refused with 409")
    team_id: str | None = Field(default=None, description="A team of the instance's client; null unassigns")
    flexible: bool | None = Field(default=None, description="The workload may be moved in time or space")
    latency_sensitive: bool | None = None
    users_region: str | None = Field(default=None, max_length=40)
    tags: dict[str, Any] | None = Field(default=None, description="Replaces the tags (string values)")

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        return _check_tags(value)


class InstanceSync(BaseModel):
    """One instance as a cloud inventory reports it (inventory sync, simulator, seed)."""

    provider: str = Field(pattern="^(aws|gcp|azure)$")
    source: str = Field(default="manual", pattern="^(aws|simulated|manual)$")
    provider_id: str = Field(min_length=1, max_length=64)
    name: str | None = Field(default=None, max_length=200)
    region: str = Field(min_length=1, max_length=40)
    zone: str | None = Field(default=None, max_length=40)
    instance_type: str = Field(min_length=1, max_length=40)
    lifecycle: str = Field(default="on-demand", pattern="^(on-demand|spot)$")
    state: str = Field(default="running", pattern="^(pending|running|stopping|stopped|shutting-down|terminated)$")
    launched_at: datetime
    tags: dict[str, Any] = Field(default_factory=dict)
    team: str | None = Field(default=None, description="Team name (created on first use)")
    flexible: bool | None = None
    latency_sensitive: bool | None = None
    users_region: str | None = None

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: dict[str, Any]) -> dict[str, Any]:
        return _check_tags(value) or {}
