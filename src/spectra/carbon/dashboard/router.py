"""SPECTRA's /api/dashboard."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from spectra.carbon.dashboard import service
from spectra.carbon.dashboard.schemas import Dashboard
from spectra.core.auth import CallerDep
from spectra.core.clock import clock
from spectra.core.db import SessionDep
from spectra.core.errors import PROBLEM_RESPONSES

router = APIRouter(prefix="/api/dashboard", tags=["dashboard"], responses=PROBLEM_RESPONSES)


@router.get("", response_model=Dashboard)
def dashboard(
    caller: CallerDep,
    session: SessionDep,
    client_id: Annotated[str | None, Query(description="Admins: one client's view (default: the platform)")] = None,
) -> Dashboard:
    """CO2e today and this month (by scope, team, region), current grid intensity per region in use,
    the quarter's budgets, top emitters, a 30-day trend and realised savings of recorded actions."""
    return service.build(session, caller.scope_client_id(client_id), clock.now())
