"""Migrations whose executor never reported are failed, so history never shows one executing forever."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from spectra.carbon.migrations.service import fail_stalled
from spectra.core.jobs import job


@job("carbon.migrations_timeout", every=timedelta(minutes=15), description="Fail migrations stuck executing")
def fail_stalled_migrations(session: Session, now: datetime) -> dict[str, Any]:
    return {"failed": fail_stalled(session, now)}
