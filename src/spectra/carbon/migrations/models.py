"""Region migrations of instances or workloads."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Float, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from spectra.core.db import Base, TimestampMixin, UUIDPrimaryKey, VersionMixin


class MigrationAction(UUIDPrimaryKey, TimestampMixin, VersionMixin, Base):
    """planned → executing → completed | failed; one per (client, request id)."""

    __tablename__ = "migration_actions"

    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    request_id: Mapped[str] = mapped_column(String(160))
    instance_id: Mapped[str | None] = mapped_column(String(64), index=True)
    workload: Mapped[str | None] = mapped_column(String(200))
    instance_type: Mapped[str | None] = mapped_column(String(40))
    from_region: Mapped[str] = mapped_column(String(64))
    to_region: Mapped[str] = mapped_column(String(64))
    cloud: Mapped[str] = mapped_column(String(16))  # simulated | aws | none
    status: Mapped[str] = mapped_column(String(16), index=True)
    origin: Mapped[str] = mapped_column(String(12), default="manual")
    co2e_change_kg_per_month: Mapped[float | None] = mapped_column(Float)
    cost_change_usd_per_month: Mapped[float | None] = mapped_column(Float)
    plan: Mapped[dict[str, Any]]
    error: Mapped[str | None] = mapped_column(Text)
    requested_at: Mapped[datetime]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]

    __table_args__ = (UniqueConstraint("client_id", "request_id"),)
