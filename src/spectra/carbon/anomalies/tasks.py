"""Anomaly detection over fresh metrics."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from spectra.carbon.anomalies.detection import detect_all
from spectra.carbon.optimizer.dependencies import get_inputs
from spectra.core.config import Settings
from spectra.core.jobs import job


def _every(settings: Settings) -> timedelta:
    return timedelta(minutes=max(5, settings.poll_interval_minutes * 3))


@job("carbon.anomalies", every=_every, description="Score fresh CPU, emission and cost series; raise anomalies")
def detect_anomalies(session: Session, now: datetime) -> dict[str, Any]:
    return detect_all(session, get_inputs(), now)
