"""Chargeback CSV: one row per team × instance for a period. Cells that a spreadsheet would run as a
formula (= + - @, tab, CR) are prefixed with a quote, so a tag or team name cannot inject one."""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from spectra.carbon.emissions import service as emissions
from spectra.fleet import service as fleet_service
from spectra.fleet.instances import service as instance_service

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
COLUMNS = [
    "period_start",
    "period_end",
    "team",
    "instance_id",
    "provider_id",
    "instance_name",
    "region",
    "instance_type",
    "instance_hours",
    "kwh",
    "co2e_kg",
    "operational_location_kg",
    "operational_market_kg",
    "embodied_kg",
    "cost_usd",
]


def safe_cell(value: Any) -> Any:
    """Text that a spreadsheet would evaluate is neutralised; numbers pass through as numbers."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def write_csv(header: list[str], rows: list[list[Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([safe_cell(v) for v in row])
    return buffer.getvalue()


def chargeback_rows(session: Session, client_id: str | None, first: date, last: date) -> list[list[Any]]:
    per_instance = emissions.by_instance(session, client_id, first, last)
    teams = {t.id: t.name for t in fleet_service.list_teams(session, client_id)}
    instances = instance_service.instances_by_ids(session, [r["instance_id"] for r in per_instance])
    rows = []
    for r in per_instance:
        instance = instances.get(r["instance_id"])
        total_kg = (r["co2e_location_g"] + r["embodied_g"]) / 1000.0
        rows.append(
            [
                first.isoformat(),
                last.isoformat(),
                teams.get(r["team_id"] or "", "(unassigned)"),
                r["instance_id"],
                instance.provider_id if instance else "",
                (instance.name or "") if instance else "",
                r["region"],
                r["instance_type"],
                round(r["instance_hours"], 2),
                round(r["kwh"], 4),
                round(total_kg, 4),
                round(r["co2e_location_g"] / 1000.0, 4),
                round(r["co2e_market_g"] / 1000.0, 4),
                round(r["embodied_g"] / 1000.0, 4),
                round(r["cost_usd"], 4),
            ]
        )
    rows.sort(key=lambda row: (str(row[2]), -float(row[10]), str(row[3])))
    return rows


def chargeback_csv(session: Session, client_id: str | None, first: date, last: date) -> str:
    return write_csv(COLUMNS, chargeback_rows(session, client_id, first, last))
