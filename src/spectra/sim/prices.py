"""Simulated spot market: price paths (replayed or synthetic), interruptions, boot times. Seeded, reproducible.

Replay: real describe-spot-price-history rows per pool; the price holds from each event until the next one.
Before a pool's first event the first price is used (a stated assumption: the trace starts mid-life).

Synthetic (when no file is given; every path is labelled `synthetic=True`): a price-change event arrives every
few hours (exponential gaps, mean `mean_hours_between_changes`); the log price follows a mean-reverting
(Ornstein–Uhlenbeck) walk around the pool's level, and each zone's level sits a persistent random offset from the
type's regional level (cross-zone spread). Defaults are in the range of the c5a.2xlarge us-east-1 trace (spot ≈
half of on-demand, a few % moves per change, 5-10 % spread between zones), not fitted to it.

Interruptions: a Poisson process per pool whose monthly probability comes from the Spot Advisor bucket (or, for
stress runs, a given rate per instance-month); each interruption is announced by a notice two minutes before the
instance is reclaimed.

Boot time: per pool a log-normal around a median (default 90 s) with a per-pool factor, so some pools are
consistently faster to boot — what the emergency flow's "fastest boot pool" needs.
"""

from __future__ import annotations

import bisect
import math
import random
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from spectra.spot.pricing.formats import PoolKey, SpotPriceRecord

NOTICE = timedelta(minutes=2)
HOURS_PER_MONTH = 730.0


@dataclass
class PricePath:
    """A step function of price over time for one pool."""

    pool: PoolKey
    times: list[datetime]  # change times, ascending
    prices: list[float]
    synthetic: bool = False

    def __post_init__(self) -> None:
        if not self.times or len(self.times) != len(self.prices):
            raise ValueError("a price path needs at least one (time, price) pair")
        if any(b < a for a, b in zip(self.times, self.times[1:], strict=False)):
            raise ValueError("price path times must ascend")

    @property
    def start(self) -> datetime:
        return self.times[0]

    def price_at(self, moment: datetime) -> float:
        position = bisect.bisect_right(self.times, moment) - 1
        return self.prices[max(position, 0)]

    def cost(self, start: datetime, end: datetime) -> float:
        """USD of one instance running in this pool from start to end (exact integral of the step function)."""
        if end <= start:
            return 0.0
        total = 0.0
        position = max(bisect.bisect_right(self.times, start) - 1, 0)
        cursor = start
        while cursor < end:
            following = self.times[position + 1] if position + 1 < len(self.times) else None
            segment_end = end if following is None or following >= end else following
            if segment_end > cursor:
                total += self.prices[position] * (segment_end - cursor).total_seconds() / 3600.0
            cursor = max(segment_end, cursor)
            position += 1
            if following is None:
                break
        return total

    def changes_between(self, start: datetime, end: datetime) -> int:
        return bisect.bisect_left(self.times, end) - bisect.bisect_right(self.times, start)


def replay(records: Iterable[SpotPriceRecord], pools: Sequence[PoolKey] | None = None) -> dict[PoolKey, PricePath]:
    """Real price events → one path per pool (optionally only the given pools)."""
    grouped: dict[PoolKey, list[SpotPriceRecord]] = defaultdict(list)
    wanted = set(pools) if pools is not None else None
    for record in records:
        if wanted is None or record.pool in wanted:
            grouped[record.pool].append(record)
    paths = {}
    for pool, rows in sorted(grouped.items()):
        rows.sort(key=lambda r: r.timestamp)
        times: list[datetime] = []
        prices: list[float] = []
        for row in rows:
            if times and row.timestamp == times[-1]:
                prices[-1] = row.price  # same-instant duplicates: the last one read stands
                continue
            times.append(row.timestamp)
            prices.append(row.price)
        paths[pool] = PricePath(pool, times, prices)
    if wanted is not None and (missing := wanted - set(paths)):
        raise KeyError(f"no price rows for pool(s): {', '.join(p.label for p in sorted(missing))}")
    return paths


@dataclass(frozen=True)
class SyntheticMarket:
    on_demand_price: float = 0.308
    spot_ratio: float = 0.52  # regional spot level as a share of on-demand
    zone_spread: float = 0.04  # std of each zone's persistent log offset
    mean_hours_between_changes: float = 6.5
    step_volatility: float = 0.03  # std of the log shock at each change
    reversion_per_change: float = 0.25  # share of the gap to the zone level closed at each change
    floor_ratio: float = 0.1  # prices stay within [floor, 1] × on-demand
    cap_ratio: float = 1.0


