"""The engine sweep: the server decides for every auto-switch agent, so agents need not ask."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from spectra.core.db import session_scope
from spectra.core.jobs import job
from spectra.spot.decisions import service


@job(
    "spot.engine_sweep",
    timedelta(minutes=5),
    "Run the decision engine for every online auto-switch agent and queue the moves it decides",
)
def engine_sweep(session: Session, now: datetime) -> Iterator[dict[str, Any]]:
    # Each step thinks in a read-only transaction and writes only its outcomes in the job's.
    return service.sweep(session, now, reading=lambda: session_scope(read_only=True))
