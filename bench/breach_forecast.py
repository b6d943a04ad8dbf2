"""Breach forecasting benchmark: does each method warn of a threshold crossing in time?

    python bench/breach_forecast.py --data-dir DIR [--out bench/results] [--lead-min 15] [--horizon-min 60]

Every CSV below DIR whose name mentions "cpu" (NAB format `timestamp,value`) is one series; its threshold is
the series' 99th percentile. At every step each method, seeing only the past, says whether the value will
cross the threshold within the next `horizon` minutes (a warning). A crossing is a step where the value
reaches the threshold from below. It counts as recalled when some warning came between `horizon` and `lead`
minutes before it; a warning is correct when a crossing follows within `horizon` minutes. Lead time is
measured from the earliest warning of that run. The default (seasonal) method and the rolling-linear
baseline run on the same series in the same process. Last line: one JSON object.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from spectra.capacity.forecasting import ForecastConfig, warnings_over_series  # noqa: E402

METHODS = ("seasonal", "linear")


def read_values(path: Path) -> tuple[np.ndarray, float]:
    stamps: list[np.datetime64] = []
    values: list[float] = []
    with path.open(newline="") as fh:
        for row in csv.DictReader(fh):
            stamps.append(np.datetime64(row["timestamp"].strip().replace(" ", "T")))
            values.append(float(row["value"]))
    gaps = np.diff(np.array(stamps)).astype("timedelta64[s]").astype(float)
    step_minutes = float(np.median(gaps[gaps > 0])) / 60.0 if (gaps > 0).any() else 5.0
    return np.asarray(values, dtype=float), step_minutes


def evaluate(values: np.ndarray, warn: np.ndarray, threshold: float, horizon: int, lead: int) -> dict[str, object]:
    above = values >= threshold
    crossings = [t for t in range(1, values.size) if above[t] and not above[t - 1]]
    recalled, leads = 0, []
    for t in crossings:
        earliest = [s for s in range(max(0, t - horizon), t - lead + 1) if warn[s]]
        if earliest:
            recalled += 1
            leads.append(t - earliest[0])
    issued = np.flatnonzero(warn)
    correct = sum(1 for s in issued if above[s + 1 : s + 1 + horizon].any())
    return {
        "crossings": len(crossings),
        "recalled": recalled,
        "warnings": int(issued.size),
        "correct": correct,
        "leads": leads,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument("--lead-min", type=float, default=15.0)
    parser.add_argument("--horizon-min", type=float, default=60.0)
    parser.add_argument("--percentile", type=float, default=99.0)
    args = parser.parse_args()

    files = sorted(p for p in args.data_dir.rglob("*.csv") if "cpu" in p.name.lower())
    totals = {m: {"crossings": 0, "recalled": 0, "warnings": 0, "correct": 0, "leads": []} for m in METHODS}
    per_file = []
    seconds = dict.fromkeys(METHODS, 0.0)
    examples = []
    for path in files:
        values, step_minutes = read_values(path)
        threshold = float(np.nanpercentile(values, args.percentile))
        horizon = max(1, round(args.horizon_min / step_minutes))
        lead = max(1, round(args.lead_min / step_minutes))
        cfg = ForecastConfig(horizon_minutes=args.horizon_min)
        row: dict[str, object] = {"file": path.relative_to(args.data_dir).as_posix(), "threshold": threshold}
        for method in METHODS:
            t0 = time.perf_counter()
            warn = warnings_over_series(values, step_minutes, threshold, horizon, method, cfg)
            seconds[method] += time.perf_counter() - t0
            stats = evaluate(values, warn, threshold, horizon, lead)
            for key in ("crossings", "recalled", "warnings", "correct"):
                totals[method][key] += stats[key]  # type: ignore[operator]
            totals[method]["leads"].extend(stats["leads"])  # type: ignore[union-attr, arg-type]
            row[method] = {k: v for k, v in stats.items() if k != "leads"}
            if method == "seasonal":
                examples.append((path.stem, values, threshold, warn))
        per_file.append(row)

    summary: dict[str, object] = {"files": len(files), "lead_min": args.lead_min, "horizon_min": args.horizon_min}
    for method in METHODS:
        t = totals[method]
        recall = t["recalled"] / t["crossings"] if t["crossings"] else 0.0  # type: ignore[operator]
        precision = t["correct"] / t["warnings"] if t["warnings"] else 0.0  # type: ignore[operator]
        leads = t["leads"]
        summary[method] = {
            "crossings": t["crossings"],
            "recall": round(recall, 4),
            "precision": round(precision, 4),
            "warnings": t["warnings"],
            "median_lead_min": round(float(np.median(leads)) * 5.0, 1) if leads else None,  # type: ignore[arg-type]
            "seconds": round(seconds[method], 2),
        }
    s, b = summary["seasonal"], summary["linear"]
    summary["recall_ratio"] = round(s["recall"] / b["recall"], 3) if b["recall"] else None  # type: ignore[index]
    summary["precision_ratio"] = (  # type: ignore[index]
        round(s["precision"] / b["precision"], 3) if b["precision"] else None  # type: ignore[index]
    )

    args.out.mkdir(parents=True, exist_ok=True)
    lines = [
        "# Breach forecasting: seasonal (default) vs rolling linear (baseline)",
        "",
        f"{len(files)} CPU series; threshold = p{args.percentile:g} of each series; a warning predicts a crossing "
        f"within {args.horizon_min:g} min; recall counts crossings warned at least {args.lead_min:g} min ahead.",
        "",
        "| method | crossings | recall | precision | warnings | median lead (min) |",
        "|---|---|---|---|---|---|",
    ]
    for method in METHODS:
        m = summary[method]
        lines.append(
            f"| {method} | {m['crossings']} | {m['recall']} | {m['precision']} | {m['warnings']} "  # type: ignore[index]
            f"| {m['median_lead_min']} |"  # type: ignore[index]
        )
    lines += [
        "",
        f"Recall ratio (seasonal / linear): {summary['recall_ratio']}; precision ratio: {summary['precision_ratio']}.",
        "",
        "| file | threshold | seasonal rec/cross, ok/warn | linear rec/cross, ok/warn |",
        "|---|---|---|---|",
    ]
    for row in per_file:
        sea, lin = row["seasonal"], row["linear"]
        lines.append(
            f"| {row['file']} | {row['threshold']:.3f} | {sea['recalled']}/{sea['crossings']}, "  # type: ignore[index]
            f"{sea['correct']}/{sea['warnings']} | {lin['recalled']}/{lin['crossings']}, "  # type: ignore[index]
            f"{lin['correct']}/{lin['warnings']} |"  # type: ignore[index]
        )
    if examples:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        name, values, threshold, warn = examples[0]
        fig, ax = plt.subplots(figsize=(11, 4))
        ax.plot(values, lw=0.6)
        ax.axhline(threshold, color="red", lw=0.8, label="threshold (p99)")
        ax.scatter(np.flatnonzero(warn), values[warn], s=6, color="orange", label="seasonal warning")
        ax.set_title(f"{name}: warnings of the default method")
        ax.legend()
        fig.tight_layout()
        fig.savefig(args.out / "breach_forecast.png", dpi=90)
        plt.close(fig)
        lines += ["", "![warnings](breach_forecast.png)"]
    (args.out / "breach_forecast.md").write_text("\n".join(lines) + "\n")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
