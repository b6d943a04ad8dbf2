"""NAB benchmark of Spectra's streaming anomaly detector (the one shared by capacity and carbon).

    python bench/nab.py --data-dir DIR --out RESULTS_DIR [--labels combined_windows.json]
                        [--published per_file_scores_selected.csv]

Runs the detector over every CSV below DIR (NAB format `timestamp,value`), writes one results file per data
file in NAB's results layout (RESULTS_DIR/<detector>/<category>/<detector>_<file>.csv, columns
timestamp,value,anomaly_score,label) so NAB's official scorer can read them, and, when labels are given,
scores them with NAB's three profiles (bench/nab_scoring.py). A windowed-Gaussian detector (NAB's own
simple baseline) runs in the same pass for a ratio; published per-file scores of other detectors (when the
file exists and covers the same data files) are summed and normalised the same way for comparison.
Last line of output: one JSON object.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import nab_scoring as ns  # noqa: E402
from spectra.capacity.detection import StreamingDetector  # noqa: E402

DETECTOR = "spectra"
BASELINE = "windowedGaussian"
PUBLISHED_REFERENCE = "numenta"  # Numenta HTM: the published per-file scores we compare against
DEFAULT_PUBLISHED = ROOT / ".." / "shared" / "data" / "nab" / "results" / "per_file_scores_selected.csv"


def read_series(path: Path) -> tuple[list[str], np.ndarray]:
    timestamps: list[str] = []
    values: list[float] = []
    with path.open(newline="") as fh:
        reader = csv.DictReader(fh)
        for row in reader:
            timestamps.append(row["timestamp"])
            values.append(float(row["value"]) if row["value"] not in ("", "nan", "NaN") else math.nan)
    return timestamps, np.asarray(values, dtype=float)


def windowed_gaussian(values: np.ndarray, window: int = 6400, step: int = 100) -> np.ndarray:
    """NAB's windowedGaussian baseline (nab/detectors/gaussian): 1 - the two-sided tail probability of the value
    under a Gaussian fitted to the values before it. The window grows one value at a time up to `window`, then
    slides by `step` values at once. Scores are kept to 12 significant digits, as in NAB's published results
    files (that rounding decides which scores reach 1.0, NAB's optimised threshold for this detector)."""
    finite = values[np.isfinite(values)]  # a gap scores 0 and is not learnt
    n = finite.size
    means = np.zeros(n)
    stds = np.ones(n)  # the Gaussian each value is scored against (value 0 is scored 0: nothing learnt yet)
    grow = min(n, window)
    if grow > 1:
        # growing phase: the fit of the first k values, for every k, as running sums (shifted for precision)
        shifted = finite[:grow] - finite[0]
        count = np.arange(1, grow + 1)
        mean = np.cumsum(shifted) / count
        var = np.maximum(np.cumsum(shifted * shifted) / count - mean * mean, 0.0)
        means[1:grow] = mean[:-1] + finite[0]
        stds[1:grow] = np.sqrt(var[:-1])
    if n > window:
        # sliding phase: refitted after every `step` further values
        fit_mean, fit_std = float(finite[:window].mean()), float(finite[:window].std())
        for start in range(window, n, step):
            means[start : start + step], stds[start : start + step] = fit_mean, fit_std
            if start + step <= n:
                block = finite[start + step - window : start + step]
                fit_mean, fit_std = float(block.mean()), float(block.std())
    stds[stds == 0.0] = 1e-6
    z = np.abs(finite - means) / stds
    tail = np.array([0.5 * math.erfc(x / math.sqrt(2.0)) for x in z.tolist()])
    scored = np.array([float(f"{x:.12g}") for x in (1.0 - tail).tolist()])
    scored[0] = 0.0
    out = np.zeros(values.size)
    out[np.isfinite(values)] = scored
    return out


def write_results(
    path: Path, timestamps: list[str], values: np.ndarray, scores: np.ndarray, labels: np.ndarray
) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["timestamp", "value", "anomaly_score", "label"])
        for t, v, s, lab in zip(timestamps, values, scores, labels, strict=True):
            writer.writerow([t, repr(float(v)), repr(float(s)), int(lab)])  # full precision: NAB reads these


