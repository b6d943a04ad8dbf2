"""Model registry (uploaded decision engines / ML models, one active per kind) and the decision log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Float, ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from spectra.core.db import Base, TimestampMixin, UUIDPrimaryKey, VersionMixin


class MLModel(UUIDPrimaryKey, TimestampMixin, VersionMixin, Base):
    """An uploaded model or decision engine. Activation keeps the previously active one for fallback."""

    __tablename__ = "ml_models"

    name: Mapped[str] = mapped_column(String(120))
    model_version: Mapped[str] = mapped_column(String(60))
    kind: Mapped[str] = mapped_column(String(32), default="decision_engine")  # decision_engine | price_forecast
    framework: Mapped[str] = mapped_column(String(16))  # builtin | skops | onnx
    status: Mapped[str] = mapped_column(String(16), default="uploaded")  # uploaded | active | inactive | rejected
    session_id: Mapped[str] = mapped_column(String(32), index=True)  # one upload session (seed: model sessions)
    artifact_path: Mapped[str | None] = mapped_column(String(500))
    # The uploaded file itself: every API worker and a restarted server load the same bytes.
    artifact: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    sha256: Mapped[str | None] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(Integer, default=0)
    config: Mapped[dict[str, Any] | None]
    validation: Mapped[dict[str, Any] | None]
    metrics: Mapped[dict[str, Any] | None]
    uploaded_by: Mapped[str | None] = mapped_column(String(80))
    activated_at: Mapped[datetime | None]
    previous_model_id: Mapped[str | None] = mapped_column(String(32))
    notes: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (UniqueConstraint("kind", "name", "model_version"),)


class MLDecision(UUIDPrimaryKey, Base):
    """One decision the engine made, with the inputs it saw, so a reviewer can replay and audit it."""

    __tablename__ = "ml_decisions"

    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    agent_id: Mapped[str | None] = mapped_column(String(32), index=True)
    instance_id: Mapped[str | None] = mapped_column(String(32))
    model_id: Mapped[str | None] = mapped_column(String(32))
    engine: Mapped[str] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(24))  # stay | switch | create_replica | fallback_on_demand | ...
    target_pool_id: Mapped[str | None] = mapped_column(String(32))
    expected_cost_per_hour: Mapped[float] = mapped_column(Float)
    risk: Mapped[float] = mapped_column(Float)
    reason: Mapped[str] = mapped_column(Text)
    inputs: Mapped[dict[str, Any] | None]
    latency_ms: Mapped[float] = mapped_column(Float, default=0.0)
    decided_at: Mapped[datetime]
    executed: Mapped[bool] = mapped_column(default=False)
    command_id: Mapped[str | None] = mapped_column(String(32))

    __table_args__ = (Index("ix_ml_decisions_agent_time", "agent_id", "decided_at"),)
