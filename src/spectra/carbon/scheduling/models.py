"""Scheduled (deferrable) jobs and the carbon-aware recommendation each one carries."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from spectra.core.db import Base, TimestampMixin, UUIDPrimaryKey, VersionMixin

# pending → scheduled → running → done; cancelled and missed end a job early.
JOB_STATUSES = ("pending", "scheduled", "running", "done", "cancelled", "missed")
ACTIVE_STATUSES = ("pending", "scheduled", "running")
EDITABLE_STATUSES = ("pending", "scheduled", "missed")


class ScheduledJob(UUIDPrimaryKey, TimestampMixin, VersionMixin, Base):
    """A batch job that may run any time between its earliest start and its deadline.

    `recommendation` holds the planner's latest answer (region, start, pieces, expected and
    baseline kgCO2e, why), recomputed while the job waits. Interruptible jobs run in pieces;
    `done_minutes` and `runs` record the work already done.
    """

    __tablename__ = "scheduled_jobs"

    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    team_id: Mapped[str | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    duration_minutes: Mapped[int] = mapped_column(Integer)
    power_kw: Mapped[float] = mapped_column(Float)  # IT power before PUE
    instance_type: Mapped[str | None] = mapped_column(String(64))  # where power_kw came from, if given
    instance_count: Mapped[int] = mapped_column(Integer, default=1)
    earliest_start: Mapped[datetime]
    deadline: Mapped[datetime]
    regions: Mapped[list[Any]]  # allowed region codes, home region first
    interruptible: Mapped[bool] = mapped_column(Boolean, default=False)
    submitted_at: Mapped[datetime]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    run_region: Mapped[str | None] = mapped_column(String(40))
    done_minutes: Mapped[int] = mapped_column(Integer, default=0)
    progress_at: Mapped[datetime | None]  # work was credited up to here (interruptible jobs)
    runs: Mapped[list[Any]]  # [{"start", "end", "region"}] pieces actually run
    recommendation: Mapped[dict[str, Any]]
    recommended_at: Mapped[datetime | None]

    __table_args__ = (Index("ix_scheduled_jobs_client_status", "client_id", "status"),)
