"""The spot activity log: what happened to an agent or instance, in words an operator reads (v5 system_events)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from spectra.core.db import Base
from spectra.core.models import BigId


class SpotActivity(Base):
    __tablename__ = "spot_activity"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(index=True)
    client_id: Mapped[str | None] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    agent_id: Mapped[str | None] = mapped_column(String(32), index=True)
    instance_id: Mapped[str | None] = mapped_column(String(32), index=True)
    event_type: Mapped[str] = mapped_column(String(60))
    severity: Mapped[str] = mapped_column(String(12), default="info")  # info | warning | critical
    message: Mapped[str] = mapped_column(Text)
    actor: Mapped[str | None] = mapped_column(String(80))
    data: Mapped[dict[str, Any] | None]

    __table_args__ = (Index("ix_spot_activity_client_at", "client_id", "at"),)
