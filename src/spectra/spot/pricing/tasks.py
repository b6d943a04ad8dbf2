"""The pricing consolidation job (v6: every 12 hours by default, SPECTRA_PRICING_CONSOLIDATION_HOURS)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from spectra.core.jobs import job
from spectra.spot.pricing import service


@job(
    "spot.pricing_consolidation",
    lambda settings: timedelta(hours=settings.pricing_consolidation_hours),
    "Consolidate staged spot prices (dedupe, PRIMARY over REPLICA, fill gaps) and refresh canonical features",
)
def pricing_consolidation(session: Session, now: datetime) -> dict[str, Any]:
    # A failure is recorded on the consolidation job row (what GET /api/admin/consolidation-jobs shows);
    # raising here would roll that row back with everything else.
    run = service.run_consolidation(session, now)
    return {
        "consolidation_job_id": run.id,
        "status": run.status,
        "error": run.error,
        "pools": run.pools,
        "rows_staged": run.rows_staged,
        "rows_consolidated": run.rows_consolidated,
        "rows_interpolated": run.rows_interpolated,
        "rows_canonical": run.rows_canonical,
    }
