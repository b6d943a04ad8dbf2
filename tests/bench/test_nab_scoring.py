"""NAB scoring reimplementation checked against hand-worked examples and NAB's published per-file counts."""

from __future__ import annotations

import csv
import math
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

import nab_scoring as ns  # noqa: E402

STANDARD = ns.PROFILES["standard"]
NAB_DIR = ROOT / ".." / "shared" / "data" / "nab"


def test_scaled_sigmoid_hand_values() -> None:
    # S(x) = 2 / (1 + e^{5x}) - 1
    assert ns.scaled_sigmoid(-1.0) == pytest.approx(2 / (1 + math.exp(-5)) - 1) == pytest.approx(0.986614, abs=1e-6)
    assert ns.scaled_sigmoid(-0.5) == pytest.approx(0.848284, abs=1e-6)
    assert ns.scaled_sigmoid(0.0) == 0.0
    assert ns.scaled_sigmoid(2 / 3) == pytest.approx(-0.931110, abs=1e-6)
    assert ns.scaled_sigmoid(2.99) == pytest.approx(-0.999999, abs=1e-6)
    assert ns.scaled_sigmoid(3.0) == -1.0  # nab/sweeper.py: x >= 3 is a FP well behind the window


def test_probation_length() -> None:
    assert ns.probation_length(20) == 3  # floor(0.15 * 20)
    assert ns.probation_length(4032) == 604
    assert ns.probation_length(18050) == 750  # capped at 0.15 * 5000


def _file(scores: list[float], spans: list[tuple[int, int]], name: str = "f.csv") -> ns.FileInput:
    return ns.FileInput(name, scores, spans)


def _total(scores: list[float], spans: list[tuple[int, int]], threshold: float) -> ns.ThresholdScore:
    rows = ns.sweep_rows(scores, spans, "f.csv", STANDARD)
    return ns.score_at(ns.scores_by_threshold(rows, STANDARD), threshold)


def test_detection_at_window_start_earns_full_reward() -> None:
    # 20 rows, probation 3, one window rows 10..13 (width 4); a detection at row 10 sits at x = -(13-10+1)/4 = -1
    scores = [0.0] * 20
    scores[10] = 1.0
    assert _total(scores, [(10, 13)], 0.5).score == pytest.approx(1.0)


def test_later_detection_earns_less_and_only_first_counts() -> None:
    # detections at rows 12 and 13: row 12 sits at x = -(13-12+1)/4 = -0.5 → S(-0.5)/S(-1) = 0.859787;
    # row 13 (x = -0.25) would earn less, and a window counts its best detection once
    scores = [0.0] * 20
    scores[12] = scores[13] = 0.9
    result = _total(scores, [(10, 13)], 0.5)
    assert result.score == pytest.approx(0.848284 / 0.986614, abs=1e-6)
    assert (result.tp, result.fp, result.fn) == (2, 0, 2)


def test_false_positives_weighted_by_distance_after_window() -> None:
    # window 10..13 missed (-1); FP at row 5, before any window: -0.11;
    # FP at row 15: x = |15 - 13| / (4 - 1) = 2/3 → 0.11 * S(2/3) = -0.102422
    scores = [0.0] * 20
    scores[5] = scores[15] = 1.0
    result = _total(scores, [(10, 13)], 0.5)
    assert result.score == pytest.approx(-1.0 - 0.11 + 0.11 * -0.931110, abs=1e-6)
    assert (result.tp, result.fp, result.tn, result.fn) == (0, 2, 11, 4)


def test_probationary_rows_never_count() -> None:
    # a detection in the first floor(0.15 N) rows is neither a FP nor a TP
    scores = [0.0] * 20
    scores[1] = 1.0
    result = _total(scores, [], 0.5)
    assert result.score == 0.0
    assert result.fp == 0