def published_scores(path: Path, files: set[str], windows: int) -> dict[str, dict[str, float]]:
    """Other detectors' published per-file raw scores, normalised over exactly these files (if all present)."""
    if not path.is_file():
        return {}
    sums: dict[tuple[str, str], float] = defaultdict(float)
    seen: dict[tuple[str, str], set[str]] = defaultdict(set)
    with path.open(newline="") as fh:
        for row in csv.DictReader(fh):
            if row["File"] in files:
                key = (row["Detector"], row["Profile"])
                sums[key] += float(row["Score"])
                seen[key].add(row["File"])
    out: dict[str, dict[str, float]] = defaultdict(dict)
    for (detector, profile), raw in sums.items():
        if seen[(detector, profile)] != files or profile not in ns.PROFILES:
            continue
        weights = ns.PROFILES[profile]
        null = -weights.fn_weight * windows
        out[detector][profile] = round(ns.normalise(raw, null, windows * weights.tp_weight), 2)
    return dict(out)


def published_per_file(path: Path, files: set[str], detector: str, profile: str = "standard") -> dict[str, float]:
    """One published detector's raw per-file scores (at its corpus-wide threshold) for these files."""
    if not path.is_file():
        return {}
    with path.open(newline="") as fh:
        return {
            row["File"]: float(row["Score"])
            for row in csv.DictReader(fh)
            if row["File"] in files and (row["Detector"], row["Profile"]) == (detector, profile)
        }


