"""What turns detector scores into a named anomaly: runaway process, idle waste, carbon spike, cost anomaly.

The shared detector (spectra.capacity.detection) gives every point a score in [0, 1]; these rules add
what makes a finding actionable: a minimum duration, a physical condition (CPU pegged, CPU near zero,
emission rate well above its baseline), an evidence window and the figures a person needs to judge it.
Idle waste needs no detector: a long run of near-zero CPU on a running instance is waste by definition.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from spectra.capacity.detection import DetectorConfig

KINDS = ("runaway_process", "idle_waste", "carbon_spike", "cost_anomaly")


@dataclass(frozen=True)
class Finding:
    kind: str
    start: int  # index of the first point of the evidence window
    end: int  # index of the last point (inclusive)
    score: float
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RuleConfig:
    score_threshold: float = field(default_factory=lambda: DetectorConfig().alert_level)  # the detector's alert level
    runaway_cpu_pct: float = 85.0
    runaway_min_hours: float = 1.0
    idle_cpu_pct: float = 5.0
    idle_min_hours: float = 24.0
    spike_ratio: float = 1.5
    spike_min_hours: float = 1.0


def runs(mask: np.ndarray, min_len: int) -> list[tuple[int, int]]:
    """(start, end inclusive) of every run of True at least `min_len` long."""
    if mask.size == 0:
        return []
    padded = np.concatenate(([False], mask.astype(bool), [False]))
    edges = np.flatnonzero(np.diff(padded.astype(np.int8)))
    starts, stops = edges[0::2], edges[1::2]
    return [(int(s), int(e) - 1) for s, e in zip(starts, stops, strict=True) if e - s >= max(1, min_len)]


def _samples(hours: float, step_hours: float) -> int:
    return max(1, int(np.ceil(hours / step_hours - 1e-9)))


def find_runaway(cpu: np.ndarray, scores: np.ndarray, step_hours: float, cfg: RuleConfig) -> list[Finding]:
    """Sustained CPU at or above the runaway level that the detector also finds abnormal."""
    hot = cpu >= cfg.runaway_cpu_pct
    flagged = hot & (scores >= cfg.score_threshold)
    out = []
    for start, end in runs(hot, _samples(cfg.runaway_min_hours, step_hours)):
        if not flagged[start : end + 1].any():
            continue  # pegged, but the detector says that is this instance's normal
        before = cpu[:start]
        baseline = float(np.nanmedian(before)) if before.size else float("nan")
        out.append(
            Finding(
                "runaway_process",
                start,
                end,
                float(np.nanmax(scores[start : end + 1])),
                {
                    "metric": "cpu_percent",
                    "mean": round(float(np.nanmean(cpu[start : end + 1])), 2),
                    "peak": round(float(np.nanmax(cpu[start : end + 1])), 2),
                    "baseline_median": round(baseline, 2) if np.isfinite(baseline) else None,
                    "hours": round((end - start + 1) * step_hours, 2),
                    "rule": f"CPU ≥ {cfg.runaway_cpu_pct:g}% for ≥ {cfg.runaway_min_hours:g} h "
                    f"and detector score ≥ {cfg.score_threshold:g}",
                },
            )
        )
    return out


def find_idle(cpu: np.ndarray, step_hours: float, cfg: RuleConfig) -> list[Finding]:
    """Long near-zero CPU while running: its energy, carbon and cost buy nothing."""
    out = []
    need = _samples(cfg.idle_min_hours, step_hours)
    for start, end in runs(cpu <= cfg.idle_cpu_pct, need):
        hours = (end - start + 1) * step_hours
        out.append(
            Finding(
                "idle_waste",
                start,
                end,
                round(min(1.0, hours / (2 * cfg.idle_min_hours)), 4),
                {
                    "metric": "cpu_percent",
                    "mean": round(float(np.nanmean(cpu[start : end + 1])), 3),
                    "peak": round(float(np.nanmax(cpu[start : end + 1])), 3),
                    "hours": round(hours, 2),
                    "rule": f"CPU ≤ {cfg.idle_cpu_pct:g}% for ≥ {cfg.idle_min_hours:g} h",
                },
            )
        )
    return out


def find_spikes(
    kind: str, values: np.ndarray, scores: np.ndarray, step_hours: float, cfg: RuleConfig, unit: str
) -> list[Finding]:
    """Runs where the series is ≥ spike_ratio × its trailing median and the detector flags the run."""
    n = values.size
    if n == 0:
        return []
    baseline = np.full(n, np.nan)
    window = max(3, _samples(24.0, step_hours))
    for i in range(n):
        past = values[max(0, i - window) : i]
        past = past[np.isfinite(past)]
        if past.size >= 3:
            baseline[i] = float(np.median(past))
    with np.errstate(invalid="ignore", divide="ignore"):
        high = (values >= cfg.spike_ratio * baseline) & (baseline > 0)
    flagged = scores >= cfg.score_threshold
    out = []
    for start, end in runs(high, _samples(cfg.spike_min_hours, step_hours)):
        if not flagged[start : end + 1].any():
            continue  # far above the median, but the detector has seen this often enough to call it normal
        seg = values[start : end + 1]
        base = float(np.nanmedian(baseline[start : end + 1]))
        out.append(
            Finding(
                kind,
                start,
                end,
                float(np.nanmax(scores[start : end + 1])),
                {
                    "metric": unit,
                    "mean": round(float(np.nanmean(seg)), 4),
                    "peak": round(float(np.nanmax(seg)), 4),
                    "expected": round(base, 4),
                    "ratio": round(float(np.nanmean(seg)) / base, 3) if base > 0 else None,
                    "excess": round(float(np.nansum(seg - base)), 4),
                    "hours": round((end - start + 1) * step_hours, 2),
                    "rule": f"≥ {cfg.spike_ratio:g} × trailing 24 h median, detector score ≥ "
                    f"{cfg.score_threshold:g} in the run",
                },
            )
        )
    return out


def pattern_key(kind: str, instance_id: str | None, start: datetime, end: datetime) -> str:
    """What a dismissal teaches: this kind on this instance (at these hours of day, for time-bound kinds).

    Runaway processes and carbon spikes are often a known batch at a fixed hour, so their pattern
    keeps the UTC hour span; idle waste and cost anomalies are about the instance as a whole.
    """
    subject = instance_id or "-"
    if kind in ("idle_waste", "cost_anomaly") or (end - start).total_seconds() >= 20 * 3600:
        return f"{kind}:{subject}:all"
    return f"{kind}:{subject}:{start.hour:02d}-{end.hour:02d}"


def _hours(span: str) -> set[int]:
    if span == "all":
        return set(range(24))
    first, last = (int(p) for p in span.split("-"))
    out, h = {first}, first
    while h != last:
        h = (h + 1) % 24
        out.add(h)
    return out


def suppressed_by(candidate: str, patterns: list[str]) -> str | None:
    """The dismissed pattern that covers a candidate (same kind and instance, hours within ±1 h)."""
    kind, subject, span = candidate.rsplit(":", 2)
    wanted = _hours(span)
    for pattern in patterns:
        p_kind, p_subject, p_span = pattern.rsplit(":", 2)
        if (p_kind, p_subject) != (kind, subject):
            continue
        covered = _hours(p_span)
        widened = covered | {(h - 1) % 24 for h in covered} | {(h + 1) % 24 for h in covered}
        if wanted <= widened:
            return pattern
    return None
