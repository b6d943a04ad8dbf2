"""Analytics and exports: savings, switch history, charts, downtime, operational metrics, CSV exports."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import Response

from spectra.core.auth import AdminDep, CallerDep
from spectra.core.clock import clock
from spectra.core.db import SessionDep
from spectra.core.errors import PROBLEM_RESPONSES
from spectra.spot.agents.schemas import SwitchEventOut
from spectra.spot.analytics import service
from spectra.spot.analytics.csv_safe import to_csv

router = APIRouter(prefix="/api/client", tags=["spot: analytics"], responses=PROBLEM_RESPONSES)
admin_router = APIRouter(prefix="/api/admin", tags=["spot: analytics"], responses=PROBLEM_RESPONSES)
Days = Annotated[int, Query(ge=1, le=366)]
CSV: dict[int | str, dict[str, Any]] = {200: {"content": {"text/csv": {}}, "description": "CSV file"}}


def _csv(body: str, name: str) -> Response:
    return Response(body, media_type="text/csv", headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get("/{client_id}/savings")
def savings(client_id: str, caller: CallerDep, session: SessionDep, days: Days = 30) -> dict[str, Any]:
    """Savings against on-demand per day and per instance (USD), with the method stated."""
    caller.scope_client_id(client_id)
    return service.savings(session, client_id, days, clock.now())


@router.get("/{client_id}/switch-history", response_model=list[SwitchEventOut])
def switch_history(client_id: str, caller: CallerDep, session: SessionDep, days: Days = 30) -> list[SwitchEventOut]:
    """Switches, newest first: pools, prices, downtime, trigger, who asked."""
    caller.scope_client_id(client_id)
    return [SwitchEventOut.model_validate(e) for e in service.switch_rows(session, client_id, days, clock.now())]


@router.get("/{client_id}/export/savings", response_class=Response, responses=CSV)
def export_savings(client_id: str, caller: CallerDep, session: SessionDep, days: Days = 30) -> Response:
    """Daily savings as CSV (cells that a spreadsheet would run as formulas are quoted)."""
    caller.scope_client_id(client_id)
    data = service.savings(session, client_id, days, clock.now())
    rows = [(d["date"], d["actual_cost_usd"], d["on_demand_baseline_usd"], d["savings_usd"]) for d in data["daily"]]
    return _csv(to_csv(["date", "actual_cost_usd", "on_demand_baseline_usd", "savings_usd"], rows), "savings.csv")


@router.get("/{client_id}/export/switch-history", response_class=Response, responses=CSV)
def export_switch_history(client_id: str, caller: CallerDep, session: SessionDep, days: Days = 90) -> Response:
    """Switch history as CSV (formula-injection safe)."""
    caller.scope_client_id(client_id)
    header = [
        "started_at",
        "agent_id",
        "trigger",
        "old_instance_id",
        "new_instance_id",
        "from_pool_id",
        "to_pool_id",
        "old_price",
        "new_price",
        "downtime_seconds",
        "success",
        "user_id",
    ]
    rows = [
        (
            e.started_at,
            e.agent_id,
            e.trigger,
            e.old_instance_id,
            e.new_instance_id,
            e.from_pool_id,
            e.to_pool_id,
            e.old_price,
            e.new_price,
            e.downtime_seconds,
            e.success,
            e.user_id,
        )
        for e in service.switch_rows(session, client_id, days, clock.now())
    ]
    return _csv(to_csv(header, rows), "switch-history.csv")


@router.get("/{client_id}/stats/charts")
def chart_data(client_id: str, caller: CallerDep, session: SessionDep, days: Days = 30) -> dict[str, Any]:
    """Series for the dashboard: savings, switches and downtime per day; instances by role."""
    caller.scope_client_id(client_id)
    return service.charts(session, client_id, days, clock.now())


@router.get("/{client_id}/analytics/downtime")
def downtime(
    client_id: str, caller: CallerDep, session: SessionDep, hours: Annotated[int, Query(ge=1, le=24 * 90)] = 24
) -> dict[str, Any]:
    """Switch downtime over a rolling window: p95, average, min, max, success rate (v6 target p95 < 10 s)."""
    caller.scope_client_id(client_id)
    return service.downtime(session, client_id, hours, clock.now())


@admin_router.get("/metrics/operational")
def operational_metrics(
    _: AdminDep, session: SessionDep, hours: Annotated[int, Query(ge=1, le=24 * 90)] = 24
) -> dict[str, Any]:
    """Heartbeat miss rate, emergency promotion times, decision latency, consolidation lag, switch downtime."""
    return service.operational(session, clock.now(), hours)


@admin_router.get("/export/global-stats", response_class=Response, responses=CSV)
def export_global_stats(_: AdminDep, session: SessionDep, days: Days = 30) -> Response:
    """Per-client totals as CSV: agents, instances, switches, savings (formula-injection safe)."""
    from spectra.spot.admin.service import global_rows

    header, rows = global_rows(session, days, clock.now())
    return _csv(to_csv(header, rows), "global-stats.csv")
