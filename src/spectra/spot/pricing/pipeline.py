"""The v6 price pipeline as pure functions: staging → consolidated → canonical.

Staging holds raw reports: agents report the prices they see, in the role they run as (PRIMARY or REPLICA), and
imports/backfills from the cloud API come in as role IMPORT. Several agents watch the same pool, so reports repeat.

Consolidation puts every report in a fixed time bucket per pool and keeps one price per (pool, bucket): reports of
the best role win (PRIMARY over REPLICA over IMPORT: the primary watches its own pool continuously, replicas and
backfills are second-hand), and among those the latest observation in the bucket (ties: the median). Missing buckets
between two observed ones are filled and flagged `interpolated`: linearly between the neighbours, except after an
IMPORT point, which is a price-change event stream (describe-spot-price-history emits a row only when the price
changes), so the previous price carries forward. Gaps longer than `max_gap` stay empty.

Canonical features, per pool and bucket: price, volatility (standard deviation of bucket-to-bucket log price changes
over a trailing window, scaled to one hour), hours since the price last changed, the Spot Advisor interruption
bucket and probability, and the on-demand price and ratio.
"""

from __future__ import annotations

import itertools
import math
from bisect import bisect_right
from collections import defaultdict, deque
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from statistics import median

PRIMARY = "PRIMARY"
REPLICA = "REPLICA"
IMPORT = "IMPORT"
INTERPOLATED = "INTERPOLATED"
ROLE_PRECEDENCE = {PRIMARY: 0, REPLICA: 1, IMPORT: 2}
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class StagingReport:
    pool: Hashable  # a pool id, or a formats.PoolKey
    observed_at: datetime
    price: float
    role: str = PRIMARY  # PRIMARY | REPLICA | IMPORT
    reporter: str | None = None  # agent or instance id


@dataclass(frozen=True)
class ConsolidatedPoint:
    pool: Hashable
    bucket_start: datetime
    price: float
    source_role: str  # the winning role, or INTERPOLATED
    report_count: int  # reports that fell in this bucket (0 when interpolated)
    interpolated: bool = False


@dataclass
class ConsolidationResult:
    points: list[ConsolidatedPoint]
    reports_in: int = 0
    duplicates_dropped: int = 0  # same-role reports of a bucket that lost to the latest one
    replica_overridden: int = 0  # lower-role reports of a bucket that had a better-role report
    interpolated: int = 0
    invalid_dropped: int = 0  # negative or non-finite prices

    def stats(self) -> dict[str, int]:
        return {
            "reports_in": self.reports_in,
            "points": len(self.points),
            "duplicates_dropped": self.duplicates_dropped,
            "replica_overridden": self.replica_overridden,
            "interpolated": self.interpolated,
            "invalid_dropped": self.invalid_dropped,
        }


@dataclass(frozen=True)
class InterruptionInfo:
    bucket: int | None
    probability: float | None  # per instance-month


@dataclass(frozen=True)
class CanonicalFeatures:
    pool: Hashable
    bucket_start: datetime
    price: float
    volatility: float  # std of log price change per bucket, scaled to 1 h (0 when flat)
    hours_since_change: float
    interruption_bucket: int | None
    interruption_probability: float | None
    on_demand_price: float | None
    on_demand_ratio: float | None
    interpolated: bool = False


@dataclass
class FeatureIndex:
    """Canonical features per pool, searchable by time (the latest bucket at or before a moment)."""

    by_pool: dict[Hashable, list[CanonicalFeatures]] = field(default_factory=dict)
    _starts: dict[Hashable, list[datetime]] = field(default_factory=dict)

    @classmethod
    def build(cls, features: Iterable[CanonicalFeatures]) -> FeatureIndex:
        index = cls()
        grouped: dict[Hashable, list[CanonicalFeatures]] = defaultdict(list)
        for feature in features:
            grouped[feature.pool].append(feature)
        for pool, rows in grouped.items():
            rows.sort(key=lambda f: f.bucket_start)
            index.by_pool[pool] = rows
            index._starts[pool] = [f.bucket_start for f in rows]
        return index

    def at(self, pool: Hashable, moment: datetime) -> CanonicalFeatures | None:
        starts = self._starts.get(pool)
        if not starts:
            return None
        position = bisect_right(starts, moment) - 1
        return self.by_pool[pool][position] if position >= 0 else None


def bucket_of(moment: datetime, bucket: timedelta) -> datetime:
    """Start of the fixed bucket (aligned on the Unix epoch) that contains `moment`."""
    seconds = int(bucket.total_seconds())
    if seconds <= 0:
        raise ValueError("bucket must be positive")
    offset = int((moment - EPOCH).total_seconds()) // seconds * seconds
    return EPOCH + timedelta(seconds=offset)


