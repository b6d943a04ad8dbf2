"""Region optimiser back-test: where should a flexible 24 h workload run, decided from forecasts only?

    python bench/region_optimizer.py --intensity FILE [FILE ...] [--home ZONE] [--hours 24]
        [--every 24] [--min-history-days 28] [--zone ZONE] [--out bench/results]

Every file is an Electricity Maps export or a ``Time,Carbon Intensity`` series; each zone in them is a
candidate region, and the zones are aligned on the hours they all cover. Every --every hours (from
--min-history-days on) a workload of --hours hours must be placed. Compared in the same run, each
judged on the intensity that actually followed (mean over the window, gCO2e/kWh):

- home: stay in --home (default: the first zone), the status quo;
- static best: the zone with the lowest mean intensity over all history so far (a one-off choice);
- naive: the lowest mean of the last 24 h in each zone (persistence / seasonal naive);
- Spectra: `rank_regions` (carbon-only weights) fed by `forecast_intensity` per zone, which sees
  only the hours before the decision;
- oracle: the zone whose actual mean over the window is lowest (perfect hindsight).

Reported: savings_pct of each vs home; ratio_to_oracle = Spectra's saving ÷ the oracle's; and
dynamic_capture = (static best − Spectra) ÷ (static best − oracle), the share of what moving with the
grid can add beyond a good static choice that Spectra gets. Also decisions per second. Last line:
one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

from _report import markdown_table, save_plot, write_outputs  # noqa: E402
from spectra.carbon.intensity.forecast import forecast_intensity  # noqa: E402
from spectra.carbon.intensity.parsing import HourlySeries, ParseError, hourly_series, parse_intensity_csv  # noqa: E402
from spectra.carbon.optimizer.ranking import RegionOption, Weights, Window, rank_regions  # noqa: E402

STRATEGIES = ("home", "static_best", "naive", "spectra", "oracle")


def load_series(path: Path, zone: str | None) -> list[HourlySeries]:
    data = path.read_bytes()
    try:
        records = parse_intensity_csv(data, file_name=path.name)
    except ParseError as exc:
        if "names no zone" not in str(exc):
            raise
        records = parse_intensity_csv(data, file_name=path.name, zone=zone or path.stem)
    return [hourly_series(records, z) for z in sorted({r.zone for r in records})]


def align(series: list[HourlySeries]) -> tuple[list[str], np.ndarray, Any]:
    """Zones × hours matrix over the hours every zone covers (NaN kept where a zone misses an hour)."""
    start = max(s.start for s in series)
    end = min(s.start + timedelta(hours=s.values.size) for s in series)
    hours = int((end - start).total_seconds() // 3600)
    if hours <= 0:
        raise SystemExit("the files share no common hours; give zones of the same period")
    matrix = np.empty((len(series), hours))
    for i, s in enumerate(series):
        offset = int((start - s.start).total_seconds() // 3600)
        matrix[i] = s.values[offset : offset + hours]
    return [s.zone for s in series], matrix, start


def nanmean(values: np.ndarray) -> float:
    finite = values[np.isfinite(values)]
    return float(finite.mean()) if finite.size else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--intensity", type=Path, nargs="+", required=True)
    parser.add_argument("--zone", default=None, help="zone of Time,Carbon Intensity files (default: file name)")
    parser.add_argument("--home", default=None, help="the zone the workload runs in today (default: first)")
    parser.add_argument("--hours", type=int, default=24, help="workload window (hours)")
    parser.add_argument("--every", type=int, default=24, help="hours between placement decisions")
    parser.add_argument("--min-history-days", type=int, default=28)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args()

    series = [s for path in args.intensity for s in load_series(path, args.zone)]
    if len(series) < 2:
        raise SystemExit("give at least two zones")
    zones, matrix, start = align(series)
    home = zones.index(args.home) if args.home else 0
    first = args.min_history_days * 24
    origins = list(range(first, matrix.shape[1] - args.hours + 1, args.every))
    if not origins:
        raise SystemExit("not enough common history for one decision")

    realised: dict[str, list[float]] = {k: [] for k in STRATEGIES}
    choices: dict[str, list[str]] = {k: [] for k in STRATEGIES}
    started = time.perf_counter()
    ranking_seconds = 0.0
    for t in origins:
        actual = np.array([nanmean(matrix[z, t : t + args.hours]) for z in range(len(zones))])
        history_mean = np.array([nanmean(matrix[z, :t]) for z in range(len(zones))])
        naive = np.array([nanmean(matrix[z, t - 24 : t]) for z in range(len(zones))])
        options = []
        for z, zone in enumerate(zones):
            forecast = forecast_intensity(matrix[z, :t], args.hours)
            options.append(
                RegionOption(
                    code=zone,
                    name=zone,
                    provider="any",
                    country=None,
                    zone=zone,
                    pue=1.0,
                    intensity_g_per_kwh=float(np.mean(forecast.mean)),
                    intensity_std=float(np.mean(forecast.std)),
                    intensity_method=forecast.method,
                )
            )
        tick = time.perf_counter()
        ranking = rank_regions(options, Window(args.hours, 1.0), Weights(carbon=1, latency=0, cost=0))
        ranking_seconds += time.perf_counter() - tick
        picks = {
            "home": home,
            "static_best": int(np.nanargmin(history_mean)),
            "naive": int(np.nanargmin(naive)),
            "spectra": zones.index(ranking.ranked[0].code),
            "oracle": int(np.nanargmin(actual)),
        }
        for name, z in picks.items():
            realised[name].append(float(actual[z]))
            choices[name].append(zones[z])
    seconds = time.perf_counter() - started

    totals = {k: float(np.nansum(v)) for k, v in realised.items()}

    def saving(name: str) -> float:
        return round(100.0 * (1.0 - totals[name] / totals["home"]), 3) if totals["home"] > 0 else 0.0

    oracle_saving = saving("oracle")
    gap = totals["static_best"] - totals["oracle"]
    result: dict[str, Any] = {
        "benchmark": "region_optimizer",
        "zones": zones,
        "home": zones[home],
        "period_start": start.isoformat(),
        "decisions": len(origins),
        "workload_hours": args.hours,
        "savings_pct": saving("spectra"),
        "naive_savings_pct": saving("naive"),
        "static_best_savings_pct": saving("static_best"),
        "oracle_savings_pct": oracle_saving,
        "ratio_to_oracle": round(saving("spectra") / oracle_saving, 4) if oracle_saving > 0 else None,
        "naive_ratio_to_oracle": round(saving("naive") / oracle_saving, 4) if oracle_saving > 0 else None,
        "dynamic_capture": round((totals["static_best"] - totals["spectra"]) / gap, 4) if gap > 0 else None,
        "mean_intensity_g_per_kwh": {k: round(totals[k] / len(origins), 2) for k in STRATEGIES},
        "picked_oracle_zone_share": round(
            float(np.mean([a == b for a, b in zip(choices["spectra"], choices["oracle"], strict=True)])), 4
        ),
        "seconds": round(seconds, 3),
        "rankings_per_second": round(len(origins) / ranking_seconds, 1) if ranking_seconds > 0 else None,
    }

    rows = [
        [k, result["mean_intensity_g_per_kwh"][k], saving(k), ", ".join(sorted(set(choices[k])))] for k in STRATEGIES
    ]
    markdown = "\n\n".join(
        [
            "# Region optimiser back-test",
            f"Zones {', '.join(zones)}; home {zones[home]}; {len(origins)} decisions of a {args.hours} h workload "
            f"every {args.every} h from {start:%Y-%m-%d} + {args.min_history_days} days. Each strategy is judged "
            "on the intensity that actually followed; Spectra sees only the hours before each decision.",
            markdown_table(["strategy", "mean gCO2e/kWh", "saving vs home %", "zones used"], rows),
            f"ratio_to_oracle = {result['ratio_to_oracle']}, dynamic_capture = {result['dynamic_capture']}, "
            f"Spectra picked the oracle's zone {100 * result['picked_oracle_zone_share']:.1f}% of the time.",
            "![realised intensity](region_optimizer.png)",
        ]
    )

    def draw(ax: Any) -> None:
        for name in ("home", "static_best", "spectra", "oracle"):
            ax.plot(np.cumsum(realised[name]), label=name)
        ax.set_xlabel("decision")
        ax.set_ylabel("cumulative mean gCO2e/kWh of the chosen zone")
        ax.legend()

    save_plot(args.out / "region_optimizer.png", draw)
    write_outputs(args.out, "region_optimizer", result, markdown)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
