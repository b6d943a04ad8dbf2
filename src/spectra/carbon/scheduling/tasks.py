"""Keep scheduled jobs moving: a periodic step, and a re-plan as soon as new intensity is imported."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from spectra.carbon.scheduling import service
from spectra.core.clock import clock
from spectra.core.db import session_scope
from spectra.core.events import Event, subscribe
from spectra.core.jobs import job

log = logging.getLogger("spectra.carbon.scheduling")

IMPORT_TOPIC = "carbon.intensity.imported"


@job("carbon_scheduler", every=timedelta(minutes=15))
def refresh_scheduled_jobs(session: Session, now: datetime) -> dict[str, Any]:
    """Start due jobs, finish elapsed ones, credit interruptible pieces, mark missed deadlines and
    re-plan every waiting job on the latest forecast (a new hour or an import changes it)."""
    return service.tick(session, now)


def replan_after_import(event: Event) -> None:
    """New stored intensity changes the forecasts: re-plan at once rather than at the next step."""
    with session_scope() as session:
        summary = service.tick(session, clock.now())
    log.info("re-planned %s scheduled job(s) after %s", summary["jobs"], event.topic)


_registered = False


def register() -> None:
    global _registered
    if not _registered:
        subscribe(IMPORT_TOPIC, replan_after_import)
        _registered = True
