"""Budget rules.

Consumption counts the team's stored emissions from the quarter's first day to now: operational CO2e
by the budget's basis (location- or market-based), plus embodied CO2e when the budget includes it.
Projection: consumed + the recent daily rate × the days left in the quarter, the rate being the mean of
the last 7 complete days inside the quarter (today so far, scaled to a day, on its first day), so a
budget set mid-quarter or data that starts late are not diluted. Status: `over` at 100% used,
`at_risk` when ≥ 80% is used or the projection exceeds the budget, else `on_track`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy.orm import Session

from spectra.carbon.budgets import repository
from spectra.carbon.budgets.models import BudgetNotice, TeamBudget
from spectra.carbon.budgets.schemas import BudgetCreate, BudgetOut, BudgetUpdate
from spectra.carbon.emissions import service as emissions
from spectra.core.audit import record_audit
from spectra.core.auth import Caller
from spectra.core.clock import clock
from spectra.core.errors import BadRequest, Conflict, NotFound, StaleVersion, Unprocessable
from spectra.core.events import publish
from spectra.fleet import service as fleet_service
from spectra.fleet.settings import service as settings_service

AT_RISK_PCT = 80.0
RATE_DAYS = 7
THRESHOLD_TOPIC = "budget.threshold"


@dataclass(frozen=True)
class Quarter:
    year: int
    quarter: int

    @property
    def first_day(self) -> date:
        return date(self.year, 3 * (self.quarter - 1) + 1, 1)

    @property
    def last_day(self) -> date:
        return self.next().first_day - timedelta(days=1)

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first_day, time(), tzinfo=UTC)

    @property
    def end(self) -> datetime:
        return self.next().start

    def next(self) -> Quarter:
        return Quarter(self.year + 1, 1) if self.quarter == 4 else Quarter(self.year, self.quarter + 1)

    def previous(self) -> Quarter:
        return Quarter(self.year - 1, 4) if self.quarter == 1 else Quarter(self.year, self.quarter - 1)

    @classmethod
    def of(cls, at: datetime | date) -> Quarter:
        return cls(at.year, (at.month - 1) // 3 + 1)


@dataclass(frozen=True)
class Usage:
    consumed_kg: float
    projected_kg: float
    pct_used: float
    status: str
    kwh: float
    cost_usd: float


def counted_kg(totals: dict[str, Any], basis: str, include_embodied: bool) -> float:
    operational = totals["co2e_market_g"] if basis == "market" else totals["co2e_location_g"]
    return (operational + (totals["embodied_g"] if include_embodied else 0.0)) / 1000.0


def evaluate(
    consumed_kg: float, budget_kg: float, rate_kg_per_day: float, quarter: Quarter, now: datetime
) -> tuple[float, float, str]:
    """(projected kg, % used, status) for a consumption and a recent daily rate at `now`."""
    days_left = max(0.0, (quarter.end - now).total_seconds() / 86400.0)
    projected = consumed_kg + rate_kg_per_day * days_left
    pct = 100.0 * consumed_kg / budget_kg
    if pct >= 100.0:
        status = "over"
    elif pct >= AT_RISK_PCT or projected > budget_kg:
        status = "at_risk"
    else:
        status = "on_track"
    return projected, pct, status


def rate_window(quarter: Quarter, now: datetime) -> tuple[date, date, float] | None:
    """(first day, last day, length in days) whose mean daily consumption is the run-rate."""
    today = now.date()
    if today < quarter.first_day:
        return None
    last = min(today - timedelta(days=1), quarter.last_day)
    if last >= quarter.first_day:
        first = max(quarter.first_day, last - timedelta(days=RATE_DAYS - 1))
        return first, last, float((last - first).days + 1)
    elapsed = (now - datetime.combine(today, time(), tzinfo=UTC)).total_seconds() / 86400.0
    return today, today, max(elapsed, 1 / 24)  # the quarter's first day: today so far


def _team_sums(
    session: Session, client_id: str | None, team_id: str | None, first: date, last: date
) -> list[dict[str, Any]]:
    return emissions.totals(session, client_id, first, last, group_by=[] if team_id else ["team_id"], team_id=team_id)


def usage(
    session: Session,
    budget: TeamBudget,
    now: datetime,
    totals: dict[str, Any] | None = None,
    recent: dict[str, Any] | None = None,
) -> Usage:
    """Consumption of a budget; `totals` (quarter to date) and `recent` (the rate window) when fetched."""
    quarter = Quarter(budget.year, budget.quarter)
    zeros = {f: 0.0 for f in emissions.TOTAL_FIELDS}
    last = min(quarter.last_day, now.date())
    if totals is None:
        totals = (
            _team_sums(session, budget.client_id, budget.team_id, quarter.first_day, last)[0]
            if last >= quarter.first_day
            else zeros
        )
    window = rate_window(quarter, now)
    if recent is None:
        recent = _team_sums(session, budget.client_id, budget.team_id, window[0], window[1])[0] if window else zeros
    consumed = counted_kg(totals, budget.basis, budget.include_embodied)
    rate = counted_kg(recent, budget.basis, budget.include_embodied) / window[2] if window else 0.0
    projected, pct, status = evaluate(consumed, budget.budget_co2e_kg, rate, quarter, now)
    return Usage(consumed, projected, pct, status, float(totals["kwh"]), float(totals["cost_usd"]))


def to_out(
    session: Session,
    budget: TeamBudget,
    now: datetime,
    notified: list[int],
    team_name: str,
    sums: tuple[dict[str, Any], dict[str, Any]] | None = None,
) -> BudgetOut:
    quarter = Quarter(budget.year, budget.quarter)
    use = usage(session, budget, now, *(sums or (None, None)))
    return BudgetOut(
        id=budget.id,
        client_id=budget.client_id,
        team_id=budget.team_id,
        team_name=team_name,
        year=budget.year,
        quarter=budget.quarter,
        period_start=quarter.first_day,
        period_end=quarter.last_day,
        budget_co2e_kg=budget.budget_co2e_kg,
        basis=budget.basis,
        include_embodied=budget.include_embodied,
        consumed_co2e_kg=round(use.consumed_kg, 3),
        pct_used=round(use.pct_used, 2),
        remaining_co2e_kg=round(budget.budget_co2e_kg - use.consumed_kg, 3),
        projected_co2e_kg=round(use.projected_kg, 3),
        status=use.status,
        thresholds_notified=notified,
        cost_usd=round(use.cost_usd, 2),
        kwh=round(use.kwh, 3),
        version=budget.version,
        created_at=budget.created_at,
        updated_at=budget.updated_at,
    )


def _team_names(session: Session, client_id: str | None) -> dict[str, str]:
    return {t.id: t.name for t in fleet_service.list_teams(session, client_id)}


def list_budgets(
    session: Session, client_id: str | None, year: int | None = None, quarter: int | None = None
) -> list[BudgetOut]:
    now = clock.now()
    if year is None and quarter is None:
        current = Quarter.of(now)
        year, quarter = current.year, current.quarter
    budgets = repository.list_budgets(session, client_id, year, quarter)
    notified = repository.notices(session, [b.id for b in budgets])
    names = _team_names(session, client_id)
    by_team = _quarter_totals_by_team(session, client_id, budgets, now)
    return [
        to_out(session, b, now, notified[b.id], names.get(b.team_id, ""), by_team.get((b.year, b.quarter, b.team_id)))
        for b in budgets
    ]


def _quarter_totals_by_team(
    session: Session, client_id: str | None, budgets: list[TeamBudget], now: datetime
) -> dict[tuple[int, int, str], tuple[dict[str, Any], dict[str, Any]]]:
    """(quarter to date, rate window) sums per budget: two grouped queries per quarter, not two per budget."""
    out: dict[tuple[int, int, str], tuple[dict[str, Any], dict[str, Any]]] = {}
    zeros = {f: 0.0 for f in emissions.TOTAL_FIELDS}
    for year, number in sorted({(b.year, b.quarter) for b in budgets}):
        quarter = Quarter(year, number)
        last = min(quarter.last_day, now.date())
        to_date: dict[str | None, dict[str, Any]] = {}
        recent: dict[str | None, dict[str, Any]] = {}
        if last >= quarter.first_day:
            to_date = {r["team_id"]: r for r in _team_sums(session, client_id, None, quarter.first_day, last)}
        window = rate_window(quarter, now)
        if window is not None:
            recent = {r["team_id"]: r for r in _team_sums(session, client_id, None, window[0], window[1])}
        for b in budgets:
            if (b.year, b.quarter) == (year, number):
                out[(year, number, b.team_id)] = (to_date.get(b.team_id, zeros), recent.get(b.team_id, zeros))
    return out


def _state(budget: TeamBudget) -> dict[str, Any]:
    return {
        "team_id": budget.team_id,
        "year": budget.year,
        "quarter": budget.quarter,
        "budget_co2e_kg": budget.budget_co2e_kg,
        "basis": budget.basis,
        "include_embodied": budget.include_embodied,
        "version": budget.version,
    }


def create_budget(session: Session, data: BudgetCreate, caller: Caller) -> BudgetOut:
    team = fleet_service.get_team(session, data.team_id, caller)  # another client's team is 404
    now = clock.now()
    current = Quarter.of(now)
    if (data.year is None) != (data.quarter is None):
        raise Unprocessable("give both year and quarter, or neither", errors=[{"field": "quarter", "msg": "both"}])
    quarter = Quarter(data.year, data.quarter) if data.year and data.quarter else current
    if repository.find(session, team.id, quarter.year, quarter.quarter) is not None:
        raise Conflict(
            f"team {team.name!r} already has a budget for {quarter.year} Q{quarter.quarter}", code="budget_exists"
        )
    budget = TeamBudget(
        client_id=team.client_id,
        team_id=team.id,
        year=quarter.year,
        quarter=quarter.quarter,
        budget_co2e_kg=data.budget_co2e_kg,
        basis=data.basis,
        include_embodied=data.include_embodied,
    )
    session.add(budget)
    session.flush()
    record_audit(session, "budget.create", "team_budget", budget.id, None, _state(budget), client_id=team.client_id)
    return to_out(session, budget, now, [], team.name)


def get_budget(session: Session, budget_id: str, caller: Caller) -> TeamBudget:
    budget = repository.get_budget(session, budget_id)
    if budget is None:
        raise NotFound("budget not found")
    caller.ensure_tenant(budget.client_id, "budget")
    return budget


def update_budget(session: Session, budget_id: str, data: BudgetUpdate, caller: Caller) -> BudgetOut:
    budget = get_budget(session, budget_id, caller)
    if budget.version != data.version:
        raise StaleVersion("budget", budget.version)
    changes = data.model_dump(exclude_unset=True, exclude={"version"})
    for field, value in changes.items():
        if value is None:
            raise Unprocessable(f"{field} cannot be null", errors=[{"field": field, "msg": "required"}])
    pre = _state(budget)
    for field, value in changes.items():
        setattr(budget, field, value)
    session.flush()
    record_audit(session, "budget.update", "team_budget", budget.id, pre, _state(budget), client_id=budget.client_id)
    team = fleet_service.get_team(session, budget.team_id, caller)
    notified = repository.notices(session, [budget.id])[budget.id]
    return to_out(session, budget, clock.now(), notified, team.name)


def check_thresholds(session: Session, now: datetime) -> dict[str, Any]:
    """Announce each threshold (default 80% and 100%) a budget has crossed, once per budget.

    Budgets of the current quarter are checked, and of the previous one during its first week, as its
    last day's emissions are computed after it ends.
    """
    current = Quarter.of(now)
    periods = [(current.year, current.quarter)]
    if now - current.start < timedelta(days=7):
        previous = current.previous()
        periods.append((previous.year, previous.quarter))
    budgets = repository.list_budgets(session, None, periods=periods)
    notified = repository.notices(session, [b.id for b in budgets])
    thresholds_of: dict[str, list[int]] = {}
    sent: list[dict[str, Any]] = []
    names: dict[str, str] = {}
    for budget in budgets:
        if budget.client_id not in thresholds_of:
            thresholds_of[budget.client_id] = list(
                settings_service.client_value(session, budget.client_id, "budget_alert_pcts")
            )
            names.update(_team_names(session, budget.client_id))
        pending = [p for p in thresholds_of[budget.client_id] if p not in notified[budget.id]]
        if not pending:
            continue
        use = usage(session, budget, now)
        for pct in pending:
            if use.pct_used < pct:
                continue
            session.add(
                BudgetNotice(budget_id=budget.id, threshold_pct=pct, consumed_co2e_kg=use.consumed_kg, sent_at=now)
            )
            payload = {
                "budget_id": budget.id,
                "team_id": budget.team_id,
                "team_name": names.get(budget.team_id, ""),
                "year": budget.year,
                "quarter": budget.quarter,
                "threshold_pct": pct,
                "pct_used": round(use.pct_used, 2),
                "consumed_co2e_kg": round(use.consumed_kg, 3),
                "budget_co2e_kg": budget.budget_co2e_kg,
                "projected_co2e_kg": round(use.projected_kg, 3),
                "status": use.status,
            }
            publish(session, THRESHOLD_TOPIC, payload, client_id=budget.client_id)
            sent.append(payload)
    session.flush()
    return {"checked": len(budgets), "notices": len(sent)}


def resolve_period(
    year: int | None, quarter: int | None, start: date | None, end: date | None, now: datetime
) -> tuple[date, date]:
    """The export's days: explicit start/end, else a quarter (default: the current one)."""
    if start is not None or end is not None:
        if start is None or end is None:
            raise BadRequest("give both start and end, or a year and quarter", code="period_incomplete")
        if end < start:
            raise Unprocessable("end is before start", errors=[{"field": "end", "msg": "before start"}])
        if (end - start).days > 366 * 5:
            raise Unprocessable("at most five years at once", errors=[{"field": "end", "msg": "too far"}])
        return start, end
    current = Quarter.of(now)
    q = Quarter(year or current.year, quarter or (current.quarter if year is None else 1))
    if year is not None and quarter is None:  # a whole year
        return date(year, 1, 1), date(year, 12, 31)
    return q.first_day, q.last_day
