"""Price imports and the consolidation run (staging → consolidated → canonical). Services never commit.

Imports: price history files become staging rows of role IMPORT (re-importing the same file adds nothing: a pool
keeps one imported row per timestamp); Spot Advisor snapshots and on-demand price tables fill reference tables
and the matching pools.

Consolidation: every pool with staging rows received since the last successful run is recomputed over the span
those rows cover, plus `CONTEXT` before it (so gaps that straddle the span's start are filled the same way a full
recomputation would), and its consolidated and canonical rows in that span are replaced. The result is the same
however the runs are cut; a run with nothing new does nothing.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from spectra.core.db import new_id
from spectra.core.errors import Unprocessable
from spectra.spot.models import Pool
from spectra.spot.pricing import repository as repo
from spectra.spot.pricing.formats import (
    AdvisorData,
    PoolKey,
    PriceFormatError,
    SpotPriceRecord,
    parse_on_demand_csv,
    parse_price_history,
    parse_spot_advisor,
)
from spectra.spot.pricing.models import (
    ConsolidationJob,
    OnDemandPrice,
    PricingCanonical,
    PricingConsolidated,
    SpotAdvisorEntry,
    SpotPriceSnapshot,
)
from spectra.spot.pricing.pipeline import (
    IMPORT,
    ConsolidatedPoint,
    InterruptionInfo,
    StagingReport,
    bucket_of,
    canonical_features,
    consolidate,
)
from spectra.spot.pricing.schemas import ConsolidationJobOut, ImportOut

BUCKET = timedelta(minutes=5)
MAX_GAP = timedelta(hours=24)  # longer silences stay gaps: a price that old says nothing about the bucket
CONTEXT = MAX_GAP
VOLATILITY_WINDOW = timedelta(hours=24)


def format_error(exc: PriceFormatError) -> Unprocessable:
    return Unprocessable(str(exc), errors=exc.errors())


# --------------------------------------------------------------------------- imports


@dataclass
class ImportResult:
    rows_read: int = 0
    rows_staged: int = 0
    duplicates_skipped: int = 0
    pools_created: int = 0
    pools_touched: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def ensure_pools(session: Session, keys: set[PoolKey]) -> tuple[dict[PoolKey, Pool], int]:
    pools = repo.pools_by_key(session, keys)
    missing = sorted(keys - set(pools))
    for pool in repo.create_pools(session, missing):
        pools[repo.pool_key(pool)] = pool
    return pools, len(missing)


def import_price_history(
    session: Session, records: Sequence[SpotPriceRecord], now: datetime, source: str = "import"
) -> ImportResult:
    """Stage price-history rows (role IMPORT). Idempotent per (pool, timestamp). A few queries per file, not
    per pool: a region-wide snapshot has tens of thousands of pools."""
    result = ImportResult(rows_read=len(records))
    by_pool: dict[PoolKey, dict[datetime, float]] = defaultdict(dict)
    for record in records:
        by_pool[record.pool][record.timestamp] = record.price  # same-instant duplicates in a file: last one wins
    if not by_pool:
        return result
    known = repo.pools_by_key(session, set(by_pool))
    new_keys = sorted(set(by_pool) - set(known))
    new_ids = {key: new_id() for key in new_keys}
    repo.insert_rows(
        session,
        Pool,
        [
            {
                "id": new_ids[key],
                "region": key.region,
                "availability_zone": key.availability_zone,
                "instance_type": key.instance_type,
                "product_description": key.product_description,
                "latest_price": by_pool[key][max(by_pool[key])],
                "latest_price_at": max(by_pool[key]),
                "created_at": now,
                "updated_at": now,
            }
            for key in new_keys
        ],
    )
    result.pools_created = len(new_keys)
    earliest = min(min(prices) for prices in by_pool.values())
    latest = max(max(prices) for prices in by_pool.values())
    existing = repo.existing_import_times(session, [pool.id for pool in known.values()], earliest, latest)
    rows = []
    for key, prices in by_pool.items():
        pool_id = known[key].id if key in known else new_ids[key]
        for observed_at, price in sorted(prices.items()):
            if (pool_id, observed_at) in existing:
                result.duplicates_skipped += 1
                continue
            rows.append(
                {
                    "pool_id": pool_id,
                    "observed_at": observed_at,
                    "price": price,
                    "reporter_role": IMPORT,
                    "source": source,
                    "received_at": now,
                }
            )
        pool = known.get(key)
        latest_at = max(prices)
        if pool is not None and (pool.latest_price_at is None or latest_at >= pool.latest_price_at):
            pool.latest_price, pool.latest_price_at = prices[latest_at], latest_at
    result.duplicates_skipped += len(records) - sum(len(p) for p in by_pool.values())
    repo.insert_rows(session, SpotPriceSnapshot, rows)
    result.rows_staged = len(rows)
    result.pools_touched = len(by_pool)
    session.flush()
    return result


def import_spot_advisor(session: Session, advisor: AdvisorData, now: datetime) -> dict[str, int]:
    """Upsert the advisor's (region, OS, type) entries and copy bucket and savings onto matching pools."""
    _reference_misses.clear()
    existing = repo.advisor_entries(session)
    new_rows = []
    updated = 0
    for key, entry in advisor.entries.items():
        values = {
            "bucket": entry.bucket,
            "label": entry.label,
            "probability": entry.probability,
            "savings_pct": entry.savings_pct,
            "imported_at": now,
        }
        row = existing.get(key)
        if row is None:
            new_rows.append({"region": key[0], "os": key[1], "instance_type": key[2], **values})
        else:
            for name, value in values.items():
                setattr(row, name, value)
            updated += 1
    repo.insert_rows(session, SpotAdvisorEntry, [{"id": new_id(), **r} for r in new_rows])
    pools_updated = 0
    for pool in repo.all_pools(session):
        found = advisor.lookup(pool.region, pool.instance_type, repo.pool_key(pool).os)
        if found is not None:
            pool.interruption_bucket, pool.savings_pct = found.bucket, found.savings_pct
            pools_updated += 1
    session.flush()
    return {"entries_created": len(new_rows), "entries_updated": updated, "pools_updated": pools_updated}


