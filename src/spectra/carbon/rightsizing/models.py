"""Stored rightsizing recommendations (one open per instance)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Float, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from spectra.core.db import Base, TimestampMixin, UUIDPrimaryKey, VersionMixin


class RightsizingRecommendation(UUIDPrimaryKey, TimestampMixin, VersionMixin, Base):
    """open → accepted | dismissed | superseded."""

    __tablename__ = "rightsizing_recommendations"

    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    instance_id: Mapped[str] = mapped_column(String(64))
    region: Mapped[str | None] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(20))  # downsize | upsize | keep | insufficient_data
    status: Mapped[str] = mapped_column(String(16))
    current_type: Mapped[str] = mapped_column(String(40))
    recommended_type: Mapped[str | None] = mapped_column(String(40))
    scope: Mapped[str] = mapped_column(String(16))
    cpu_p95: Mapped[float | None] = mapped_column(Float)
    memory_p95: Mapped[float | None] = mapped_column(Float)
    window_hours: Mapped[float] = mapped_column(Float)
    monthly_cost_savings_usd: Mapped[float | None] = mapped_column(Float)
    monthly_co2e_savings_kg: Mapped[float | None] = mapped_column(Float)
    details: Mapped[dict[str, Any]]
    computed_at: Mapped[datetime]
    decided_at: Mapped[datetime | None]
    action_id: Mapped[str | None] = mapped_column(String(32))

    __table_args__ = (Index("ix_rightsizing_recommendations_instance", "instance_id", "status"),)
