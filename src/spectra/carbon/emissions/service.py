"""Emissions service: the job that computes and stores per-instance daily emissions, and the read
side every view (dashboard, budgets, reports, chargeback) uses."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from spectra.carbon.emissions import repository
from spectra.carbon.emissions.models import InstanceEmissionDay
from spectra.carbon.emissions.repository import TOTAL_FIELDS

__all__ = ["TOTAL_FIELDS", "by_instance", "instance_days", "last_day", "store_days", "totals"]


def rollup(instance_rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Sum per-instance day rows into client × team × region × day rows."""
    groups: dict[tuple[str, str | None, str, date], dict[str, Any]] = {}
    for row in instance_rows:
        key = (row["client_id"], row["team_id"], row["region"], row["day"])
        group = groups.get(key)
        if group is None:
            group = groups[key] = {
                "client_id": key[0],
                "team_id": key[1],
                "region": key[2],
                "day": key[3],
                "instances": 0,
                **{f: 0.0 for f in TOTAL_FIELDS},
            }
        group["instances"] += 1
        for field in TOTAL_FIELDS:
            group[field] += row[field]
    return list(groups.values())


def store_days(
    session: Session, days: list[date], instance_rows: list[dict[str, Any]], client_id: str | None = None
) -> None:
    """Replace the stored emissions of these days (all clients, or one) with per-instance rows, and
    rebuild their roll-up. Each row has the InstanceEmissionDay columns."""
    repository.replace_days(session, days, client_id, instance_rows, rollup(instance_rows))


def totals(
    session: Session,
    client_id: str | None,
    first_day: date,
    last_day: date,
    group_by: tuple[str, ...] | list[str] = (),
    team_id: str | None = None,
) -> list[dict[str, Any]]:
    """Summed emissions (grams, kWh, USD, instance-hours) over [first_day, last_day], optionally grouped."""
    return repository.totals(session, client_id, first_day, last_day, group_by, team_id)


def by_instance(
    session: Session,
    client_id: str | None,
    first_day: date,
    last_day: date,
    *,
    team_id: str | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    return repository.by_instance(session, client_id, first_day, last_day, team_id=team_id, limit=limit)


def instance_days(session: Session, instance_id: str, first_day: date, last_day: date) -> list[InstanceEmissionDay]:
    return repository.instance_days(session, instance_id, first_day, last_day)


def last_day(session: Session) -> date | None:
    return repository.last_day(session)
