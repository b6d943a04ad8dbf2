"""Inter-region latency refreshed daily (Cloudflare Radar when a token is configured, else the model)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from spectra.carbon.optimizer.dependencies import get_inputs
from spectra.carbon.optimizer.latency import RadarError
from spectra.carbon.optimizer.service import fetch_latencies
from spectra.core.errors import ServiceUnavailable
from spectra.core.jobs import job


@job("carbon.latency", every=timedelta(days=1), description="Refresh the latency table")
def refresh_latency(session: Session, now: datetime) -> dict[str, Any]:
    try:
        result = fetch_latencies(session, get_inputs())
    except (ServiceUnavailable, RadarError) as exc:
        return {"error": str(exc)}  # the modelled rows refreshed before Radar failed are kept
    return {k: v for k, v in result.items() if k != "measured_at"}
