"""Queries on the platform tables (events, audit, job runs, idempotency keys, leases)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from spectra.core.models import AuditLog, EventLog, IdempotencyKey, JobRun, SchedulerLease


def _rowcount(result: object) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


def events_after(
    session: Session,
    after_id: int,
    client_id: str | None,
    is_admin: bool,
    topics: Sequence[str] | None,
    limit: int = 500,
) -> list[EventLog]:
    stmt = select(EventLog).where(EventLog.id > after_id).order_by(EventLog.id).limit(limit)
    if not is_admin:
        stmt = stmt.where(EventLog.client_id == client_id)
    if topics:
        stmt = stmt.where(or_(*[EventLog.topic.startswith(t) for t in topics]))
    return list(session.scalars(stmt))


def last_event_id(session: Session) -> int:
    return int(session.scalar(select(func.max(EventLog.id))) or 0)


def wake_keys_after(session: Session, after_id: int, limit: int = 5000) -> list[tuple[int, str | None]]:
    """(id, wake key) of the events after `after_id`, oldest first."""
    stmt = select(EventLog.id, EventLog.wake_key).where(EventLog.id > after_id).order_by(EventLog.id).limit(limit)
    return [(int(i), k) for i, k in session.execute(stmt)]


def prune_events(session: Session, before: datetime) -> int:
    return _rowcount(session.execute(delete(EventLog).where(EventLog.at < before)))


def audit_entries(
    session: Session, client_id: str | None, entity_type: str | None, entity_id: str | None, limit: int
) -> list[AuditLog]:
    stmt = select(AuditLog).order_by(AuditLog.id.desc()).limit(limit)
    if client_id is not None:
        stmt = stmt.where(AuditLog.client_id == client_id)
    if entity_type:
        stmt = stmt.where(AuditLog.entity_type == entity_type)
    if entity_id:
        stmt = stmt.where(AuditLog.entity_id == entity_id)
    return list(session.scalars(stmt))


def job_runs(session: Session, job_name: str | None, limit: int) -> list[JobRun]:
    stmt = select(JobRun).order_by(JobRun.id.desc()).limit(limit)
    if job_name:
        stmt = stmt.where(JobRun.job_name == job_name)
    return list(session.scalars(stmt))


def last_job_run(session: Session, job_name: str) -> JobRun | None:
    return session.scalar(select(JobRun).where(JobRun.job_name == job_name).order_by(JobRun.id.desc()).limit(1))


def idempotency_key(session: Session, scope_hash: str) -> IdempotencyKey | None:
    return session.scalar(select(IdempotencyKey).where(IdempotencyKey.scope_hash == scope_hash))


def delete_idempotency_key(session: Session, scope_hash: str) -> None:
    session.execute(delete(IdempotencyKey).where(IdempotencyKey.scope_hash == scope_hash))


def prune_idempotency_keys(session: Session, now: datetime) -> int:
    return _rowcount(session.execute(delete(IdempotencyKey).where(IdempotencyKey.expires_at < now)))


def try_take_lease(session: Session, name: str, holder: str, now: datetime, expires: datetime) -> bool:
    """Take or renew the lease when it is ours or has expired; True when we hold it afterwards."""
    if session.get(SchedulerLease, name) is None:
        session.add(SchedulerLease(name=name, holder=holder, expires_at=expires, acquired_at=now))
        session.flush()
        return True
    result = session.execute(
        update(SchedulerLease)
        .where(SchedulerLease.name == name)
        .where(or_(SchedulerLease.holder == holder, SchedulerLease.expires_at < now))
        .values(holder=holder, expires_at=expires)
    )
    return _rowcount(result) == 1


def release_lease(session: Session, name: str, holder: str) -> None:
    session.execute(delete(SchedulerLease).where(SchedulerLease.name == name, SchedulerLease.holder == holder))


def lease_holder(session: Session, name: str) -> SchedulerLease | None:
    return session.get(SchedulerLease, name)
