"""Dashboard-only queries: the latest stored intensity hour of many zones at once."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from spectra.carbon.intensity.models import CarbonIntensityHour

LOOKBACK = timedelta(days=14)  # an hour older than this is not "current"


def latest_hours(session: Session, zones: Sequence[str], now: datetime) -> dict[str, CarbonIntensityHour]:
    """Each zone's newest hour that started by `now` (within the look-back), in two queries."""
    if not zones:
        return {}
    newest = (
        select(CarbonIntensityHour.zone, func.max(CarbonIntensityHour.hour))
        .where(
            CarbonIntensityHour.zone.in_(list(zones)),
            CarbonIntensityHour.hour <= now,
            CarbonIntensityHour.hour > now - LOOKBACK,
        )
        .group_by(CarbonIntensityHour.zone)
    )
    keys = [(zone, hour) for zone, hour in session.execute(newest)]
    if not keys:
        return {}
    # OR of (zone, hour) pairs, not a row-value IN: SQLite answers the former from the unique index
    # and the latter with a full scan.
    pairs = [and_(CarbonIntensityHour.zone == zone, CarbonIntensityHour.hour == hour) for zone, hour in keys]
    rows = session.scalars(select(CarbonIntensityHour).where(or_(*pairs)))
    return {row.zone: row for row in rows}
