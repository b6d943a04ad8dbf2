"""Anomaly rules on hand-made series."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np

from spectra.carbon.anomalies.rules import (
    RuleConfig,
    find_idle,
    find_runaway,
    find_spikes,
    pattern_key,
    runs,
    suppressed_by,
)

CFG = RuleConfig()


def test_runs() -> None:
    mask = np.array([0, 1, 1, 0, 1, 1, 1, 0, 1], dtype=bool)
    assert runs(mask, 2) == [(1, 2), (4, 6)]
    assert runs(mask, 3) == [(4, 6)]
    assert runs(mask, 1) == [(1, 2), (4, 6), (8, 8)]
    assert runs(np.array([], dtype=bool), 1) == []


def test_runaway_needs_duration_and_the_detector() -> None:
    cpu = np.array([20.0] * 10 + [95.0] * 8 + [20.0] * 4)  # 15-minute samples: 2 h pegged
    scores = np.zeros_like(cpu)
    scores[11] = 0.9
    found = find_runaway(cpu, scores, 0.25, CFG)
    assert len(found) == 1
    f = found[0]
    assert (f.start, f.end, f.score) == (10, 17, 0.9)
    assert f.evidence["hours"] == 2.0 and f.evidence["baseline_median"] == 20.0 and f.evidence["peak"] == 95.0
    # Same shape, the detector calls it normal (e.g. a nightly batch it has learnt): no finding.
    assert find_runaway(cpu, np.zeros_like(cpu), 0.25, CFG) == []
    # Too short: 30 minutes at 95%.
    short = np.array([20.0] * 10 + [95.0] * 2 + [20.0] * 4)
    assert find_runaway(short, np.ones_like(short), 0.25, CFG) == []


def test_idle_waste() -> None:
    cpu = np.array([30.0] * 5 + [1.0] * 30 + [40.0])  # hourly: 30 h idle
    found = find_idle(cpu, 1.0, CFG)
    assert len(found) == 1
    assert (found[0].start, found[0].end) == (5, 34)
    assert found[0].score == round(30 / 48, 4)
    assert find_idle(np.array([1.0] * 23), 1.0, CFG) == []


def test_carbon_spike_against_trailing_median() -> None:
    values = np.array([100.0] * 30 + [300.0, 320.0] + [100.0] * 3)
    scores = np.zeros_like(values)
    scores[30:32] = 0.95
    found = find_spikes("carbon_spike", values, scores, 1.0, CFG, "gco2e_per_hour")
    assert len(found) == 1
    f = found[0]
    assert (f.start, f.end) == (30, 31)
    assert f.evidence["expected"] == 100.0
    assert f.evidence["excess"] == 420.0  # (300 − 100) + (320 − 100)
    assert f.evidence["ratio"] == 3.1


def test_pattern_keys_and_suppression() -> None:
    start = datetime(2026, 3, 1, 2, tzinfo=UTC)
    end = datetime(2026, 3, 1, 4, tzinfo=UTC)
    key = pattern_key("runaway_process", "i-1", start, end)
    assert key == "runaway_process:i-1:02-04"
    assert pattern_key("idle_waste", "i-1", start, end) == "idle_waste:i-1:all"
    # Next night, 03:00–05:00: within ±1 h of the dismissed 02–04 span.
    assert suppressed_by("runaway_process:i-1:03-05", [key]) == key
    assert suppressed_by("runaway_process:i-1:12-13", [key]) is None
    assert suppressed_by("runaway_process:i-2:02-04", [key]) is None
    assert suppressed_by("carbon_spike:i-1:02-04", [key]) is None
    # Spans wrapping midnight.
    assert suppressed_by("runaway_process:i-1:23-01", ["runaway_process:i-1:22-01"]) is not None


def test_spike_needs_the_detector_somewhere_in_the_run() -> None:
    values = np.array([100.0] * 30 + [300.0, 320.0, 310.0] + [100.0] * 3)
    scores = np.zeros_like(values)
    assert find_spikes("cost_anomaly", values, scores, 1.0, CFG, "usd") == []
    scores[30] = 1.0  # the detector flags only the edge of the episode (later points are damped)
    found = find_spikes("cost_anomaly", values, scores, 1.0, CFG, "usd")
    assert [(f.start, f.end) for f in found] == [(30, 32)]
