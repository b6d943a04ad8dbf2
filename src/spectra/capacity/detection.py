"""The streaming anomaly detector shared by capacity (metric anomalies) and carbon (runaway, spikes, cost).

Every point gets a score in [0, 1]. The detector is online (one point at a time, each score uses only
the points before it, bounded memory), and its whole state serialises to JSON so a periodic job can
resume it where it stopped.

How a score is made (the structure of Numenta's HTM detector on NAB, with a simpler first stage):

1. Raw surprise in [0, 1]: how unusual the value's distance from the recent median (a sliding window,
   refreshed every few points) is *for this series*: its mid-rank among the last deviations. Ranks make
   the raw score independent of unit, noise level and quantisation (a CPU metric that moves in steps of
   0.1 % and a byte counter look alike).
2. Anomaly likelihood (HTM's post-processing, nupic `anomaly_likelihood`): the raw surprise averaged over
   the last few points is compared with the Gaussian of its own long-run history (estimated after a
   learning period, re-estimated every few points, with HTM's floors on mean and variance). Its tail
   probability p becomes the score log(p) / log(1e-10), so 0.5 means p = 1e-5. A single odd point barely
   moves the average; a change that lasts does. Only the first point of a run of such tails keeps its
   score (the rest are lowered to p = 1e-3): an operator needs the first warning, not one per sample.
3. Spatial novelty scores 1: a value beyond the seen range by more than a share of it (HTM's "spatial
   anomaly" on NAB), or one that lies farther than that from every value in the recent history (a level
   the series has not visited, even inside its range: a half-height spike, a new plateau). It is judged
   once the series has shown `min_history` values.

`suppress(pattern)` records a dismissed anomaly (a value band, optionally at hours of day); later points
matching a suppressed pattern score 0 and count as unsurprising, so a dismissal teaches the detector.
"""

from __future__ import annotations

import bisect
import json
import math
from collections import deque
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

STATE_VERSION = 2
_OLD_STATE_VERSIONS = (1,)  # states of an earlier detector: learning restarts from the next point
_LOG_FLOOR = 1e-10  # the smallest tail probability told apart: log(p) / log(1e-10) = 1


@dataclass(frozen=True)
class DetectorConfig:
    history: int = 1000  # sliding window of values the median is taken over
    refresh: int = 12  # recompute the median every this many points
    min_history: int = 50  # values needed before any deviation is measured
    rarity_history: int = 1000  # past deviations a new one is ranked against
    rarity_warmup: int = 50  # deviations needed before a raw surprise other than 0
    average_window: int = 10  # raw surprises are averaged over this many points (HTM: 10)
    likelihood_history: int = 4032  # averaged surprises the Gaussian is fitted to (two weeks of 5-min samples)
    likelihood_learning: int = 288  # the first averages (an immature model) are left out of the fit (HTM: 288)
    likelihood_warmup: int = 100  # averages needed after learning before a likelihood (HTM: 100)
    likelihood_refit: int = 100  # re-fit the Gaussian every this many points (HTM: 100)
    min_mean: float = 0.03  # HTM's floor on the fitted mean ...
    min_variance: float = 0.0003  # ... and variance: a calm series must not turn a blip into an alarm
    flat_variance: float = 1.5e-5  # a metric whose values vary less than this is flat: no likelihood alarms
    red_tail: float = 1e-5  # a tail probability at or below this is an alarm (score 0.5) ...
    repeat_tail: float = 1e-3  # ... and later alarms of the same run are lowered to this one (score 0.3)
    range_tolerance: float = 0.05  # share of the seen range a value may lie from the known values (HTM: 0.05)
    value_history: int = 4032  # recent values a new one must come near, or be novel
    alert_level: float = 0.5  # score of a red_tail probability: at or above it a point is an alert


@dataclass
class SuppressionPattern:
    """A dismissed anomaly: values within [low, high] (at these hours of day, if given) are not anomalous."""

    low: float
    high: float
    hours: list[int] | None = None

    def matches(self, value: float, hour: int | None) -> bool:
        if not (self.low <= value <= self.high):
            return False
        return self.hours is None or hour is None or hour in self.hours


class _SortedWindow:
    """A bounded FIFO of numbers kept sorted as well, to rank or place a new number in O(log n)."""

    def __init__(self, capacity: int, items: list[float] | None = None) -> None:
        self.capacity = capacity
        self.fifo: deque[float] = deque(items or [])
        self.sorted: list[float] = sorted(self.fifo)

    def __len__(self) -> int:
        return len(self.fifo)

    def mid_rank(self, x: float) -> float:
        """Share of the window below x, ties counted half: 0.5 for a typical value, 1 for a new record."""
        below = bisect.bisect_left(self.sorted, x)
        ties = bisect.bisect_right(self.sorted, x) - below
        return (below + 0.5 * ties) / len(self.sorted)

    def distance_to_nearest(self, x: float) -> float:
        i = bisect.bisect_left(self.sorted, x)
        nearest = math.inf
        if i < len(self.sorted):
            nearest = self.sorted[i] - x
        if i > 0:
            nearest = min(nearest, x - self.sorted[i - 1])
        return nearest

    def add(self, x: float) -> None:
        self.fifo.append(x)
        bisect.insort(self.sorted, x)
        if len(self.fifo) > self.capacity:
            old = self.fifo.popleft()
            del self.sorted[bisect.bisect_left(self.sorted, old)]


