"""Every query of the price pipeline: pools in bulk, staging windows, tier replacement, jobs, reference tables."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from spectra.spot.models import Pool
from spectra.spot.pricing.formats import PoolKey
from spectra.spot.pricing.models import (
    ConsolidationJob,
    OnDemandPrice,
    PricingCanonical,
    PricingConsolidated,
    SpotAdvisorEntry,
    SpotPriceSnapshot,
)

# Stay well under SQLite's bound-parameter limit when inserting many rows at once.
CHUNK = 500


def pool_key(pool: Pool) -> PoolKey:
    return PoolKey(pool.region, pool.availability_zone, pool.instance_type, pool.product_description)


def pools_by_key(session: Session, keys: Iterable[PoolKey]) -> dict[PoolKey, Pool]:
    wanted = set(keys)
    out: dict[PoolKey, Pool] = {}
    for region in {k.region for k in wanted}:
        for pool in session.scalars(select(Pool).where(Pool.region == region)):
            key = pool_key(pool)
            if key in wanted:
                out[key] = pool
    return out


def create_pools(session: Session, keys: Iterable[PoolKey]) -> list[Pool]:
    created = [
        Pool(
            region=k.region,
            availability_zone=k.availability_zone,
            instance_type=k.instance_type,
            product_description=k.product_description,
        )
        for k in keys
    ]
    session.add_all(created)
    session.flush()
    return created


def pools_by_id(session: Session, ids: Iterable[str]) -> dict[str, Pool]:
    wanted = list(set(ids))
    out: dict[str, Pool] = {}
    for start in range(0, len(wanted), CHUNK):
        for pool in session.scalars(select(Pool).where(Pool.id.in_(wanted[start : start + CHUNK]))):
            out[pool.id] = pool
    return out


def all_pools(session: Session) -> list[Pool]:
    return list(session.scalars(select(Pool)))


def existing_import_times(
    session: Session, pool_ids: Sequence[str], start: datetime, end: datetime
) -> set[tuple[str, datetime]]:
    """(pool id, time) of the imported rows those pools already have between start and end."""
    out: set[tuple[str, datetime]] = set()
    for first in range(0, len(pool_ids), CHUNK):
        rows = session.execute(
            select(SpotPriceSnapshot.pool_id, SpotPriceSnapshot.observed_at).where(
                SpotPriceSnapshot.pool_id.in_(list(pool_ids[first : first + CHUNK])),
                SpotPriceSnapshot.source != "agent",
                SpotPriceSnapshot.observed_at >= start,
                SpotPriceSnapshot.observed_at <= end,
            )
        )
        out.update((pool_id, observed_at) for pool_id, observed_at in rows)
    return out


def insert_rows(session: Session, model: Any, rows: Sequence[dict[str, Any]]) -> None:
    for start in range(0, len(rows), CHUNK):
        session.execute(insert(model), list(rows[start : start + CHUNK]))


def staged_since(session: Session, received_after: datetime | None) -> list[tuple[str, datetime, datetime]]:
    """Pools with staging rows received after the moment: (pool id, earliest observed, latest observed)."""
    stmt = select(
        SpotPriceSnapshot.pool_id, func.min(SpotPriceSnapshot.observed_at), func.max(SpotPriceSnapshot.observed_at)
    ).group_by(SpotPriceSnapshot.pool_id)
    if received_after is not None:
        stmt = stmt.where(SpotPriceSnapshot.received_at > received_after)
    return [(row[0], row[1], row[2]) for row in session.execute(stmt)]


def latest_canonical(session: Session, pool_ids: Sequence[str], at: datetime) -> dict[str, PricingCanonical]:
    """Each pool's newest canonical row at or before `at`."""
    if not pool_ids:
        return {}
    newest = (
        select(PricingCanonical.pool_id, func.max(PricingCanonical.bucket_start).label("latest"))
        .where(PricingCanonical.pool_id.in_(list(pool_ids)), PricingCanonical.bucket_start <= at)
        .group_by(PricingCanonical.pool_id)
        .subquery()
    )
    rows = session.scalars(
        select(PricingCanonical).join(
            newest,
            (PricingCanonical.pool_id == newest.c.pool_id) & (PricingCanonical.bucket_start == newest.c.latest),
        )
    )
    return {row.pool_id: row for row in rows}


