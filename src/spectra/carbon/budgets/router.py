"""SPECTRA's /api/budgets."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, status

from spectra.carbon.budgets import export, service
from spectra.carbon.budgets.schemas import BudgetCreate, BudgetOut, BudgetUpdate
from spectra.core.auth import CallerDep
from spectra.core.clock import clock
from spectra.core.db import SessionDep
from spectra.core.errors import PROBLEM_RESPONSES

router = APIRouter(prefix="/api/budgets", tags=["budgets"], responses=PROBLEM_RESPONSES)
ClientQuery = Annotated[str | None, Query(description="Admins: one client's budgets")]
Year = Annotated[int | None, Query(ge=2000, le=2100)]
QuarterQ = Annotated[int | None, Query(ge=1, le=4)]


@router.get("", response_model=list[BudgetOut])
def list_budgets(
    caller: CallerDep, session: SessionDep, year: Year = None, quarter: QuarterQ = None, client_id: ClientQuery = None
) -> list[BudgetOut]:
    """Team budgets of a quarter (default: the current one) with consumption, projection and status."""
    return service.list_budgets(session, caller.scope_client_id(client_id), year, quarter)


@router.post("", response_model=BudgetOut, status_code=status.HTTP_201_CREATED)
def create_budget(body: BudgetCreate, caller: CallerDep, session: SessionDep) -> BudgetOut:
    """Set a team's carbon budget for a quarter (one per team and quarter; a second is 409)."""
    return service.create_budget(session, body, caller)


CSV_DOC: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {"text/csv": {"schema": {"type": "string"}}},
        "description": "Chargeback CSV: one row per team × instance",
    }
}


@router.get("/export", response_class=Response, responses=CSV_DOC)
def export_budgets(
    caller: CallerDep,
    session: SessionDep,
    year: Year = None,
    quarter: QuarterQ = None,
    start: Annotated[date | None, Query(description="First day (with end) instead of a quarter")] = None,
    end: Annotated[date | None, Query(description="Last day, inclusive")] = None,
    client_id: ClientQuery = None,
) -> Response:
    """Chargeback CSV (team, instance, kWh, kgCO2e, cost, period) for a quarter, a year or a date range."""
    first, last = service.resolve_period(year, quarter, start, end, clock.now())
    body = export.chargeback_csv(session, caller.scope_client_id(client_id), first, last)
    filename = f"spectra-chargeback-{first.isoformat()}-{last.isoformat()}.csv"
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.patch("/{budget_id}", response_model=BudgetOut)
def update_budget(budget_id: str, body: BudgetUpdate, caller: CallerDep, session: SessionDep) -> BudgetOut:
    """Change a budget's amount or basis; send the version you read (stale → 409)."""
    return service.update_budget(session, budget_id, body, caller)
