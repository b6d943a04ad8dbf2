"""Queries for training datasets and decision performance."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, func, select
from sqlalchemy.orm import Session, undefer

from spectra.spot.decisions.models import MLDecision
from spectra.spot.emergency.models import EmergencyEvent
from spectra.spot.models import Pool, SpotInstance
from spectra.spot.pricing.models import PricingCanonical, PricingConsolidated
from spectra.spot.training.models import MLTrainingDataset


def _canonical_filter(stmt: Any, start: datetime, end: datetime, regions: list[str], types: list[str]) -> Any:
    stmt = stmt.where(PricingCanonical.bucket_start >= start, PricingCanonical.bucket_start < end)
    if regions:
        stmt = stmt.where(Pool.region.in_(regions))
    if types:
        stmt = stmt.where(Pool.instance_type.in_(types))
    return stmt


def count_canonical(session: Session, start: datetime, end: datetime, regions: list[str], types: list[str]) -> int:
    stmt = select(func.count(PricingCanonical.id)).join(Pool, Pool.id == PricingCanonical.pool_id)
    return int(session.scalar(_canonical_filter(stmt, start, end, regions, types)) or 0)


def canonical_rows(
    session: Session, start: datetime, end: datetime, regions: list[str], types: list[str]
) -> Iterator[Row[Any]]:
    """Canonical features joined with their pool, by pool then time, streamed."""
    stmt = select(
        PricingCanonical.pool_id,
        Pool.region,
        Pool.availability_zone,
        Pool.instance_type,
        Pool.product_description,
        PricingCanonical.bucket_start,
        PricingCanonical.price,
        PricingCanonical.volatility,
        PricingCanonical.hours_since_change,
        PricingCanonical.interruption_probability,
        PricingCanonical.on_demand_ratio,
        PricingCanonical.interruption_bucket,
        PricingCanonical.on_demand_price,
        PricingCanonical.interpolated,
    ).join(Pool, Pool.id == PricingCanonical.pool_id)
    stmt = _canonical_filter(stmt, start, end, regions, types).order_by(
        PricingCanonical.pool_id, PricingCanonical.bucket_start
    )
    yield from session.execute(stmt.execution_options(yield_per=5000))


def terminations(session: Session, start: datetime, end: datetime) -> list[tuple[str, datetime]]:
    """(pool id, notice time) of every termination notice in start <= time < end, any tenant: interruptions are a
    property of the pool, not of whose instance it hit."""
    stmt = (
        select(SpotInstance.pool_id, EmergencyEvent.notice_time)
        .join(SpotInstance, SpotInstance.id == EmergencyEvent.instance_id)
        .where(
            EmergencyEvent.kind == "termination",
            EmergencyEvent.notice_time >= start,
            EmergencyEvent.notice_time < end,
            SpotInstance.pool_id.is_not(None),
        )
        .order_by(EmergencyEvent.notice_time)
    )
    return [(str(pool_id), at) for pool_id, at in session.execute(stmt)]


def latest_version(session: Session, name: str) -> int:
    stmt = select(func.max(MLTrainingDataset.dataset_version)).where(MLTrainingDataset.name == name)
    return int(session.scalar(stmt) or 0)


def datasets(session: Session, name: str | None, limit: int) -> Sequence[MLTrainingDataset]:
    stmt = select(MLTrainingDataset).order_by(MLTrainingDataset.created_at.desc()).limit(limit)
    if name is not None:
        stmt = stmt.where(MLTrainingDataset.name == name)
    return session.scalars(stmt).all()


def dataset(session: Session, dataset_id: str, with_content: bool = False) -> MLTrainingDataset | None:
    stmt = select(MLTrainingDataset).where(MLTrainingDataset.id == dataset_id)
    if with_content:
        stmt = stmt.options(undefer(MLTrainingDataset.content))
    return session.scalars(stmt).first()


def decisions(
    session: Session, model_id: str | None, engine: str | None, start: datetime, end: datetime, limit: int
) -> Sequence[MLDecision]:
    """Logged decisions in start <= decided_at < end, of one model (or of no uploaded model when model_id is
    the empty string) and/or one engine, oldest first."""
    stmt = select(MLDecision).where(MLDecision.decided_at >= start, MLDecision.decided_at < end)
    if model_id is not None:
        stmt = stmt.where(MLDecision.model_id.is_(None) if model_id == "" else MLDecision.model_id == model_id)
    if engine is not None:
        stmt = stmt.where(MLDecision.engine == engine)
    return session.scalars(stmt.order_by(MLDecision.decided_at).limit(limit)).all()


def consolidated_prices(
    session: Session, pool_ids: Sequence[str], start: datetime, end: datetime
) -> dict[str, list[tuple[datetime, float]]]:
    """Consolidated (bucket start, price) per pool for start <= bucket < end, oldest first."""
    out: dict[str, list[tuple[datetime, float]]] = {}
    if not pool_ids:
        return out
    stmt = (
        select(PricingConsolidated.pool_id, PricingConsolidated.bucket_start, PricingConsolidated.price)
        .where(
            PricingConsolidated.pool_id.in_(list(pool_ids)),
            PricingConsolidated.bucket_start >= start,
            PricingConsolidated.bucket_start < end,
        )
        .order_by(PricingConsolidated.pool_id, PricingConsolidated.bucket_start)
    )
    for pool_id, at, price in session.execute(stmt):
        out.setdefault(pool_id, []).append((at, price))
    return out
