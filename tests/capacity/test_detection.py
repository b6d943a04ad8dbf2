"""The shared streaming detector: scores, episodes, suppression, resumable state."""

from __future__ import annotations

import json

import numpy as np
import pytest

from spectra.capacity.detection import DetectorConfig, StreamingDetector, SuppressionPattern

NO_EPISODES = DetectorConfig(refractory=0)  # so a test sees raw rarity, not the damping of an earlier record


def _noise(n: int, seed: int = 1) -> np.ndarray:
    return 50.0 + np.random.default_rng(seed).normal(0.0, 1.0, n)


def test_quiet_series_then_spike_scores_the_spike_highest() -> None:
    values = _noise(1200)
    values[1000] = 80.0  # 30 sigma, far beyond the range seen so far
    scores = StreamingDetector(NO_EPISODES).score_series(values)
    assert np.all((scores >= 0.0) & (scores <= 1.0))
    assert scores[1000] == pytest.approx(1.0)  # a new record of surprise among > 100 ranked surprises
    # plain noise also sets small records now and then, but rarely: under 1 % of points near the top
    assert np.mean(scores[:1000] >= 0.9) < 0.01
    assert np.median(scores[200:1000]) < 0.3


def test_warm_up_scores_zero() -> None:
    cfg = DetectorConfig()
    values = _noise(cfg.min_history + cfg.rarity_warmup)
    values[10] = 500.0  # a spike before anything has been learnt is not judged
    scores = StreamingDetector(cfg).score_series(values)
    assert np.all(scores == 0.0)


def test_rarity_formula_for_a_record() -> None:
    # after warm-up, a surprise larger than all n ranked before scores -log(1/(n+1)) / log(n+1) = 1
    cfg = DetectorConfig(min_history=10, rarity_warmup=20, average_window=1, refractory=0)
    det = StreamingDetector(cfg)
    for v in _noise(60):
        det.update(v)
    assert det.update(1000.0) == pytest.approx(1.0)


def test_episode_damps_the_points_after_an_alert() -> None:
    cfg = DetectorConfig(refractory=50, refractory_factor=0.5)
    values = _noise(1300)
    values[1000] = 80.0
    values[1010] = 120.0  # a bigger spike inside the same episode
    scores = StreamingDetector(cfg).score_series(values)
    assert scores[1000] >= cfg.alert_level
    assert scores[1010] <= 0.5  # damped: at most 1.0 x refractory_factor
    undamped = StreamingDetector(DetectorConfig(refractory=0)).score_series(values)
    assert undamped[1010] == pytest.approx(1.0)


def test_missing_value_scores_zero_and_is_not_learnt() -> None:
    det = StreamingDetector()
    for v in _noise(200):
        det.update(v)
    seen = det.points_seen
    assert det.update(float("nan")) == 0.0
    assert det.points_seen == seen


def test_suppressed_pattern_is_no_longer_anomalous() -> None:
    values = _noise(1200)
    values[1000] = 80.0
    det = StreamingDetector(NO_EPISODES)
    det.suppress({"low": 75.0, "high": 85.0})
    scores = det.score_series(values)
    assert scores[1000] == 0.0
    assert det.patterns == [SuppressionPattern(75.0, 85.0, None)]


def test_suppression_by_hour_only_covers_those_hours() -> None:
    values = _noise(1200)
    values[1000] = 80.0
    hours = [0] * 1200
    det = StreamingDetector(NO_EPISODES)
    det.suppress(SuppressionPattern(75.0, 85.0, hours=[3]))  # dismissed at 03:00, this one is at 00:00
    assert det.score_series(values, hours)[1000] == pytest.approx(1.0)


def test_invalid_patterns_rejected() -> None:
    det = StreamingDetector()
    with pytest.raises(ValueError):
        det.suppress({"low": 5, "high": 1})
    with pytest.raises(ValueError):
        det.suppress({"low": 1, "high": 5, "hours": [24]})


def test_state_round_trips_through_json_and_resumes_identically() -> None:
    values = _noise(1500, seed=3)
    values[1200] = 70.0
    whole = StreamingDetector().score_series(values)
    first = StreamingDetector()
    first.suppress({"low": 90, "high": 95, "hours": [1, 2]})
    head = first.score_series(values[:700])
    text = first.to_json()
    json.loads(text)  # plain JSON
    resumed = StreamingDetector.from_json(text)
    tail = resumed.score_series(values[700:])
    assert np.array_equal(np.concatenate([head, tail]), whole)
    assert resumed.patterns == first.patterns
    assert resumed.to_state() == StreamingDetector.from_state(resumed.to_state()).to_state()


def test_unknown_state_version_rejected() -> None:
    state = StreamingDetector().to_state()
    state["version"] = 99
    with pytest.raises(ValueError):
        StreamingDetector.from_state(state)
