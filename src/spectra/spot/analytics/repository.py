"""Analytics queries: switch events, instances over a window, agents' heartbeat counters."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from spectra.spot.models import Agent, SpotInstance, SwitchEvent


def switch_events(
    session: Session,
    client_id: str | None,
    *,
    agent_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 10_000,
) -> list[SwitchEvent]:
    stmt = select(SwitchEvent).order_by(SwitchEvent.started_at.desc()).limit(limit)
    if client_id is not None:
        stmt = stmt.where(SwitchEvent.client_id == client_id)
    if agent_id is not None:
        stmt = stmt.where(SwitchEvent.agent_id == agent_id)
    if since is not None:
        stmt = stmt.where(SwitchEvent.started_at >= since)
    if until is not None:
        stmt = stmt.where(SwitchEvent.started_at < until)
    return list(session.scalars(stmt))


def switch_for(session: Session, agent_id: str, command_id: str | None, new_instance_id: str) -> SwitchEvent | None:
    """The switch already recorded for this command, or to this new instance (a repeated report)."""
    conditions = [SwitchEvent.new_instance_id == new_instance_id]
    if command_id:
        conditions.append(SwitchEvent.command_id == command_id)
    return session.scalar(select(SwitchEvent).where(SwitchEvent.agent_id == agent_id, or_(*conditions)).limit(1))


def instances_alive_between(
    session: Session, client_id: str | None, start: datetime, end: datetime
) -> list[SpotInstance]:
    stmt = select(SpotInstance).where(
        SpotInstance.launched_at.is_not(None),
        SpotInstance.launched_at < end,
        or_(SpotInstance.terminated_at.is_(None), SpotInstance.terminated_at > start),
    )
    if client_id is not None:
        stmt = stmt.where(SpotInstance.client_id == client_id)
    return list(session.scalars(stmt))


def heartbeat_totals(session: Session, client_id: str | None = None) -> tuple[int, int]:
    stmt = select(
        func.coalesce(func.sum(Agent.heartbeats_received), 0), func.coalesce(func.sum(Agent.heartbeats_missed), 0)
    )
    if client_id is not None:
        stmt = stmt.where(Agent.client_id == client_id)
    received, missed = session.execute(stmt).one()
    return int(received), int(missed)
