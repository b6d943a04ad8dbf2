"""Intensity forecast: exactness on noiseless patterns, fallbacks, NaN handling, back-test arithmetic."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from spectra.carbon.intensity.forecast import (
    IntensityForecast,
    backtest,
    fill_gaps,
    forecast_intensity,
    seasonal_naive,
)
from spectra.carbon.intensity.parsing import hourly_series, parse_intensity_file

DATA = Path(__file__).resolve().parents[3] / ".." / "shared" / "data" / "carbon_intensity"


def daily_pattern(hours: int, start_hour: int = 0) -> np.ndarray:
    t = np.arange(start_hour, start_hour + hours)
    return 200.0 + 80.0 * np.sin(2 * np.pi * t / 24)


def test_pure_daily_pattern_is_forecast_exactly_by_the_regression() -> None:
    history = daily_pattern(60 * 24)
    result = forecast_intensity(history, 48)
    assert isinstance(result, IntensityForecast)
    assert result.method == "seasonal-ridge"
    expected = daily_pattern(48, start_hour=60 * 24)
    np.testing.assert_allclose(result.mean, expected, atol=0.5)
    assert result.mean.shape == result.std.shape == (48,)
    assert (result.std >= 0).all() and result.std.max() < 1.0


def test_weekday_weekend_pattern_is_learnt() -> None:
    # Weekends 100 g lower all day: only the weekly feature can know tomorrow is a Saturday.
    hours = np.arange(90 * 24)
    weekend = ((hours // 24) % 7) >= 5
    history = 300.0 - 100.0 * weekend + 20 * np.sin(2 * np.pi * hours / 24)
    origin = next(d * 24 for d in range(60, 90) if (d % 7) == 5)  # the first weekend day after 60 days
    result = forecast_intensity(history[:origin], 24)
    np.testing.assert_allclose(result.mean, history[origin : origin + 24], atol=2.0)
    naive = history[origin - 24 : origin]
    assert np.abs(naive - history[origin : origin + 24]).mean() == pytest.approx(100.0, abs=1e-9)


def test_short_history_falls_back_to_profile_then_persistence() -> None:
    three_days = daily_pattern(72)
    profile = forecast_intensity(three_days, 24)
    assert profile.method == "seasonal-profile"
    np.testing.assert_allclose(profile.mean, daily_pattern(24, start_hour=72), atol=1e-6)

    few_hours = np.array([100.0, 110.0, 120.0])
    flat = forecast_intensity(few_hours, 6)
    assert flat.method == "persistence"
    np.testing.assert_allclose(flat.mean, np.full(6, 110.0))
    assert flat.std[0] == pytest.approx(np.std(few_hours))


def test_missing_hours_are_interpolated_and_never_leak_into_the_forecast() -> None:
    history = daily_pattern(40 * 24)
    holed = history.copy()
    holed[100:130] = np.nan
    holed[-5:-2] = np.nan
    clean = forecast_intensity(history, 24)
    gappy = forecast_intensity(holed, 24)
    np.testing.assert_allclose(gappy.mean, clean.mean, atol=3.0)

    filled, observed = fill_gaps([np.nan, 1.0, np.nan, 3.0, np.nan])
    assert filled.tolist() == [1.0, 1.0, 2.0, 3.0, 3.0]
    assert observed.tolist() == [False, True, False, True, False]
    with pytest.raises(ValueError, match="no finite"):
        forecast_intensity([np.nan, np.nan], 24)


def test_forecast_depends_only_on_the_past() -> None:
    rng = np.random.default_rng(7)
    series = daily_pattern(50 * 24) + rng.normal(0, 10, 50 * 24)
    now = 45 * 24 + 7
    before = forecast_intensity(series[:now], 24).mean
    altered = series.copy()
    altered[now:] += 500.0  # the future changes, the forecast must not
    after = forecast_intensity(altered[:now], 24).mean
    np.testing.assert_array_equal(before, after)


def test_negative_forecasts_are_clipped_and_horizon_is_checked() -> None:
    falling = np.linspace(500, 1, 30 * 24)
    assert (forecast_intensity(falling, 72).mean >= 0).all()
    with pytest.raises(ValueError, match="horizon"):
        forecast_intensity(falling, 0)
    with pytest.raises(ValueError, match="horizon"):
        forecast_intensity(falling, 10_000)


def test_seasonal_naive_uses_the_last_observed_day() -> None:
    values = np.arange(100, dtype=float)
    assert seasonal_naive(values, 50, 3).tolist() == [26.0, 27.0, 28.0]
    # Beyond a day ahead, "yesterday" is two days back from the target.
    assert seasonal_naive(values, 50, 26)[-1] == 50 + 25 - 48


def test_backtest_arithmetic_against_hand_computed_naive_errors() -> None:
    # Alternating +-10 around a daily pattern on odd/even days: naive is always 20 off.
    days = 50
    hours = np.arange(days * 24)
    series = daily_pattern(days * 24) + np.where((hours // 24) % 2 == 0, 10.0, -10.0)
    result = backtest(series, 24, step_hours=24, min_history_hours=35 * 24)
    assert result.n_forecasts == 15
    assert result.n_points == 15 * 24
    assert result.seasonal_naive_mae == pytest.approx(20.0)
    assert result.mae < 1.0  # the two-day cycle is in the lags the regression sees
    assert result.ratio == pytest.approx(result.mae / 20.0)
    assert result.mape == pytest.approx(100 * np.mean(result.abs_errors / result.actuals))
    with pytest.raises(ValueError, match="too short"):
        backtest(series[:100], 24)


@pytest.mark.skipif(not (DATA / "electricitymaps" / "DE_2023_hourly.csv").exists(), reason="shared data absent")
def test_real_zone_beats_seasonal_naive_day_ahead() -> None:
    series = hourly_series(parse_intensity_file(DATA / "electricitymaps" / "DE_2023_hourly.csv"))
    result = backtest(series.values[: 120 * 24], 24, step_hours=24, min_history_hours=60 * 24)
    assert result.ratio < 0.9
