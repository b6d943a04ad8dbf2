"""Emergency events (v6): one row per rebalance or termination notice, with every step it took."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Float, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from spectra.core.db import Base, TimestampMixin, UUIDPrimaryKey, VersionMixin


class EmergencyEvent(UUIDPrimaryKey, TimestampMixin, VersionMixin, Base):
    __tablename__ = "spot_emergency_events"

    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    agent_id: Mapped[str] = mapped_column(ForeignKey("spot_agents.id", ondelete="CASCADE"), index=True)
    instance_id: Mapped[str | None] = mapped_column(String(32))  # the PRIMARY the notice is about
    kind: Mapped[str] = mapped_column(String(16))  # rebalance | termination
    # open → replica_queued → promoted | failed_over (on-demand) | resolved | expired;
    # a notice about a replica: replica_lost (termination) | replica_at_risk (rebalance), resolved at once
    status: Mapped[str] = mapped_column(String(16), default="open")
    notice_time: Mapped[datetime]
    notice_deadline: Mapped[datetime]
    received_at: Mapped[datetime]
    replica_id: Mapped[str | None] = mapped_column(String(32))
    pool_id: Mapped[str | None] = mapped_column(String(32))  # where the emergency replica goes
    command_id: Mapped[str | None] = mapped_column(String(32))
    promoted_at: Mapped[datetime | None]
    promotion_seconds: Mapped[float | None] = mapped_column(Float)  # notice received → new PRIMARY
    resolved_at: Mapped[datetime | None]
    steps: Mapped[list[Any]]

    __table_args__ = (Index("ix_spot_emergency_events_agent_status", "agent_id", "status"),)
