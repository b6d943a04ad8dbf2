"""Emissions queries. Aggregates read the daily roll-up (a year of a 1,000-instance fleet is tens of
thousands of rows, not millions); per-instance questions read the per-instance days."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, delete, func, insert, select
from sqlalchemy.orm import Session

from spectra.carbon.emissions.models import EmissionRollupDay, InstanceEmissionDay

TOTAL_FIELDS = (
    "instance_hours",
    "kwh",
    "co2e_location_g",
    "co2e_market_g",
    "embodied_g",
    "cost_usd",
    "billed_cost_usd",
    "measured_hours",
)
GROUPS = {"team_id", "region", "day", "client_id"}


def replace_days(
    session: Session,
    days: Sequence[date],
    client_id: str | None,
    instance_rows: list[dict[str, Any]],
    rollup_rows: list[dict[str, Any]],
) -> None:
    """Swap the stored rows of these days (of one client, or of all) for freshly computed ones."""
    for model in (InstanceEmissionDay, EmissionRollupDay):
        stmt = delete(model).where(model.day.in_(list(days)))
        if client_id is not None:
            stmt = stmt.where(model.client_id == client_id)
        session.execute(stmt)
    if instance_rows:
        session.execute(insert(InstanceEmissionDay), instance_rows)
    if rollup_rows:
        session.execute(insert(EmissionRollupDay), rollup_rows)


def last_day(session: Session) -> date | None:
    return session.scalar(select(func.max(EmissionRollupDay.day)))


def _sums(model: type[EmissionRollupDay] | type[InstanceEmissionDay]) -> list[ColumnElement[Any]]:
    return [func.coalesce(func.sum(getattr(model, f)), 0.0).label(f) for f in TOTAL_FIELDS]


def totals(
    session: Session,
    client_id: str | None,
    first_day: date,
    last_day: date,
    group_by: Sequence[str] = (),
    team_id: str | None = None,
) -> list[dict[str, Any]]:
    """Sums over [first_day, last_day] of the roll-up, grouped by any of team_id, region, day, client_id."""
    unknown = set(group_by) - GROUPS
    if unknown:
        raise ValueError(f"cannot group by {sorted(unknown)}")
    keys = [getattr(EmissionRollupDay, g) for g in group_by]
    stmt = select(*keys, *_sums(EmissionRollupDay)).where(
        EmissionRollupDay.day >= first_day, EmissionRollupDay.day <= last_day
    )
    if client_id is not None:
        stmt = stmt.where(EmissionRollupDay.client_id == client_id)
    if team_id is not None:
        stmt = stmt.where(EmissionRollupDay.team_id == team_id)
    if keys:
        stmt = stmt.group_by(*keys)
    return [dict(row._mapping) for row in session.execute(stmt)]


def by_instance(
    session: Session,
    client_id: str | None,
    first_day: date,
    last_day: date,
    *,
    team_id: str | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Per-instance sums over the days, largest location-based CO2e first."""
    total_g = func.sum(InstanceEmissionDay.co2e_location_g + InstanceEmissionDay.embodied_g)
    stmt = (
        select(
            InstanceEmissionDay.instance_id,
            InstanceEmissionDay.client_id,
            InstanceEmissionDay.team_id,
            InstanceEmissionDay.region,
            InstanceEmissionDay.instance_type,
            *_sums(InstanceEmissionDay),
        )
        .where(InstanceEmissionDay.day >= first_day, InstanceEmissionDay.day <= last_day)
        .group_by(
            InstanceEmissionDay.instance_id,
            InstanceEmissionDay.client_id,
            InstanceEmissionDay.team_id,
            InstanceEmissionDay.region,
            InstanceEmissionDay.instance_type,
        )
        .order_by(total_g.desc(), InstanceEmissionDay.instance_id)
    )
    if client_id is not None:
        stmt = stmt.where(InstanceEmissionDay.client_id == client_id)
    if team_id is not None:
        stmt = stmt.where(InstanceEmissionDay.team_id == team_id)
    if limit is not None:
        stmt = stmt.limit(limit)
    return [dict(row._mapping) for row in session.execute(stmt)]


def instance_days(session: Session, instance_id: str, first_day: date, last_day: date) -> list[InstanceEmissionDay]:
    stmt = (
        select(InstanceEmissionDay)
        .where(
            InstanceEmissionDay.instance_id == instance_id,
            InstanceEmissionDay.day >= first_day,
            InstanceEmissionDay.day <= last_day,
        )
        .order_by(InstanceEmissionDay.day)
    )
    return list(session.scalars(stmt))
