"""Instance queries."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from spectra.fleet.instances.models import Instance, InstanceDailyCost
from spectra.fleet.models import Team


def _filtered(
    stmt: Select[Any],
    client_id: str | None,
    team: str | None,
    region: str | None,
    provider: str | None,
    state: str | None,
    lifecycle: str | None,
) -> Select[Any]:
    if client_id is not None:
        stmt = stmt.where(Instance.client_id == client_id)
    if team is not None:
        # A team filter takes the team's id or its name.
        by_name = select(Team.id).where(Team.name == team)
        if client_id is not None:
            by_name = by_name.where(Team.client_id == client_id)
        stmt = stmt.where(or_(Instance.team_id == team, Instance.team_id.in_(by_name)))
    if region is not None:
        stmt = stmt.where(Instance.region == region)
    if provider is not None:
        stmt = stmt.where(Instance.provider == provider)
    if state is not None:
        stmt = stmt.where(Instance.state == state)
    if lifecycle is not None:
        stmt = stmt.where(Instance.lifecycle == lifecycle)
    return stmt


def list_instances(
    session: Session,
    client_id: str | None,
    *,
    team: str | None = None,
    region: str | None = None,
    provider: str | None = None,
    state: str | None = None,
    lifecycle: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[Instance], int]:
    base = _filtered(select(Instance), client_id, team, region, provider, state, lifecycle)
    total = session.scalar(select(func.count()).select_from(base.subquery())) or 0
    rows = session.scalars(base.order_by(Instance.launched_at, Instance.id).limit(limit).offset(offset))
    return list(rows), int(total)


def get_instance(session: Session, instance_id: str) -> Instance | None:
    return session.get(Instance, instance_id)


def by_provider_id(session: Session, client_id: str, provider: str, provider_id: str) -> Instance | None:
    return session.scalar(
        select(Instance).where(
            Instance.client_id == client_id, Instance.provider == provider, Instance.provider_id == provider_id
        )
    )


def by_provider_ids(session: Session, provider: str, provider_ids: Iterable[str]) -> list[Instance]:
    ids = list(provider_ids)
    if not ids:
        return []
    return list(session.scalars(select(Instance).where(Instance.provider == provider, Instance.provider_id.in_(ids))))


def by_ids(session: Session, instance_ids: Iterable[str]) -> list[Instance]:
    ids = list(dict.fromkeys(instance_ids))
    out: list[Instance] = []
    for i in range(0, len(ids), 500):  # keep IN lists of a portable size
        out.extend(session.scalars(select(Instance).where(Instance.id.in_(ids[i : i + 500]))))
    return out


def active_between(session: Session, client_id: str | None, start: datetime, end: datetime) -> list[Instance]:
    """Instances that may have run inside [start, end): launched before end, not gone before start."""
    stmt = select(Instance).where(
        Instance.launched_at < end,
        or_(Instance.terminated_at.is_(None), Instance.terminated_at > start),
        or_(Instance.stopped_at.is_(None), Instance.stopped_at > start),
    )
    if client_id is not None:
        stmt = stmt.where(Instance.client_id == client_id)
    return list(session.scalars(stmt.order_by(Instance.id)))


def active_regions(session: Session, client_id: str | None, start: datetime, end: datetime) -> list[str]:
    stmt = (
        select(Instance.region)
        .distinct()
        .where(
            Instance.launched_at < end,
            or_(Instance.terminated_at.is_(None), Instance.terminated_at > start),
            or_(Instance.stopped_at.is_(None), Instance.stopped_at > start),
        )
    )
    if client_id is not None:
        stmt = stmt.where(Instance.client_id == client_id)
    return sorted(session.scalars(stmt))


def count_active(session: Session, client_id: str | None, start: datetime, end: datetime) -> int:
    stmt = select(func.count(Instance.id)).where(
        Instance.launched_at < end,
        or_(Instance.terminated_at.is_(None), Instance.terminated_at > start),
        or_(Instance.stopped_at.is_(None), Instance.stopped_at > start),
    )
    if client_id is not None:
        stmt = stmt.where(Instance.client_id == client_id)
    return int(session.scalar(stmt) or 0)


def get_daily_cost(session: Session, instance_id: str, day: date) -> InstanceDailyCost | None:
    return session.scalar(
        select(InstanceDailyCost).where(InstanceDailyCost.instance_id == instance_id, InstanceDailyCost.day == day)
    )


def daily_costs(
    session: Session, instance_ids: Iterable[str], first_day: date, last_day: date
) -> list[InstanceDailyCost]:
    ids = list(instance_ids)
    if not ids:
        return []
    stmt = select(InstanceDailyCost).where(InstanceDailyCost.day >= first_day, InstanceDailyCost.day <= last_day)
    # Large fleets: filtering by day alone and then in Python beats a huge IN list.
    if len(ids) <= 500:
        stmt = stmt.where(InstanceDailyCost.instance_id.in_(ids))
    wanted = set(ids)
    return [row for row in session.scalars(stmt) if row.instance_id in wanted]
