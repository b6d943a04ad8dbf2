"""Forecast throughput: 10,000 series of two weeks at 5-minute resolution, default method vs baseline.

    python bench/forecast_speed.py [--series 10000] [--days 14] [--out bench/results]

Series are synthetic (daily cycle + weekly cycle + trend + noise, seeded) because only their shape and
size matter for speed. Both methods answer the same question for every series ("minutes to the threshold
within the horizon"). Target: the default (seasonal) method under 10 s. Last line: one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from spectra.capacity.forecasting import ForecastConfig, forecast_batch  # noqa: E402


def synthetic(series: int, points: int, step_minutes: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(points) * step_minutes / 1440.0  # days
    base = rng.uniform(10, 60, (series, 1))
    daily = rng.uniform(0, 25, (series, 1)) * np.sin(2 * np.pi * (t[None, :] + rng.random((series, 1))))
    weekly = rng.uniform(0, 8, (series, 1)) * np.sin(2 * np.pi * t[None, :] / 7.0)
    trend = rng.normal(0, 1.5, (series, 1)) * t[None, :]
    noise = rng.normal(0, 3, (series, points))
    return np.clip(base + daily + weekly + trend + noise, 0, 100)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=10_000)
    parser.add_argument("--days", type=float, default=14.0)
    parser.add_argument("--step-minutes", type=float, default=5.0)
    parser.add_argument("--threshold", type=float, default=90.0)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args()

    points = int(args.days * 1440 / args.step_minutes)
    data = synthetic(args.series, points, args.step_minutes, args.seed)
    cfg = ForecastConfig()
    timings: dict[str, float] = {}
    breaches: dict[str, int] = {}
    for method in ("seasonal", "linear"):
        t0 = time.perf_counter()
        minutes, _ = forecast_batch(data, args.step_minutes, args.threshold, method, cfg)  # type: ignore[arg-type]
        timings[method] = time.perf_counter() - t0
        breaches[method] = int(np.isfinite(minutes).sum())
    result = {
        "series": args.series,
        "points_per_series": points,
        "horizon_min": cfg.horizon_minutes,
        "seasonal_seconds": round(timings["seasonal"], 3),
        "linear_seconds": round(timings["linear"], 3),
        "seasonal_series_per_second": round(args.series / timings["seasonal"], 1),
        "ratio_vs_linear": round(timings["seasonal"] / timings["linear"], 2),
        "target_seconds": 10.0,
        "meets_target": timings["seasonal"] < 10.0,
        "breaches_found": breaches,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3))
    ax.barh(["linear (baseline)", "seasonal (default)"], [timings["linear"], timings["seasonal"]])
    ax.axvline(10.0, color="red", lw=0.8, label="target 10 s")
    ax.set_xlabel(f"seconds for {args.series} series")
    ax.legend()
    fig.tight_layout()
    fig.savefig(args.out / "forecast_speed.png", dpi=90)
    plt.close(fig)
    (args.out / "forecast_speed.md").write_text(
        "# Forecast speed\n\n"
        f"{args.series} series x {points} points ({args.days:g} days at {args.step_minutes:g} min), horizon "
        f"{cfg.horizon_minutes:g} min, one process.\n\n"
        "| method | seconds | series/s | breaches found |\n|---|---|---|---|\n"
        f"| seasonal (default) | {result['seasonal_seconds']} | {result['seasonal_series_per_second']} "
        f"| {breaches['seasonal']} |\n"
        f"| linear (baseline) | {result['linear_seconds']} | {round(args.series / timings['linear'], 1)} "
        f"| {breaches['linear']} |\n\n"
        f"Target: seasonal under 10 s ({'met' if result['meets_target'] else 'missed'}).\n\n"
        "![timings](forecast_speed.png)\n"
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
