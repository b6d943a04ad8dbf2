"""Every optimisation action Spectra took or proposed, with the savings rate it is credited with."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Float, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from spectra.core.db import Base, TimestampMixin, UUIDPrimaryKey


class OptimizationAction(UUIDPrimaryKey, TimestampMixin, Base):
    """A rightsizing, migration, idle stop or schedule: recommended, applied, failed or reverted.

    Realised savings = the savings rates × the hours the action was in effect (effective_from →
    effective_until, or now), so a report over any period credits each action only for its overlap.
    """

    __tablename__ = "optimization_actions"

    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(24))  # rightsizing | migration | idle_stop | schedule
    origin: Mapped[str] = mapped_column(String(12))  # manual | automatic
    status: Mapped[str] = mapped_column(String(16))  # recommended | applied | failed | reverted
    request_id: Mapped[str] = mapped_column(String(160))
    instance_id: Mapped[str | None] = mapped_column(String(64), index=True)
    entity_type: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[str] = mapped_column(String(64))
    summary: Mapped[str] = mapped_column(String(300))
    co2e_kg_per_hour: Mapped[float] = mapped_column(Float, default=0.0)
    cost_usd_per_hour: Mapped[float] = mapped_column(Float, default=0.0)
    effective_from: Mapped[datetime | None]
    effective_until: Mapped[datetime | None]
    details: Mapped[dict[str, Any]]

    __table_args__ = (
        UniqueConstraint("client_id", "kind", "request_id"),
        Index("ix_optimization_actions_effective", "client_id", "status", "effective_from"),
    )
