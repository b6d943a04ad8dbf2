"""Scope 1/2/3 reporting over the stored emissions.

Scope mapping (GHG Protocol, as a cloud operator would report its own fleet): Scope 1 = on-site fuel
(the client's configured kg per month, pro rata by day; 0 unless set); Scope 2 = purchased electricity
(operational CO2e, location- and market-based); Scope 3 = embodied hardware emissions. A cloud customer
reports all of it as Scope 3 category 1 (purchased services), shown alongside.
"""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy.orm import Session

from spectra.carbon.emissions import service as emissions
from spectra.carbon.reports.schemas import (
    Breakdown,
    MonthPoint,
    ReportHistory,
    ReportInputs,
    ReportMethod,
    ReportSummary,
    Scope1,
    Scope2,
    Scope3,
)
from spectra.core.errors import Unprocessable
from spectra.fleet import service as fleet_service
from spectra.fleet.instances import service as instance_service
from spectra.fleet.settings import service as settings_service

DEFAULT_DAYS = 30
MAX_DAYS = 366 * 5

METHOD = ReportMethod(
    name="Cloud Carbon Footprint (CCF) methodology, hourly",
    energy=(
        "per instance-hour: vCPUs × (min W + utilisation × (max W − min W)) of its CPU microarchitecture, plus "
        "memory above the per-vCPU baseline × 0.000392 kWh/GB·h, × the provider's PUE"
    ),
    operational=(
        "energy × the hour's carbon intensity of the region's grid zone (gCO2e/kWh, stored hourly); "
        "market-based uses the zone's renewable / carbon-free share where known, else equals location-based"
    ),
    embodied=(
        "CCF embodied formula: the host's manufacturing kgCO2e × (instance vCPUs ÷ host vCPUs), over a 4-year life"
    ),
    scopes=(
        "Scope 1 = on-site fuel (configured kg/month, pro rata); Scope 2 = purchased electricity; "
        "Scope 3 = embodied hardware (category 1 for a cloud customer: everything)"
    ),
    utilisation="measured mean CPU per instance-hour where metrics exist, else the client's default (50%)",
    cost="the cloud bill per instance-day where synced (Cost Explorer), else running hours × on-demand list price",
)


def resolve_period(start: date | None, end: date | None, today: date) -> tuple[date, date]:
    end = end or today
    start = start or end - timedelta(days=DEFAULT_DAYS - 1)
    if end < start:
        raise Unprocessable("end is before start", errors=[{"field": "end", "msg": "before start"}])
    if (end - start).days >= MAX_DAYS:
        raise Unprocessable("at most five years at once", errors=[{"field": "start", "msg": "too far back"}])
    return start, end


def _client_ids(session: Session, client_id: str | None) -> list[str]:
    return [client_id] if client_id is not None else [c.id for c in fleet_service.list_clients(session)]


def monthly_scope1_kg(session: Session, client_id: str | None) -> float:
    """Configured on-site fuel per month (summed over clients for an admin's whole-platform view)."""
    values = settings_service.client_values(session, "scope1_co2e_kg_per_month", _client_ids(session, client_id))
    return sum(float(v or 0.0) for v in values.values())


def prorate_monthly(monthly: float, start: date, end: date) -> float:
    """Each calendar month contributes monthly × (its days inside [start, end] ÷ its length)."""
    if monthly == 0.0:
        return 0.0
    total = 0.0
    month_start = start.replace(day=1)
    while month_start <= end:
        length = calendar.monthrange(month_start.year, month_start.month)[1]
        month_end = month_start.replace(day=length)
        overlap = (min(end, month_end) - max(start, month_start)).days + 1
        total += monthly * overlap / length
        month_start = month_end + timedelta(days=1)
    return total


def _kg(grams: float) -> float:
    return round(grams / 1000.0, 4)


def _breakdown(rows: list[dict[str, Any]], key: str, names: dict[str, str]) -> list[Breakdown]:
    out = [
        Breakdown(
            key=row[key],
            name=names.get(row[key] or "", row[key] or "(unassigned)"),
            location_based_kg=_kg(row["co2e_location_g"]),
            market_based_kg=_kg(row["co2e_market_g"]),
            embodied_kg=_kg(row["embodied_g"]),
            total_kg=_kg(row["co2e_location_g"] + row["embodied_g"]),
            kwh=round(row["kwh"], 4),
            cost_usd=round(row["cost_usd"], 2),
        )
        for row in rows
    ]
    return sorted(out, key=lambda b: (-b.total_kg, b.name))


