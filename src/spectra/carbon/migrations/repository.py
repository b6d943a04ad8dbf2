"""Migration queries."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from spectra.carbon.migrations.models import MigrationAction


def get(session: Session, migration_id: str) -> MigrationAction | None:
    return session.get(MigrationAction, migration_id)


def by_request_id(session: Session, client_id: str, request_id: str) -> MigrationAction | None:
    return session.scalar(
        select(MigrationAction).where(MigrationAction.client_id == client_id, MigrationAction.request_id == request_id)
    )


def _filtered(stmt: Any, client_id: str | None, status: str | None, instance_id: str | None) -> Any:
    if client_id is not None:
        stmt = stmt.where(MigrationAction.client_id == client_id)
    if status:
        stmt = stmt.where(MigrationAction.status == status)
    if instance_id:
        stmt = stmt.where(MigrationAction.instance_id == instance_id)
    return stmt


def history(
    session: Session, client_id: str | None, status: str | None, instance_id: str | None, limit: int, offset: int
) -> tuple[list[MigrationAction], int]:
    total = session.scalar(_filtered(select(func.count(MigrationAction.id)), client_id, status, instance_id))
    stmt = _filtered(select(MigrationAction), client_id, status, instance_id)
    rows = session.scalars(
        stmt.order_by(MigrationAction.requested_at.desc(), MigrationAction.id).limit(limit).offset(offset)
    )
    return list(rows), int(total or 0)


def in_flight_for(session: Session, instance_id: str) -> MigrationAction | None:
    return session.scalar(
        select(MigrationAction).where(MigrationAction.instance_id == instance_id, MigrationAction.status == "executing")
    )


def executing_since_before(session: Session, before: datetime) -> list[MigrationAction]:
    return list(
        session.scalars(
            select(MigrationAction).where(MigrationAction.status == "executing", MigrationAction.started_at < before)
        )
    )
