"""Emergency event queries."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from spectra.spot.emergency.models import EmergencyEvent

# failed_over stays active until the on-demand instance reports in (resolved_at set).
ACTIVE = ("open", "replica_queued", "failed_over")


def active_for(session: Session, agent_id: str) -> EmergencyEvent | None:
    return session.scalar(
        select(EmergencyEvent)
        .where(
            EmergencyEvent.agent_id == agent_id,
            EmergencyEvent.status.in_(ACTIVE),
            EmergencyEvent.resolved_at.is_(None),
        )
        .order_by(EmergencyEvent.received_at.desc())
        .limit(1)
    )


def latest_for(session: Session, agent_id: str) -> EmergencyEvent | None:
    return session.scalar(
        select(EmergencyEvent)
        .where(EmergencyEvent.agent_id == agent_id)
        .order_by(EmergencyEvent.received_at.desc())
        .limit(1)
    )


def by_replica(session: Session, replica_id: str) -> EmergencyEvent | None:
    return session.scalar(select(EmergencyEvent).where(EmergencyEvent.replica_id == replica_id).limit(1))


def events(session: Session, client_id: str | None, since: datetime | None, limit: int = 1000) -> list[EmergencyEvent]:
    stmt = select(EmergencyEvent).order_by(EmergencyEvent.received_at.desc()).limit(limit)
    if client_id is not None:
        stmt = stmt.where(EmergencyEvent.client_id == client_id)
    if since is not None:
        stmt = stmt.where(EmergencyEvent.received_at >= since)
    return list(session.scalars(stmt))
