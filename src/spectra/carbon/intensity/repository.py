"""Queries for stored carbon intensity (bulk upsert works on SQLite and PostgreSQL alike)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from spectra.carbon.intensity.models import CarbonIntensityHour

UPSERT_BATCH = 5000  # parameter sets per execute (bounds the memory of one call)
UPDATED_COLUMNS = (
    "direct_g_per_kwh",
    "lifecycle_g_per_kwh",
    "low_carbon_pct",
    "renewable_pct",
    "estimated",
    "estimation_method",
    "data_source",
    "samples",
    "imported_from",
    "imported_at",
)


def upsert_hours(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Insert or replace (zone, hour) rows.

    One statement executed with many parameter sets: SQLAlchemy batches it into multi-row VALUES itself
    ("insertmanyvalues") and compiles it once, where building a literal VALUES list per batch spent most of a
    large import compiling SQL."""
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(CarbonIntensityHour)
    stmt = stmt.on_conflict_do_update(
        index_elements=["zone", "hour"], set_={c: stmt.excluded[c] for c in UPDATED_COLUMNS}
    )
    for start in range(0, len(rows), UPSERT_BATCH):
        session.execute(stmt, list(rows[start : start + UPSERT_BATCH]))


def hours(session: Session, zone: str, start: datetime, end: datetime) -> list[CarbonIntensityHour]:
    """Rows of a zone with start <= hour < end, oldest first."""
    stmt = (
        select(CarbonIntensityHour)
        .where(CarbonIntensityHour.zone == zone, CarbonIntensityHour.hour >= start, CarbonIntensityHour.hour < end)
        .order_by(CarbonIntensityHour.hour)
    )
    return list(session.scalars(stmt))


def direct_values(session: Session, zone: str, start: datetime, end: datetime) -> list[tuple[datetime, float]]:
    stmt = (
        select(CarbonIntensityHour.hour, CarbonIntensityHour.direct_g_per_kwh)
        .where(CarbonIntensityHour.zone == zone, CarbonIntensityHour.hour >= start, CarbonIntensityHour.hour < end)
        .order_by(CarbonIntensityHour.hour)
    )
    return [(h, v) for h, v in session.execute(stmt)]


def zone_coverage(session: Session) -> list[tuple[str, int, datetime, datetime]]:
    """Per zone: stored hours, first and last hour."""
    stmt = (
        select(
            CarbonIntensityHour.zone,
            func.count(CarbonIntensityHour.id),
            func.min(CarbonIntensityHour.hour),
            func.max(CarbonIntensityHour.hour),
        )
        .group_by(CarbonIntensityHour.zone)
        .order_by(CarbonIntensityHour.zone)
    )
    return [(z, int(n), first, last) for z, n, first, last in session.execute(stmt)]


def latest_hour(session: Session, zone: str, before: datetime) -> datetime | None:
    stmt = select(func.max(CarbonIntensityHour.hour)).where(
        CarbonIntensityHour.zone == zone, CarbonIntensityHour.hour < before
    )
    return session.scalar(stmt)
