"""Anomalies, the patterns users dismissed, and the detector state per series."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Float, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from spectra.core.db import Base, TimestampMixin, UUIDPrimaryKey, VersionMixin


class Anomaly(UUIDPrimaryKey, TimestampMixin, VersionMixin, Base):
    """open → resolved | dismissed. The evidence window is [started_at, ended_at]."""

    __tablename__ = "anomalies"

    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    instance_id: Mapped[str | None] = mapped_column(String(64), index=True)
    team_id: Mapped[str | None] = mapped_column(String(32), index=True)
    region: Mapped[str | None] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(24))  # runaway_process | idle_waste | carbon_spike | cost_anomaly
    status: Mapped[str] = mapped_column(String(16))
    severity: Mapped[str] = mapped_column(String(12))  # low | medium | high
    score: Mapped[float] = mapped_column(Float)
    title: Mapped[str] = mapped_column(String(300))
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime]
    detected_at: Mapped[datetime]
    pattern: Mapped[str] = mapped_column(String(200), index=True)
    evidence: Mapped[dict[str, Any]]
    co2e_kg: Mapped[float] = mapped_column(Float, default=0.0)
    cost_usd: Mapped[float] = mapped_column(Float, default=0.0)
    resolved_at: Mapped[datetime | None]
    note: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_anomalies_client_status_kind", "client_id", "status", "kind"),)


class AnomalySuppression(UUIDPrimaryKey, TimestampMixin, Base):
    """A dismissed pattern: the detector stays quiet on it (until `expires_at`, if set)."""

    __tablename__ = "anomaly_suppressions"

    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    pattern: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(24))
    instance_id: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text)
    anomaly_id: Mapped[str | None] = mapped_column(String(32))
    expires_at: Mapped[datetime | None]

    __table_args__ = (UniqueConstraint("client_id", "pattern"),)


class AnomalyDetectorState(Base):
    """The shared detector's serialised state for one series, so each run resumes where the last stopped."""

    __tablename__ = "anomaly_detector_states"

    series: Mapped[str] = mapped_column(String(200), primary_key=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    last_at: Mapped[datetime | None]
    state: Mapped[dict[str, Any]]
