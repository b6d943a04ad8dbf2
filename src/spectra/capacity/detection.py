"""The streaming anomaly detector shared by capacity (metric anomalies) and carbon (runaway, spikes, cost).

Every point gets a score in [0, 1]; 1 means "more extreme than anything in this series' recent history".
The detector is online (one point at a time, bounded memory), and its whole state serialises to JSON so a
periodic job can resume it where it stopped.

How a score is made (each step answers one question):

1. Surprise of the value ("level"): how far the last few values lie from what a long sliding window
   makes plausible, as a robust z-score (median and MAD of the window, refreshed every few points).
2. Rarity: a surprise only matters if it is rare *for this series*. The level surprise is averaged over
   a few points and ranked against its own recent history; the score is -log(p) / log(n + 1), where p
   is the share of past surprises at least as large (1 for a new record). Ranking instead of
   thresholding z-scores makes scores comparable across series of any unit and noise level.
3. Leaving the range ("range"): a value beyond the highest/lowest seen so far (plus a tolerance) is an
   event of its own, scored by how far it goes (1 - exp(-excess / range_scale), excess as a share of
   the seen range), not averaged: a new high is what saturation looks like, a new low a dead service.
4. Alerts are edges, not plateaus: once a score reaches the alert level, the rest of that episode is
   damped (an operator needs the first warning, not one per sample).

`suppress(pattern)` records a dismissed anomaly (a value band, optionally at hours of day); later points
matching a suppressed pattern score 0 and do not start an episode, so a dismissal teaches the detector.
"""

from __future__ import annotations

import bisect
import json
import math
from collections import deque
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

STATE_VERSION = 1
FEATURES = ("level",)  # surprises that are ranked against their own history


@dataclass(frozen=True)
class DetectorConfig:
    history: int = 1000  # sliding window of values the plausible level is learnt from
    refresh: int = 12  # recompute the window's median/MAD every this many points
    min_history: int = 50  # values needed before any surprise is measured
    average_window: int = 5  # surprises are averaged over this many points
    rarity_history: int = 3000  # past averaged surprises a new one is ranked against
    rarity_warmup: int = 100  # ranked surprises needed before a score other than 0
    alert_level: float = 0.9  # an output at or above this starts an episode
    refractory: int = 300  # points of an episode during which later outputs are damped
    refractory_factor: float = 0.5  # damped output = score x factor
    range_tolerance: float = 0.05  # share of the seen range a value may exceed before it surprises
    range_scale: float = 0.05  # an excess of this share of the seen range scores 1 - 1/e


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


class _Ranked:
    """A bounded FIFO of numbers kept sorted as well, to rank a new number against it in O(log n)."""

    def __init__(self, capacity: int, items: list[float] | None = None) -> None:
        self.capacity = capacity
        self.fifo: deque[float] = deque(items or [])
        self.sorted: list[float] = sorted(self.fifo)

    def __len__(self) -> int:
        return len(self.fifo)

    def share_at_least(self, x: float) -> float:
        """(number of past values >= x, plus one) / (count + 1): 1 / (n + 1) for a new record."""
        at_least = len(self.sorted) - bisect.bisect_left(self.sorted, x)
        return (at_least + 1) / (len(self.sorted) + 1)

    def add(self, x: float) -> None:
        self.fifo.append(x)
        bisect.insort(self.sorted, x)
        if len(self.fifo) > self.capacity:
            old = self.fifo.popleft()
            del self.sorted[bisect.bisect_left(self.sorted, old)]


@dataclass
class _State:
    n: int = 0
    values: deque[float] = field(default_factory=deque)
    median: float = 0.0
    scale: float = 1.0
    since_refresh: int = 0
    seen_min: float | None = None
    seen_max: float | None = None
    recent: dict[str, deque[float]] = field(default_factory=lambda: {f: deque() for f in FEATURES})
    refractory_left: int = 0
    patterns: list[SuppressionPattern] = field(default_factory=list)


