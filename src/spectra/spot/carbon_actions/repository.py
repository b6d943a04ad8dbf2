"""Queries of the carbon-action executor: who manages an instance, which of its commands lapsed, which
requests were published."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from spectra.core.models import EventLog
from spectra.spot.models import Agent, Command, SpotInstance


def instances_with_agents(session: Session, client_id: str, cloud_instance_id: str) -> list[tuple[SpotInstance, Agent]]:
    """The tenant's live (not TERMINATED) instances with this cloud id and their agents, most recent beat first."""
    rows = session.execute(
        select(SpotInstance, Agent)
        .join(Agent, Agent.id == SpotInstance.agent_id)
        .where(
            SpotInstance.client_id == client_id,
            SpotInstance.cloud_instance_id == cloud_instance_id,
            SpotInstance.role != "TERMINATED",
        )
        .order_by(Agent.last_heartbeat_at.desc(), SpotInstance.created_at.desc())
    )
    return [(inst, agent) for inst, agent in rows]


def expired_commands(session: Session, issued_by: str, since: datetime) -> list[Command]:
    """Commands of this issuer that expired (their `expires_at` after `since`)."""
    return list(
        session.scalars(
            select(Command)
            .where(Command.issued_by == issued_by, Command.status == "expired", Command.expires_at >= since)
            .order_by(Command.expires_at)
        )
    )


def published(session: Session, topics: tuple[str, ...], since: datetime, until: datetime) -> list[EventLog]:
    return list(
        session.scalars(
            select(EventLog)
            .where(EventLog.topic.in_(topics), EventLog.at >= since, EventLog.at < until)
            .order_by(EventLog.id)
        )
    )