def test_threshold_sweep_picks_best_and_breaks_ties_high() -> None:
    # scores: window 10..13 detected at row 10 with 0.8; a FP at row 5 with 0.6
    # t = 0.8 → +1.0 ; t = 0.6 → 1.0 - 0.11 = 0.89 ; t = 1.1 → -1 ; t = 0.0 (every row) is worse
    scores = [0.0] * 20
    scores[10] = 0.8
    scores[5] = 0.6
    table = ns.scores_by_threshold(ns.sweep_rows(scores, [(10, 13)], "f", STANDARD), STANDARD)
    assert [round(r.threshold, 2) for r in table] == [1.1, 0.8, 0.6, 0.0]
    assert [round(r.score, 4) for r in table][:3] == [-1.0, 1.0, 0.89]
    assert ns.best_threshold(table).threshold == 0.8
    # a tie keeps the higher threshold, as NAB's stable sort does
    tie = [ns.ThresholdScore(0.9, 1.0, 0, 0, 0, 0), ns.ThresholdScore(0.5, 1.0, 0, 0, 0, 0)]
    assert ns.best_threshold(tie).threshold == 0.9


def test_score_at_threshold_between_distinct_scores() -> None:
    scores = [0.0] * 20
    scores[10] = 0.8
    scores[5] = 0.6
    # 0.7 lies between 0.8 and 0.6: detections are rows with score >= 0.7, i.e. only row 10
    assert _total(scores, [(10, 13)], 0.7).score == pytest.approx(1.0)


def test_corpus_threshold_normalisation_against_null_and_perfect() -> None:
    # file a: window 10..13 caught at its start by 0.9, no FP; file b: window 10..13, only a FP at row 16 (0.9)
    a = [0.0] * 20
    a[10] = 0.9
    b = [0.0] * 20
    b[16] = 0.9
    result = ns.score_corpus([_file(a, [(10, 13)], "a"), _file(b, [(10, 13)], "b")], STANDARD)
    fp = 0.11 * ns.scaled_sigmoid(3 / 3)  # |16 - 13| / (4 - 1) = 1
    assert result["threshold"] == 0.9
    assert result["raw"] == pytest.approx(1.0 + (-1.0 + fp))
    # null (constant 0.5): no detection scores -2; detecting every row scores, per file, +1 for the window,
    # 7 FPs before it (rows 3..9) at -0.11 each, and 6 after it at x = 1/3 .. 2 → the better of the two
    after = sum(0.11 * ns.scaled_sigmoid(k / 3) for k in range(1, 7))
    assert result["null"] == pytest.approx(max(-2.0, 2 * (1.0 - 7 * 0.11 + after)))
    assert result["perfect"] == 2.0
    raw, null = float(result["raw"]), float(result["null"])  # type: ignore[arg-type]
    assert result["normalised"] == pytest.approx(100 * (raw - null) / (2.0 - null))


def _naive_score(scores: list[float], spans: list[tuple[int, int]], threshold: float) -> float:
    """NAB's per-threshold Scorer written directly: first TP per window, each FP by its preceding window."""
    n = len(scores)
    probation = ns.probation_length(n)
    detected = [i >= probation and s >= threshold for i, s in enumerate(scores)]
    total = 0.0
    for left, right in spans:
        hits = [i for i in range(left, right + 1) if detected[i]]
        if not hits and right >= probation:
            total -= STANDARD.fn_weight
        elif hits:
            width = right - left + 1
            total += ns.scaled_sigmoid(-(right - hits[0] + 1) / width) / ns.scaled_sigmoid(-1.0)
    for i in range(n):
        if not detected[i] or any(left <= i <= right for left, right in spans):
            continue
        before = [(lft, r) for lft, r in spans if r < i]
        if not before:
            total -= STANDARD.fp_weight
        else:
            left, right = before[-1]
            total += STANDARD.fp_weight * ns.scaled_sigmoid(abs(i - right) / (right - left))
    return total