def import_on_demand(
    session: Session, prices: dict[tuple[str, str], float], region: str, now: datetime, source: str = "import"
) -> dict[str, int]:
    """Upsert on-demand prices of one region ((type, OS) → USD/h) and copy them onto that region's pools."""
    _reference_misses.clear()
    if not region:
        raise Unprocessable("region is required", [{"field": "region", "msg": "the price table does not name it"}])
    existing = repo.on_demand_prices(session, region)
    new_rows = []
    updated = 0
    for (instance_type, os_name), price in prices.items():
        row = existing.get((region, os_name, instance_type))
        if row is None:
            new_rows.append(
                {
                    "id": new_id(),
                    "region": region,
                    "os": os_name,
                    "instance_type": instance_type,
                    "price": price,
                    "source": source[:80],
                    "imported_at": now,
                }
            )
        else:
            row.price, row.source, row.imported_at = price, source[:80], now
            updated += 1
    repo.insert_rows(session, OnDemandPrice, new_rows)
    pools_updated = 0
    for pool in repo.all_pools(session):
        listed = prices.get((pool.instance_type, repo.pool_key(pool).os))
        if pool.region == region and listed is not None:
            pool.on_demand_price = listed
            pools_updated += 1
    session.flush()
    return {"prices_created": len(new_rows), "prices_updated": updated, "pools_updated": pools_updated}


# --------------------------------------------------------------------------- consolidation


# A pool the reference tables do not cover is looked up again at most this often: agents report their pools'
# prices every few minutes, and each report repeated both misses (a sixth of a report's cost). An import clears
# this process's record at once; other workers see the new reference data within this time.
REFERENCE_MISS_SECONDS = 600.0
_reference_misses: dict[tuple[str, str, str, str], float] = {}


def _missed_lately(kind: str, region: str, os_name: str, instance_type: str) -> bool:
    until = _reference_misses.get((kind, region, os_name, instance_type))
    return until is not None and until > time.monotonic()


def _remember_miss(kind: str, region: str, os_name: str, instance_type: str) -> None:
    _reference_misses[(kind, region, os_name, instance_type)] = time.monotonic() + REFERENCE_MISS_SECONDS


