"""Instance and its billed daily cost."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Boolean, Date, Float, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from spectra.core.db import Base, TimestampMixin, UUIDPrimaryKey, VersionMixin

LIFECYCLES = ("on-demand", "spot")
STATES = ("pending", "running", "stopping", "stopped", "shutting-down", "terminated")


class Instance(UUIDPrimaryKey, TimestampMixin, VersionMixin, Base):
    """SPECTRA's Instance: one compute instance of a client, with the workload metadata the optimiser reads."""

    __tablename__ = "instances"

    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    team_id: Mapped[str | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"), index=True)
    provider: Mapped[str] = mapped_column(String(16))  # aws | gcp | azure
    # Who reports and changes it: aws (inventory sync), simulated (demo cloud), manual.
    source: Mapped[str] = mapped_column(String(16), default="manual")
    provider_id: Mapped[str] = mapped_column(String(64))  # e.g. i-0123456789abcdef0
    name: Mapped[str | None] = mapped_column(String(200))
    region: Mapped[str] = mapped_column(String(40), index=True)
    zone: Mapped[str | None] = mapped_column(String(40))
    instance_type: Mapped[str] = mapped_column(String(40))
    lifecycle: Mapped[str] = mapped_column(String(16), default="on-demand")
    state: Mapped[str] = mapped_column(String(16), default="running", index=True)
    flexible: Mapped[bool] = mapped_column(Boolean, default=False)  # may move in time or space
    latency_sensitive: Mapped[bool] = mapped_column(Boolean, default=False)
    users_region: Mapped[str | None] = mapped_column(String(40))  # where its users are, for latency
    tags: Mapped[dict[str, Any]] = mapped_column(default=dict)
    launched_at: Mapped[datetime]
    # When it last left the running state (None while running); emissions stop counting from here.
    stopped_at: Mapped[datetime | None]
    terminated_at: Mapped[datetime | None]

    __table_args__ = (
        UniqueConstraint("client_id", "provider", "provider_id"),
        Index("ix_instances_client_state", "client_id", "state"),
    )


class InstanceDailyCost(UUIDPrimaryKey, Base):
    """Billed cost of one instance on one UTC day (Cost Explorer, or the simulated cloud's bill)."""

    __tablename__ = "instance_daily_costs"

    instance_id: Mapped[str] = mapped_column(ForeignKey("instances.id", ondelete="CASCADE"))
    day: Mapped[date] = mapped_column(Date)
    cost_usd: Mapped[float] = mapped_column(Float)
    source: Mapped[str] = mapped_column(String(24))  # cost_explorer | simulated | manual
    updated_at: Mapped[datetime]

    __table_args__ = (UniqueConstraint("instance_id", "day"),)
