"""Queries on recorded optimisation actions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from spectra.carbon.actions.models import OptimizationAction


def by_request_id(session: Session, client_id: str, kind: str, request_id: str) -> OptimizationAction | None:
    return session.scalar(
        select(OptimizationAction).where(
            OptimizationAction.client_id == client_id,
            OptimizationAction.kind == kind,
            OptimizationAction.request_id == request_id,
        )
    )


def get(session: Session, action_id: str) -> OptimizationAction | None:
    return session.get(OptimizationAction, action_id)


def list_actions(
    session: Session,
    client_id: str | None,
    kind: str | None = None,
    status: str | None = None,
    origin: str | None = None,
    instance_id: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[OptimizationAction]:
    stmt = select(OptimizationAction).order_by(OptimizationAction.created_at.desc(), OptimizationAction.id)
    if client_id is not None:
        stmt = stmt.where(OptimizationAction.client_id == client_id)
    if kind:
        stmt = stmt.where(OptimizationAction.kind == kind)
    if status:
        stmt = stmt.where(OptimizationAction.status == status)
    if origin:
        stmt = stmt.where(OptimizationAction.origin == origin)
    if instance_id:
        stmt = stmt.where(OptimizationAction.instance_id == instance_id)
    return list(session.scalars(stmt.limit(limit).offset(offset)))


def in_effect_between(
    session: Session, client_id: str | None, start: datetime, end: datetime
) -> list[OptimizationAction]:
    """Applied (or since reverted) actions whose effective span overlaps [start, end)."""
    stmt = select(OptimizationAction).where(
        OptimizationAction.status.in_(("applied", "reverted")),
        OptimizationAction.effective_from.is_not(None),
        OptimizationAction.effective_from < end,
        or_(OptimizationAction.effective_until.is_(None), OptimizationAction.effective_until > start),
    )
    if client_id is not None:
        stmt = stmt.where(OptimizationAction.client_id == client_id)
    return list(session.scalars(stmt))


def count_automatic_since(session: Session, client_id: str, since: datetime) -> int:
    """Automatic changes applied since `since` (the daily change budget counts these)."""
    stmt = select(OptimizationAction.id).where(
        OptimizationAction.client_id == client_id,
        OptimizationAction.origin == "automatic",
        OptimizationAction.status == "applied",
        OptimizationAction.effective_from >= since,
    )
    return len(list(session.scalars(stmt)))
