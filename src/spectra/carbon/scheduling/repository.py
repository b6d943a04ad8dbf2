"""Every query on scheduled jobs."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from spectra.carbon.scheduling.models import ACTIVE_STATUSES, ScheduledJob


def get(session: Session, job_id: str) -> ScheduledJob | None:
    return session.get(ScheduledJob, job_id)


def add(session: Session, job: ScheduledJob) -> ScheduledJob:
    session.add(job)
    session.flush()
    return job


def list_jobs(
    session: Session,
    client_id: str | None,
    *,
    status: str | None = None,
    team_id: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> Sequence[ScheduledJob]:
    query = select(ScheduledJob)
    if client_id is not None:
        query = query.where(ScheduledJob.client_id == client_id)
    if status is not None:
        query = query.where(ScheduledJob.status == status)
    if team_id is not None:
        query = query.where(ScheduledJob.team_id == team_id)
    query = query.order_by(ScheduledJob.submitted_at.desc(), ScheduledJob.id).limit(limit).offset(offset)
    return session.scalars(query).all()


def active_jobs(session: Session) -> Sequence[ScheduledJob]:
    """Jobs the periodic task still moves along, oldest deadline first."""
    query = (
        select(ScheduledJob)
        .where(ScheduledJob.status.in_(ACTIVE_STATUSES))
        .order_by(ScheduledJob.deadline, ScheduledJob.id)
    )
    return session.scalars(query).all()
