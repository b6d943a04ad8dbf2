"""Anomaly routes (SPECTRA seed paths)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Query

from spectra.carbon.actions.service import as_utc
from spectra.carbon.anomalies import service
from spectra.carbon.anomalies.schemas import AnomalyOut, AnomalyPage, AnomalyStats, DismissIn, ResolveIn
from spectra.core.auth import CallerDep
from spectra.core.db import SessionDep
from spectra.core.errors import PROBLEM_RESPONSES

router = APIRouter(prefix="/api/anomalies", tags=["anomalies"], responses=PROBLEM_RESPONSES)

KIND = "^(runaway_process|idle_waste|carbon_spike|cost_anomaly)$"


def _filters(
    kind: str | None, status: str | None, team_id: str | None, instance_id: str | None,
    start: datetime | None, end: datetime | None,
) -> dict[str, object]:  # fmt: skip
    return {
        "kind": kind,
        "status": status,
        "team_id": team_id,
        "instance_id": instance_id,
        "start": as_utc(start) if start else None,
        "end": as_utc(end) if end else None,
    }


@router.get("", response_model=AnomalyPage)
def list_anomalies(
    caller: CallerDep,
    session: SessionDep,
    kind: str | None = Query(default=None, pattern=KIND),
    status: str | None = Query(default=None, pattern="^(open|resolved|dismissed)$"),
    team_id: str | None = Query(default=None, alias="team"),
    instance_id: str | None = Query(default=None, alias="instance"),
    start: datetime | None = Query(default=None, description="Evidence window ends at or after this"),
    end: datetime | None = Query(default=None, description="Evidence window starts before this"),
    client_id: str | None = Query(default=None, description="Admins: one client's anomalies"),
    limit: int = Query(default=50, ge=1, le=500),
    offset: int = Query(default=0, ge=0),
) -> AnomalyPage:
    """Anomalies, newest first, with score, evidence window and estimated CO2e and cost impact."""
    rows, total = service.list_anomalies(
        session, caller.scope_client_id(client_id), limit, offset,
        **_filters(kind, status, team_id, instance_id, start, end),
    )  # fmt: skip
    return AnomalyPage(items=[AnomalyOut.model_validate(r) for r in rows], total=total, limit=limit, offset=offset)


@router.get("/stats", response_model=AnomalyStats)
def anomaly_stats(
    caller: CallerDep,
    session: SessionDep,
    kind: str | None = Query(default=None, pattern=KIND),
    team_id: str | None = Query(default=None, alias="team"),
    instance_id: str | None = Query(default=None, alias="instance"),
    start: datetime | None = None,
    end: datetime | None = None,
    client_id: str | None = Query(default=None, description="Admins: one client's anomalies"),
) -> AnomalyStats:
    """Counts by status, kind and severity, and the open anomalies' CO2e and cost impact."""
    return AnomalyStats.model_validate(
        service.stats(
            session, caller.scope_client_id(client_id), **_filters(kind, None, team_id, instance_id, start, end)
        )
    )


@router.get("/{anomaly_id}", response_model=AnomalyOut)
def get_anomaly(anomaly_id: str, caller: CallerDep, session: SessionDep) -> AnomalyOut:
    """One anomaly."""
    return AnomalyOut.model_validate(service.get_anomaly(session, anomaly_id, caller))


@router.post("/{anomaly_id}/resolve", response_model=AnomalyOut)
def resolve_anomaly(
    anomaly_id: str, caller: CallerDep, session: SessionDep, body: ResolveIn | None = None
) -> AnomalyOut:
    """Mark an open anomaly resolved (fixed)."""
    data = body or ResolveIn()
    anomaly = service.get_anomaly(session, anomaly_id, caller)
    return AnomalyOut.model_validate(service.resolve(session, anomaly, data.note, data.version))


@router.post("/{anomaly_id}/dismiss", response_model=AnomalyOut)
def dismiss_anomaly(anomaly_id: str, body: DismissIn, caller: CallerDep, session: SessionDep) -> AnomalyOut:
    """Dismiss an open anomaly with a reason; the detector stops raising the same pattern."""
    anomaly = service.get_anomaly(session, anomaly_id, caller)
    return AnomalyOut.model_validate(service.dismiss(session, anomaly, body.reason, body.version, body.suppress_days))
