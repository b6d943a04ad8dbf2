"""Capacity tables: monitored resources, raw metric points and their roll-ups, stored forecasts, alerts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from spectra.core.db import Base, TimestampMixin, UTCDateTime, UUIDPrimaryKey, VersionMixin
from spectra.core.models import BigId

METRICS = ("cpu", "memory")
RESOLUTIONS = ("5m", "1h")
# Roll-up tiers: a bucket starts a whole number of its sizes after the Unix epoch (UTC); each size divides the next.
RESOLUTION_SECONDS = {"5m": 300, "1h": 3600}


class database_now(FunctionElement[datetime]):
    """The database server's clock when a statement runs (UTC): `statement_timestamp()` on PostgreSQL (one value
    for every row of a statement), and on SQLite the text SQLAlchemy stores for a UTC time (milliseconds)."""

    type = UTCDateTime()
    inherit_cache = True


@compiles(database_now, "postgresql")
def _database_now_postgresql(element: database_now, compiler: SQLCompiler, **kw: Any) -> str:
    return "statement_timestamp()"


@compiles(database_now, "sqlite")
def _database_now_sqlite(element: database_now, compiler: SQLCompiler, **kw: Any) -> str:
    return "strftime('%Y-%m-%d %H:%M:%f000', 'now')"


class Resource(UUIDPrimaryKey, TimestampMixin, Base):
    """Something whose utilisation is watched: an instance, a VM, the local host.

    `client_id` is None for resources the platform's own collectors watch (visible to admins only);
    a client's agents and integrations report resources it owns.
    """

    __tablename__ = "capacity_resources"

    client_id: Mapped[str | None] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    resource_id: Mapped[str] = mapped_column(String(128))  # the provider's id, e.g. i-0abc, local-web-1
    provider: Mapped[str] = mapped_column(String(16))  # local | aws | gcp | agent
    name: Mapped[str | None] = mapped_column(String(200))
    last_seen_at: Mapped[datetime | None]

    __table_args__ = (
        UniqueConstraint("client_id", "resource_id"),
        # NULLs are distinct in the constraint above, so the platform's own resources need their own
        # unique index: without it two concurrent batches could each create the same platform resource.
        Index(
            "uq_capacity_resources_platform_resource_id",
            "resource_id",
            unique=True,
            sqlite_where=text("client_id IS NULL"),
            postgresql_where=text("client_id IS NULL"),
        ),
    )


class MetricPoint(Base):
    """One raw sample (percent for cpu and memory).

    `ingested_at` is the database's clock when the point was stored (not the sample's time): the roll-up job
    finds the buckets that points stored since its last run touched by it."""

    __tablename__ = "capacity_metric_points"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    resource_pk: Mapped[str] = mapped_column(ForeignKey("capacity_resources.id", ondelete="CASCADE"))
    metric: Mapped[str] = mapped_column(String(32))
    ts: Mapped[datetime]
    value: Mapped[float] = mapped_column(Float)
    ingested_at: Mapped[datetime] = mapped_column(server_default=database_now())

    __table_args__ = (
        UniqueConstraint("resource_pk", "metric", "ts"),
        Index("ix_capacity_points_ts", "ts"),
        Index("ix_capacity_points_ingested_at", "ingested_at"),
    )


class MetricRollup(Base):
    """Count, sum, min and max of a metric over a 5-minute or hourly bucket (kept longer than raw points).

    Written only by the roll-up job (`service.roll_up`) and by retention, never by ingest."""

    __tablename__ = "capacity_metric_rollups"

    # Big: every upsert of a bucket draws an id on PostgreSQL, also when it updates the existing row.
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    resource_pk: Mapped[str] = mapped_column(ForeignKey("capacity_resources.id", ondelete="CASCADE"))
    metric: Mapped[str] = mapped_column(String(32))
    resolution: Mapped[str] = mapped_column(String(4))  # 5m | 1h
    bucket: Mapped[datetime]
    count: Mapped[int] = mapped_column(Integer)
    total: Mapped[float] = mapped_column(Float)
    minimum: Mapped[float] = mapped_column(Float)
    maximum: Mapped[float] = mapped_column(Float)

    __table_args__ = (
        UniqueConstraint("resource_pk", "metric", "resolution", "bucket"),
        Index("ix_capacity_rollups_res_bucket", "resolution", "bucket"),
    )


class RollupState(Base):
    """Where the roll-up job stands (one row, `name` = "rollups").

    - `watermark`: every point stored (`ingested_at`) at or before it is counted in its roll-ups; the next run
      starts after it. None: nothing rolled up yet (the next run starts from the first point).
    - `horizon`: raw points before it were removed by retention (a whole hour); a bucket before it is final and
      its roll-ups are not recomputed from raw points (a point that arrives that late is added to them once and
      removed). None: no raw point was ever removed.
    """

    __tablename__ = "capacity_rollup_state"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    watermark: Mapped[datetime | None]
    horizon: Mapped[datetime | None]
    updated_at: Mapped[datetime | None]


class ForecastRecord(UUIDPrimaryKey, Base):
    """A stored breach forecast for one resource, metric and method (recomputed after each poll)."""

    __tablename__ = "capacity_forecasts"

    resource_pk: Mapped[str] = mapped_column(ForeignKey("capacity_resources.id", ondelete="CASCADE"))
    metric: Mapped[str] = mapped_column(String(32))
    method: Mapped[str] = mapped_column(String(16))  # seasonal | linear
    threshold: Mapped[float] = mapped_column(Float)
    generated_at: Mapped[datetime]
    data_until: Mapped[datetime]
    breach_at: Mapped[datetime | None]
    minutes_to_breach: Mapped[float | None] = mapped_column(Float)
    confidence: Mapped[float] = mapped_column(Float)
    points_used: Mapped[int] = mapped_column(Integer)
    current: Mapped[float | None] = mapped_column(Float)
    already_breached: Mapped[bool]
    path: Mapped[list[Any]] = mapped_column(default=list)

    __table_args__ = (Index("ix_capacity_forecasts_latest", "resource_pk", "metric", "method", "generated_at"),)


class Alert(UUIDPrimaryKey, TimestampMixin, VersionMixin, Base):
    """One alert episode for a (rule, resource, metric): pending → firing → resolved.

    Repeated evaluations of the same condition update this row instead of creating new ones (dedup);
    `group_key` groups alerts of one rule across resources for notification.
    """

    __tablename__ = "capacity_alerts"

    client_id: Mapped[str | None] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    resource_pk: Mapped[str | None] = mapped_column(ForeignKey("capacity_resources.id", ondelete="CASCADE"))
    rule: Mapped[str] = mapped_column(String(64))  # e.g. cpu_forecast, memory_current, test
    metric: Mapped[str | None] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16))  # forecast | current | test
    severity: Mapped[str] = mapped_column(String(16))  # warning | critical | info
    state: Mapped[str] = mapped_column(String(16), index=True)  # pending | firing | resolved
    dedup_key: Mapped[str] = mapped_column(String(200), index=True)
    group_key: Mapped[str] = mapped_column(String(200))
    message: Mapped[str] = mapped_column(Text)
    value: Mapped[float | None] = mapped_column(Float)
    threshold: Mapped[float | None] = mapped_column(Float)
    breach_at: Mapped[datetime | None]
    started_at: Mapped[datetime]
    fired_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    last_notified_at: Mapped[datetime | None]
    silenced_by: Mapped[str | None] = mapped_column(String(32))
    deliveries: Mapped[list[Any]] = mapped_column(default=list)
    # What an event alert is about (a team, an instance, an agent); resource alerts name their resource instead.
    subject: Mapped[str | None] = mapped_column(String(128))


class Silence(UUIDPrimaryKey, TimestampMixin, Base):
    """Mutes notifications of matching alerts until `ends_at`, or during a recurring weekly window."""

    __tablename__ = "capacity_silences"

    client_id: Mapped[str | None] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    resource_id: Mapped[str | None] = mapped_column(String(128))  # None = any resource
    rule: Mapped[str | None] = mapped_column(String(64))  # None = any rule
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime | None]  # None only for a recurring window
    # recurring: {"days": [0..6] (Monday = 0), "start": "HH:MM", "end": "HH:MM"} in UTC
    recurring: Mapped[dict[str, Any] | None]
    reason: Mapped[str] = mapped_column(String(300), default="")
    created_by: Mapped[str] = mapped_column(String(64))