def consolidate(
    reports: Iterable[StagingReport],
    bucket: timedelta = timedelta(minutes=5),
    max_gap: timedelta | None = timedelta(hours=24),
) -> ConsolidationResult:
    """Staging reports → one price per (pool, bucket), gaps filled and flagged. Deterministic for any input order."""
    result = ConsolidationResult(points=[])
    grouped: dict[Hashable, dict[datetime, list[StagingReport]]] = defaultdict(lambda: defaultdict(list))
    for report in reports:
        result.reports_in += 1
        if not math.isfinite(report.price) or report.price < 0 or report.role not in ROLE_PRECEDENCE:
            result.invalid_dropped += 1
            continue
        grouped[report.pool][bucket_of(report.observed_at, bucket)].append(report)

    max_missing = None if max_gap is None else int(max_gap / bucket)
    for pool in sorted(grouped, key=str):
        observed: list[ConsolidatedPoint] = []
        for start in sorted(grouped[pool]):
            in_bucket = grouped[pool][start]
            best_rank = min(ROLE_PRECEDENCE[r.role] for r in in_bucket)
            winners = [r for r in in_bucket if ROLE_PRECEDENCE[r.role] == best_rank]
            latest = max(r.observed_at for r in winners)
            price = median(r.price for r in winners if r.observed_at == latest)
            result.replica_overridden += len(in_bucket) - len(winners)
            result.duplicates_dropped += len(winners) - 1
            observed.append(ConsolidatedPoint(pool, start, price, winners[0].role, len(in_bucket)))
        filled = _fill_gaps(observed, bucket, max_missing)
        result.interpolated += len(filled) - len(observed)
        result.points.extend(filled)
    return result


def _fill_gaps(
    observed: list[ConsolidatedPoint], bucket: timedelta, max_missing: int | None
) -> list[ConsolidatedPoint]:
    out: list[ConsolidatedPoint] = []
    for previous, following in itertools.pairwise(observed):
        out.append(previous)
        steps = int((following.bucket_start - previous.bucket_start) / bucket)
        missing = steps - 1
        if missing <= 0 or (max_missing is not None and missing > max_missing):
            continue
        step_function = previous.source_role == IMPORT
        for k in range(1, steps):
            price = previous.price if step_function else previous.price + (following.price - previous.price) * k / steps
            out.append(
                ConsolidatedPoint(previous.pool, previous.bucket_start + k * bucket, price, INTERPOLATED, 0, True)
            )
    if observed:
        out.append(observed[-1])
    return out


def extend_to(points: Sequence[ConsolidatedPoint], end: datetime, bucket: timedelta) -> list[ConsolidatedPoint]:
    """Carry each pool's last price forward (flagged) up to `end`: for change-event streams, whose last event
    stays valid until the next one."""
    last: dict[Hashable, ConsolidatedPoint] = {}
    for point in points:
        if point.pool not in last or point.bucket_start > last[point.pool].bucket_start:
            last[point.pool] = point
    out = list(points)
    final = bucket_of(end, bucket)
    for pool, point in last.items():
        start = point.bucket_start + bucket
        while start <= final:
            out.append(ConsolidatedPoint(pool, start, point.price, INTERPOLATED, 0, True))
            start += bucket
    return out


def canonical_features(
    points: Iterable[ConsolidatedPoint],
    interruption: Mapping[Hashable, InterruptionInfo] | None = None,
    on_demand: Mapping[Hashable, float] | None = None,
    window: timedelta = timedelta(hours=24),
    bucket: timedelta = timedelta(minutes=5),
) -> list[CanonicalFeatures]:
    """Consolidated points → canonical features, per pool in time order."""
    interruption = interruption or {}
    on_demand = on_demand or {}
    per_hour = math.sqrt(3600.0 / bucket.total_seconds())
    grouped: dict[Hashable, list[ConsolidatedPoint]] = defaultdict(list)
    for point in points:
        grouped[point.pool].append(point)
    out: list[CanonicalFeatures] = []
    for pool in sorted(grouped, key=str):
        series = sorted(grouped[pool], key=lambda p: p.bucket_start)
        info = interruption.get(pool, InterruptionInfo(None, None))
        od_price = on_demand.get(pool)
        changes: deque[tuple[datetime, float]] = deque()  # (time, log change) inside the window
        total = total_sq = 0.0
        last_change_at = series[0].bucket_start
        previous: ConsolidatedPoint | None = None
        for point in series:
            if previous is not None and previous.price > 0 and point.price > 0:
                change = math.log(point.price / previous.price)
                changes.append((point.bucket_start, change))
                total += change
                total_sq += change * change
                if point.price != previous.price:
                    last_change_at = point.bucket_start
            while changes and changes[0][0] <= point.bucket_start - window:
                _, old = changes.popleft()
                total -= old
                total_sq -= old * old
            volatility = 0.0
            if len(changes) >= 2:
                mean = total / len(changes)
                volatility = math.sqrt(max(total_sq / len(changes) - mean * mean, 0.0)) * per_hour
            out.append(
                CanonicalFeatures(
                    pool=pool,
                    bucket_start=point.bucket_start,
                    price=point.price,
                    volatility=volatility,
                    hours_since_change=(point.bucket_start - last_change_at).total_seconds() / 3600.0,
                    interruption_bucket=info.bucket,
                    interruption_probability=info.probability,
                    on_demand_price=od_price,
                    on_demand_ratio=(point.price / od_price) if od_price else None,
                    interpolated=point.interpolated,
                )
            )
            previous = point
    return out