def fill_reference(session: Session, pool: Pool) -> None:
    """Give a pool its on-demand price and advisor bucket from the reference tables when it has none."""
    os_name = repo.pool_key(pool).os
    if pool.on_demand_price is None and not _missed_lately("on_demand", pool.region, os_name, pool.instance_type):
        found = repo.on_demand_for(session, pool.region, os_name, pool.instance_type)
        if found is not None:
            pool.on_demand_price = found.price
        else:
            _remember_miss("on_demand", pool.region, os_name, pool.instance_type)
    if pool.interruption_bucket is None and not _missed_lately("advisor", pool.region, os_name, pool.instance_type):
        entry = repo.advisor_for(session, pool.region, os_name, pool.instance_type)
        if entry is not None:
            pool.interruption_bucket, pool.savings_pct = entry.bucket, entry.savings_pct
        else:
            _remember_miss("advisor", pool.region, os_name, pool.instance_type)


def run_consolidation(session: Session, now: datetime, trigger: str = "schedule") -> ConsolidationJob:
    """One consolidation run over everything staged since the last successful run; recorded as a job row."""
    started = time.perf_counter()
    previous = repo.last_succeeded_job(session)
    job = ConsolidationJob(
        trigger=trigger, status="running", started_at=now, bucket_seconds=int(BUCKET.total_seconds())
    )
    session.add(job)
    session.flush()
    try:
        with session.begin_nested():
            _consolidate_into(session, job, previous.started_at if previous else None)
        job.status = "succeeded"
    except Exception as exc:  # the job row records the failure; the caller's transaction stays usable
        job.status, job.error = "failed", f"{type(exc).__name__}: {exc}"[:2000]
    job.finished_at = now
    job.stats = {**(job.stats or {}), "seconds": round(time.perf_counter() - started, 3)}
    session.flush()
    return job


POOLS_PER_BATCH = 200


