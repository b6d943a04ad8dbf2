"""The hourly emissions job."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from spectra.carbon.emissions import service
from spectra.core.jobs import job


@job("carbon.emissions", every=timedelta(hours=1))
def compute_emissions(session: Session, now: datetime) -> dict[str, Any]:
    """Store per-instance emissions of the newest stored day (it may have been partial) through today."""
    return service.compute_days(session, service.days_to_compute(session, now), now)
