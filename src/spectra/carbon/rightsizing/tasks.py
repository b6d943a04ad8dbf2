"""Rightsizing recommendations refreshed from the latest utilisation."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from spectra.carbon.optimizer.dependencies import get_inputs
from spectra.carbon.rightsizing.service import refresh_all
from spectra.core.jobs import job


@job("carbon.rightsizing", every=timedelta(hours=6), description="Re-evaluate every running instance's size")
def refresh_recommendations(session: Session, now: datetime) -> dict[str, Any]:
    return dict(refresh_all(session, get_inputs()))
