"""The carbon scheduling bench's building blocks on hand-worked series (the full run is the benchmark)."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

import carbon_scheduling as bench  # noqa: E402


def test_next_workday_nine_skips_the_weekend() -> None:
    friday = datetime(2023, 3, 3, 14, tzinfo=UTC)
    assert bench.next_workday_nine(friday) == datetime(2023, 3, 6, 9, tzinfo=UTC)
    monday_night = datetime(2023, 3, 6, 23, tzinfo=UTC)
    assert bench.next_workday_nine(monday_night) == datetime(2023, 3, 7, 9, tzinfo=UTC)
    sunday_early = datetime(2023, 3, 5, 1, tzinfo=UTC)
    assert bench.next_workday_nine(sunday_early) == datetime(2023, 3, 6, 9, tzinfo=UTC)


def test_oracles_and_baseline_on_a_hand_worked_series() -> None:
    actual = np.array([5, 1, 4, 1, 3, 9, 2, 8], dtype=np.float64)
    submit, duration, deadline = np.array([0, 2]), np.array([2, 2]), np.array([6, 8])
    assert bench.window_sums(actual, submit, duration).tolist() == [6, 5]
    # Contiguous: windows starting 0-4 sum 6, 5, 5, 4, 12 → job 0 gets (1, 3) = 4; job 1 (starts 2-6) too.
    assert bench.oracle_contiguous(actual, submit, duration, deadline).tolist() == [4, 4]
    # Interruptible: the two lowest hours of each window.
    assert bench.oracle_interruptible(actual, submit, duration, deadline).tolist() == [2, 3]


def test_seasonal_naive_repeats_yesterday_and_fills_gaps_from_the_past_only() -> None:
    observed = np.arange(72, dtype=np.float64)
    observed[60] = np.nan
    naive = bench.SeasonalNaive(observed)
    mean, std = naive(observed[:62], 26)
    assert std is None
    expected = np.arange(38, 62, dtype=np.float64)
    expected[60 - 38] = 59.0  # the missing hour takes the value before it, never the one after
    assert mean[:24].tolist() == expected.tolist()
    assert mean[24:].tolist() == expected[:2].tolist()


def test_cached_forecast_sees_only_recorded_hours_before_now() -> None:
    rng = np.random.default_rng(1)
    observed = 200 + 50 * np.sin(np.arange(24 * 40) * 2 * np.pi / 24) + rng.normal(0, 5, 24 * 40)
    cached = bench.CachedForecast(observed, horizon=30)
    first, _ = cached(observed[:700], 24)
    changed = observed.copy()
    changed[700:] = 0.0  # the future changes; the forecast made at hour 700 must not
    again, _ = bench.CachedForecast(changed, horizon=30)(changed[:700], 24)
    assert first.tolist() == pytest.approx(again.tolist())
    assert len(first) == 24
    assert cached.view(blended=False)(observed[:700], 10)[0].shape == (10,)
