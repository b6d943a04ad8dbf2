"""Simulated market: exact replay costs, synthetic paths, seeded interruptions with notices, boot times."""

from __future__ import annotations

import math
import statistics
from datetime import UTC, datetime, timedelta

import pytest

from spectra.sim.prices import (
    NOTICE,
    BootTimeModel,
    PricePath,
    SyntheticMarket,
    interruption_events,
    interruption_events_at_rate,
    replay,
    synthetic_paths,
)
from spectra.spot.pricing.formats import PoolKey, SpotPriceRecord

T0 = datetime(2024, 1, 1, tzinfo=UTC)
H = timedelta(hours=1)
A = PoolKey("us-east-1", "us-east-1a", "m5.large")
B = PoolKey("us-east-1", "us-east-1b", "m5.large")


def test_cost_integrates_the_step_function_exactly() -> None:
    path = PricePath(A, [T0, T0 + H, T0 + 3 * H], [0.10, 0.20, 0.40])
    assert path.cost(T0 + 0.5 * H, T0 + 1.5 * H) == pytest.approx(0.05 + 0.10)
    assert path.cost(T0, T0 + 4 * H) == pytest.approx(0.10 + 0.40 + 0.40)
    assert path.cost(T0 - H, T0) == pytest.approx(0.10)  # before the first event: the first price
    assert path.cost(T0 + 2 * H, T0 + 2 * H) == 0.0
    assert path.price_at(T0 + 2.9 * H) == 0.20
    assert path.changes_between(T0, T0 + 3.5 * H) == 2


def test_replay_groups_rows_per_pool_and_keeps_the_last_of_same_instant_rows() -> None:
    records = [
        SpotPriceRecord(A, T0 + H, 0.12),
        SpotPriceRecord(A, T0, 0.10),
        SpotPriceRecord(B, T0, 0.20),
        SpotPriceRecord(A, T0 + H, 0.13),
    ]
    paths = replay(records)
    assert paths[A].times == [T0, T0 + H]
    assert paths[A].prices == [0.10, 0.13]
    assert not paths[A].synthetic
    with pytest.raises(KeyError):
        replay(records, pools=[A, PoolKey("us-east-1", "us-east-1c", "m5.large")])


def test_synthetic_paths_are_labelled_reproducible_and_bounded() -> None:
    pools = [PoolKey("us-east-1", f"us-east-1{z}", "c5a.2xlarge") for z in "abcdef"]
    market = SyntheticMarket(on_demand_price=0.30, spot_ratio=0.5)
    first = synthetic_paths(pools, T0, T0 + 30 * 24 * H, seed=4, market=market)
    again = synthetic_paths(pools, T0, T0 + 30 * 24 * H, seed=4, market=market)
    other = synthetic_paths(pools, T0, T0 + 30 * 24 * H, seed=5, market=market)
    assert all(path.synthetic for path in first.values())
    assert {p: (x.times, x.prices) for p, x in first.items()} == {p: (x.times, x.prices) for p, x in again.items()}
    assert first[pools[0]].prices != other[pools[0]].prices
    means = []
    for path in first.values():
        assert all(0.03 <= price <= 0.30 for price in path.prices)
        assert 60 <= len(path.times) <= 170  # ~ one change per 6.5 h over 30 days
        means.append(path.cost(T0, T0 + 30 * 24 * H) / (30 * 24))
    assert 0.12 < statistics.fmean(means) < 0.19  # around half of on-demand
    assert max(means) - min(means) > 0.003  # zones sit at different levels (cross-zone spread)


def test_interruptions_are_seeded_and_come_with_a_two_minute_notice() -> None:
    pools = [PoolKey("us-east-1", f"use1-az{n}", "m5.large") for n in range(200)]
    events = interruption_events(dict.fromkeys(pools, 0.5), T0, T0 + 730 * H, seed=1)
    again = interruption_events(dict.fromkeys(pools, 0.5), T0, T0 + 730 * H, seed=1)
    assert events == again
    total = sum(len(v) for v in events.values())
    # Poisson: −ln(1 − 0.5) = 0.693 expected per pool-month → 138.6 over 200 pools (σ ≈ 11.8)
    assert 100 < total < 180
    one = next(e for v in events.values() for e in v)
    assert one.terminate_at - one.notice_at == NOTICE == timedelta(minutes=2)
    assert all(T0 <= e.terminate_at < T0 + 730 * H for v in events.values() for e in v)
    assert interruption_events({A: 0.0}, T0, T0 + 730 * H) == {A: []}


def test_interruption_rate_per_instance_month_for_stress_runs() -> None:
    pools = [PoolKey("us-east-1", f"use1-az{n}", "m5.large") for n in range(50)]
    # 20 per instance-month is beyond any Spot Advisor probability (capped at −ln(1 − 0.999999) ≈ 13.8)
    events = interruption_events_at_rate(dict.fromkeys(pools, 20.0), T0, T0 + 730 * H, seed=3)
    assert 900 < sum(len(v) for v in events.values()) < 1100  # 1,000 expected (σ ≈ 32)
    assert events == interruption_events_at_rate(dict.fromkeys(pools, 20.0), T0, T0 + 730 * H, seed=3)
    # A probability and its equivalent rate draw the same events (same seed, same process)
    rate = -math.log1p(-0.5)
    assert interruption_events_at_rate(dict.fromkeys(pools, rate), T0, T0 + 730 * H, seed=1) == interruption_events(
        dict.fromkeys(pools, 0.5), T0, T0 + 730 * H, seed=1
    )


def test_boot_time_model_has_stable_pool_medians_and_finds_the_fastest() -> None:
    model = BootTimeModel(median_seconds=90.0, seed=2)
    medians = {pool: model.pool_median(pool) for pool in (A, B)}
    assert medians == {pool: BootTimeModel(median_seconds=90.0, seed=2).pool_median(pool) for pool in (A, B)}
    assert model.fastest([A, B]) == min(medians, key=lambda p: medians[p])
    samples = [model.sample(A) for _ in range(2001)]
    assert statistics.median(samples) == pytest.approx(medians[A], rel=0.05)