def canonical_history(session: Session, pool_id: str, start: datetime, end: datetime) -> list[PricingCanonical]:
    return list(
        session.scalars(
            select(PricingCanonical)
            .where(
                PricingCanonical.pool_id == pool_id,
                PricingCanonical.bucket_start >= start,
                PricingCanonical.bucket_start <= end,
            )
            .order_by(PricingCanonical.bucket_start)
        )
    )


def last_succeeded_job(session: Session) -> ConsolidationJob | None:
    return session.scalar(
        select(ConsolidationJob)
        .where(ConsolidationJob.status == "succeeded")
        .order_by(ConsolidationJob.started_at.desc())
        .limit(1)
    )


def list_jobs(session: Session, limit: int, status: str | None) -> list[ConsolidationJob]:
    stmt = select(ConsolidationJob).order_by(ConsolidationJob.started_at.desc()).limit(limit)
    if status:
        stmt = stmt.where(ConsolidationJob.status == status)
    return list(session.scalars(stmt))


def advisor_entries(
    session: Session, regions: Collection[str] | None = None, instance_types: Collection[str] | None = None
) -> dict[tuple[str, str, str], SpotAdvisorEntry]:
    """Spot Advisor entries by (region, OS, type); only those regions and types when given (the whole file holds
    some 16,000, too many to read for one decision)."""
    stmt = select(SpotAdvisorEntry)
    if regions is not None:
        stmt = stmt.where(SpotAdvisorEntry.region.in_(regions))
    if instance_types is not None:
        stmt = stmt.where(SpotAdvisorEntry.instance_type.in_(instance_types))
    return {(e.region, e.os, e.instance_type): e for e in session.scalars(stmt)}


def advisor_for(session: Session, region: str, os: str, instance_type: str) -> SpotAdvisorEntry | None:
    return session.scalar(
        select(SpotAdvisorEntry).where(
            SpotAdvisorEntry.region == region,
            SpotAdvisorEntry.os == os,
            SpotAdvisorEntry.instance_type == instance_type,
        )
    )


def on_demand_prices(session: Session, region: str | None = None) -> dict[tuple[str, str, str], OnDemandPrice]:
    stmt = select(OnDemandPrice)
    if region:
        stmt = stmt.where(OnDemandPrice.region == region)
    return {(p.region, p.os, p.instance_type): p for p in session.scalars(stmt)}


def on_demand_for(session: Session, region: str, os: str, instance_type: str) -> OnDemandPrice | None:
    return session.scalar(
        select(OnDemandPrice).where(
            OnDemandPrice.region == region, OnDemandPrice.os == os, OnDemandPrice.instance_type == instance_type
        )
    )


def staging_rows_many(
    session: Session, pool_ids: Sequence[str], start: datetime, end: datetime
) -> dict[str, list[SpotPriceSnapshot]]:
    out: dict[str, list[SpotPriceSnapshot]] = {}
    for row in session.scalars(
        select(SpotPriceSnapshot)
        .where(
            SpotPriceSnapshot.pool_id.in_(list(pool_ids)),
            SpotPriceSnapshot.observed_at >= start,
            SpotPriceSnapshot.observed_at <= end,
        )
        .order_by(SpotPriceSnapshot.pool_id, SpotPriceSnapshot.observed_at)
    ):
        out.setdefault(row.pool_id, []).append(row)
    return out


def consolidated_many(
    session: Session, pool_ids: Sequence[str], start: datetime, end: datetime
) -> dict[str, list[PricingConsolidated]]:
    out: dict[str, list[PricingConsolidated]] = {}
    for row in session.scalars(
        select(PricingConsolidated)
        .where(
            PricingConsolidated.pool_id.in_(list(pool_ids)),
            PricingConsolidated.bucket_start >= start,
            PricingConsolidated.bucket_start <= end,
        )
        .order_by(PricingConsolidated.pool_id, PricingConsolidated.bucket_start)
    ):
        out.setdefault(row.pool_id, []).append(row)
    return out


def delete_tier_many(session: Session, model: Any, pool_ids: Sequence[str], start: datetime, end: datetime) -> None:
    session.execute(
        delete(model).where(model.pool_id.in_(list(pool_ids)), model.bucket_start >= start, model.bucket_start <= end)
    )
