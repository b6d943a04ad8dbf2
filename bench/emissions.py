"""Emissions engine speed: a year of hourly emissions for a 1,000-instance fleet.

    python bench/emissions.py [--instances 1000] [--hours 8760] [--intensity FILE ...] [--out bench/results]

The fleet is drawn (fixed seed) from the reference instance types and AWS regions; each instance
has a measured hourly CPU utilisation with 10 % of hours missing (the engine then uses CCF's 50 %)
and runs 90 % of the hours. Grid intensity comes from the given Electricity Maps / ``Time,Carbon
Intensity`` files (one zone per file, cycled over the regions; default: the shared data folder's
exports when present), else a synthetic daily pattern. Baseline, measured in the same run: the
same CCF formula in plain Python, one instance-hour at a time, on a sample of instances
(extrapolated), which also cross-checks the engine's numbers. Target: < 10 s for the full year.
Last line: one JSON object.
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
sys.path.insert(0, str(ROOT / "bench"))

from _report import markdown_table, save_plot, write_outputs  # noqa: E402
from spectra.carbon.emissions.coefficients import (  # noqa: E402
    MEMORY_KWH_PER_GB_HOUR,
    coefficients_for,
    embodied_g_per_instance_hour,
    memory_baseline_gb,
    platform_embodied_kg,
)
from spectra.carbon.emissions.engine import InstanceSpecs, compute_totals  # noqa: E402
from spectra.carbon.intensity.parsing import hourly_series, parse_intensity_file  # noqa: E402
from spectra.fleet.reference import INSTANCE_TYPES, REGIONS  # noqa: E402

DEFAULT_DATA = ROOT / ".." / "shared" / "data" / "carbon_intensity" / "electricitymaps"
TARGET_SECONDS = 10.0


def load_intensity(files: list[Path], hours: int) -> tuple[list[str], np.ndarray]:
    names, rows = [], []
    for path in files:
        zone = None if "Datetime" in path.read_text(encoding="utf-8-sig")[:200] else path.stem
        series = hourly_series(parse_intensity_file(path, zone=zone))
        values = series.values
        # Fill gaps by interpolation; cycle a short series to the horizon.
        idx = np.arange(values.size)
        ok = np.isfinite(values)
        values = np.interp(idx, idx[ok], values[ok])
        rows.append(np.resize(values, hours))
        names.append(f"{series.zone} ({path.name})")
    return names, np.vstack(rows)


def synthetic_intensity(zones: int, hours: int, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(hours)
    level = rng.uniform(50, 600, (zones, 1))
    return level * (1 + 0.25 * np.sin(2 * np.pi * (t[None, :] + rng.integers(0, 24, (zones, 1))) / 24))


def build_fleet(n: int, zones: int, rng: np.random.Generator) -> tuple[InstanceSpecs, list[str]]:
    aws_regions = [r for r in REGIONS if r.provider == "aws"]
    picks = rng.integers(0, len(INSTANCE_TYPES), n)
    region_picks = rng.integers(0, len(aws_regions), n)
    vcpu, memory, min_w, max_w, baseline, pue, embodied, zone_index, names = [], [], [], [], [], [], [], [], []
    for type_i, region_i in zip(picks, region_picks, strict=True):
        t = INSTANCE_TYPES[type_i]
        region = aws_regions[region_i]
        coef = coefficients_for(t.microarch, region.provider)
        vcpu.append(t.vcpu)
        memory.append(t.memory_gib)
        min_w.append(coef.min_watts)
        max_w.append(coef.max_watts)
        baseline.append(
            np.inf if t.burstable else memory_baseline_gb(t.vcpu, coef.gb_per_chip, t.platform.vcpu, t.platform.sockets)
        )
        pue.append(region.pue)
        platform_kg = platform_embodied_kg(t.platform.memory_gib, t.platform.sockets, 0, t.platform.ssd_drives)
        embodied.append(embodied_g_per_instance_hour(platform_kg, t.vcpu, t.platform.vcpu))
        zone_index.append(region_i % zones)
        names.append(t.name)
    specs = InstanceSpecs.build(
        vcpu=vcpu,
        memory_gib=memory,
        min_watts_per_vcpu=min_w,
        max_watts_per_vcpu=max_w,
        memory_baseline_gib=baseline,
        pue=pue,
        zone_index=zone_index,
        embodied_g_per_hour=embodied,
    )
    return specs, names


def python_baseline(
    specs: InstanceSpecs, intensity: np.ndarray, util: np.ndarray, running: np.ndarray, rows: range
) -> tuple[float, np.ndarray]:
    """The CCF formula one instance-hour at a time (plain Python); returns seconds and location grams."""
    started = time.perf_counter()
    grams = np.zeros(len(rows))
    hours = intensity.shape[1]
    for k, i in enumerate(rows):
        vcpu = float(specs.vcpu[i])
        lo, hi = float(specs.min_watts_per_vcpu[i]), float(specs.max_watts_per_vcpu[i])
        extra = max(0.0, float(specs.memory_gib[i]) - float(specs.memory_baseline_gib[i]))
        pue = float(specs.pue[i])
        zone = int(specs.zone_index[i])
        total = 0.0
        for h in range(hours):
            if not running[i, h]:
                continue
            u = util[i, h]
            u = 0.5 if u != u else u  # NaN → CCF default
            watts = vcpu * (lo + u * (hi - lo)) + extra * MEMORY_KWH_PER_GB_HOUR * 1000.0
            total += watts / 1000.0 * pue * intensity[zone, h]
        grams[k] = total
    return time.perf_counter() - started, grams


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=1000)
    parser.add_argument("--hours", type=int, default=8760)
    parser.add_argument("--intensity", type=Path, nargs="*", default=None)
    parser.add_argument("--baseline-instances", type=int, default=20)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args()

    rng = np.random.default_rng(args.seed)
    files = args.intensity
    if files is None:
        files = sorted(DEFAULT_DATA.glob("*_2023_hourly.csv")) if DEFAULT_DATA.is_dir() else []
    if files:
        zone_names, intensity = load_intensity(files, args.hours)
        source = "files"
    else:
        zone_names = [f"synthetic-{i}" for i in range(8)]
        intensity = synthetic_intensity(len(zone_names), args.hours, rng)
        source = "synthetic"
    specs, type_names = build_fleet(args.instances, intensity.shape[0], rng)
    util = np.clip(rng.beta(2.0, 5.0, (args.instances, args.hours)), 0, 1)
    util[rng.uniform(size=util.shape) < 0.1] = np.nan
    running = rng.uniform(size=util.shape) < 0.9
    market = intensity * 0.6  # a provider that covers 40 % with contractual carbon-free energy

    started = time.perf_counter()
    totals = compute_totals(specs, intensity, utilisation=util, market_intensity=market, running=running)
    seconds = time.perf_counter() - started
    instance_hours = float(totals.instance_hours.sum())

    sample = range(min(args.baseline_instances, args.instances))
    base_seconds, base_grams = python_baseline(specs, intensity, util, running, sample)
    sample_hours = float(running[: len(sample)].sum())
    base_rate = sample_hours / base_seconds if base_seconds > 0 else float("inf")
    max_rel_diff = float(np.max(np.abs(base_grams - totals.location_g[: len(sample)]) / np.maximum(base_grams, 1e-9)))
    scopes = totals.scopes_g()
    result = {
        "benchmark": "emissions",
        "instances": args.instances,
        "hours": args.hours,
        "intensity_source": source,
        "zones": len(zone_names),
        "seconds": round(seconds, 3),
        "instance_hours": instance_hours,
        "instance_hours_per_s": round(instance_hours / seconds, 1),
        "target_seconds": TARGET_SECONDS,
        "meets_target": seconds < TARGET_SECONDS,
        "baseline_python_instance_hours_per_s": round(base_rate, 1),
        "speedup_vs_python": round((instance_hours / seconds) / base_rate, 1),
        "baseline_max_relative_difference": max_rel_diff,
        "fleet_kwh": float(totals.kwh.sum()),
        "scope2_location_t": scopes["scope2_location"] / 1e6,
        "scope2_market_t": scopes["scope2_market"] / 1e6,
        "scope3_embodied_t": scopes["scope3_embodied"] / 1e6,
    }

    args.out.mkdir(parents=True, exist_ok=True)
    plot_name = "emissions_daily.png"
    days = args.hours // 24

    def draw(ax: object) -> None:
        daily = {
            "Scope 2 location": totals.hourly_location_g[: days * 24].reshape(days, 24).sum(axis=1) / 1e6,
            "Scope 2 market": totals.hourly_market_g[: days * 24].reshape(days, 24).sum(axis=1) / 1e6,
            "Scope 3 embodied": totals.hourly_embodied_g[: days * 24].reshape(days, 24).sum(axis=1) / 1e6,
        }
        for label, values in daily.items():
            ax.plot(values, label=label)  # type: ignore[attr-defined]
        ax.set_xlabel("day")  # type: ignore[attr-defined]
        ax.set_ylabel("t CO2e per day")  # type: ignore[attr-defined]
        ax.set_title(f"{args.instances} instances, daily emissions")  # type: ignore[attr-defined]
        ax.legend()  # type: ignore[attr-defined]

    plotted = save_plot(args.out / plot_name, draw)
    rows = [
        ["engine (numpy, chunked)", f"{seconds:.3f}", f"{instance_hours / seconds:,.0f}", "1.0"],
        [
            "plain Python loop (sample, same run)",
            f"{sample_hours / base_rate:.3f} for {len(sample)} instances",
            f"{base_rate:,.0f}",
            f"{base_rate / (instance_hours / seconds):.4f}",
        ],
    ]
    common = sorted(set(type_names), key=type_names.count, reverse=True)[:5]
    markdown = "\n".join(
        [
            "# Emissions engine benchmark",
            "",
            f"{args.instances} instances × {args.hours} hours ({instance_hours:,.0f} running instance-hours), "
            f"intensity from {source} ({', '.join(zone_names)}). Most common types: {', '.join(common)}.",
            "",
            markdown_table(["method", "seconds", "instance-hours/s", "rate ÷ engine"], rows),
            "",
            f"Target < {TARGET_SECONDS:.0f} s: **{'met' if seconds < TARGET_SECONDS else 'missed'}** "
            f"({seconds:.2f} s). The engine agrees with the loop to {max_rel_diff:.1e} (relative).",
            "",
            f"Fleet totals: {result['fleet_kwh']:,.0f} kWh; Scope 2 location {result['scope2_location_t']:,.2f} t, "
            f"market {result['scope2_market_t']:,.2f} t (40 % contractual CFE assumed); "
            f"Scope 3 embodied {result['scope3_embodied_t']:,.2f} t CO2e.",
            "",
            f"![daily emissions]({plot_name})" if plotted else "",
        ]
    )
    write_outputs(args.out, "emissions", result, markdown)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
