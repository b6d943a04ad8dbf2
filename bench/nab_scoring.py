"""NAB's scoring, reimplemented: anomaly windows, scaled-sigmoid weighting, threshold sweep and normalisation.

Follows the published NAB v1.1 scorer (numenta/NAB nab/sweeper.py, nab/optimizer.py, nab/runner.py):

* each file's first min(floor(0.15 N), 0.15 * 5000) rows are probationary and never scored;
* a row inside a window scores S(-(right - i + 1) / width) * tpWeight / S(-1), only the best (earliest)
  detection of a window counts, and a window with no detection costs -fnWeight;
* a row outside every window scores S(|i - prev_right| / (prev_width - 1)) * fpWeight after a window,
  -fpWeight before the first one; every such detection counts;
* S(x) = 2 / (1 + e^{5x}) - 1, and -1 for x >= 3 (nab/sweeper.py; the older nab/scorer.py used x > 3);
* one threshold is chosen for the whole corpus: the anomaly score that maximises the summed score;
* normalised score = 100 (raw - null) / (perfect - null), perfect = windows x tpWeight, null = the best
  score of a detector that outputs a constant.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

PROBATION_PERCENT = 0.15


@dataclass(frozen=True)
class Profile:
    tp_weight: float
    fp_weight: float
    fn_weight: float


PROFILES: dict[str, Profile] = {
    "standard": Profile(tp_weight=1.0, fp_weight=0.11, fn_weight=1.0),
    "reward_low_FP_rate": Profile(tp_weight=1.0, fp_weight=0.22, fn_weight=1.0),
    "reward_low_FN_rate": Profile(tp_weight=1.0, fp_weight=0.11, fn_weight=2.0),
}

PROBATIONARY = "\x00probationary"  # window name of rows that are never scored


@dataclass(frozen=True)
class Row:
    anomaly_score: float
    sweep_score: float  # the row's contribution if it were a detection
    window: str | None  # window name, None outside windows, PROBATIONARY inside the probation period


@dataclass(frozen=True)
class ThresholdScore:
    threshold: float
    score: float
    tp: int
    tn: int
    fp: int
    fn: int


def scaled_sigmoid(position: float) -> float:
    """NAB's S(x): +0.987 at a window's left edge (x = -1), 0 at its right edge, -1 far after it."""
    if position >= 3.0:
        return -1.0
    return 2.0 / (1.0 + math.exp(5.0 * position)) - 1.0


def probation_length(n_rows: int, percent: float = PROBATION_PERCENT) -> float:
    return min(math.floor(percent * n_rows), percent * 5000)


def parse_timestamps(values: Sequence[str]) -> np.ndarray:
    """NAB timestamps ('YYYY-MM-DD HH:MM:SS[.ffffff]') as datetime64[us]."""
    return np.array([np.datetime64(v.strip().replace(" ", "T"), "us") for v in values])


def window_indices(timestamps: np.ndarray, windows: Sequence[Sequence[str]]) -> list[tuple[int, int]]:
    """Row index span (first, last inclusive) of each window: rows with start <= t <= end."""
    spans = []
    for start, end in windows:
        t1 = np.datetime64(start.strip().replace(" ", "T"), "us")
        t2 = np.datetime64(end.strip().replace(" ", "T"), "us")
        left = int(np.searchsorted(timestamps, t1, side="left"))
        right = int(np.searchsorted(timestamps, t2, side="right")) - 1
        if right >= left:
            spans.append((left, right))
    return sorted(spans)


def window_labels(n_rows: int, spans: Sequence[tuple[int, int]]) -> np.ndarray:
    labels = np.zeros(n_rows, dtype=np.int8)
    for left, right in spans:
        labels[left : right + 1] = 1
    return labels


def sweep_rows(
    scores: Sequence[float] | np.ndarray,
    spans: Sequence[tuple[int, int]],
    name: str,
    profile: Profile,
    probation_percent: float = PROBATION_PERCENT,
) -> list[Row]:
    """Every row of one file with the score it would earn as a detection (NAB's calcSweepScore)."""
    n = len(scores)
    probation = probation_length(n, probation_percent)
    max_tp = scaled_sigmoid(-1.0)
    window_at: dict[int, tuple[int, int]] = {left: (left, right) for left, right in spans}
    rows: list[Row] = []
    current: tuple[int, int] | None = None
    prev_right: int | None = None
    prev_width = 0.0
    for i in range(n):
        if current is None and i in window_at:
            current = window_at[i]
        if current is not None:
            left, right = current
            width = float(right - left + 1)
            weighted = scaled_sigmoid(-(right - i + 1) / width) * profile.tp_weight / max_tp
            window: str | None = f"{name}|{left}"
        else:
            if prev_right is None or prev_width <= 1:
                unweighted = -1.0
            else:
                unweighted = scaled_sigmoid(abs(i - prev_right) / (prev_width - 1.0))
            weighted = unweighted * profile.fp_weight
            window = None
        rows.append(Row(float(scores[i]), weighted, window if i >= probation else PROBATIONARY))
        if current is not None and i == current[1]:
            prev_right, prev_width = i, float(current[1] - current[0] + 1)
            current = None
    return rows


def scores_by_threshold(rows: Sequence[Row], profile: Profile) -> list[ThresholdScore]:
    """NAB's calcScoreByThreshold: the total score when every row with anomaly_score >= t is a detection,
    for t = 1.1 (no detections) and every distinct score, highest first."""
    scorable = sorted((r for r in rows if r.window != PROBATIONARY), key=lambda r: r.anomaly_score, reverse=True)
    parts: dict[str, float] = {"fp": 0.0}
    for r in scorable:
        if r.window is not None:
            parts[r.window] = -profile.fn_weight
    total = sum(parts.values())
    tn = sum(1 for r in scorable if r.window is None)
    fn = len(scorable) - tn
    tp = fp = 0
    out: list[ThresholdScore] = []
    threshold = 1.1
    for r in scorable:
        if r.anomaly_score != threshold:
            out.append(ThresholdScore(threshold, total, tp, tn, fp, fn))
            threshold = r.anomaly_score
        if r.window is None:
            fp, tn = fp + 1, tn - 1
            parts["fp"] += r.sweep_score
            total += r.sweep_score
        else:
            tp, fn = tp + 1, fn - 1
            best = parts[r.window]
            if r.sweep_score > best:
                total += r.sweep_score - best
                parts[r.window] = r.sweep_score
    out.append(ThresholdScore(threshold, total, tp, tn, fp, fn))
    return out


def best_threshold(table: Sequence[ThresholdScore]) -> ThresholdScore:
    """The highest-scoring row; on a tie the higher threshold (NAB sorts a stable list by score)."""
    best = table[0]
    for row in table[1:]:
        if row.score > best.score:
            best = row
    return best


def score_at(table: Sequence[ThresholdScore], threshold: float) -> ThresholdScore:
    """One file's row for a corpus threshold: detections are the rows with anomaly_score >= threshold."""
    previous = table[0]
    for row in table:
        if row.threshold == threshold:
            return row
        if row.threshold < threshold:
            return previous
        previous = row
    return table[-1]


def normalise(raw: float, null: float, perfect: float) -> float:
    return 100.0 * (raw - null) / (perfect - null) if perfect != null else 0.0


@dataclass(frozen=True)
class FileInput:
    name: str  # relative path, e.g. realAWSCloudwatch/x.csv
    scores: Sequence[float] | np.ndarray
    spans: Sequence[tuple[int, int]]


def score_corpus(files: Sequence[FileInput], profile: Profile) -> dict[str, object]:
    """Optimise one threshold over all files, score each file at it and normalise against null and perfect."""
    per_file_rows = {f.name: sweep_rows(f.scores, f.spans, f.name, profile) for f in files}
    all_rows = [r for rows in per_file_rows.values() for r in rows]
    best = best_threshold(scores_by_threshold(all_rows, profile))
    per_file = {}
    for f in files:
        row = score_at(scores_by_threshold(per_file_rows[f.name], profile), best.threshold)
        per_file[f.name] = {"score": row.score, "tp": row.tp, "tn": row.tn, "fp": row.fp, "fn": row.fn}
    raw = sum(float(v["score"]) for v in per_file.values())
    n_windows = sum(len(f.spans) for f in files)
    perfect = n_windows * profile.tp_weight
    null = null_score(files, profile)
    return {
        "threshold": best.threshold,
        "raw": raw,
        "null": null,
        "perfect": perfect,
        "normalised": normalise(raw, null, perfect),
        "files": per_file,
    }


def null_score(files: Sequence[FileInput], profile: Profile) -> float:
    """NAB's null detector (a constant score for every row), through the same threshold optimisation."""
    constant = [FileInput(f.name, [0.5] * len(f.scores), f.spans) for f in files]
    rows = [r for f in constant for r in sweep_rows(f.scores, f.spans, f.name, profile)]
    return best_threshold(scores_by_threshold(rows, profile)).score


def load_windows(path: Path) -> dict[str, list[list[str]]]:
    with path.open() as fh:
        data: dict[str, list[list[str]]] = json.load(fh)
    return data
