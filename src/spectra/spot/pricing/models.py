"""The three price tiers (staging → consolidated → canonical) and the consolidation job log.

Prices are not tenant data: a pool's price is the same for every client, so these tables carry no client_id.
A staging row remembers which agent (and in which role) reported it, so PRIMARY reports can win over REPLICA ones.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from spectra.core.db import Base, UUIDPrimaryKey, utcnow
from spectra.core.models import BigId


class SpotPriceSnapshot(Base):
    """Staging: one raw price observation, as an agent reported it or as a price file/cloud API delivered it."""

    __tablename__ = "spot_price_snapshots"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    pool_id: Mapped[str] = mapped_column(ForeignKey("spot_pools.id", ondelete="CASCADE"))
    observed_at: Mapped[datetime]
    price: Mapped[float] = mapped_column(Float)  # USD per instance-hour
    reporter_role: Mapped[str] = mapped_column(String(16))  # PRIMARY | REPLICA | IMPORT (price files, cloud API)
    source: Mapped[str] = mapped_column(String(16), default="agent")  # agent | import | backfill
    agent_id: Mapped[str | None] = mapped_column(String(32), index=True)
    instance_id: Mapped[str | None] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)

    __table_args__ = (Index("ix_spot_price_snapshots_pool_time", "pool_id", "observed_at"),)


class PricingConsolidated(Base):
    """Consolidated: one price per pool and time bucket, deduplicated; `interpolated` marks filled gaps."""

    __tablename__ = "pricing_consolidated"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    pool_id: Mapped[str] = mapped_column(ForeignKey("spot_pools.id", ondelete="CASCADE"))
    bucket_start: Mapped[datetime]
    price: Mapped[float] = mapped_column(Float)
    source_role: Mapped[str] = mapped_column(String(16))  # PRIMARY | REPLICA | IMPORT | INTERPOLATED
    report_count: Mapped[int] = mapped_column(Integer, default=0)
    interpolated: Mapped[bool] = mapped_column(Boolean, default=False)
    job_id: Mapped[str | None] = mapped_column(String(32))

    __table_args__ = (UniqueConstraint("pool_id", "bucket_start"),)


class PricingCanonical(Base):
    """Canonical: the features decisions and model training read, one row per pool and time bucket."""

    __tablename__ = "pricing_canonical"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    pool_id: Mapped[str] = mapped_column(ForeignKey("spot_pools.id", ondelete="CASCADE"))
    bucket_start: Mapped[datetime]
    price: Mapped[float] = mapped_column(Float)
    volatility: Mapped[float] = mapped_column(Float)  # std of log price changes over the trailing window
    hours_since_change: Mapped[float] = mapped_column(Float)
    interruption_bucket: Mapped[int | None] = mapped_column(Integer)
    interruption_probability: Mapped[float | None] = mapped_column(Float)  # per instance-month
    on_demand_price: Mapped[float | None] = mapped_column(Float)
    on_demand_ratio: Mapped[float | None] = mapped_column(Float)
    interpolated: Mapped[bool] = mapped_column(Boolean, default=False)

    __table_args__ = (UniqueConstraint("pool_id", "bucket_start"),)


class ConsolidationJob(UUIDPrimaryKey, Base):
    """One run of the consolidation pipeline over a time window, with its row counts (or its error)."""

    __tablename__ = "consolidation_jobs"

    trigger: Mapped[str] = mapped_column(String(16), default="schedule")  # schedule | manual | import
    status: Mapped[str] = mapped_column(String(16), default="running")  # running | succeeded | failed
    started_at: Mapped[datetime] = mapped_column(index=True)
    finished_at: Mapped[datetime | None]
    window_start: Mapped[datetime | None]
    window_end: Mapped[datetime | None]
    bucket_seconds: Mapped[int] = mapped_column(Integer, default=300)
    rows_staged: Mapped[int] = mapped_column(Integer, default=0)
    duplicates_dropped: Mapped[int] = mapped_column(Integer, default=0)
    replica_overridden: Mapped[int] = mapped_column(Integer, default=0)
    rows_consolidated: Mapped[int] = mapped_column(Integer, default=0)
    rows_interpolated: Mapped[int] = mapped_column(Integer, default=0)
    rows_canonical: Mapped[int] = mapped_column(Integer, default=0)
    pools: Mapped[int] = mapped_column(Integer, default=0)
    stats: Mapped[dict[str, Any] | None]
    error: Mapped[str | None] = mapped_column(Text)


class SpotAdvisorEntry(UUIDPrimaryKey, Base):
    """The latest Spot Instance Advisor figures for one (region, OS, instance type)."""

    __tablename__ = "spot_advisor_entries"

    region: Mapped[str] = mapped_column(String(32))
    os: Mapped[str] = mapped_column(String(16))  # Linux | Windows
    instance_type: Mapped[str] = mapped_column(String(40))
    bucket: Mapped[int] = mapped_column(Integer)
    label: Mapped[str] = mapped_column(String(16))
    probability: Mapped[float] = mapped_column(Float)  # representative monthly interruption probability
    savings_pct: Mapped[int] = mapped_column(Integer)
    imported_at: Mapped[datetime]

    __table_args__ = (UniqueConstraint("region", "os", "instance_type"),)


class OnDemandPrice(UUIDPrimaryKey, Base):
    """On-demand list price per (region, OS, instance type), from an imported price table or an agent report."""

    __tablename__ = "spot_on_demand_prices"

    region: Mapped[str] = mapped_column(String(32))
    os: Mapped[str] = mapped_column(String(16))
    instance_type: Mapped[str] = mapped_column(String(40))
    price: Mapped[float] = mapped_column(Float)  # USD per instance-hour
    source: Mapped[str] = mapped_column(String(80))
    imported_at: Mapped[datetime]

    __table_args__ = (UniqueConstraint("region", "os", "instance_type"),)