def synthetic_paths(
    pools: Sequence[PoolKey],
    start: datetime,
    end: datetime,
    seed: int = 0,
    market: SyntheticMarket | Mapping[PoolKey, SyntheticMarket] = SyntheticMarket(),
) -> dict[PoolKey, PricePath]:
    """Synthetic price paths for the given pools (labelled synthetic), reproducible from `seed`."""
    rng = random.Random(seed)
    paths = {}
    for pool in sorted(pools):
        params = market[pool] if isinstance(market, Mapping) else market
        level = math.log(params.on_demand_price * params.spot_ratio) + rng.gauss(0.0, params.zone_spread)
        low = params.on_demand_price * params.floor_ratio
        high = params.on_demand_price * params.cap_ratio
        log_price = level + rng.gauss(0.0, params.step_volatility)
        times, prices = [start], [_round_price(min(max(math.exp(log_price), low), high))]
        moment = start
        while True:
            moment += timedelta(hours=rng.expovariate(1.0 / params.mean_hours_between_changes))
            if moment >= end:
                break
            log_price += params.reversion_per_change * (level - log_price) + rng.gauss(0.0, params.step_volatility)
            price = _round_price(min(max(math.exp(log_price), low), high))
            if price != prices[-1]:
                times.append(moment.replace(microsecond=0))
                prices.append(price)
        paths[pool] = PricePath(pool, times, prices, synthetic=True)
    return paths


def _round_price(value: float) -> float:
    return round(value, 4)  # spot prices are quoted to 1/10,000 USD


# --------------------------------------------------------------------------- interruptions


@dataclass(frozen=True, order=True)
class Interruption:
    terminate_at: datetime
    pool: PoolKey = field(compare=False)

    @property
    def notice_at(self) -> datetime:
        return self.terminate_at - NOTICE


def interruption_events(
    probabilities: Mapping[PoolKey, float], start: datetime, end: datetime, seed: int = 0
) -> dict[PoolKey, list[Interruption]]:
    """Poisson capacity reclaims per pool over [start, end): rate from the monthly probability of at least one
    interruption (rate = −ln(1 − p) / 730 h). An event reclaims the instances in that pool at `terminate_at`."""
    per_month = {pool: -math.log1p(-min(max(p, 0.0), 0.999999)) for pool, p in probabilities.items()}
    return interruption_events_at_rate(per_month, start, end, seed)


def interruption_events_at_rate(
    per_instance_month: Mapping[PoolKey, float], start: datetime, end: datetime, seed: int = 0
) -> dict[PoolKey, list[Interruption]]:
    """Poisson capacity reclaims per pool at a given rate: interruptions per instance-month (730 h) of an instance
    that stays in the pool. A stress setting for fail-over measurements: the Spot Advisor's monthly probability
    of at least one interruption caps the rate at −ln(1 − p) < 14 per month."""
    out: dict[PoolKey, list[Interruption]] = {}
    for pool in sorted(per_instance_month):
        rng = random.Random(f"{seed}:{pool.label}:{pool.product_description}")
        events: list[Interruption] = []
        if per_instance_month[pool] > 0:
            rate_per_hour = per_instance_month[pool] / HOURS_PER_MONTH
            moment = start
            while True:
                moment += timedelta(hours=rng.expovariate(rate_per_hour))
                if moment >= end:
                    break
                events.append(Interruption(moment.replace(microsecond=0), pool))
        out[pool] = events
    return out


# --------------------------------------------------------------------------- boot times


@dataclass
class BootTimeModel:
    """Boot time per pool: log-normal around median × the pool's own factor (drawn once per pool, seeded)."""

    median_seconds: float = 90.0
    sigma: float = 0.25  # spread of one boot around its pool's median
    pool_spread: float = 0.2  # spread of pool medians around the global one
    seed: int = 0
    _factors: dict[PoolKey, float] = field(default_factory=dict)
    _rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(f"boot:{self.seed}")

    def pool_median(self, pool: PoolKey) -> float:
        if pool not in self._factors:
            self._factors[pool] = math.exp(random.Random(f"boot:{self.seed}:{pool.label}").gauss(0.0, self.pool_spread))
        return self.median_seconds * self._factors[pool]

    def sample(self, pool: PoolKey) -> float:
        return self.pool_median(pool) * math.exp(self._rng.gauss(0.0, self.sigma))

    def fastest(self, pools: Iterable[PoolKey]) -> PoolKey:
        return min(pools, key=lambda pool: (self.pool_median(pool), pool))
