"""Emissions queries.

Aggregates over a range read whole months from the monthly tables and only the partial months at
its edges from the daily ones; a month row equals the sum of that month's stored days, so a month is
"whole" for a range that covers it up to its last stored day.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, delete, func, insert, literal, select
from sqlalchemy.orm import Session

from spectra.carbon.emissions.models import (
    EmissionRollupDay,
    EmissionRollupMonth,
    InstanceEmissionDay,
    InstanceEmissionMonth,
)

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
INSTANCE_KEYS = ("instance_id", "client_id", "team_id", "region", "instance_type")
Model = type[EmissionRollupDay] | type[InstanceEmissionDay] | type[EmissionRollupMonth] | type[InstanceEmissionMonth]


def month_of(day: date) -> date:
    return day.replace(day=1)


def month_end(month: date) -> date:
    return (month.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)


def _sums(model: Model) -> list[ColumnElement[Any]]:
    return [func.coalesce(func.sum(getattr(model, f)), 0.0).label(f) for f in TOTAL_FIELDS]


def replace_days(
    session: Session,
    days: Sequence[date],
    client_id: str | None,
    instance_rows: list[dict[str, Any]],
    rollup_rows: list[dict[str, Any]],
) -> None:
    """Swap the stored rows of these days (of one client, or of all) for freshly computed ones, then
    rebuild the months they fall in."""
    for model in (InstanceEmissionDay, EmissionRollupDay):
        stmt = delete(model).where(model.day.in_(list(days)))
        if client_id is not None:
            stmt = stmt.where(model.client_id == client_id)
        session.execute(stmt)
    if instance_rows:
        session.execute(insert(InstanceEmissionDay), instance_rows)
    if rollup_rows:
        session.execute(insert(EmissionRollupDay), rollup_rows)
    refresh_months(session, {month_of(d) for d in days}, client_id)


def refresh_months(session: Session, months: Iterable[date], client_id: str | None) -> None:
    """Recompute the monthly rows of these months from their stored days (INSERT … SELECT … GROUP BY)."""
    for month in sorted(months):
        for day_model, month_model, keys in (
            (EmissionRollupDay, EmissionRollupMonth, ("client_id", "team_id", "region")),
            (InstanceEmissionDay, InstanceEmissionMonth, INSTANCE_KEYS),
        ):
            wipe = delete(month_model).where(month_model.month == month)
            if client_id is not None:
                wipe = wipe.where(month_model.client_id == client_id)
            session.execute(wipe)
            columns = [getattr(day_model, k) for k in keys]
            source = (
                select(
                    *columns, literal(month).label("month"), *[func.sum(getattr(day_model, f)) for f in TOTAL_FIELDS]
                )
                .where(day_model.day >= month, day_model.day <= month_end(month))
                .group_by(*columns)
            )
            if client_id is not None:
                source = source.where(day_model.client_id == client_id)
            session.execute(insert(month_model).from_select([*keys, "month", *TOTAL_FIELDS], source))


def last_day(session: Session) -> date | None:
    return session.scalar(select(func.max(EmissionRollupDay.day)))


def plan(first_day: date, last_day_: date, newest: date | None) -> tuple[list[date], list[tuple[date, date]]]:
    """Split [first, last] into whole months (read monthly) and edge ranges (read daily)."""
    months: list[date] = []
    ranges: list[tuple[date, date]] = []
    month = month_of(first_day)
    while month <= last_day_:
        end = month_end(month)
        covered_to = end if newest is None else min(end, newest)
        lo, hi = max(first_day, month), min(last_day_, end)
        if lo == month and hi >= covered_to:
            months.append(month)
        elif lo <= hi:
            ranges.append((lo, hi))
        month = end + timedelta(days=1)
    return months, ranges


def _merge(parts: Iterable[dict[str, Any]], keys: Sequence[str]) -> list[dict[str, Any]]:
    merged: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in parts:
        key = tuple(row[k] for k in keys)
        into = merged.get(key)
        if into is None:
            merged[key] = {**{k: row[k] for k in keys}, **{f: float(row[f]) for f in TOTAL_FIELDS}}
        else:
            for f in TOTAL_FIELDS:
                into[f] += float(row[f])
    return list(merged.values())


def _filtered(stmt: Select[Any], model: Model, client_id: str | None, team_id: str | None) -> Select[Any]:
    if client_id is not None:
        stmt = stmt.where(model.client_id == client_id)
    if team_id is not None:
        stmt = stmt.where(model.team_id == team_id)
    return stmt


def totals(
    session: Session,
    client_id: str | None,
    first_day: date,
    last_day_: date,
    group_by: Sequence[str] = (),
    team_id: str | None = None,
    newest: date | None = None,
) -> list[dict[str, Any]]:
    """Sums over [first_day, last_day], grouped by any of team_id, region, day, client_id.
    `newest` is the newest stored day when the caller already knows it (saves a query)."""
    unknown = set(group_by) - GROUPS
    if unknown:
        raise ValueError(f"cannot group by {sorted(unknown)}")
    months: list[date]
    ranges: list[tuple[date, date]]
    if "day" in group_by:
        months, ranges = [], [(first_day, last_day_)]
    else:
        months, ranges = plan(first_day, last_day_, newest or last_day(session))
    parts: list[dict[str, Any]] = []
    if months:
        keys = [getattr(EmissionRollupMonth, g) for g in group_by]
        stmt = select(*keys, *_sums(EmissionRollupMonth)).where(EmissionRollupMonth.month.in_(months))
        stmt = _filtered(stmt, EmissionRollupMonth, client_id, team_id)
        parts.extend(dict(r._mapping) for r in session.execute(stmt.group_by(*keys) if keys else stmt))
    for lo, hi in ranges:
        keys = [getattr(EmissionRollupDay, g) for g in group_by]
        stmt = select(*keys, *_sums(EmissionRollupDay)).where(EmissionRollupDay.day >= lo, EmissionRollupDay.day <= hi)
        stmt = _filtered(stmt, EmissionRollupDay, client_id, team_id)
        parts.extend(dict(r._mapping) for r in session.execute(stmt.group_by(*keys) if keys else stmt))
    if not group_by:
        return _merge(parts, ()) or [{f: 0.0 for f in TOTAL_FIELDS}]
    return _merge(parts, group_by)


def by_instance(
    session: Session,
    client_id: str | None,
    first_day: date,
    last_day_: date,
    *,
    team_id: str | None = None,
    limit: int | None = None,
    newest: date | None = None,
) -> list[dict[str, Any]]:
    """Per-instance sums over the days, largest location-based + embodied CO2e first."""
    months, ranges = plan(first_day, last_day_, newest or last_day(session))
    parts: list[dict[str, Any]] = []
    if months:
        keys = [getattr(InstanceEmissionMonth, k) for k in INSTANCE_KEYS]
        stmt = select(*keys, *_sums(InstanceEmissionMonth)).where(InstanceEmissionMonth.month.in_(months))
        stmt = _filtered(stmt, InstanceEmissionMonth, client_id, team_id).group_by(*keys)
        if not ranges and limit is not None:  # whole months only: the database ranks and cuts
            rank = func.sum(InstanceEmissionMonth.co2e_location_g + InstanceEmissionMonth.embodied_g)
            stmt = stmt.order_by(rank.desc(), InstanceEmissionMonth.instance_id).limit(limit)
        parts.extend(dict(r._mapping) for r in session.execute(stmt))
    for lo, hi in ranges:
        keys = [getattr(InstanceEmissionDay, k) for k in INSTANCE_KEYS]
        stmt = select(*keys, *_sums(InstanceEmissionDay)).where(
            InstanceEmissionDay.day >= lo, InstanceEmissionDay.day <= hi
        )
        stmt = _filtered(stmt, InstanceEmissionDay, client_id, team_id)
        parts.extend(dict(r._mapping) for r in session.execute(stmt.group_by(*keys)))
    rows = _merge(parts, INSTANCE_KEYS)
    rows.sort(key=lambda r: (-(r["co2e_location_g"] + r["embodied_g"]), r["instance_id"]))
    return rows[:limit] if limit is not None else rows


def instance_days(session: Session, instance_id: str, first_day: date, last_day_: date) -> list[InstanceEmissionDay]:
    stmt = (
        select(InstanceEmissionDay)
        .where(
            InstanceEmissionDay.instance_id == instance_id,
            InstanceEmissionDay.day >= first_day,
            InstanceEmissionDay.day <= last_day_,
        )
        .order_by(InstanceEmissionDay.day)
    )
    return list(session.scalars(stmt))