def plot(out: Path, per_file: dict[str, dict[str, float]], example: tuple[str, np.ndarray, np.ndarray, list]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(per_file)
    fig, axes = plt.subplots(2, 1, figsize=(11, 8))
    x = np.arange(len(names))
    columns = [c for c in (DETECTOR, BASELINE, PUBLISHED_REFERENCE) if all(c in per_file[n] for n in names)]
    width = 0.8 / len(columns)
    for k, column in enumerate(columns):
        offset = (k - (len(columns) - 1) / 2) * width
        axes[0].bar(x + offset, [per_file[n][column] for n in names], width, label=column)
    axes[0].set_xticks(x, [Path(n).stem[:24] for n in names], rotation=60, ha="right", fontsize=7)
    axes[0].set_ylabel("raw NAB score (standard)")
    axes[0].legend()
    name, values, scores, spans = example
    axes[1].plot(values, lw=0.6, label="value")
    twin = axes[1].twinx()
    twin.plot(scores, lw=0.6, color="tab:red", label="anomaly score")
    for left, right in spans:
        axes[1].axvspan(left, right, color="orange", alpha=0.2)
    axes[1].set_title(f"{name}: value, {DETECTOR} score, label windows")
    fig.tight_layout()
    fig.savefig(out / "nab.png", dpi=90)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "nab")
    parser.add_argument("--labels", type=Path, default=None, help="NAB combined_windows.json")
    parser.add_argument("--published", type=Path, default=DEFAULT_PUBLISHED)
    args = parser.parse_args()

    windows = ns.load_windows(args.labels) if args.labels else {}
    started = time.perf_counter()
    ours: list[ns.FileInput] = []
    baseline: list[ns.FileInput] = []
    examples = []
    points = 0
    detect_seconds = 0.0
    slowest_per_4000 = 0.0  # seconds per 4,000 points on the slowest file
    for path in sorted(args.data_dir.rglob("*.csv")):
        rel = path.relative_to(args.data_dir).as_posix()
        if "/" not in rel:  # DIR is a category folder itself: NAB names files <category>/<file>
            rel = f"{args.data_dir.resolve().name}/{rel}"
        timestamps, values = read_series(path)
        parsed = ns.parse_timestamps(timestamps)
        spans = ns.window_indices(parsed, windows.get(rel, []))
        t0 = time.perf_counter()
        scores = StreamingDetector().score_series(values)
        elapsed = time.perf_counter() - t0
        detect_seconds += elapsed
        slowest_per_4000 = max(slowest_per_4000, elapsed * 4000 / max(values.size, 1))
        points += values.size
        category = rel.rsplit("/", 1)[0]
        labels = ns.window_labels(values.size, spans)
        write_results(args.out / DETECTOR / category / f"{DETECTOR}_{path.name}", timestamps, values, scores, labels)
        gaussian = windowed_gaussian(values)
        write_results(args.out / BASELINE / category / f"{BASELINE}_{path.name}", timestamps, values, gaussian, labels)
        ours.append(ns.FileInput(rel, scores, spans))
        baseline.append(ns.FileInput(rel, gaussian, spans))
        examples.append((rel, values, scores, spans))

    result: dict[str, object] = {
        "detector": DETECTOR,
        "files": len(ours),
        "points": points,
        "detector_us_per_point": round(1e6 * detect_seconds / max(points, 1), 2),
        "detector_seconds_per_4000_points_worst_file": round(slowest_per_4000, 3),
        "results_dir": str(args.out),
    }
    report = [f"# NAB benchmark: {DETECTOR} detector", ""]
    if windows and ours:
        n_windows = sum(len(f.spans) for f in ours)
        result["windows"] = n_windows
        per_file: dict[str, dict[str, float]] = {}
        for profile_name, profile in ns.PROFILES.items():
            mine = ns.score_corpus(ours, profile)
            base = ns.score_corpus(baseline, profile)
            result[profile_name] = round(float(mine["normalised"]), 2)  # type: ignore[arg-type]
            result[f"{BASELINE}_{profile_name}"] = round(float(base["normalised"]), 2)  # type: ignore[arg-type]
            if profile_name == "standard":
                result["threshold"] = mine["threshold"]
                for name, row in mine["files"].items():  # type: ignore[attr-defined]
                    per_file[name] = {DETECTOR: row["score"], BASELINE: base["files"][name]["score"]}  # type: ignore[index]
        reference = published_per_file(args.published, set(per_file), PUBLISHED_REFERENCE)
        if set(reference) == set(per_file):
            for name in per_file:
                per_file[name][PUBLISHED_REFERENCE] = reference[name]
        result["per_file_standard"] = {n: {k: round(v, 3) for k, v in row.items()} for n, row in per_file.items()}
        published = published_scores(args.published, {f.name for f in ours}, n_windows)
        if published:
            result["published_standard"] = {d: p.get("standard") for d, p in sorted(published.items())}
            htm = published.get("numenta", {}).get("standard")
            if htm is not None:
                result["htm_standard"] = htm
                result["ratio_vs_htm"] = round(float(result["standard"]) / htm, 3) if htm else None  # type: ignore[arg-type]
        base_std = float(result[f"{BASELINE}_standard"])  # type: ignore[arg-type]
        result["ratio_vs_windowed_gaussian"] = round(float(result["standard"]) / base_std, 3) if base_std else None  # type: ignore[arg-type]
        report += [
            f"{len(ours)} files, {n_windows} label windows, {points} points; one threshold per detector chosen by "
            "NAB's optimiser over these files; scores normalised so null = 0 and perfect = 100.",
            "",
            "| detector | standard | reward low FP | reward low FN |",
            "|---|---|---|---|",
            f"| {DETECTOR} | {result['standard']} | {result['reward_low_FP_rate']} | {result['reward_low_FN_rate']} |",
            f"| {BASELINE} (same run) | {result[f'{BASELINE}_standard']} | {result[f'{BASELINE}_reward_low_FP_rate']} "
            f"| {result[f'{BASELINE}_reward_low_FN_rate']} |",
        ]
        for detector, profiles in sorted(published.items()):
            report.append(
                f"| {detector} (published per-file scores, its corpus-wide threshold) | {profiles.get('standard')} "
                f"| {profiles.get('reward_low_FP_rate')} | {profiles.get('reward_low_FN_rate')} |"
            )
        columns = [c for c in (DETECTOR, BASELINE, PUBLISHED_REFERENCE) if all(c in v for v in per_file.values())]
        report += [
            "",
            "Per file (raw standard score; a window caught at its start earns 1, a missed one costs 1, each false "
            f"positive up to 0.11; {PUBLISHED_REFERENCE} = published per-file scores):",
            "",
            "| file | " + " | ".join(columns) + " |",
            "|---" * (len(columns) + 1) + "|",
        ]
        report += [f"| {n} | " + " | ".join(f"{v[c]:.3f}" for c in columns) + " |" for n, v in per_file.items()]
        report.append(
            "| **sum** | " + " | ".join(f"{sum(v[c] for v in per_file.values()):.3f}" for c in columns) + " |"
        )
        args.out.mkdir(parents=True, exist_ok=True)
        best = max(examples, key=lambda e: len(e[3]))
        plot(args.out, per_file, best)
        report += ["", "![per-file scores](nab.png)"]
    result["seconds"] = round(time.perf_counter() - started, 2)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "nab.md").write_text("\n".join(report) + "\n")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