def test_sweep_matches_direct_scoring_on_random_files() -> None:
    rng = np.random.default_rng(7)
    for _ in range(20):
        n = int(rng.integers(100, 200))
        scores = np.round(rng.random(n), 2).tolist()
        left = int(rng.integers(n // 5, n // 2))
        spans = [(left, left + 9), (left + 30, left + 44)]
        for threshold in (0.5, 0.8, 0.95, 0.99):
            assert _total(scores, spans, threshold).score == pytest.approx(_naive_score(scores, spans, threshold))


def test_window_indices_from_timestamps() -> None:
    ts = ns.parse_timestamps([f"2014-01-01 00:{m:02d}:00" for m in range(0, 60, 5)])
    spans = ns.window_indices(ts, [["2014-01-01 00:10:00.000000", "2014-01-01 00:25:00.000000"]])
    assert spans == [(2, 5)]


@pytest.mark.skipif(not (NAB_DIR / "results").is_dir(), reason="NAB data not present")
def test_window_rows_match_published_counts() -> None:
    """Every published per-file row has TP + FN = window rows after probation; ours must agree."""
    windows = ns.load_windows(NAB_DIR / "labels" / "combined_windows.json")
    with (NAB_DIR / "results" / "per_file_scores_selected.csv").open() as fh:
        published = {
            r["File"]: r for r in csv.DictReader(fh) if (r["Detector"], r["Profile"]) == ("ARTime", "standard")
        }
    assert published
    for rel, row in published.items():
        path = NAB_DIR / "data" / rel
        with path.open() as fh:
            stamps = [line.split(",")[0] for line in fh.read().splitlines()[1:]]
        spans = ns.window_indices(ns.parse_timestamps(stamps), windows[rel])
        labels = ns.window_labels(len(stamps), spans)
        probation = math.ceil(ns.probation_length(len(stamps)))
        assert int(labels[probation:].sum()) == int(row["TP"]) + int(row["FN"]), rel
        assert len(stamps) - probation == int(row["Total_Count"]), rel


def test_hand_worked_file_with_two_windows() -> None:
    # 40 rows: probation floor(0.15 * 40) = 6 rows; window A rows 10..19 (width 10), window B rows 30..34 (width 5).
    # Detections (score >= 0.5) and what NAB's rules make of each, worked by hand:
    #   row 3   inside probation: ignored
    #   row 8   FP before any window:                                      -0.11
    #   row 15  first TP of A, x = -(19 - 15 + 1) / 10 = -0.5: S(-0.5) / S(-1) = 0.848284 / 0.986614 = +0.859793
    #   row 17  later TP of A: counted as a TP row, adds nothing
    #   row 21  FP after A, x = |21 - 19| / (10 - 1) = 0.2222: 0.11 * S(0.2222) = 0.11 * -0.504672 = -0.055514
    #   row 28  FP after A, x = 9 / 9 = 1: 0.11 * S(1) = 0.11 * -0.986614 = -0.108528
    #   window B has no detection: FN                                       -1.0
    scores = [0.0] * 40
    for row in (3, 8, 15, 17, 21, 28):
        scores[row] = 0.9
    result = _total_rows(scores, [(10, 19), (30, 34)], 40)
    assert result.score == pytest.approx(-0.11 + 0.859793 - 0.055514 - 0.108528 - 1.0, abs=2e-6)
    # counts over the 34 scored rows: 15 window rows (2 detected), 19 outside (3 detected)
    assert (result.tp, result.fn, result.fp, result.tn) == (2, 13, 3, 16)


def _total_rows(scores: list[float], spans: list[tuple[int, int]], n: int) -> ns.ThresholdScore:
    assert len(scores) == n
    return _total(scores, spans, 0.5)


@pytest.mark.skipif(not (NAB_DIR / "results").is_dir(), reason="NAB data not present")
def test_windowed_gaussian_reproduces_published_per_file_scores() -> None:
    """NAB's own windowedGaussian, scored here at its published threshold, earns exactly its published per-file
    scores and counts: the window mapping, probation, sigmoid weights and FP rule all agree with NAB's scorer."""
    import nab  # bench/nab.py

    windows = ns.load_windows(NAB_DIR / "labels" / "combined_windows.json")
    with (NAB_DIR / "results" / "per_file_scores_selected.csv").open() as fh:
        published = [r for r in csv.DictReader(fh) if (r["Detector"], r["Profile"]) == ("windowedGaussian", "standard")]
    assert len(published) == 12
    for row in published:
        stamps, values = nab.read_series(NAB_DIR / "data" / row["File"])
        spans = ns.window_indices(ns.parse_timestamps(stamps), windows[row["File"]])
        rows = ns.sweep_rows(nab.windowed_gaussian(values), spans, row["File"], STANDARD)
        got = ns.score_at(ns.scores_by_threshold(rows, STANDARD), float(row["Threshold"]))
        assert got.score == pytest.approx(float(row["Score"]), abs=1e-6), row["File"]
        assert (got.tp, got.fp, got.fn) == (int(row["TP"]), int(row["FP"]), int(row["FN"])), row["File"]