class StreamingDetector:
    """Online anomaly scores in [0, 1]. `update(value, hour)` per point; `score_series` for a whole array."""

    def __init__(self, config: DetectorConfig | None = None) -> None:
        self.config = config or DetectorConfig()
        self._s = _State()
        self._ranked = {f: _Ranked(self.config.rarity_history) for f in FEATURES}

    # --- scoring -------------------------------------------------------------------------------

    def surprises(self, value: float) -> dict[str, float]:
        """Steps 1 and 2 for a new value, against what has been learnt so far (empty while warming up)."""
        s, cfg = self._s, self.config
        if len(s.values) < cfg.min_history:
            return {}
        if s.since_refresh <= 0:
            self._refresh()
        out = {"level": abs(value - s.median) / s.scale, "range": 0.0}
        if s.seen_min is not None and s.seen_max is not None:
            spread = max(s.seen_max - s.seen_min, 1e-12)
            tolerance = cfg.range_tolerance * spread
            excess = max(value - (s.seen_max + tolerance), (s.seen_min - tolerance) - value, 0.0)
            out["range"] = excess / spread
        return out

    def _refresh(self) -> None:
        s = self._s
        window = np.fromiter(s.values, dtype=float, count=len(s.values))
        median = float(np.median(window))
        mad = float(np.median(np.abs(window - median))) * 1.4826
        spread = float(window.max() - window.min())
        # a flat window has MAD 0: measure against a small share of its range (or magnitude) instead
        s.median = median
        s.scale = max(mad, 1e-3 * spread, 1e-6 * max(abs(median), 1.0), 1e-12)
        s.since_refresh = self.config.refresh

    def update(self, value: float, hour: int | None = None) -> float:
        """Score one point against the past, then learn from it."""
        s, cfg = self._s, self.config
        value = float(value)
        if not math.isfinite(value):
            return 0.0  # a missing sample is evidence of nothing
        suppressed = any(p.matches(value, hour) for p in s.patterns)
        score = 0.0
        surprises = self.surprises(value)
        level = surprises.get("level")
        if level is not None:
            recent = s.recent["level"]
            recent.append(0.0 if suppressed else level)
            if len(recent) > cfg.average_window:
                recent.popleft()
            averaged = sum(recent) / len(recent)
            ranked = self._ranked["level"]
            if len(ranked) >= cfg.rarity_warmup and averaged > 0:
                rarity = -math.log(ranked.share_at_least(averaged)) / math.log(len(ranked) + 1)
                score = max(score, min(1.0, rarity))
            ranked.add(averaged)
            # leaving the range is an event of its own: scored by how far, not ranked or averaged
            if len(ranked) > cfg.rarity_warmup and surprises["range"] > 0:
                score = max(score, 1.0 - math.exp(-surprises["range"] / cfg.range_scale))
        if suppressed:
            score = 0.0
        score = self._episode(score)
        self._learn(value)
        return score

    def _episode(self, score: float) -> float:
        """Step 4: damp the rest of an episode once it has been announced."""
        s, cfg = self._s, self.config
        if s.refractory_left > 0:
            s.refractory_left -= 1
            return score * cfg.refractory_factor
        if score >= cfg.alert_level:
            s.refractory_left = cfg.refractory
        return score

    def _learn(self, value: float) -> None:
        s, cfg = self._s, self.config
        s.values.append(value)
        if len(s.values) > cfg.history:
            s.values.popleft()
        s.since_refresh -= 1
        s.n += 1
        if s.n == cfg.min_history:
            # the range only counts once the series has shown a representative stretch
            s.seen_min, s.seen_max = min(s.values), max(s.values)
        elif s.n > cfg.min_history and s.seen_min is not None and s.seen_max is not None:
            s.seen_min, s.seen_max = min(s.seen_min, value), max(s.seen_max, value)

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
            "values": list(s.values),
            "median": s.median,
            "scale": s.scale,
            "since_refresh": s.since_refresh,
            "seen_min": s.seen_min,
            "seen_max": s.seen_max,
            "recent": {name: list(q) for name, q in s.recent.items()},
            "ranked": {name: list(r.fifo) for name, r in self._ranked.items()},
            "refractory_left": s.refractory_left,
            "patterns": [asdict(p) for p in s.patterns],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_state())

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> StreamingDetector:
        if state.get("version") != STATE_VERSION:
            raise ValueError(f"unsupported detector state version {state.get('version')!r}")
        detector = cls(DetectorConfig(**state["config"]))
        s = detector._s
        s.n = int(state["n"])
        s.values = deque(float(v) for v in state["values"])
        s.median = float(state["median"])
        s.scale = float(state["scale"])
        s.since_refresh = int(state["since_refresh"])
        s.seen_min = None if state["seen_min"] is None else float(state["seen_min"])
        s.seen_max = None if state["seen_max"] is None else float(state["seen_max"])
        s.recent = {name: deque(float(v) for v in state["recent"].get(name, [])) for name in FEATURES}
        detector._ranked = {
            name: _Ranked(detector.config.rarity_history, [float(v) for v in state["ranked"].get(name, [])])
            for name in FEATURES
        }
        s.refractory_left = int(state["refractory_left"])
        s.patterns = [SuppressionPattern(**p) for p in state["patterns"]]
        return detector

    @classmethod
    def from_json(cls, text: str) -> StreamingDetector:
        return cls.from_state(json.loads(text))


def score_series(values: np.ndarray | list[float], config: DetectorConfig | None = None) -> np.ndarray:
    """A fresh detector's scores for a whole series."""
    return StreamingDetector(config).score_series(values)
