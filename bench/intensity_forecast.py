"""Day-ahead carbon-intensity forecast back-test against the seasonal-naive baseline.

    python bench/intensity_forecast.py --intensity FILE [FILE ...] [--step 5] [--horizon 24]
        [--min-history-days 28] [--zone ZONE] [--out bench/results]

Each file is an Electricity Maps export (every zone in it is scored separately) or a
``Time,Carbon Intensity`` series (zone: --zone, else the file name). Rolling back-test: from
--min-history-days on, every --step hours (5 by default: co-prime with 24, so every hour of the
day is an origin equally often, as when a scheduler asks at any time) the forecaster sees only the
hours before the origin and predicts the next --horizon hours. Baseline, measured on the same
origins and hours: seasonal naive, i.e. the same hour on the last observed day ("yesterday").
Files of the same zone (e.g. consecutive years) form one stored history, as in the product, and
each file is scored on its own hours (--no-join: every file alone, so each starts cold). Reported:
MAE, MAPE, the baseline's MAE and ratio = ours ÷ baseline, pooled over all files and per file; also
the ratio when forecasts are only made at 00:00 UTC. Target: ratio ≤ 0.85, pooled and
per file. Last line: one JSON object.
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
from spectra.carbon.intensity.forecast import BacktestResult, backtest, forecast_intensity  # noqa: E402
from spectra.carbon.intensity.parsing import (  # noqa: E402
    HourlySeries,
    ParseError,
    hourly_series,
    parse_intensity_csv,
)

TARGET_RATIO = 0.85


def load_series(path: Path, zone: str | None) -> list[HourlySeries]:
    data = path.read_bytes()
    try:
        records = parse_intensity_csv(data, file_name=path.name)
    except ParseError as exc:
        if "names no zone" not in str(exc):
            raise
        records = parse_intensity_csv(data, file_name=path.name, zone=zone or path.stem)
    zones = sorted({r.zone for r in records})
    return [hourly_series(records, z) for z in zones]


def joined_histories(series_list: list[HourlySeries]) -> dict[str, HourlySeries]:
    """One continuous hourly history per zone from all its files (a later file wins where they overlap).

    This is what the product forecasts from: every stored hour of the zone, whichever file brought it.
    """
    by_zone: dict[str, list[HourlySeries]] = {}
    for series in series_list:
        by_zone.setdefault(series.zone, []).append(series)
    out: dict[str, HourlySeries] = {}
    for zone, parts in by_zone.items():
        if len(parts) < 2:
            continue
        start = min(p.start for p in parts)
        end = max(p.start + timedelta(hours=p.values.size) for p in parts)
        values = np.full(int((end - start).total_seconds() // 3600), np.nan)
        for part in parts:
            offset = int((part.start - start).total_seconds() // 3600)
            window = values[offset : offset + part.values.size]
            np.copyto(window, part.values, where=np.isfinite(part.values))
        out[zone] = HourlySeries(zone=zone, start=start, values=values)
    return out


def summarise(result: BacktestResult) -> dict[str, Any]:
    return {
        "mae": round(result.mae, 3),
        "mape": round(result.mape, 2),
        "seasonal_naive_mae": round(result.seasonal_naive_mae, 3),
        "ratio": round(result.ratio, 4),
        "n_forecasts": result.n_forecasts,
        "n_points": result.n_points,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--intensity", type=Path, nargs="+", required=True)
    parser.add_argument("--zone", default=None, help="zone of Time,Carbon Intensity files (default: file name)")
    parser.add_argument("--horizon", type=int, default=24)
    parser.add_argument("--step", type=int, default=5, help="hours between forecast origins")
    parser.add_argument("--min-history-days", type=int, default=28)
    parser.add_argument(
        "--no-join",
        dest="join",
        action="store_false",
        help="score every file on its own history only (default: files of one zone form one stored history)",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args()

    min_history = args.min_history_days * 24
    per_file: list[dict[str, Any]] = []
    errors: list[np.ndarray] = []
    naive_errors: list[np.ndarray] = []
    actuals: list[np.ndarray] = []
    by_horizon: list[tuple[np.ndarray, np.ndarray, int]] = []
    midnight_errors: list[np.ndarray] = []
    midnight_naive: list[np.ndarray] = []
    example: tuple[str, HourlySeries] | None = None
    forecasts = 0
    started = time.perf_counter()
    loaded = [(path, series) for path in args.intensity for series in load_series(path, args.zone)]
    histories = joined_histories([series for _, series in loaded]) if args.join else {}
    for path, series in loaded:
        label = f"{path.name} [{series.zone}]"
        values, offset = series.values, 0
        if series.zone in histories:
            merged = histories[series.zone]
            values = merged.values
            offset = int((series.start - merged.start).total_seconds() // 3600)
        # Score only this file's hours; earlier stored hours (another file of the zone) are history.
        first = max(offset, min_history)
        stop = offset + series.values.size - args.horizon + 1
        step_origins = list(range(first, stop, args.step))
        start_hour = (series.start.hour - offset) % 24  # hour of day of values[0]
        first_midnight = first + (-(start_hour + first)) % 24
        midnight = list(range(first_midnight, stop, 24))
        try:
            result = backtest(values, args.horizon, origins=step_origins, min_history_hours=min_history)
            daily = backtest(values, args.horizon, origins=midnight, min_history_hours=min_history)
        except ValueError as exc:
            per_file.append({"file": path.name, "zone": series.zone, "skipped": str(exc)})
            continue
        forecasts += result.n_forecasts + daily.n_forecasts
        errors.append(result.abs_errors)
        naive_errors.append(result.naive_abs_errors)
        actuals.append(result.actuals)
        midnight_errors.append(daily.abs_errors)
        midnight_naive.append(daily.naive_abs_errors)
        by_horizon.append((result.mae_by_horizon, result.naive_mae_by_horizon, result.n_forecasts))
        entry = {"file": path.name, "zone": series.zone, **summarise(result)}
        entry["history_from_other_files_hours"] = offset
        entry["ratio_midnight_origins"] = round(daily.ratio, 4)
        entry["meets_target"] = result.ratio <= TARGET_RATIO
        per_file.append(entry)
        if example is None:
            example = (label, series)
    seconds = time.perf_counter() - started
    if not errors:
        raise SystemExit("no file could be back-tested")

    err = np.concatenate(errors)
    nerr = np.concatenate(naive_errors)
    act = np.concatenate(actuals)
    positive = act > 0
    pooled_ratio = float(err.mean() / nerr.mean())
    midnight_ratio = float(np.concatenate(midnight_errors).mean() / np.concatenate(midnight_naive).mean())
    scored = [f for f in per_file if "ratio" in f]
    result_json: dict[str, Any] = {
        "benchmark": "intensity_forecast",
        "files": len(args.intensity),
        "series": len(scored),
        "horizon_hours": args.horizon,
        "step_hours": args.step,
        "mae": round(float(err.mean()), 3),
        "mape": round(float(100 * np.mean(err[positive] / act[positive])), 2),
        "seasonal_naive_mae": round(float(nerr.mean()), 3),
        "ratio": round(pooled_ratio, 4),
        "ratio_midnight_origins": round(midnight_ratio, 4),
        "worst_file_ratio": max(f["ratio"] for f in scored),
        "target_ratio": TARGET_RATIO,
        "meets_target": pooled_ratio <= TARGET_RATIO and all(f["ratio"] <= TARGET_RATIO for f in scored),
        "seconds": round(seconds, 2),
        "forecasts_per_s": round(forecasts / seconds, 1),
        "per_file": per_file,
    }

    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    plots: list[str] = []

    def draw_ratios(ax: Any) -> None:
        names = [f"{f['file']}\n[{f['zone']}]" for f in scored]
        ax.bar(range(len(scored)), [f["ratio"] for f in scored], color="tab:green")
        ax.axhline(TARGET_RATIO, color="tab:red", linestyle="--", label=f"target {TARGET_RATIO}")
        ax.axhline(1.0, color="grey", linestyle=":", label="seasonal naive")
        ax.set_xticks(range(len(scored)), names, rotation=60, ha="right", fontsize=7)
        ax.set_ylabel("MAE ÷ seasonal-naive MAE")
        ax.set_title("Day-ahead forecast error relative to 'same hour yesterday'")
        ax.legend()

    if save_plot(out / "intensity_forecast_ratios.png", draw_ratios, size=(10, 5)):
        plots.append("intensity_forecast_ratios.png")

    weights = np.array([n for _, _, n in by_horizon], dtype=float)
    ours_h = np.average(np.vstack([h for h, _, _ in by_horizon]), axis=0, weights=weights)
    naive_h = np.average(np.vstack([h for _, h, _ in by_horizon]), axis=0, weights=weights)

    def draw_horizon(ax: Any) -> None:
        steps = np.arange(1, args.horizon + 1)
        ax.plot(steps, ours_h, label="Spectra forecast", marker="o", markersize=3)
        ax.plot(steps, naive_h, label="seasonal naive", marker="s", markersize=3)
        ax.set_xlabel("hours ahead")
        ax.set_ylabel("MAE (gCO2e/kWh, mean over series)")
        ax.legend()

    if save_plot(out / "intensity_forecast_horizon.png", draw_horizon):
        plots.append("intensity_forecast_horizon.png")

    if example is not None:
        label, series = example
        values = series.values
        origin = min(values.size - 7 * 24, max(min_history + 24, values.size // 2))
        origin -= origin % 24

        def draw_example(ax: Any) -> None:
            span = np.arange(origin - 48, origin + 7 * 24)
            ax.plot(span, values[span], color="black", linewidth=1, label="actual")
            for day in range(7):
                o = origin + 24 * day
                fc = forecast_intensity(values[:o], 24)
                hours = np.arange(o, o + 24)
                ax.plot(hours, fc.mean, color="tab:green", label="forecast" if day == 0 else None)
                ax.fill_between(hours, fc.mean - fc.std, fc.mean + fc.std, color="tab:green", alpha=0.15)
                ax.plot(
                    hours, values[o - 24 : o], color="tab:orange", linestyle=":", label="naive" if day == 0 else None
                )
            ax.set_title(f"{label}: day-ahead forecasts made at 00:00 UTC (±1 std)")
            ax.set_xlabel("hour index")
            ax.set_ylabel("gCO2e/kWh")
            ax.legend()

        if save_plot(out / "intensity_forecast_example.png", draw_example, size=(11, 4.5)):
            plots.append("intensity_forecast_example.png")

    rows = [
        [f["file"], f["zone"], f["mae"], f["mape"], f["seasonal_naive_mae"], f["ratio"], f["ratio_midnight_origins"]]
        for f in scored
    ]
    rows.append(
        [
            "**pooled**",
            "",
            result_json["mae"],
            result_json["mape"],
            result_json["seasonal_naive_mae"],
            result_json["ratio"],
            result_json["ratio_midnight_origins"],
        ]
    )
    skipped = [f for f in per_file if "skipped" in f]
    verdict = "met" if result_json["meets_target"] else "not met"
    markdown = "\n".join(
        [
            "# Carbon-intensity forecast back-test",
            "",
            f"Rolling day-ahead back-test: origins every {args.step} h after {args.min_history_days} days of history "
            f"(every hour of the day equally), {args.horizon} h ahead, the model seeing only earlier hours. "
            "Baseline on the same points: seasonal naive (same hour on the last observed day). "
            "Last column: the same ratio when forecasts are made only at 00:00 UTC. "
            + (
                "Files of one zone form one stored history (earlier years feed later ones); each file is scored "
                "on its own hours."
                if args.join
                else "Every file is scored on its own history only (--no-join)."
            ),
            "",
            markdown_table(
                ["file", "zone", "MAE", "MAPE %", "naive MAE", "ratio", "ratio (00:00 origins)"],
                rows,
            ),
            "",
            f"Target ratio ≤ {TARGET_RATIO} pooled and per file: **{verdict}** "
            f"(pooled {pooled_ratio:.3f}, worst file {result_json['worst_file_ratio']:.3f}). "
            f"{forecasts:,} forecasts in {seconds:.1f} s ({result_json['forecasts_per_s']:,.0f} per second).",
            "",
            *(f"Skipped {f['file']} [{f['zone']}]: {f['skipped']}" for f in skipped),
            *(f"![{name}]({name})" for name in plots),
        ]
    )
    write_outputs(out, "intensity_forecast", result_json, markdown)
    print(json.dumps(result_json))


if __name__ == "__main__":
    main()