@dataclass
class _State:
    n: int = 0  # finite points learnt
    window: deque[float] = field(default_factory=deque)  # values for the median
    median: float = 0.0
    since_refresh: int = 0
    recent_raw: deque[float] = field(default_factory=deque)  # raw surprises being averaged
    averages: deque[float] = field(default_factory=deque)  # averaged surprises for the Gaussian
    averages_seen: int = 0
    mean: float = 0.0
    std: float = 0.0  # 0: no Gaussian fitted yet
    since_refit: int = 0
    previous_red: bool = False
    seen_min: float | None = None
    seen_max: float | None = None
    patterns: list[SuppressionPattern] = field(default_factory=list)


class StreamingDetector:
    """Online anomaly scores in [0, 1]. `update(value, hour)` per point; `score_series` for a whole array."""

    def __init__(self, config: DetectorConfig | None = None) -> None:
        self.config = config or DetectorConfig()
        self._s = _State()
        self._deviations = _SortedWindow(self.config.rarity_history)
        self._values = _SortedWindow(self.config.value_history)

    # --- scoring -------------------------------------------------------------------------------

    def update(self, value: float, hour: int | None = None) -> float:
        """Score one point against the past, then learn from it."""
        value = float(value)
        if not math.isfinite(value):
            return 0.0  # a missing sample is evidence of nothing
        suppressed = any(p.matches(value, hour) for p in self._s.patterns)
        raw = self._raw_surprise(value, suppressed)
        score = self._likelihood_score(raw)
        if not suppressed and self._is_novel(value):
            score = 1.0
        if suppressed:
            score = 0.0
        self._learn(value)
        return score

    def _raw_surprise(self, value: float, suppressed: bool) -> float | None:
        """Step 1 (None while too little is known to measure a deviation)."""
        s, cfg = self._s, self.config
        if len(s.window) < cfg.min_history:
            return None
        if s.since_refresh <= 0:
            s.median = float(np.median(np.fromiter(s.window, dtype=float, count=len(s.window))))
            s.since_refresh = cfg.refresh
        deviation = abs(value - s.median)
        raw = 0.0
        if len(self._deviations) >= cfg.rarity_warmup and not suppressed:
            raw = self._deviations.mid_rank(deviation)
        self._deviations.add(deviation)
        return raw

    def _likelihood_score(self, raw: float | None) -> float:
        """Step 2: log-scaled tail probability of the averaged raw surprise under its long-run Gaussian."""
        s, cfg = self._s, self.config
        if raw is None:
            return 0.0
        s.recent_raw.append(raw)
        if len(s.recent_raw) > cfg.average_window:
            s.recent_raw.popleft()
        average = sum(s.recent_raw) / len(s.recent_raw)
        s.averages.append(average)
        s.averages_seen += 1
        if len(s.averages) > cfg.likelihood_history:
            s.averages.popleft()
        if s.averages_seen <= cfg.likelihood_learning + cfg.likelihood_warmup:
            return 0.0
        if s.since_refit <= 0 or s.std == 0.0:
            self._refit()
        s.since_refit -= 1
        if math.isinf(s.std):
            return 0.0  # a flat metric: nothing to be surprised by but a new value (step 3)
        z = abs(average - s.mean) / s.std  # below the mean is as unlikely as above (HTM's two-sided tail)
        tail = 0.5 * math.erfc(z / math.sqrt(2.0))
        red = tail <= cfg.red_tail
        if red and s.previous_red:
            tail = cfg.repeat_tail  # the run was announced at its first point
        s.previous_red = red
        return min(1.0, math.log(tail + _LOG_FLOOR) / math.log(_LOG_FLOOR))

    def _refit(self) -> None:
        s, cfg = self._s, self.config
        # leave out the averages of the learning period while they are still in the window
        skip = max(0, cfg.likelihood_learning - (s.averages_seen - len(s.averages)))
        averages = np.fromiter(s.averages, dtype=float, count=len(s.averages))[skip:]
        recent = np.fromiter(self._values.fifo, dtype=float, count=len(self._values))
        recent = recent[-averages.size :] if averages.size else recent
        if recent.size and float(recent.var()) < cfg.flat_variance:
            s.mean, s.std = 0.5, math.inf
        else:
            s.mean = max(float(averages.mean()), cfg.min_mean)
            s.std = math.sqrt(max(float(averages.var()), cfg.min_variance))
        s.since_refit = cfg.likelihood_refit

    def _is_novel(self, value: float) -> bool:
        """Step 3: outside the seen range, or far from every recent value, by more than the tolerance."""
        s, cfg = self._s, self.config
        if s.n < cfg.min_history or s.seen_min is None or s.seen_max is None:
            return False  # the range only means something once the series has shown a stretch of itself
        # a series flat so far: any other value is new (relative to its magnitude, not to a zero range)
        tolerance = cfg.range_tolerance * (s.seen_max - s.seen_min) or 1e-9 * max(abs(s.seen_max), 1.0)
        if value > s.seen_max + tolerance or value < s.seen_min - tolerance:
            return True
        return self._values.distance_to_nearest(value) > tolerance

    def _learn(self, value: float) -> None:
        s, cfg = self._s, self.config
        s.window.append(value)
        if len(s.window) > cfg.history:
            s.window.popleft()
        s.since_refresh -= 1
        self._values.add(value)
        s.seen_min = value if s.seen_min is None else min(s.seen_min, value)
        s.seen_max = value if s.seen_max is None else max(s.seen_max, value)
        s.n += 1

    def score_series(self, values: np.ndarray | list[float], hours: list[int] | None = None) -> np.ndarray:
        """Scores of a whole series, point by point (the same as calling `update` for each)."""
        out = np.empty(len(values))
        for i, value in enumerate(values):
            out[i] = self.update(float(value), hours[i] if hours is not None else None)
        return out

    # --- dismissals ----------------------------------------------------------------------------

    def suppress(self, pattern: SuppressionPattern | dict[str, Any]) -> None:
        """Learn from a dismissed anomaly: values in this band (at these hours) are normal from now on."""
        if isinstance(pattern, dict):
            hours = pattern.get("hours")
            pattern = SuppressionPattern(
                low=float(pattern["low"]),
                high=float(pattern["high"]),
                hours=[int(h) for h in hours] if hours is not None else None,
            )
        if pattern.low > pattern.high:
            raise ValueError("suppression band: low must not exceed high")
        if pattern.hours is not None and any(not 0 <= h <= 23 for h in pattern.hours):
            raise ValueError("suppression hours must be within 0..23")
        self._s.patterns.append(pattern)

    @property
    def patterns(self) -> list[SuppressionPattern]:
        return list(self._s.patterns)

    @property
    def points_seen(self) -> int:
        return self._s.n

    # --- persistence ---------------------------------------------------------------------------

    def to_state(self) -> dict[str, Any]:
        s = self._s
        return {
            "version": STATE_VERSION,
            "config": asdict(self.config),
            "n": s.n,
            "window": list(s.window),
            "median": s.median,
            "since_refresh": s.since_refresh,
            "deviations": list(self._deviations.fifo),
            "values": list(self._values.fifo),
            "recent_raw": list(s.recent_raw),
            "averages": list(s.averages),
            "averages_seen": s.averages_seen,
            "mean": s.mean,
            "std": None if math.isinf(s.std) else s.std,  # JSON has no infinity: None marks a flat metric
            "since_refit": s.since_refit,
            "previous_red": s.previous_red,
            "seen_min": s.seen_min,
            "seen_max": s.seen_max,
            "patterns": [asdict(p) for p in s.patterns],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_state())

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> StreamingDetector:
        version = state.get("version")
        if version in _OLD_STATE_VERSIONS:
            # an earlier detector's state cannot be converted: keep the dismissals, relearn the series
            fresh = cls()
            for pattern in state.get("patterns", []):
                fresh.suppress(pattern)
            return fresh
        if version != STATE_VERSION:
            raise ValueError(f"unsupported detector state version {version!r}")
        known = {f for f in DetectorConfig.__dataclass_fields__}
        detector = cls(DetectorConfig(**{k: v for k, v in state["config"].items() if k in known}))
        s = detector._s
        s.n = int(state["n"])
        s.window = deque(float(v) for v in state["window"])
        s.median = float(state["median"])
        s.since_refresh = int(state["since_refresh"])
        detector._deviations = _SortedWindow(detector.config.rarity_history, [float(v) for v in state["deviations"]])
        detector._values = _SortedWindow(detector.config.value_history, [float(v) for v in state["values"]])
        s.recent_raw = deque(float(v) for v in state["recent_raw"])
        s.averages = deque(float(v) for v in state["averages"])
        s.averages_seen = int(state["averages_seen"])
        s.mean = float(state["mean"])
        s.std = math.inf if state["std"] is None else float(state["std"])
        s.since_refit = int(state["since_refit"])
        s.previous_red = bool(state["previous_red"])
        s.seen_min = None if state["seen_min"] is None else float(state["seen_min"])
        s.seen_max = None if state["seen_max"] is None else float(state["seen_max"])
        s.patterns = [SuppressionPattern(**p) for p in state["patterns"]]
        return detector

    @classmethod
    def from_json(cls, text: str) -> StreamingDetector:
        return cls.from_state(json.loads(text))


def score_series(values: np.ndarray | list[float], config: DetectorConfig | None = None) -> np.ndarray:
    """A fresh detector's scores for a whole series."""
    return StreamingDetector(config).score_series(values)
