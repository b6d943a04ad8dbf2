"""Staging → consolidated → canonical on hand-made reports, worked out by hand."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta

import pytest

from spectra.spot.pricing.pipeline import (
    IMPORT,
    INTERPOLATED,
    PRIMARY,
    REPLICA,
    FeatureIndex,
    InterruptionInfo,
    StagingReport,
    bucket_of,
    canonical_features,
    consolidate,
    extend_to,
)

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
FIVE = timedelta(minutes=5)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def test_bucket_of_aligns_on_the_epoch() -> None:
    assert bucket_of(at(7.5), FIVE) == at(5)
    assert bucket_of(at(5), FIVE) == at(5)
    assert bucket_of(at(4.99), FIVE) == at(0)


def test_duplicates_in_a_bucket_keep_the_latest_report() -> None:
    reports = [
        StagingReport("pool-a", at(1), 0.100, PRIMARY, "agent-1"),
        StagingReport("pool-a", at(3), 0.104, PRIMARY, "agent-2"),
        StagingReport("pool-a", at(2), 0.102, PRIMARY, "agent-1"),
    ]
    result = consolidate(reports, FIVE)
    (point,) = result.points
    assert (point.bucket_start, point.price, point.source_role, point.report_count) == (at(0), 0.104, PRIMARY, 3)
    assert result.duplicates_dropped == 2
    assert result.replica_overridden == 0


def test_primary_reports_win_over_replica_reports_for_the_same_pool_and_time() -> None:
    reports = [
        StagingReport("pool-a", at(1), 0.100, PRIMARY, "agent-1"),
        StagingReport("pool-a", at(4), 0.120, REPLICA, "agent-1"),  # later, but second-hand
        StagingReport("pool-a", at(6), 0.130, REPLICA, "agent-1"),  # next bucket: no primary there
        StagingReport("pool-b", at(2), 0.200, REPLICA, "agent-2"),  # other pool: independent
        StagingReport("pool-b", at(3), 0.210, IMPORT),
    ]
    result = consolidate(reports, FIVE)
    got = {(p.pool, p.bucket_start): (p.price, p.source_role) for p in result.points}
    assert got == {
        ("pool-a", at(0)): (0.100, PRIMARY),
        ("pool-a", at(5)): (0.130, REPLICA),
        ("pool-b", at(0)): (0.200, REPLICA),
    }
    assert result.replica_overridden == 2  # the replica in pool-a's first bucket, the import in pool-b's


def test_equal_time_ties_take_the_median() -> None:
    reports = [StagingReport("p", at(1), price, PRIMARY) for price in (0.10, 0.30, 0.11)]
    assert consolidate(reports, FIVE).points[0].price == 0.11


def test_gaps_between_agent_reports_are_interpolated_linearly_and_flagged() -> None:
    reports = [StagingReport("p", at(0), 0.10, PRIMARY), StagingReport("p", at(20), 0.14, PRIMARY)]
    result = consolidate(reports, FIVE)
    assert [(p.bucket_start, round(p.price, 6), p.interpolated) for p in result.points] == [
        (at(0), 0.10, False),
        (at(5), 0.11, True),
        (at(10), 0.12, True),
        (at(15), 0.13, True),
        (at(20), 0.14, False),
    ]
    assert result.interpolated == 3
    assert {p.source_role for p in result.points if p.interpolated} == {INTERPOLATED}
    assert all(p.report_count == 0 for p in result.points if p.interpolated)


def test_gaps_after_imported_change_events_carry_the_price_forward() -> None:
    # describe-spot-price-history only emits a row when the price changes: the price held until the next row.
    reports = [StagingReport("p", at(0), 0.10, IMPORT), StagingReport("p", at(15), 0.16, IMPORT)]
    prices = [(p.bucket_start, p.price, p.interpolated) for p in consolidate(reports, FIVE).points]
    assert prices == [(at(0), 0.10, False), (at(5), 0.10, True), (at(10), 0.10, True), (at(15), 0.16, False)]


def test_gaps_longer_than_max_gap_stay_empty() -> None:
    reports = [StagingReport("p", at(0), 0.10, PRIMARY), StagingReport("p", at(60), 0.20, PRIMARY)]
    result = consolidate(reports, FIVE, max_gap=timedelta(minutes=30))
    assert [p.bucket_start for p in result.points] == [at(0), at(60)]
    assert result.interpolated == 0


def test_invalid_prices_and_roles_are_dropped_and_counted() -> None:
    reports = [
        StagingReport("p", at(0), -1.0, PRIMARY),
        StagingReport("p", at(1), math.nan, PRIMARY),
        StagingReport("p", at(2), 0.1, "GUESS"),
        StagingReport("p", at(3), 0.1, PRIMARY),
    ]
    result = consolidate(reports, FIVE)
    assert result.invalid_dropped == 3
    assert [p.price for p in result.points] == [0.1]
    assert result.stats()["reports_in"] == 4


def test_consolidation_does_not_depend_on_input_order() -> None:
    rng = random.Random(3)
    reports = [
        StagingReport(rng.choice(["a", "b"]), at(rng.uniform(0, 120)), round(rng.uniform(0.1, 0.2), 4), role)
        for role in (PRIMARY, REPLICA, IMPORT)
        for _ in range(40)
    ]
    shuffled = reports[:]
    rng.shuffle(shuffled)
    assert consolidate(reports, FIVE).points == consolidate(shuffled, FIVE).points


def test_extend_to_carries_the_last_price_to_the_end() -> None:
    points = consolidate([StagingReport("p", at(0), 0.1, IMPORT)], FIVE).points
    extended = extend_to(points, at(12), FIVE)
    assert [(p.bucket_start, p.price, p.interpolated) for p in extended] == [
        (at(0), 0.1, False),
        (at(5), 0.1, True),
        (at(10), 0.1, True),
    ]


def test_canonical_features_by_hand() -> None:
    hour = timedelta(hours=1)
    reports = [
        StagingReport("p", T0, 0.10, PRIMARY),
        StagingReport("p", T0 + hour, 0.10, PRIMARY),
        StagingReport("p", T0 + 2 * hour, 0.11, PRIMARY),
        StagingReport("p", T0 + 3 * hour, 0.11, PRIMARY),
    ]
    points = consolidate(reports, hour).points
    features = canonical_features(
        points, {"p": InterruptionInfo(2, 0.125)}, {"p": 0.22}, window=timedelta(hours=24), bucket=hour
    )
    assert [f.price for f in features] == [0.10, 0.10, 0.11, 0.11]
    assert [f.hours_since_change for f in features] == [0.0, 1.0, 0.0, 1.0]
    # log changes so far: [0, ln 1.1] → population std ln(1.1)/2; then [0, ln 1.1, 0] → std of three values
    assert features[0].volatility == 0.0 and features[1].volatility == 0.0
    assert features[2].volatility == pytest.approx(math.log(1.1) / 2)
    changes = [0.0, math.log(1.1), 0.0]
    mean = sum(changes) / 3
    assert features[3].volatility == pytest.approx(math.sqrt(sum((c - mean) ** 2 for c in changes) / 3))
    assert features[2].on_demand_ratio == pytest.approx(0.5)
    assert (features[0].interruption_bucket, features[0].interruption_probability) == (2, 0.125)


def test_volatility_forgets_changes_older_than_the_window() -> None:
    hour = timedelta(hours=1)
    reports = [StagingReport("p", T0 + k * hour, price, PRIMARY) for k, price in enumerate([0.1, 0.2, 0.1, 0.1, 0.1])]
    features = canonical_features(consolidate(reports, hour).points, window=timedelta(hours=2), bucket=hour)
    assert features[2].volatility > 0  # window holds the two big moves
    assert features[4].volatility == 0.0  # only flat changes left in the last two hours


def test_volatility_is_scaled_to_one_hour() -> None:
    reports = [StagingReport("p", at(5 * k), price, PRIMARY) for k, price in enumerate([0.1, 0.2, 0.1])]
    features = canonical_features(consolidate(reports, FIVE).points, bucket=FIVE)
    assert features[2].volatility == pytest.approx(math.log(2) * math.sqrt(12))


def test_feature_index_returns_the_latest_bucket_at_or_before_a_time() -> None:
    reports = [StagingReport("p", at(0), 0.1, PRIMARY), StagingReport("p", at(10), 0.2, PRIMARY)]
    index = FeatureIndex.build(canonical_features(consolidate(reports, FIVE).points, bucket=FIVE))
    assert index.at("p", at(-1)) is None
    assert index.at("p", at(7)).price == pytest.approx(0.15)  # type: ignore[union-attr]
    assert index.at("p", at(99)).price == 0.2  # type: ignore[union-attr]
    assert index.at("other", at(5)) is None
