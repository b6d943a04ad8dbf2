"""Capacity jobs: poll the configured collector (then roll up, forecast and alert), roll up what agents sent,
and apply retention."""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from spectra.capacity import alerts, collectors, event_alerts, poll_status, repository, service
from spectra.core.config import get_settings
from spectra.core.jobs import job, run_soon

ROLLUPS = "capacity.rollups"

log = logging.getLogger("spectra.capacity.tasks")


def refresh(session: Session, resource_ids: list[str], client_id: str | None) -> dict[str, int]:
    """Recompute and store forecasts of these resources, then advance their alert rules."""
    forecasts = changed = 0
    for resource_id in resource_ids:
        resource = repository.resource_by_external(session, client_id, resource_id)
        if resource is None:
            continue
        records = service.compute_forecasts(session, resource)
        forecasts += len(records)
        changed += len(alerts.evaluate(session, resource, records))
    return {"forecasts": forecasts, "alert_changes": changed}


@job("capacity.poll", every=lambda s: timedelta(minutes=s.poll_interval_minutes))
def poll(session: Session, now: datetime) -> dict[str, Any]:
    """Collect metrics from METRICS_PROVIDER, store them, recompute forecasts and evaluate alerts."""
    settings = get_settings()
    try:
        points = collectors.collect(settings, now)
    except Exception as exc:
        poll_status.record(settings.metrics_provider, now, error=f"{type(exc).__name__}: {exc}")
        raise
    result = service.ingest(session, None, points, provider=settings.metrics_provider)
    poll_status.record(settings.metrics_provider, now, points=result.accepted)
    # The poll's points are rolled up at once, in its own transaction (and whatever else is waiting, up to a run).
    rolled = _roll_up(session)
    return {"provider": settings.metrics_provider, "accepted": result.accepted, "duplicates": result.duplicates,
            "rolled_up": rolled["points"], **refresh(session, result.resources, None)}  # fmt: skip


@job(ROLLUPS, every=lambda s: timedelta(seconds=s.metrics_rollup_interval_seconds))
def rollups(session: Session, now: datetime) -> dict[str, Any]:
    """Recompute the 5-minute and hourly roll-ups of the buckets that points stored since the last run fall in
    (METRICS_ROLLUP_INTERVAL_SECONDS; a run that leaves points waiting asks for the next one at once)."""
    return _roll_up(session)


def _roll_up(session: Session) -> dict[str, Any]:
    result = service.roll_up(session)
    if not result["caught_up"]:
        event.listen(session, "after_commit", _continue_soon, once=True)
    return result


# The scheduler drops a request for a job made while that job's own immediate run is still running (which this
# one is until it has recorded its end), so the next run is asked for a moment after the commit; should that still
# be too early, the next scheduled run goes on.
CONTINUE_AFTER_SECONDS = 0.5


def _continue_soon(_session: Session) -> None:
    """Once a run that left points waiting has committed, ask this process's scheduler for the next run."""
    timer = threading.Timer(CONTINUE_AFTER_SECONDS, run_soon, args=[ROLLUPS])
    timer.daemon = True
    timer.start()


@job("capacity.client_forecasts", every=lambda s: timedelta(minutes=s.poll_interval_minutes))
def client_forecasts(session: Session, now: datetime) -> dict[str, Any]:
    """Forecasts and alerts for resources that clients' agents reported since the last run."""
    since = now - timedelta(minutes=get_settings().poll_interval_minutes)
    done = {"forecasts": 0, "alert_changes": 0}
    for resource in repository.resources(session, None, all_tenants=True):
        if resource.client_id is None or resource.last_seen_at is None or resource.last_seen_at < since:
            continue
        for key, value in refresh(session, [resource.resource_id], resource.client_id).items():
            done[key] += value
    return done


@job("capacity.retention", every=timedelta(hours=1))
def retention(session: Session, now: datetime) -> dict[str, Any]:
    """Delete raw points (once counted in their roll-ups), roll-ups and forecasts past their retention
    (METRICS_RETENTION_*_DAYS)."""
    return service.apply_retention(session, now)


@job(event_alerts.JOB_NAME, every=timedelta(minutes=1))
def deliver_event_alerts(session: Session, now: datetime) -> dict[str, Any]:
    """Send alerts raised by platform events (budgets, spot emergencies, anomalies, automation, agents)."""
    return event_alerts.deliver(session, now)
