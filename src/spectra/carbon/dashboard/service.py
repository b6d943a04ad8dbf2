"""Build the dashboard from the stored roll-ups (cheap: a month of a large fleet is a few thousand
rows), the budgets, realised savings of recorded actions, and the latest intensity per region."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from spectra.carbon.actions import service as actions_service
from spectra.carbon.budgets import service as budgets_service
from spectra.carbon.dashboard import repository
from spectra.carbon.dashboard.schemas import (
    BudgetLine,
    BudgetOverview,
    Dashboard,
    DayPoint,
    Emitter,
    RegionIntensity,
    ScopeTotals,
    Slice,
    Totals,
)
from spectra.carbon.emissions import service as emissions
from spectra.carbon.reports import service as reports_service
from spectra.fleet import service as fleet_service
from spectra.fleet.catalog import service as catalog_service
from spectra.fleet.instances import service as instance_service

TOP_EMITTERS = 10
# (session, client id or None, now) -> realised savings; the optimisation actions' by default.
SavingsProvider = Callable[[Session, str | None, datetime, datetime], dict[str, Any]]
# (session, region codes, now) -> the latest intensity of each region's grid zone.
IntensityProvider = Callable[[Session, list[str], datetime], list[RegionIntensity]]


def _kg(grams: float) -> float:
    return round(grams / 1000.0, 3)


def _totals(row: dict[str, Any] | None) -> Totals:
    row = row or {f: 0.0 for f in emissions.TOTAL_FIELDS}
    return Totals(
        co2e_kg=_kg(row["co2e_location_g"] + row["embodied_g"]),
        co2e_market_kg=_kg(row["co2e_market_g"] + row["embodied_g"]),
        operational_location_kg=_kg(row["co2e_location_g"]),
        operational_market_kg=_kg(row["co2e_market_g"]),
        embodied_kg=_kg(row["embodied_g"]),
        kwh=round(row["kwh"], 3),
        cost_usd=round(row["cost_usd"], 2),
        instance_hours=round(row["instance_hours"], 2),
    )


def _slices(rows: list[dict[str, Any]], key: str, names: dict[str, str], month_g: float) -> list[Slice]:
    out = []
    for row in rows:
        grams = row["co2e_location_g"] + row["embodied_g"]
        out.append(
            Slice(
                key=row[key],
                name=names.get(row[key] or "", row[key] or "(unassigned)"),
                co2e_kg=_kg(grams),
                kwh=round(row["kwh"], 3),
                cost_usd=round(row["cost_usd"], 2),
                share=round(grams / month_g, 4) if month_g else 0.0,
            )
        )
    return sorted(out, key=lambda s: (-s.co2e_kg, s.name))


def _first(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    return rows[0] if rows else None


def build(
    session: Session,
    client_id: str | None,
    now: datetime,
    *,
    intensity: IntensityProvider | None = None,
    savings: SavingsProvider = actions_service.realised_savings,
) -> Dashboard:
    today = now.date()
    month_start = today.replace(day=1)
    teams = {t.id: t.name for t in fleet_service.list_teams(session, client_id)}
    newest = emissions.last_day(session)

    today_row = _first(emissions.totals(session, client_id, today, today, newest=newest))
    month_row = _first(emissions.totals(session, client_id, month_start, today, newest=newest))
    month = _totals(month_row)
    month_g = (month_row["co2e_location_g"] + month_row["embodied_g"]) if month_row else 0.0
    by_team = emissions.totals(session, client_id, month_start, today, ["team_id"], newest=newest)
    by_region = emissions.totals(session, client_id, month_start, today, ["region"], newest=newest)

    daily = {
        r["day"]: r for r in emissions.totals(session, client_id, today - timedelta(days=29), today, group_by=["day"])
    }
    trend = []
    for offset in range(29, -1, -1):
        day: date = today - timedelta(days=offset)
        row = daily.get(day)
        trend.append(
            DayPoint(
                day=day,
                co2e_kg=_kg(row["co2e_location_g"] + row["embodied_g"]) if row else 0.0,
                co2e_market_kg=_kg(row["co2e_market_g"] + row["embodied_g"]) if row else 0.0,
            )
        )

    top = emissions.by_instance(session, client_id, month_start, today, limit=TOP_EMITTERS, newest=newest)
    instances = instance_service.instances_by_ids(session, [r["instance_id"] for r in top])
    emitters = [
        Emitter(
            instance_id=r["instance_id"],
            provider_id=instances[r["instance_id"]].provider_id if r["instance_id"] in instances else None,
            name=instances[r["instance_id"]].name if r["instance_id"] in instances else None,
            team_name=teams.get(r["team_id"] or ""),
            region=r["region"],
            instance_type=r["instance_type"],
            co2e_kg=_kg(r["co2e_location_g"] + r["embodied_g"]),
            kwh=round(r["kwh"], 3),
            cost_usd=round(r["cost_usd"], 2),
        )
        for r in top
    ]

    quarter = budgets_service.Quarter.of(now)
    budget_rows = budgets_service.list_budgets(session, client_id, quarter.year, quarter.quarter)
    budgets = BudgetOverview(
        year=quarter.year,
        quarter=quarter.quarter,
        on_track=sum(b.status == "on_track" for b in budget_rows),
        at_risk=sum(b.status == "at_risk" for b in budget_rows),
        over=sum(b.status == "over" for b in budget_rows),
        budgets=[
            BudgetLine(
                budget_id=b.id,
                team_id=b.team_id,
                team_name=b.team_name,
                budget_co2e_kg=b.budget_co2e_kg,
                consumed_co2e_kg=b.consumed_co2e_kg,
                pct_used=b.pct_used,
                projected_co2e_kg=b.projected_co2e_kg,
                status=b.status,
            )
            for b in sorted(budget_rows, key=lambda b: -b.pct_used)
        ],
    )

    window_start = datetime.combine(month_start, datetime.min.time(), tzinfo=now.tzinfo)
    active_regions = sorted(
        set(instance_service.active_regions(session, client_id, now - timedelta(hours=1), now))
        | {r["region"] for r in by_region}
    )
    scope1 = reports_service.prorate_monthly(reports_service.monthly_scope1_kg(session, client_id), month_start, today)
    return Dashboard(
        client_id=client_id,
        as_of=now,
        today=_totals(today_row),
        month=month,
        by_scope=ScopeTotals(
            scope1_kg=round(scope1, 3),
            scope2_location_kg=month.operational_location_kg,
            scope2_market_kg=month.operational_market_kg,
            scope3_kg=month.embodied_kg,
        ),
        by_team=_slices(by_team, "team_id", teams, month_g),
        by_region=_slices(by_region, "region", {}, month_g),
        intensity=(intensity or stored_intensity_now)(session, active_regions, now),
        budgets=budgets,
        top_emitters=emitters,
        last_30_days=trend,
        savings=savings(session, client_id, window_start, now) if now > window_start else {},
        last_computed_day=newest,
    )


def stored_intensity_now(session: Session, regions: list[str], now: datetime) -> list[RegionIntensity]:
    """Each region's grid zone at its latest stored hour that has started by now."""
    views = {r.code: r for r in catalog_service.list_regions(session)}
    zone_of = {code: views[code].zone if code in views else None for code in regions}
    latest = repository.latest_hours(session, sorted({z for z in zone_of.values() if z}), now)
    out = []
    for code in regions:
        zone = zone_of[code]
        row = latest.get(zone) if zone else None
        out.append(
            RegionIntensity(
                region=code,
                zone=zone,
                g_per_kwh=row.direct_g_per_kwh if row else None,
                at=row.hour if row else None,
                renewable_pct=row.renewable_pct if row else None,
                source=(row.data_source or row.imported_from) if row else None,
            )
        )
    return out
