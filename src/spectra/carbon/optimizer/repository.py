"""Latency queries."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from spectra.carbon.optimizer.models import LatencyMetric


def latencies_from(session: Session, from_region: str) -> list[LatencyMetric]:
    return list(session.scalars(select(LatencyMetric).where(LatencyMetric.from_region == from_region)))


def latency_rows(session: Session, from_region: str | None, to_region: str | None, limit: int) -> list[LatencyMetric]:
    stmt = select(LatencyMetric).order_by(LatencyMetric.from_region, LatencyMetric.to_region, LatencyMetric.source)
    if from_region:
        stmt = stmt.where(LatencyMetric.from_region == from_region)
    if to_region:
        stmt = stmt.where(LatencyMetric.to_region == to_region)
    return list(session.scalars(stmt.limit(limit)))


def existing(session: Session, source: str) -> dict[tuple[str, str], LatencyMetric]:
    rows = session.scalars(select(LatencyMetric).where(LatencyMetric.source == source))
    return {(r.from_region, r.to_region): r for r in rows}