def _consolidate_into(session: Session, job: ConsolidationJob, received_after: datetime | None) -> None:
    """Pools are processed in batches with a handful of queries each (a region-wide snapshot has tens of
    thousands of pools). Pools are batched by their earliest new row, and a batch is recomputed over the union
    of its pools' spans, which is as correct as each pool's own span, only wider."""
    touched = sorted(repo.staged_since(session, received_after), key=lambda t: (t[1], t[0]))
    advisor = repo.advisor_entries(session)
    on_demand = repo.on_demand_prices(session)
    pools = repo.pools_by_id(session, [pool_id for pool_id, _, _ in touched])
    totals: dict[str, int] = defaultdict(int)
    window_start: datetime | None = None
    window_end: datetime | None = None
    for first in range(0, len(touched), POOLS_PER_BATCH):
        batch = touched[first : first + POOLS_PER_BATCH]
        ids = [pool_id for pool_id, _, _ in batch]
        # New rows change the buckets around them up to one maximum gap away on either side.
        span_start = bucket_of(min(t[1] for t in batch) - CONTEXT, BUCKET)
        span_end = max(t[2] for t in batch) + CONTEXT
        staged = repo.staging_rows_many(session, ids, span_start - MAX_GAP, span_end + MAX_GAP)
        before = repo.consolidated_many(session, ids, span_start - VOLATILITY_WINDOW, span_start - BUCKET)
        repo.delete_tier_many(session, PricingConsolidated, ids, span_start, span_end)
        repo.delete_tier_many(session, PricingCanonical, ids, span_start, span_end)
        consolidated_rows: list[dict[str, object]] = []
        canonical_rows: list[dict[str, object]] = []
        for pool_id in ids:
            pool = pools[pool_id]
            key = repo.pool_key(pool)
            entry = advisor.get((pool.region, key.os, pool.instance_type))
            listed = on_demand.get((pool.region, key.os, pool.instance_type))
            if pool.on_demand_price is None and listed is not None:
                pool.on_demand_price = listed.price
            if pool.interruption_bucket is None and entry is not None:
                pool.interruption_bucket, pool.savings_pct = entry.bucket, entry.savings_pct
            result = consolidate(
                (
                    StagingReport(pool_id, r.observed_at, r.price, r.reporter_role, r.agent_id)
                    for r in staged.get(pool_id, [])
                ),
                bucket=BUCKET,
                max_gap=MAX_GAP,
            )
            result.points = [p for p in result.points if span_start <= p.bucket_start <= span_end]
            result.interpolated = sum(1 for p in result.points if p.interpolated)
            consolidated_rows.extend(
                {
                    "pool_id": pool_id,
                    "bucket_start": p.bucket_start,
                    "price": p.price,
                    "source_role": p.source_role,
                    "report_count": p.report_count,
                    "interpolated": p.interpolated,
                    "job_id": job.id,
                }
                for p in result.points
            )
            # Canonical features need the trailing window before the span for their volatility.
            history = [
                ConsolidatedPoint(pool_id, r.bucket_start, r.price, r.source_role, r.report_count, r.interpolated)
                for r in before.get(pool_id, [])
            ]
            info = (
                InterruptionInfo(entry.bucket, entry.probability)
                if entry
                else InterruptionInfo(pool.interruption_bucket, None)
            )
            features = canonical_features(
                history + result.points,
                {pool_id: info},
                {pool_id: pool.on_demand_price} if pool.on_demand_price else {},
                window=VOLATILITY_WINDOW,
                bucket=BUCKET,
            )
            fresh = [f for f in features if f.bucket_start >= span_start]
            canonical_rows.extend(
                {
                    "pool_id": pool_id,
                    "bucket_start": f.bucket_start,
                    "price": f.price,
                    "volatility": f.volatility,
                    "hours_since_change": f.hours_since_change,
                    "interruption_bucket": f.interruption_bucket,
                    "interruption_probability": f.interruption_probability,
                    "on_demand_price": f.on_demand_price,
                    "on_demand_ratio": f.on_demand_ratio,
                    "interpolated": f.interpolated,
                }
                for f in fresh
            )
            for name, value in result.stats().items():
                totals[name] += value
            totals["canonical"] += len(fresh)
        repo.insert_rows(session, PricingConsolidated, consolidated_rows)
        repo.insert_rows(session, PricingCanonical, canonical_rows)
        window_start = span_start if window_start is None else min(window_start, span_start)
        batch_latest = max(t[2] for t in batch)
        window_end = batch_latest if window_end is None else max(window_end, batch_latest)
    job.pools = len(touched)
    job.rows_staged = totals["reports_in"]
    job.duplicates_dropped = totals["duplicates_dropped"]
    job.replica_overridden = totals["replica_overridden"]
    job.rows_consolidated = totals["points"]
    job.rows_interpolated = totals["interpolated"]
    job.rows_canonical = totals["canonical"]
    job.window_start, job.window_end = window_start, window_end
    job.stats = {"invalid_dropped": totals["invalid_dropped"]}
    session.flush()


def list_jobs(session: Session, limit: int = 50, status: str | None = None) -> list[ConsolidationJob]:
    return repo.list_jobs(session, limit, status)


def import_text(
    session: Session,
    kind: str,
    text: str,
    source: str,
    now: datetime,
    region: str | None = None,
    consolidate_now: bool = True,
) -> ImportOut:
    """Parse and import one file's text; a format error becomes a 422 naming each bad line and field."""
    try:
        if kind == "price-history":
            records = parse_price_history(text, source)
            counts = import_price_history(session, records, now, source="import").as_dict()
            job = run_consolidation(session, now, trigger="import") if consolidate_now and records else None
            return ImportOut(
                kind="price-history",
                source=source,
                counts=counts,
                consolidation=ConsolidationJobOut.model_validate(job) if job else None,
            )
        if kind == "spot-advisor":
            counts = import_spot_advisor(session, parse_spot_advisor(text, source), now)
            return ImportOut(kind="spot-advisor", source=source, counts=counts)
        if kind == "on-demand":
            counts = import_on_demand(session, parse_on_demand_csv(text, source), region or "", now, source=source)
            return ImportOut(kind="on-demand", source=source, counts=counts)
    except PriceFormatError as exc:
        raise format_error(exc) from None
    raise Unprocessable(
        f"unknown import kind {kind!r}", [{"field": "kind", "msg": "price-history | spot-advisor | on-demand"}]
    )
