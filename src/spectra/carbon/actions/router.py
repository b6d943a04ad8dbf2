"""Recorded optimisation actions and realised savings."""

from __future__ import annotations

from datetime import datetime, timedelta

from fastapi import APIRouter, Query

from spectra.carbon.actions import service
from spectra.carbon.actions.schemas import ActionOut, RealisedSavings
from spectra.core.auth import CallerDep
from spectra.core.clock import clock
from spectra.core.db import SessionDep
from spectra.core.errors import PROBLEM_RESPONSES

router = APIRouter(prefix="/api/optimizer", tags=["optimizer"], responses=PROBLEM_RESPONSES)


@router.get("/actions", response_model=list[ActionOut])
def list_actions(
    caller: CallerDep,
    session: SessionDep,
    kind: str | None = Query(default=None, pattern="^(rightsizing|migration|idle_stop|schedule)$"),
    status: str | None = Query(default=None, pattern="^(recommended|applied|failed|reverted)$"),
    origin: str | None = Query(default=None, pattern="^(manual|automatic)$"),
    instance_id: str | None = None,
    client_id: str | None = Query(default=None, description="Admins: one client's actions"),
    limit: int = Query(default=100, ge=1, le=1000),
    offset: int = Query(default=0, ge=0),
) -> list[ActionOut]:
    """Optimisation actions, newest first (manual and automatic, applied or only recommended)."""
    rows = service.list_actions(
        session, caller.scope_client_id(client_id), kind=kind, status=status, origin=origin,
        instance_id=instance_id, limit=limit, offset=offset,
    )  # fmt: skip
    return [ActionOut.model_validate(r) for r in rows]


@router.get("/savings", response_model=RealisedSavings)
def realised_savings(
    caller: CallerDep,
    session: SessionDep,
    start: datetime | None = Query(default=None, description="Default: 30 days before end"),
    end: datetime | None = Query(default=None, description="Default: now"),
    client_id: str | None = Query(default=None, description="Admins: one client's savings"),
) -> RealisedSavings:
    """CO2e and cost saved by recorded actions over a period, with the method."""
    stop = end or clock.now()
    begin = start or stop - timedelta(days=30)
    return RealisedSavings.model_validate(
        service.realised_savings(session, caller.scope_client_id(client_id), begin, stop)
    )
