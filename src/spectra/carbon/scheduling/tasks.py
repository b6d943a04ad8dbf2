"""Periodic job: move scheduled jobs along and recompute their recommendations on fresh forecasts."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from spectra.carbon.scheduling import service
from spectra.core.jobs import job


@job("carbon_scheduler", every=timedelta(minutes=15))
def refresh_scheduled_jobs(session: Session, now: datetime) -> dict[str, Any]:
    """Start due jobs, finish elapsed ones, credit interruptible pieces, mark missed deadlines and
    re-plan every waiting job on the latest forecast (a new hour or an import changes it)."""
    return service.tick(session, now)
