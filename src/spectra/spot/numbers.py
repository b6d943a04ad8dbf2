"""Small statistics used by analytics and pool views (pure; units are the caller's)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime


def percentile(values: Sequence[float], pct: float) -> float | None:
    """Linear-interpolated percentile (numpy's default method), None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * pct / 100.0
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def overlap_hours(start: datetime, end: datetime, window_start: datetime, window_end: datetime) -> float:
    lo, hi = max(start, window_start), min(end, window_end)
    return max(0.0, (hi - lo).total_seconds() / 3600.0)


def volatility(prices: Sequence[float]) -> float | None:
    """Coefficient of variation (std ÷ mean) of the observed prices: 0 for a flat price."""
    if len(prices) < 2:
        return 0.0 if prices else None
    mean = sum(prices) / len(prices)
    if mean <= 0:
        return None
    var = sum((p - mean) ** 2 for p in prices) / (len(prices) - 1)
    return math.sqrt(var) / mean
