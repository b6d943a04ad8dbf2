"""SPECTRA's /api/reports."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from spectra.carbon.reports import export, service
from spectra.carbon.reports.schemas import ReportHistory, ReportSummary
from spectra.core.auth import CallerDep
from spectra.core.clock import clock
from spectra.core.db import SessionDep
from spectra.core.errors import PROBLEM_RESPONSES
from spectra.fleet import service as fleet_service

router = APIRouter(prefix="/api/reports", tags=["reports"], responses=PROBLEM_RESPONSES)
ClientQuery = Annotated[str | None, Query(description="Admins: one client's report (default: the whole platform)")]
Start = Annotated[date | None, Query(description="First UTC day (default: 29 days before end)")]
End = Annotated[date | None, Query(description="Last UTC day, inclusive (default: today)")]

EXPORT_DOC: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {"text/csv": {"schema": {"type": "string"}}, "application/pdf": {"schema": {"type": "string"}}},
        "description": "CSV (month × team × region rows) or a PDF report with tables and a chart",
    }
}


@router.get("/summary", response_model=ReportSummary)
def summary(
    caller: CallerDep, session: SessionDep, start: Start = None, end: End = None, client_id: ClientQuery = None
) -> ReportSummary:
    """Scope 1/2/3 emissions (location- and market-based) for a period, with the method and inputs used."""
    first, last = service.resolve_period(start, end, clock.now().date())
    return service.summary(session, caller.scope_client_id(client_id), first, last)


@router.get("/history", response_model=ReportHistory)
def history(
    caller: CallerDep,
    session: SessionDep,
    months: Annotated[int, Query(ge=1, le=120, description="How many months, the current one included")] = 12,
    client_id: ClientQuery = None,
) -> ReportHistory:
    """Monthly series of emissions by scope, energy and cost, oldest first."""
    return service.history(session, caller.scope_client_id(client_id), months, clock.now().date())


@router.get("/export", response_class=Response, responses=EXPORT_DOC)
def export_report(
    caller: CallerDep,
    session: SessionDep,
    format: Annotated[str, Query(pattern="^(csv|pdf)$")] = "csv",
    start: Start = None,
    end: End = None,
    client_id: ClientQuery = None,
) -> Response:
    """Download the report for a period as CSV or PDF."""
    scoped = caller.scope_client_id(client_id)
    today = clock.now().date()
    first, last = service.resolve_period(start, end, today)
    report = service.summary(session, scoped, first, last)
    name = f"spectra-report-{first.isoformat()}-{last.isoformat()}"
    if format == "csv":
        body = export.report_csv(session, scoped, first, last, report.scope1.co2e_kg)
        return Response(
            body,
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
        )
    hist = service.monthly(session, scoped, first, last, today)
    owner = fleet_service.get_client(session, scoped).name if scoped is not None else "all clients"
    pdf = export.report_pdf(report, hist, f"Spectra emissions report: {owner}")
    return Response(
        pdf, media_type="application/pdf", headers={"Content-Disposition": f'attachment; filename="{name}.pdf"'}
    )
