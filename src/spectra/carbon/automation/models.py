"""Per-client automation policy (switches and guard-rails) and announced automatic actions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Float, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from spectra.core.db import Base, TimestampMixin, UUIDPrimaryKey, VersionMixin


class AutomationPolicy(UUIDPrimaryKey, TimestampMixin, VersionMixin, Base):
    __tablename__ = "automation_policies"

    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), unique=True)
    mode: Mapped[str] = mapped_column(String(16), default="recommend")  # off | recommend | apply
    auto_schedule: Mapped[bool] = mapped_column(Boolean, default=False)
    auto_rightsize: Mapped[bool] = mapped_column(Boolean, default=False)
    rightsize_min_monthly_savings_usd: Mapped[float] = mapped_column(Float, default=10.0)
    auto_migrate: Mapped[bool] = mapped_column(Boolean, default=False)
    migrate_min_savings_pct: Mapped[float] = mapped_column(Float, default=20.0)
    migrate_max_latency_ms: Mapped[float] = mapped_column(Float, default=100.0)
    stop_idle: Mapped[bool] = mapped_column(Boolean, default=False)
    idle_stop_after_hours: Mapped[int] = mapped_column(Integer, default=24)
    idle_notice_hours: Mapped[int] = mapped_column(Integer, default=4)
    daily_change_budget: Mapped[int] = mapped_column(Integer, default=5)
    maintenance_window: Mapped[dict[str, Any] | None]  # {"days": [0..6], "start": "HH:MM", "hours": n}


class AutomationNotice(UUIDPrimaryKey, TimestampMixin, Base):
    """An announced automatic action (e.g. stopping an idle instance); it may run after `act_after`."""

    __tablename__ = "automation_notices"

    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(24))
    subject_id: Mapped[str] = mapped_column(String(64))
    act_after: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | done | cancelled
    details: Mapped[dict[str, Any]]

    __table_args__ = (UniqueConstraint("client_id", "kind", "subject_id", "act_after"),)
