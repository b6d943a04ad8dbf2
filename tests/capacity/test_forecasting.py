"""Breach forecasts: the linear baseline, the seasonal default, batch and backtest forms."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from spectra.capacity.forecasting import (
    ForecastConfig,
    crossing,
    forecast_batch,
    forecast_breach,
    linear_batch,
    regularise,
    warnings_over_series,
)

T0 = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)
STEP = timedelta(minutes=5)


def _times(n: int) -> list[datetime]:
    return [T0 + i * STEP for i in range(n)]


def _daily_peak(days: int, until_hour: float) -> tuple[list[datetime], np.ndarray]:
    """40 % all day except 95 % from 14:00 to 15:00, for `days` days and then up to `until_hour`."""
    n = int(days * 288 + until_hour * 12)
    times = _times(n)
    values = np.array([95.0 if 14 <= t.hour < 15 else 40.0 for t in times])
    return times, values


def test_linear_ramp_hand_worked() -> None:
    # +1 per 5 min, last value 80 at the last sample; threshold 90 is 10 steps = 50 min away
    values = np.arange(50.0, 81.0)
    times = _times(values.size)
    fc = forecast_breach(times, values, 90.0, method="linear")
    assert fc.method == "linear"
    assert fc.minutes_to_breach == pytest.approx(50.0)
    assert fc.breach_at == times[-1] + timedelta(minutes=50)
    assert fc.confidence == pytest.approx(1.0)  # a perfect line: R² = 1
    assert fc.points_used == 12  # one hour at 5-minute steps
    assert fc.path[0].value == pytest.approx(81.0)


def test_linear_batch_slope_and_r2() -> None:
    path, sigma, r2 = linear_batch(np.array([[1.0, 3.0, 5.0, 7.0]]), window=4, horizon=2)
    assert path[0].tolist() == pytest.approx([9.0, 11.0])
    assert r2[0] == pytest.approx(1.0)
    assert sigma[0].tolist() == pytest.approx([0.0, 0.0])


def test_flat_series_never_breaches() -> None:
    times = _times(288 * 4)
    values = np.full(len(times), 30.0)
    for method in ("seasonal", "linear"):
        fc = forecast_breach(times, values, 90.0, method=method)  # type: ignore[arg-type]
        assert fc.breach_at is None and fc.minutes_to_breach is None
        assert not fc.already_breached


def test_seasonal_sees_the_daily_peak_the_line_cannot() -> None:
    # three days of a 14:00 peak, now 13:30 on day four: the peak is 30 min (6 steps + 1) away
    times, values = _daily_peak(3, 13.5)
    seasonal = forecast_breach(times, values, 90.0, method="seasonal")
    linear = forecast_breach(times, values, 90.0, method="linear")
    assert linear.breach_at is None
    assert seasonal.breach_at is not None
    assert seasonal.breach_at.hour == 14 and seasonal.breach_at.minute == 0
    assert seasonal.minutes_to_breach == pytest.approx(35.0)  # last sample is 13:25
    assert seasonal.confidence > 0.9
    assert seasonal.points_used > 3 * 288
    peak = [p for p in seasonal.path if p.at.hour == 14]
    assert all(p.lower <= p.value <= p.upper for p in seasonal.path)
    assert peak and all(p.value == pytest.approx(95.0) for p in peak)


def test_seasonal_falls_back_to_linear_without_a_day_of_history() -> None:
    values = np.arange(50.0, 81.0)
    times = _times(values.size)
    fc = forecast_breach(times, values, 90.0)
    assert fc.method == "seasonal"
    assert fc.minutes_to_breach == pytest.approx(50.0)


def test_already_breached_flag() -> None:
    times = _times(30)
    fc = forecast_breach(times, np.full(30, 97.0), 90.0, method="linear")
    assert fc.already_breached and fc.current == 97.0


def test_bad_input_rejected() -> None:
    with pytest.raises(ValueError):
        forecast_breach([], [], 90.0)
    with pytest.raises(ValueError):
        forecast_breach(_times(3), [1.0, 2.0], 90.0)


def test_regularise_places_samples_on_a_grid() -> None:
    times = [T0, T0 + STEP, T0 + 3 * STEP, T0 + 4 * STEP]
    grid, step, last = regularise(times, [1.0, 2.0, 4.0, 5.0])
    assert step == 300.0 and last == T0 + 4 * STEP
    assert np.isnan(grid[2]) and grid[[0, 1, 3, 4]].tolist() == [1.0, 2.0, 4.0, 5.0]


def test_crossing_probability_rule() -> None:
    path = np.array([[80.0, 88.0, 92.0]])
    sigma = np.array([[1.0, 1.0, 1.0]])
    first, prob = crossing(path, sigma, 90.0, 0.5)
    assert first[0] == 2 and prob[0] == pytest.approx(0.97725, abs=1e-4)  # Φ(2)
    first, _ = crossing(path, sigma, 90.0, 0.01)
    assert first[0] == 1  # P(88 + N(0,1) >= 90) = Φ(-2) = 0.0228 ≥ 0.01


def test_batch_matches_single_series() -> None:
    times, values = _daily_peak(3, 13.5)
    rows = np.stack([values, np.full(values.size, 30.0)])
    minutes, confidence = forecast_batch(rows, 5.0, 90.0, "seasonal", ForecastConfig())
    single = forecast_breach(times, values, 90.0)
    assert minutes[0] == pytest.approx(single.minutes_to_breach)
    assert np.isnan(minutes[1])
    assert confidence[0] == pytest.approx(single.confidence, abs=1e-4)


def test_backtest_uses_only_the_past() -> None:
    _, values = _daily_peak(4, 0)
    cfg = ForecastConfig(horizon_minutes=60)
    warn = warnings_over_series(values, 5.0, 90.0, 12, "seasonal", cfg)
    changed = values.copy()
    changed[800:] = 0.0
    warn_changed = warnings_over_series(changed, 5.0, 90.0, 12, "seasonal", cfg)
    assert np.array_equal(warn[:800], warn_changed[:800])
    # on day 2 onwards the 14:00 peak is warned of in the hour before it, never after it has started
    day3_peak = 2 * 288 + 14 * 12
    assert warn[day3_peak - 12 : day3_peak].all()
    assert not warn[day3_peak : day3_peak + 12].any()