def _empty() -> dict[str, float]:
    return {f: 0.0 for f in emissions.TOTAL_FIELDS}


def summary(session: Session, client_id: str | None, start: date, end: date) -> ReportSummary:
    totals = (emissions.totals(session, client_id, start, end) or [_empty()])[0]
    by_team = emissions.totals(session, client_id, start, end, group_by=["team_id"])
    by_region = emissions.totals(session, client_id, start, end, group_by=["region"])
    teams = {t.id: t.name for t in fleet_service.list_teams(session, client_id)}
    s1 = prorate_monthly(monthly_scope1_kg(session, client_id), start, end)
    location, market, embodied = _kg(totals["co2e_location_g"]), _kg(totals["co2e_market_g"]), _kg(totals["embodied_g"])
    hours = float(totals["instance_hours"])
    window_start = datetime.combine(start, time(), tzinfo=UTC)
    window_end = datetime.combine(end + timedelta(days=1), time(), tzinfo=UTC)
    active = instance_service.count_active(session, client_id, window_start, window_end)
    return ReportSummary(
        client_id=client_id,
        start=start,
        end=end,
        days=(end - start).days + 1,
        scope1=Scope1(
            co2e_kg=round(s1, 4),
            method="configured on-site fuel (kg CO2e per month), pro rata by day; 0 when not configured",
        ),
        scope2=Scope2(location_based_kg=location, market_based_kg=market, kwh=round(totals["kwh"], 4)),
        scope3=Scope3(
            embodied_kg=embodied,
            category_1_location_kg=round(location + embodied, 4),
            category_1_market_kg=round(market + embodied, 4),
        ),
        total_location_based_kg=round(s1 + location + embodied, 4),
        total_market_based_kg=round(s1 + market + embodied, 4),
        cost_usd=round(totals["cost_usd"], 2),
        by_team=_breakdown(by_team, "team_id", teams),
        by_region=_breakdown(by_region, "region", {}),
        inputs=ReportInputs(
            instances=active,
            instance_hours=round(hours, 2),
            measured_utilisation_share=round(totals["measured_hours"] / hours, 4) if hours else 0.0,
            billed_cost_share=round(totals["billed_cost_usd"] / totals["cost_usd"], 4) if totals["cost_usd"] else 0.0,
            regions=sorted(r["region"] for r in by_region),
        ),
        method=METHOD,
    )


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def history(session: Session, client_id: str | None, months: int, today: date) -> ReportHistory:
    """The last `months` calendar months, the current one (to date) included, oldest first."""
    if not 1 <= months <= 120:
        raise Unprocessable("months must be 1-120", errors=[{"field": "months", "msg": "out of range"}])
    return monthly(session, client_id, _add_months(today.replace(day=1), -(months - 1)), today, today)


def monthly(session: Session, client_id: str | None, first: date, last: date, today: date) -> ReportHistory:
    """One point per calendar month touching [first, last], each summed over its days inside the range."""
    monthly_s1 = monthly_scope1_kg(session, client_id)
    points = []
    month_start = first.replace(day=1)
    while month_start <= last:
        last_of_month = _add_months(month_start, 1) - timedelta(days=1)
        key = month_start.strftime("%Y-%m")
        # One range per month: whole months come from the monthly roll-up in a single row per group.
        values = emissions.totals(session, client_id, max(first, month_start), min(last, last_of_month))[0]
        s1 = prorate_monthly(monthly_s1, max(first, month_start), min(last, last_of_month))
        location, market = _kg(values["co2e_location_g"]), _kg(values["co2e_market_g"])
        embodied = _kg(values["embodied_g"])
        points.append(
            MonthPoint(
                month=key,
                scope1_kg=round(s1, 4),
                scope2_location_kg=location,
                scope2_market_kg=market,
                scope3_embodied_kg=embodied,
                total_location_based_kg=round(s1 + location + embodied, 4),
                total_market_based_kg=round(s1 + market + embodied, 4),
                kwh=round(values["kwh"], 4),
                cost_usd=round(values["cost_usd"], 2),
                complete=first <= month_start and last_of_month <= last and last_of_month < today,
            )
        )
        month_start = last_of_month + timedelta(days=1)
    return ReportHistory(client_id=client_id, months=points)
