"""Capacity HTTP routes (the AutoScale seed's API): metrics, forecasts, resources, config, alerts."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Query, status

from spectra.capacity import alerts, repository, service
from spectra.capacity.models import Silence
from spectra.capacity.schemas import (
    AlertOut,
    ForecastOut,
    MetricBatchIn,
    MetricBatchOut,
    MetricsOut,
    ResourceForecastOut,
    ResourceOut,
    SilenceIn,
    SilenceOut,
    TestAlertIn,
)
from spectra.core.auth import CallerDep
from spectra.core.db import SessionDep
from spectra.core.errors import PROBLEM_RESPONSES
from spectra.core.routing import BulkJSONRoute

router = APIRouter(prefix="/api", tags=["capacity"], responses=PROBLEM_RESPONSES, route_class=BulkJSONRoute)


@router.post("/metrics", response_model=MetricBatchOut)
def post_metrics(body: MetricBatchIn, caller: CallerDep, session: SessionDep) -> MetricBatchOut:
    """Store a batch of metric points for the caller's resources, all or nothing.

    Invalid points reject the batch with 422 and are listed by index (`errors[].row`). Points already
    stored (same resource, metric and time) are skipped, so a retried batch does no harm.
    Admin batches describe the platform's own resources.
    """
    result = service.ingest(session, service.scope(caller), body.points)
    return MetricBatchOut(accepted=result.accepted, duplicates=result.duplicates, resources=result.resources)


@router.get("/metrics", response_model=MetricsOut)
def get_metrics(
    caller: CallerDep,
    session: SessionDep,
    resource_id: str | None = Query(default=None, description="Default: the first resource"),
    range: Literal["1h", "6h", "24h", "7d"] | None = Query(default=None, description="Default 1h"),
    start: datetime | None = Query(default=None, description="Instead of range: ISO 8601 with offset"),
    end: datetime | None = Query(default=None),
    max_points: int = Query(default=500, ge=10, le=5000),
) -> dict[str, Any]:
    """A resource's metrics over a range, from raw points or roll-ups, downsampled to max_points buckets."""
    resource = service.get_resource(session, caller, resource_id)
    lo, hi = service.window(range, start, end)
    return service.series(session, resource, lo, hi, max_points)


@router.get("/forecast", response_model=ResourceForecastOut)
def get_forecast(
    caller: CallerDep, session: SessionDep, resource_id: str | None = Query(default=None)
) -> ResourceForecastOut:
    """Predicted saturation: per metric, the default (seasonal) and baseline (linear) breach forecasts."""
    resource = service.get_resource(session, caller, resource_id)
    records = service.forecasts_for(session, resource)
    return ResourceForecastOut(
        resource_id=resource.resource_id, forecasts=[ForecastOut.model_validate(r) for r in records]
    )


@router.get("/resources", response_model=list[ResourceOut])
def get_resources(caller: CallerDep, session: SessionDep) -> list[dict[str, Any]]:
    """Monitored resources with their latest values and which metrics are over threshold."""
    return service.list_resources(session, caller)


@router.get("/config")
def get_config(_: CallerDep) -> dict[str, Any]:
    """Active metrics provider, poll interval, thresholds, lookahead, retention and configured channels."""
    return service.config()


@router.get("/alerts", response_model=list[AlertOut])
def get_alerts(caller: CallerDep, session: SessionDep, limit: int = Query(default=50, ge=1, le=500)) -> list[AlertOut]:
    """Recent alert history, newest first."""
    rows = repository.recent_alerts(session, service.scope(caller), caller.is_admin, limit)
    names = {r.id: r.resource_id for r in repository.resources(session, service.scope(caller), caller.is_admin)}
    out = []
    for row in rows:
        item = AlertOut.model_validate(row)
        item.resource_id = names.get(row.resource_pk or "") or row.subject
        out.append(item)
    return out


@router.post("/test-alert", response_model=AlertOut)
def post_test_alert(caller: CallerDep, session: SessionDep, body: TestAlertIn | None = None) -> AlertOut:
    """Send a test message to every configured channel (Slack, e-mail); the response says how each went."""
    alert = alerts.send_test_alert(session, service.scope(caller), (body or TestAlertIn()).message)
    return AlertOut.model_validate(alert)


@router.post("/silences", response_model=SilenceOut, status_code=status.HTTP_201_CREATED)
def create_silence(body: SilenceIn, caller: CallerDep, session: SessionDep) -> Silence:
    """Mute notifications of matching alerts until `ends_at`, or in a recurring weekly UTC window."""
    return alerts.create_silence(session, service.scope(caller), body, caller.actor)


@router.get("/silences", response_model=list[SilenceOut])
def list_silences(caller: CallerDep, session: SessionDep) -> list[Silence]:
    """The caller's silences (expired ones included until deleted)."""
    return list(repository.silences(session, service.scope(caller)))


@router.delete("/silences/{silence_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_silence(silence_id: str, caller: CallerDep, session: SessionDep) -> None:
    """Remove a silence."""
    alerts.delete_silence(session, service.scope(caller), silence_id)
