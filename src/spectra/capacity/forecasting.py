"""Saturation forecasts: will a metric cross its threshold within the horizon, and when?

Two methods, both kept so every forecast can be checked against the other:

* ``linear`` (the baseline, what Prometheus' ``predict_linear`` does): a least-squares line through the
  last ``window`` points, extrapolated. Its confidence is the fit's R². It cannot see a daily peak coming.
* ``seasonal`` (the default): the value at the same time of day on each of the last days (median over
  days, so one odd day does not count), shifted by how far today's level is from those days' level at the
  same time, blended with the same time last week when the history has one; the local linear trend is
  added when it rises faster than the seasonal path. The spread of those days around the median gives a
  per-step interval; confidence is the probability that the path crosses the threshold under that
  interval. With less than a day of history it falls back to the linear method (with an interval).

All functions are pure numpy. The batch form (`seasonal_batch`) forecasts many series at once (a row
per series), which is what the scheduler and the speed benchmark use.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

import numpy as np
from scipy.special import ndtr

Method = Literal["seasonal", "linear"]
DAY_SECONDS = 86400.0


@dataclass(frozen=True)
class ForecastConfig:
    horizon_minutes: float = 360.0
    linear_window_minutes: float = 60.0  # the baseline's lookback (predict_linear(x[1h], ...))
    days: int = 3  # past days whose same-time values form the seasonal path
    weeks: int = 2  # past weeks (same weekday and time) blended in once all of them are in the history
    level_minutes: float = 60.0  # level correction: mean of this much recent data vs the same time on past days
    min_confidence: float = 0.4  # the seasonal method reports a breach once P(value >= threshold) reaches this


@dataclass
class ForecastPoint:
    at: datetime
    value: float
    lower: float
    upper: float


@dataclass
class Forecast:
    """One metric's outlook: the breach time (or None), how sure, by which method, from which data."""

    method: Method
    threshold: float
    breach_at: datetime | None
    minutes_to_breach: float | None
    confidence: float
    points_used: int
    current: float | None
    generated_at: datetime
    path: list[ForecastPoint] = field(default_factory=list)
    already_breached: bool = False


def _norm_cdf(z: np.ndarray) -> np.ndarray:
    return np.asarray(ndtr(z), dtype=float)


