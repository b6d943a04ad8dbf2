"""Short-range grid carbon-intensity forecast from a zone's own hourly history.

Method ("seasonal-ridge"): one small ridge regression per horizon h, fitted at call time on the
zone's history (up to 240 past days) and only on forecast origins at the same hour of day as
"now" (so each model learns how that part of the day evolves; origins one day apart are nearly
independent), each origin weighted 0.99 per day of age so recent weather regimes count more.
The features are what a grid operator would look at:

- the recent level (last hour, mean of the last three hours),
- the same hour on each of the last seven observed days (daily seasonality) and their mean,
- the same hour one week earlier (weekly seasonality: weekday/weekend load),
- the current departure from the daily profile (a weather or import anomaly that decays).

The in-sample residual spread per horizon gives the forecast's standard deviation. With less
history than the regression needs, it falls back to a daily profile plus a decaying departure
("seasonal-profile"), and with less than a day to the mean of what there is ("persistence").
Everything uses only the values passed in, i.e. data at or before "now".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

FloatArray = NDArray[np.float64]

DAY = 24
WEEK = 168
LAG_DAYS = 7  # same-hour values of the last seven observed days
TRAIN_DAYS = 240  # days of forecast origins used to fit
TRAIN_DECAY = 0.99  # weight of an origin d days old is 0.99**d: recent weather regimes count more
MIN_TRAIN_ORIGINS = 14  # fewer than this and the regression is not trusted
RIDGE = 1.0  # small penalty: keeps the solve stable when features are collinear (flat series)
PROFILE_DECAY = 0.97  # per hour, for the fallback's departure from the daily profile
MAX_HORIZON = 24 * 14


@dataclass(frozen=True)
class IntensityForecast:
    """Forecast of hourly intensity (gCO2e/kWh) for the hours after "now", first entry = next hour."""

    mean: FloatArray
    std: FloatArray
    method: str


@dataclass(frozen=True)
class BacktestResult:
    """Forecasts made at past origins compared with what happened (same units as the series)."""

    mae: float
    mape: float  # percent, over actual values > 0
    seasonal_naive_mae: float  # "same hour on the last observed day" at the same origins
    ratio: float  # mae / seasonal_naive_mae (lower is better; < 1 beats the baseline)
    n_forecasts: int
    n_points: int
    mae_by_horizon: FloatArray
    naive_mae_by_horizon: FloatArray
    abs_errors: FloatArray  # every |forecast - actual|, origin-major
    naive_abs_errors: FloatArray
    actuals: FloatArray


def fill_gaps(values: ArrayLike) -> tuple[FloatArray, NDArray[np.bool_]]:
    """Linear interpolation over NaN (flat at the ends); returns the filled series and the observed mask."""
    y = np.asarray(values, dtype=np.float64).ravel()
    observed = np.isfinite(y)
    if not observed.any():
        raise ValueError("history has no finite value")
    if observed.all():
        return y.copy(), observed
    idx = np.arange(y.size)
    return np.interp(idx, idx[observed], y[observed]), observed


def _horizon_features(y: FloatArray, origins: NDArray[np.int64], horizons: NDArray[np.int64]) -> FloatArray:
    """Feature tensor for forecast origins (index of the first unseen hour) and horizons (1 = next hour).

    ``origins`` and ``horizons`` broadcast together; indices that fall before the start of the
    series are clipped and must be masked out by the caller.
    """
    n = y.size
    target = origins + horizons - 1
    days_back = (horizons + DAY - 1) // DAY  # same hour on the last *observed* day
    weeks_back = (horizons + WEEK - 1) // WEEK

    def at(index: NDArray[np.int64]) -> FloatArray:
        return y[np.clip(index, 0, n - 1)]

    last = at(origins - 1)
    recent = (at(origins - 1) + at(origins - 2) + at(origins - 3)) / 3.0
    lags = [at(target - DAY * (days_back + k)) for k in range(LAG_DAYS)]
    profile = np.mean(lags, axis=0)
    weekly = at(target - WEEK * weeks_back)
    last_profile = np.mean([at(origins - 1 - DAY * (k + 1)) for k in range(LAG_DAYS)], axis=0)
    shape = np.broadcast(origins, horizons).shape
    cols = [np.ones(shape), last, recent, profile, weekly, last - last_profile, lags[0], lags[1], lags[2]]
    return np.stack([np.broadcast_to(col, shape) for col in cols], axis=-1)


def _earliest_index(origins: NDArray[np.int64], horizons: NDArray[np.int64]) -> NDArray[np.int64]:
    """Smallest series index a feature row reads (must be >= 0 for the row to be usable)."""
    target = origins + horizons - 1
    days_back = (horizons + DAY - 1) // DAY
    weeks_back = (horizons + WEEK - 1) // WEEK
    earliest = np.minimum(origins - 3, target - DAY * (days_back + LAG_DAYS - 1))
    earliest = np.minimum(earliest, target - WEEK * weeks_back)
    return np.minimum(earliest, origins - 1 - DAY * LAG_DAYS)


def _ridge_forecast(y: FloatArray, observed: NDArray[np.bool_], horizon: int) -> IntensityForecast | None:
    n = y.size
    horizons = np.arange(1, horizon + 1, dtype=np.int64)[:, None]  # (H, 1)
    # Training origins: n - 24, n - 48, ... (same hour of day as now), newest first.
    origins = (n - DAY * np.arange(1, TRAIN_DAYS + 1, dtype=np.int64))[None, :]  # (1, J)
    target = origins + horizons - 1
    usable = (target <= n - 1) & (_earliest_index(origins, horizons) >= 0)
    usable &= observed[np.clip(target, 0, n - 1)]
    if usable.sum(axis=1).min() < MIN_TRAIN_ORIGINS:
        return None
    features = _horizon_features(y, origins, horizons)  # (H, J, p)
    targets = y[np.clip(target, 0, n - 1)]  # (H, J)
    weight = usable * TRAIN_DECAY ** ((n - origins) / DAY)
    xw = features * weight[..., None]
    xw_t = xw.transpose(0, 2, 1)  # batched matmul is far faster than the equivalent einsum
    gram = xw_t @ features
    penalty = np.eye(features.shape[-1]) * RIDGE
    penalty[0, 0] = 0.0  # never shrink the intercept
    rhs = (xw_t @ targets[..., None])[..., 0]
    coef = np.linalg.solve(gram + penalty, rhs[..., None])[..., 0]  # (H, p)

    residuals = targets - (features @ coef[..., None])[..., 0]
    # Weighted residual spread, with the effective sample size standing in for the row count.
    effective_rows = weight.sum(axis=1) ** 2 / np.maximum((weight**2).sum(axis=1), 1e-12)
    dof_scale = effective_rows / np.maximum(effective_rows - features.shape[-1], 1.0)
    std = np.sqrt((weight * residuals**2).sum(axis=1) / weight.sum(axis=1) * dof_scale)

    now_features = _horizon_features(y, np.array([[n]], dtype=np.int64), horizons)[:, 0, :]  # (H, p)
    mean = (now_features * coef).sum(axis=1)
    return IntensityForecast(mean=np.maximum(mean, 0.0), std=std, method="seasonal-ridge")


def _profile_forecast(y: FloatArray, horizon: int) -> IntensityForecast:
    """Mean daily profile of the last (up to seven) whole days plus the current departure, decaying."""
    n = y.size
    days = min(LAG_DAYS, n // DAY)
    block = y[n - days * DAY :].reshape(days, DAY)  # row ends at the last observed hour
    profile = block.mean(axis=0)  # profile[j]: hour j of a day that ends at "now - 1"
    departure = float(np.mean(y[-3:] - profile[-3:]))
    steps = np.arange(1, horizon + 1)
    mean = np.resize(profile, horizon) + departure * PROFILE_DECAY**steps
    spread = float(np.std(block - profile)) if days > 1 else float(np.std(y))
    std = np.full(horizon, spread) * np.sqrt(1.0 + np.minimum(steps, DAY) / DAY)
    return IntensityForecast(mean=np.maximum(mean, 0.0), std=std, method="seasonal-profile")


def forecast_intensity(history: ArrayLike, horizon_hours: int) -> IntensityForecast:
    """Forecast the next ``horizon_hours`` hourly intensities from hourly ``history`` ending at now.

    ``history[-1]`` is the last hour already observed; NaN marks missing hours. Raises ValueError
    when the history holds no finite value or the horizon is out of range (1 … 336 hours).
    """
    if not 1 <= horizon_hours <= MAX_HORIZON:
        raise ValueError(f"horizon_hours must be between 1 and {MAX_HORIZON}")
    y, observed = fill_gaps(history)
    if y.size >= DAY * (LAG_DAYS + 1) + WEEK:
        result = _ridge_forecast(y, observed, horizon_hours)
        if result is not None:
            return result
    if y.size >= 2 * DAY:
        return _profile_forecast(y, horizon_hours)
    level = float(np.mean(y))
    spread = float(np.std(y)) if y.size > 1 else 0.0
    return IntensityForecast(
        mean=np.full(horizon_hours, max(level, 0.0)), std=np.full(horizon_hours, spread), method="persistence"
    )


def seasonal_naive(values: FloatArray, origin: int, horizon: int) -> FloatArray:
    """Same hour on the last observed day: the baseline the forecast must beat."""
    steps = np.arange(1, horizon + 1)
    days_back = (steps + DAY - 1) // DAY
    return values[origin + steps - 1 - DAY * days_back]


def backtest(
    values: ArrayLike,
    horizon_hours: int = 24,
    *,
    origins: Sequence[int] | None = None,
    step_hours: int = 24,
    min_history_hours: int = 28 * DAY,
    max_history_hours: int | None = (TRAIN_DAYS + LAG_DAYS + 14) * DAY,
) -> BacktestResult:
    """Rolling back-test: at each origin forecast the next ``horizon_hours`` from the values before it.

    ``origins`` are indices of the first forecast hour (default: every ``step_hours`` from
    ``min_history_hours``). Only origins with a full horizon of observed actuals and a full
    naive baseline are scored. NaN actuals are skipped.
    """
    y = np.asarray(values, dtype=np.float64).ravel()
    n = y.size
    day_back = DAY * ((horizon_hours + DAY - 1) // DAY)
    if origins is None:
        origins = range(max(min_history_hours, day_back), n - horizon_hours + 1, step_hours)
    errors: list[FloatArray] = []
    naive_errors: list[FloatArray] = []
    actual_rows: list[FloatArray] = []
    for origin in origins:
        if origin < max(min_history_hours, day_back) or origin + horizon_hours > n:
            continue
        actual = y[origin : origin + horizon_hours]
        naive = seasonal_naive(y, origin, horizon_hours)
        start = 0 if max_history_hours is None else max(0, origin - max_history_hours)
        history = y[start:origin]
        if not np.isfinite(history).any():
            continue
        predicted = forecast_intensity(history, horizon_hours).mean
        errors.append(np.abs(predicted - actual))
        naive_errors.append(np.abs(naive - actual))
        actual_rows.append(actual)
    if not errors:
        raise ValueError("series too short for a back-test with these settings")
    err = np.vstack(errors)
    nerr = np.vstack(naive_errors)
    act = np.vstack(actual_rows)
    scored = np.isfinite(err) & np.isfinite(nerr)
    if not scored.any():
        raise ValueError("no scored point: actuals or baseline are all missing")
    mae = float(err[scored].mean())
    naive_mae = float(nerr[scored].mean())
    positive = scored & (act > 0)
    mape = float(100.0 * np.mean(err[positive] / act[positive])) if positive.any() else float("nan")
    masked_err = np.where(scored, err, np.nan)
    masked_nerr = np.where(scored, nerr, np.nan)
    return BacktestResult(
        mae=mae,
        mape=mape,
        seasonal_naive_mae=naive_mae,
        ratio=mae / naive_mae if naive_mae > 0 else float("inf"),
        n_forecasts=err.shape[0],
        n_points=int(scored.sum()),
        mae_by_horizon=np.nanmean(masked_err, axis=0),
        naive_mae_by_horizon=np.nanmean(masked_nerr, axis=0),
        abs_errors=err[scored],
        naive_abs_errors=nerr[scored],
        actuals=act[scored],
    )
