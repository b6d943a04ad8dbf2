"""The shared streaming detector: novelty, anomaly likelihood, alarm runs, suppression, resumable state."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from spectra.capacity.detection import DetectorConfig, StreamingDetector, SuppressionPattern

CFG = DetectorConfig()
# points before the likelihood can speak: deviations need min_history values, then its learning and warm-up
LIKELIHOOD_START = CFG.min_history + CFG.likelihood_learning + CFG.likelihood_warmup
REPEAT_SCORE = math.log(CFG.repeat_tail + 1e-10) / math.log(1e-10)  # 0.3: a later alarm of the same run


def _noise(n: int, seed: int = 1) -> np.ndarray:
    return 50.0 + np.random.default_rng(seed).normal(0.0, 1.0, n)


def test_spike_beyond_the_seen_range_scores_one_and_noise_stays_low() -> None:
    values = _noise(1200)
    values[1000] = 80.0  # 30 sigma, far beyond the range seen so far
    scores = StreamingDetector().score_series(values)
    assert np.all((scores >= 0.0) & (scores <= 1.0))
    assert scores[1000] == 1.0
    # plain Gaussian noise: an alert now and then at most (a new extreme while the range still widens)
    assert np.mean(scores[LIKELIHOOD_START:1000] >= CFG.alert_level) < 0.01
    assert np.median(scores[LIKELIHOOD_START:1000]) < 0.1


def test_value_inside_the_range_but_far_from_every_known_value_scores_one() -> None:
    # a metric that idles near 1 with a regular burst to 20: both levels are known; 10 never was
    values = 1.0 + np.random.default_rng(2).normal(0.0, 0.05, 1500)
    values[100::150] = 20.0
    values[1420] = 10.0  # half-height: inside the seen range, > 5 % of it from any earlier value
    scores = StreamingDetector().score_series(values)
    assert scores[1420] == 1.0
    assert np.all(scores[1300:1420] < 1.0)  # the regular bursts are known levels by then
    assert scores[1450] < 1.0


def test_nothing_is_judged_before_min_history() -> None:
    values = _noise(CFG.min_history)
    values[10] = 500.0  # a spike before anything has been learnt is not judged
    assert np.all(StreamingDetector().score_series(values) == 0.0)


def test_a_flat_series_that_moves_is_novel() -> None:
    values = np.full(400, 3.0)
    values[300] = 3.5
    scores = StreamingDetector().score_series(values)
    assert scores[300] == 1.0
    assert np.all(scores[:300] == 0.0)


def test_lasting_change_inside_known_values_alarms_once_per_run() -> None:
    # values spread over 0..10 with median 5; then they alternate between the known extremes 0 and 10:
    # no single value is new, but every deviation from the median is as large as any seen, for a long run
    rng = np.random.default_rng(3)
    calm = np.round(rng.uniform(0.0, 10.0, 800), 1)
    calm[::40] = [0.0, 10.0] * 10  # the extremes occur now and then
    extremes = np.tile([0.0, 10.0], 40)
    values = np.concatenate([calm, extremes])
    scores = StreamingDetector().score_series(values)
    run = scores[800:]
    assert np.max(scores[LIKELIHOOD_START:800]) < CFG.alert_level
    first = int(np.argmax(run >= CFG.alert_level))
    assert run[first] >= CFG.alert_level and first < 10  # announced within a few points of the change
    # the rest of the run is lowered to the repeat level: one warning, not one per sample
    assert np.sum(run >= CFG.alert_level) == 1
    assert run[first + 1 :].max() == pytest.approx(REPEAT_SCORE)


def test_single_outlier_within_the_known_levels_is_not_an_alarm() -> None:
    values = _noise(900, seed=4)
    values[800] = float(values[:800].max())  # a known level: no novelty; one large deviation in ten points
    scores = StreamingDetector().score_series(values)
    assert scores[800] < CFG.alert_level


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
    det = StreamingDetector()
    det.suppress({"low": 75.0, "high": 85.0})
    scores = det.score_series(values)
    assert scores[1000] == 0.0
    assert det.patterns == [SuppressionPattern(75.0, 85.0, None)]


def test_suppression_by_hour_only_covers_those_hours() -> None:
    values = _noise(1200)
    values[1000] = 80.0
    hours = [0] * 1200
    det = StreamingDetector()
    det.suppress(SuppressionPattern(75.0, 85.0, hours=[3]))  # dismissed at 03:00, this one is at 00:00
    assert det.score_series(values, hours)[1000] == 1.0


def test_invalid_patterns_rejected() -> None:
    det = StreamingDetector()
    with pytest.raises(ValueError):
        det.suppress({"low": 5, "high": 1})
    with pytest.raises(ValueError):
        det.suppress({"low": 1, "high": 5, "hours": [24]})


def test_state_round_trips_through_json_and_resumes_identically() -> None:
    values = _noise(1500, seed=3)
    values[1200] = 70.0
    values[900:960] += np.tile([4.0, -4.0], 30)  # a run the likelihood sees, across the split
    whole = StreamingDetector().score_series(values)
    first = StreamingDetector()
    first.suppress({"low": 90, "high": 95, "hours": [1, 2]})
    head = first.score_series(values[:930])
    text = first.to_json()
    json.loads(text)  # plain JSON
    resumed = StreamingDetector.from_json(text)
    tail = resumed.score_series(values[930:])
    assert np.array_equal(np.concatenate([head, tail]), whole)
    assert resumed.patterns == first.patterns
    assert resumed.to_state() == StreamingDetector.from_state(resumed.to_state()).to_state()


def test_flat_metric_state_round_trips() -> None:
    det = StreamingDetector()
    det.score_series(np.full(600, 7.0))  # fitted as flat: no Gaussian (infinite spread) in the state
    state = json.loads(det.to_json())
    assert state["std"] is None
    assert StreamingDetector.from_state(state).to_state() == det.to_state()


def test_earlier_state_version_restarts_learning_and_keeps_dismissals() -> None:
    old = {"version": 1, "n": 5000, "patterns": [{"low": 1.0, "high": 2.0, "hours": None}]}
    det = StreamingDetector.from_state(old)
    assert det.points_seen == 0
    assert det.patterns == [SuppressionPattern(1.0, 2.0, None)]


def test_unknown_state_version_rejected() -> None:
    state = StreamingDetector().to_state()
    state["version"] = 99
    with pytest.raises(ValueError):
        StreamingDetector.from_state(state)
