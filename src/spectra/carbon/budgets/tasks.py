"""Budget threshold notices."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from spectra.carbon.budgets import service
from spectra.core.jobs import job


@job("carbon.budget_thresholds", every=timedelta(minutes=15))
def budget_thresholds(session: Session, now: datetime) -> dict[str, Any]:
    """Publish `budget.threshold` once per budget for each threshold (80%, 100%) it has crossed."""
    return service.check_thresholds(session, now)
