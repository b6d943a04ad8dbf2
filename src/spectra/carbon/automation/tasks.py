"""Automation runs for every client whose policy is not off."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from spectra.carbon.automation.service import run_all
from spectra.carbon.optimizer.dependencies import get_inputs
from spectra.core.jobs import job


@job("carbon.automation", every=timedelta(hours=1), description="Automatic actions within each client's guard-rails")
def run_automation(session: Session, now: datetime) -> dict[str, Any]:
    return dict(run_all(session, get_inputs(), now))
