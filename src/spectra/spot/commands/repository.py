"""Command queue queries."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from spectra.spot.models import Command

OPEN = ("pending", "delivered")
SWITCHING = ("switch", "fallback_on_demand", "return_to_spot")


def by_request_id(session: Session, request_id: str) -> Command | None:
    return session.scalar(select(Command).where(Command.request_id == request_id))


def get(session: Session, command_id: str) -> Command | None:
    return session.get(Command, command_id)


def open_switch(session: Session, agent_id: str) -> Command | None:
    return session.scalar(
        select(Command)
        .where(Command.agent_id == agent_id, Command.status.in_(OPEN), Command.command_type.in_(SWITCHING))
        .limit(1)
    )


def open_of_type(session: Session, agent_id: str, command_type: str, instance_id: str | None) -> Command | None:
    stmt = select(Command).where(
        Command.agent_id == agent_id, Command.status.in_(OPEN), Command.command_type == command_type
    )
    if instance_id is not None:
        stmt = stmt.where(Command.instance_id == instance_id)
    return session.scalar(stmt.limit(1))


def deliverable(session: Session, agent_id: str, redeliver_before: datetime, limit: int) -> list[Command]:
    """Pending commands, and delivered ones never acknowledged (the agent may have crashed holding them)."""
    return list(
        session.scalars(
            select(Command)
            .where(
                Command.agent_id == agent_id,
                or_(
                    Command.status == "pending",
                    and_(Command.status == "delivered", Command.delivered_at < redeliver_before),
                ),
            )
            .order_by(Command.priority.desc(), Command.created_at)
            .limit(limit)
        )
    )


def expire(session: Session, now: datetime) -> int:
    result = session.execute(
        update(Command)
        .where(Command.status.in_(OPEN), Command.expires_at.is_not(None), Command.expires_at < now)
        .values(status="expired", version=Command.version + 1)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def list_for_agent(session: Session, agent_id: str, status: str | None, limit: int) -> list[Command]:
    stmt = select(Command).where(Command.agent_id == agent_id).order_by(Command.created_at.desc()).limit(limit)
    if status:
        stmt = stmt.where(Command.status == status)
    return list(session.scalars(stmt))


def count_open(session: Session, agent_id: str | None = None) -> int:
    from sqlalchemy import func

    stmt = select(func.count(Command.id)).where(Command.status.in_(OPEN))
    if agent_id is not None:
        stmt = stmt.where(Command.agent_id == agent_id)
    return int(session.scalar(stmt) or 0)


def claim_delivery(session: Session, command: Command, now: datetime) -> bool:
    """Mark one command delivered unless a concurrent poll of the same agent already took it."""
    result = session.execute(
        update(Command)
        .where(Command.id == command.id, Command.version == command.version)
        .values(status="delivered", delivered_at=now, version=command.version + 1)
        .execution_options(synchronize_session=False)
    )
    session.expire(command)
    return int(getattr(result, "rowcount", 0) or 0) == 1
