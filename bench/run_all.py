"""Run every benchmark with its default data (../shared/data when present); collect their JSON lines.

    python bench/run_all.py [--only NAME ...] [--data-dir ../shared/data] [--out bench/results]

Each benchmark prints one JSON object as its last line and writes its own Markdown report; this script
writes bench/results/summary.json and summary.md from those lines.
"""

from __future__ import annotations

import argparse
import glob
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def plan(data: Path, out: Path) -> dict[str, list[str]]:
    ci = data / "carbon_intensity"
    intensity = sorted(glob.glob(str(ci / "electricitymaps" / "*.csv"))) + sorted(
        glob.glob(str(ci / "lets_wait_awhile_2020" / "*_ci.csv"))
    )
    spot = data / "aws_spot"
    # A multi-week single-type CSV trace first (the all-types TSV snapshot covers only a few hours).
    prices = sorted(glob.glob(str(spot / "spot_price_history" / "*.csv"))) + sorted(
        glob.glob(str(spot / "spot_price_history" / "*.tsv"))
    )
    advisor = sorted(glob.glob(str(spot / "spot_advisor" / "*.json")))
    nab = data / "nab"
    runs = {
        "api_overhead": ["bench/api_overhead.py", "--out", str(out)],
        "emissions": ["bench/emissions.py", "--out", str(out)],
        "emissions_api": ["bench/emissions_api.py", "--out", str(out)],
        "intensity_forecast": ["bench/intensity_forecast.py", "--out", str(out), "--intensity", *intensity],
        "carbon_scheduling": ["bench/carbon_scheduling.py", "--out", str(out), "--intensity", *intensity],
        "nab": [
            "bench/nab.py",
            "--data-dir",
            str(nab / "data"),
            "--out",
            str(out / "nab"),
            "--labels",
            str(nab / "labels" / "combined_windows.json"),
        ],
        "breach_forecast": ["bench/breach_forecast.py", "--data-dir", str(nab / "data"), "--out", str(out)],
        "forecast_speed": ["bench/forecast_speed.py", "--out", str(out)],
        "ingest": ["bench/ingest.py", "--out", str(out)],
        "spot_strategy": [
            "bench/spot_strategy.py",
            "--out",
            str(out),
            *(["--prices", prices[0]] if prices else []),
            *(["--advisor", advisor[-1]] if advisor else []),
        ],
        "spot_strategy_offline": [
            "bench/spot_strategy_offline.py",
            "--out",
            str(out),
            *(["--prices", prices[0]] if prices else []),
            *(["--advisor", advisor[-1]] if advisor else []),
        ],
        "agent_load": ["bench/agent_load.py", "--out", str(out), "--agents", "1000"],
    }
    return {name: argv for name, argv in runs.items() if (ROOT / argv[0]).exists()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", default=None)
    parser.add_argument("--data-dir", type=Path, default=ROOT / ".." / "shared" / "data")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    summary: dict[str, object] = {}
    for name, argv in plan(args.data_dir.resolve(), args.out).items():
        if args.only and name not in args.only:
            continue
        started = time.monotonic()
        proc = subprocess.run([sys.executable, *argv], cwd=ROOT, capture_output=True, text=True)
        lines = [line for line in proc.stdout.strip().splitlines() if line.strip()]
        try:
            result: object = json.loads(lines[-1]) if proc.returncode == 0 and lines else None
        except json.JSONDecodeError:
            result = None
        summary[name] = result or {"error": (proc.stderr or proc.stdout)[-2000:], "returncode": proc.returncode}
        summary[name + "_seconds"] = round(time.monotonic() - started, 1)
        print(json.dumps({name: summary[name]}), flush=True)
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2))
    rows = [f"| {k} | `{json.dumps(v)[:400]}` |" for k, v in summary.items() if not k.endswith("_seconds")]
    (args.out / "summary.md").write_text("# Benchmarks\n\n| benchmark | result |\n|---|---|\n" + "\n".join(rows) + "\n")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
