"""Capacity request and response shapes."""

from __future__ import annotations

from datetime import datetime
from typing import (
    Annotated,
    Any,
    Literal,
    NotRequired,  # pydantic needs typing_extensions' TypedDict before 3.12
)

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, with_config
from typing_extensions import TypedDict


@with_config(ConfigDict(extra="forbid"))
class MetricPointIn(TypedDict):
    """One sample. cpu, memory and disk are percentages (0..100); ts needs a UTC offset.

    A TypedDict, not a model: a batch holds up to 10,000 points, and validating into dicts takes half the time of
    building model instances."""

    resource_id: Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:/@-]+$")]
    metric: Literal["cpu", "memory", "disk", "network_in", "network_out"]
    ts: AwareDatetime
    value: float
    provider: NotRequired[Literal["local", "aws", "gcp", "agent"] | None]
    name: NotRequired[Annotated[str, Field(max_length=200)] | None]


class MetricBatchIn(BaseModel):
    """A batch of points, stored all or nothing (bad points are named by their index in `points`)."""

    points: list[dict[str, Any]] = Field(min_length=1, description="MetricPointIn objects")


class MetricBatchOut(BaseModel):
    accepted: int
    duplicates: int
    resources: list[str]


class SeriesPoint(BaseModel):
    ts: datetime
    value: float
    min: float
    max: float
    samples: int


class MetricsOut(BaseModel):
    resource_id: str
    start: datetime
    end: datetime
    source: Literal["raw", "5m", "1h"]
    bucket_seconds: float
    metrics: dict[str, list[SeriesPoint]]


class LatestValue(BaseModel):
    ts: datetime
    value: float


class ResourceOut(BaseModel):
    resource_id: str
    client_id: str | None
    provider: str
    name: str | None
    last_seen_at: datetime | None
    latest: dict[str, LatestValue]
    over_threshold: list[str]


class ForecastPathPoint(BaseModel):
    ts: datetime
    value: float
    lower: float
    upper: float


class ForecastOut(BaseModel):
    """A breach forecast: when (if at all) the metric crosses its threshold within the horizon."""

    model_config = ConfigDict(from_attributes=True)

    metric: str
    method: Literal["seasonal", "linear"]
    threshold: float
    generated_at: datetime
    data_until: datetime
    breach_at: datetime | None
    minutes_to_breach: float | None
    confidence: float
    points_used: int
    current: float | None
    already_breached: bool
    path: list[ForecastPathPoint]


class ResourceForecastOut(BaseModel):
    resource_id: str
    default_method: Literal["seasonal"] = "seasonal"
    forecasts: list[ForecastOut]


class DeliveryOut(BaseModel):
    channel: str
    status: Literal["sent", "failed", "skipped"]
    attempts: int
    error: str | None = None
    at: datetime


class AlertOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    rule: str
    kind: str
    severity: str
    state: str
    metric: str | None
    message: str
    value: float | None
    threshold: float | None
    breach_at: datetime | None
    started_at: datetime
    fired_at: datetime | None
    resolved_at: datetime | None
    last_notified_at: datetime | None
    silenced_by: str | None
    resource_id: str | None = None
    deliveries: list[DeliveryOut]


class TestAlertIn(BaseModel):
    message: str = Field(default="Spectra test alert", max_length=500)


class RecurringWindow(BaseModel):
    days: list[int] = Field(min_length=1, description="weekdays, Monday = 0")
    start: str = Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$", description="HH:MM UTC")
    end: str = Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$", description="HH:MM UTC (may be before start: overnight)")


class SilenceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    resource_id: str | None = None
    rule: str | None = None
    starts_at: AwareDatetime | None = None
    ends_at: AwareDatetime | None = None
    recurring: RecurringWindow | None = None
    reason: str = Field(default="", max_length=300)


class SilenceOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    resource_id: str | None
    rule: str | None
    starts_at: datetime
    ends_at: datetime | None
    recurring: dict[str, Any] | None
    reason: str
    created_by: str