def linear_batch(history: np.ndarray, window: int, horizon: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Least-squares line through the last `window` points of each row, extrapolated `horizon` steps.

    Returns (path (S, H), sigma (S, H), r2 (S,)). NaNs in the window are ignored.
    """
    history = np.atleast_2d(np.asarray(history, dtype=float))
    y = history[:, -window:]
    w = y.shape[1]
    x = np.broadcast_to(np.arange(w, dtype=float), y.shape)
    ok = np.isfinite(y)
    n = ok.sum(axis=1).astype(float)
    safe_n = np.maximum(n, 1.0)
    xm = np.where(ok, x, 0.0).sum(axis=1) / safe_n
    ym = np.where(ok, y, 0.0).sum(axis=1) / safe_n
    dx = np.where(ok, x - xm[:, None], 0.0)
    dy = np.where(ok, y - ym[:, None], 0.0)
    sxx = (dx * dx).sum(axis=1)
    slope = np.where(sxx > 0, (dx * dy).sum(axis=1) / np.where(sxx > 0, sxx, 1.0), 0.0)
    intercept = ym - slope * xm
    steps = np.arange(w, w + horizon, dtype=float)
    path = intercept[:, None] + slope[:, None] * steps[None, :]
    resid = np.where(ok, y - (intercept[:, None] + slope[:, None] * x), 0.0)
    sse = (resid * resid).sum(axis=1)
    sst = (dy * dy).sum(axis=1)
    r2 = np.where(sst > 0, 1.0 - sse / np.where(sst > 0, sst, 1.0), 1.0)
    s = np.sqrt(sse / np.maximum(n - 2.0, 1.0))
    # prediction standard error of an extrapolated OLS line
    lever = 1.0 + 1.0 / safe_n[:, None] + (steps[None, :] - xm[:, None]) ** 2 / np.where(sxx > 0, sxx, 1.0)[:, None]
    sigma = s[:, None] * np.sqrt(lever)
    path[n < 2] = np.nan
    return path, sigma, np.clip(r2, 0.0, 1.0)


def seasonal_batch(
    history: np.ndarray, period: int, horizon: int, cfg: ForecastConfig, step_minutes: float
) -> tuple[np.ndarray, np.ndarray]:
    """The seasonal path of each row of `history` (oldest first, the last column is "now").

    Returns (path (S, H), sigma (S, H)); a row without a full day of history gets NaN (caller falls back).
    """
    history = np.atleast_2d(np.asarray(history, dtype=float))
    n_rows, length = history.shape
    k = max(1, round(cfg.level_minutes / step_minutes))
    now_level = np.nanmean(history[:, -k:], axis=1)
    h = np.arange(1, horizon + 1)

    def lagged(lag: int) -> np.ndarray:
        """(S, H) values at t + h - lag, shifted by the level difference between now and t - lag."""
        idx = length - 1 + h - lag  # column of t + h - lag
        out = np.full((n_rows, horizon), np.nan)
        valid = (idx >= 0) & (idx < length)
        if not valid.any() or length - lag - k < 0:
            return out
        then_level = np.nanmean(history[:, length - lag - k : length - lag], axis=1)
        out[:, valid] = history[:, idx[valid]] + (now_level - then_level)[:, None]
        return out

    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        daily = np.stack([lagged(d * period) for d in range(1, cfg.days + 1)])  # (D, S, H)
        path = np.nanmedian(daily, axis=0)
        spread = 1.4826 * np.nanmedian(np.abs(daily - path[None]), axis=0)
        if cfg.weeks > 0:
            # one past week is too noisy a profile on its own: blend only once every week is there,
            # and only where last week's same hour explained the past day better than yesterday's did
            weeks = np.stack([lagged(w * 7 * period) for w in range(1, cfg.weeks + 1)])
            complete = np.isfinite(weeks).all(axis=0)
            weekly = np.nanmedian(weeks, axis=0)
            if length > 7 * period + period:
                recent = history[:, -period:]
                day_err = np.nanmedian(np.abs(recent - history[:, -2 * period : -period]), axis=1)
                week_err = np.nanmedian(np.abs(recent - history[:, -8 * period : -7 * period]), axis=1)
                complete &= (week_err < day_err)[:, None]
            path = np.where(complete, 0.5 * (path + weekly), path)
        noise = 1.4826 * np.nanmedian(np.abs(np.diff(history[:, -max(k, 12) :], axis=1)), axis=1)
    sigma = np.sqrt(np.nan_to_num(spread) ** 2 + (np.nan_to_num(noise)[:, None] ** 2) * np.sqrt(h)[None, :])
    return path, sigma


def combine(
    seasonal: np.ndarray, seasonal_sigma: np.ndarray, linear: np.ndarray, linear_sigma: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Default path: the seasonal path, raised to the local trend where that rises above it.

    Rows without a seasonal path (under a day of history) take the linear path and its interval.
    """
    missing = ~np.isfinite(seasonal)
    path = np.where(missing, linear, np.fmax(seasonal, linear))
    sigma = np.where(missing, linear_sigma, np.where(linear > seasonal, linear_sigma, seasonal_sigma))
    return path, sigma


def crossing(
    path: np.ndarray, sigma: np.ndarray, threshold: float | np.ndarray, min_confidence: float = 0.5
) -> tuple[np.ndarray, np.ndarray]:
    """Per row: the first step at which P(value >= threshold) reaches `min_confidence` (-1 if none), and
    the largest such per-step probability over the horizon (the forecast's confidence of a breach).

    With min_confidence = 0.5 this is "the central path reaches the threshold" (predict_linear's rule).
    """
    thr = np.asarray(threshold, dtype=float)
    thr = thr[:, None] if thr.ndim == 1 else thr
    z = (np.nan_to_num(path, nan=-np.inf) - thr) / np.maximum(np.nan_to_num(sigma), 1e-12)
    prob = _norm_cdf(np.clip(z, -40, 40))
    hit = prob >= min_confidence
    first = np.where(hit.any(axis=1), hit.argmax(axis=1), -1)
    return first, prob.max(axis=1)


def forecast_batch(
    history: np.ndarray,
    step_minutes: float,
    threshold: float | np.ndarray,
    method: Method = "seasonal",
    cfg: ForecastConfig | None = None,
    chunk: int = 1000,
) -> tuple[np.ndarray, np.ndarray]:
    """Forecast many regular series at once (a row per series, the last column is "now").

    Returns (minutes to breach, NaN where none; confidence) per row.
    """
    cfg = cfg or ForecastConfig()
    history = np.atleast_2d(np.asarray(history, dtype=float))
    horizon = max(1, math.ceil(cfg.horizon_minutes / step_minutes))
    window = max(2, round(cfg.linear_window_minutes / step_minutes))
    period = round(DAY_SECONDS / 60.0 / step_minutes)
    thresholds = np.broadcast_to(np.asarray(threshold, dtype=float), (history.shape[0],))
    minutes = np.full(history.shape[0], np.nan)
    confidence = np.zeros(history.shape[0])
    for start in range(0, history.shape[0], chunk):
        rows = history[start : start + chunk]
        lin, lin_sigma, r2 = linear_batch(rows, window, horizon)
        if method == "linear":
            first, _ = crossing(lin, lin_sigma, thresholds[start : start + chunk], 0.5)
            conf = r2
        else:
            seas, seas_sigma = seasonal_batch(rows, period, horizon, cfg, step_minutes)
            path, sigma = combine(seas, seas_sigma, lin, lin_sigma)
            first, conf = crossing(path, sigma, thresholds[start : start + chunk], cfg.min_confidence)
        minutes[start : start + chunk] = np.where(first >= 0, (first + 1) * step_minutes, np.nan)
        confidence[start : start + chunk] = conf
    return minutes, confidence


def _as_seconds(timestamps: list[datetime]) -> np.ndarray:
    return np.array([t.timestamp() for t in timestamps], dtype=float)


def regularise(timestamps: list[datetime], values: list[float] | np.ndarray) -> tuple[np.ndarray, float, datetime]:
    """Place irregular samples on a regular grid at their median spacing (NaN where none fell).

    Returns (grid values, step in seconds, time of the last grid point).
    """
    seconds = _as_seconds(timestamps)
    vals = np.asarray(values, dtype=float)
    order = np.argsort(seconds)
    seconds, vals = seconds[order], vals[order]
    gaps = np.diff(seconds)
    step = float(np.median(gaps[gaps > 0])) if (gaps > 0).any() else 300.0
    slots = np.round((seconds - seconds[-1]) / step).astype(int)
    slots -= slots.min()
    grid = np.full(int(slots.max()) + 1, np.nan)
    grid[slots] = vals  # a later sample in the same slot wins
    last = timestamps[int(order[-1])]
    return grid, step, last


def forecast_breach(
    timestamps: list[datetime],
    values: list[float] | np.ndarray,
    threshold: float,
    method: Method = "seasonal",
    cfg: ForecastConfig | None = None,
) -> Forecast:
    """Forecast one metric: when (if at all) it crosses `threshold` within the horizon."""
    cfg = cfg or ForecastConfig()
    if len(timestamps) != len(values):
        raise ValueError("timestamps and values differ in length")
    if len(timestamps) == 0:
        raise ValueError("no data to forecast from")
    grid, step, last = regularise(list(timestamps), values)
    step_minutes = step / 60.0
    horizon = max(1, math.ceil(cfg.horizon_minutes / step_minutes))
    window = max(2, round(cfg.linear_window_minutes / step_minutes))
    lin, lin_sigma, r2 = linear_batch(grid[None, :], window, horizon)
    points_used = int(np.isfinite(grid[-window:]).sum())
    if method == "linear":
        path, sigma = lin, lin_sigma
    else:
        period = round(DAY_SECONDS / step)
        seas, seas_sigma = seasonal_batch(grid[None, :], period, horizon, cfg, step_minutes)
        path, sigma = combine(seas, seas_sigma, lin, lin_sigma)
        if np.isfinite(seas).any():
            points_used = int(np.isfinite(grid[-(cfg.days * period + window) :]).sum())
    first, prob = crossing(path, sigma, threshold, 0.5 if method == "linear" else cfg.min_confidence)
    finite = grid[np.isfinite(grid)]
    current = float(finite[-1]) if finite.size else None
    times = [last + timedelta(seconds=step * (i + 1)) for i in range(horizon)]
    points = [
        ForecastPoint(t, float(v), float(v - 1.2816 * s), float(v + 1.2816 * s))  # 80 % interval
        for t, v, s in zip(times, path[0], sigma[0], strict=True)
        if math.isfinite(v)
    ]
    confidence = float(r2[0]) if method == "linear" else float(prob[0])
    breach_index = int(first[0])
    breach_at = times[breach_index] if breach_index >= 0 else None
    return Forecast(
        method=method,
        threshold=threshold,
        breach_at=breach_at,
        minutes_to_breach=round((breach_index + 1) * step_minutes, 2) if breach_index >= 0 else None,
        confidence=round(confidence, 4),
        points_used=points_used,
        current=current,
        generated_at=last,
        path=points,
        already_breached=current is not None and current >= threshold,
    )


def warnings_over_series(
    values: np.ndarray, step_minutes: float, threshold: float, horizon: int, method: Method, cfg: ForecastConfig
) -> np.ndarray:
    """Backtest: at every step t (using only values up to t), does the method predict a crossing within
    `horizon` steps? Returns a boolean array (False where the value is already at/above the threshold)."""
    values = np.asarray(values, dtype=float)
    n = values.size
    window = max(2, round(cfg.linear_window_minutes / step_minutes))
    period = round(DAY_SECONDS / step_minutes / 60.0)
    lookback = max(window, cfg.weeks * 7 * period + horizon, cfg.days * period + horizon) + 2 * window
    padded = np.concatenate([np.full(lookback - 1, np.nan), values])
    histories = np.lib.stride_tricks.sliding_window_view(padded, lookback)  # row t ends at value t
    out = np.zeros(n, dtype=bool)
    chunk = 512
    for start in range(0, n, chunk):
        hist = histories[start : start + chunk]
        lin, lin_sigma, _ = linear_batch(hist, window, horizon)
        if method == "linear":
            first, _ = crossing(lin, lin_sigma, threshold, 0.5)
        else:
            seas, seas_sigma = seasonal_batch(hist, period, horizon, cfg, step_minutes)
            path, sigma = combine(seas, seas_sigma, lin, lin_sigma)
            first, _ = crossing(path, sigma, threshold, cfg.min_confidence)
        out[start : start + chunk] = first >= 0
    return out & (values < threshold)
