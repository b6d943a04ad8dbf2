"""Emergency event queries."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from spectra.spot.emergency.models import EmergencyEvent

# failed_over stays active until the on-demand instance reports in (resolved_at set).
ACTIVE = ("open", "replica_queued", "failed_over")
# Notices about a replica are recorded (and resolved) at once: a lost standby, or one under a rebalance notice.
REPLICA_NOTICES = ("replica_lost", "replica_at_risk")


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
    """The emergency that waits for (or took) this replica; not the record of the replica's own loss."""
    return session.scalar(
        select(EmergencyEvent)
        .where(EmergencyEvent.replica_id == replica_id, EmergencyEvent.status.not_in(REPLICA_NOTICES))
        .order_by(EmergencyEvent.received_at.desc())
        .limit(1)
    )


def by_command(session: Session, command_id: str) -> EmergencyEvent | None:
    return session.scalar(select(EmergencyEvent).where(EmergencyEvent.command_id == command_id).limit(1))


def for_instance(session: Session, agent_id: str, instance_id: str, kind: str) -> EmergencyEvent | None:
    """The newest notice of this kind recorded about one of the agent's instances."""
    return session.scalar(
        select(EmergencyEvent)
        .where(
            EmergencyEvent.agent_id == agent_id,
            EmergencyEvent.instance_id == instance_id,
            EmergencyEvent.kind == kind,
        )
        .order_by(EmergencyEvent.received_at.desc())
        .limit(1)
    )


def events(session: Session, client_id: str | None, since: datetime | None, limit: int = 1000) -> list[EmergencyEvent]:
    stmt = select(EmergencyEvent).order_by(EmergencyEvent.received_at.desc()).limit(limit)
    if client_id is not None:
        stmt = stmt.where(EmergencyEvent.client_id == client_id)
    if since is not None:
        stmt = stmt.where(EmergencyEvent.received_at >= since)
    return list(session.scalars(stmt))
