"""Dashboard and report latency over a year of stored emissions for a 1,000-instance fleet, on SQLite
and PostgreSQL.

    python bench/emissions_api.py [--instances 1000] [--days 365] [--requests 60]
        [--sqlite-url URL] [--postgres-url URL | --postgres-url none] [--out bench/results]

Each backend gets a fresh schema, two clients (60% / 40% of the instances, ten teams each), a year of
per-instance daily emissions stored through the emissions service (and its roll-up), and a budget per
team. Then every endpoint is called `--requests` times through the real app (auth, tenant scoping,
serialisation). Baseline, measured in the same run: GET /api/whoami (an authenticated no-query route).
Prints JSON (last line): p50/p95 ms per endpoint and backend, and p95 ÷ baseline p95. Target: every
p95 < 200 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
ADMIN_TOKEN = "spx_adm_bench-admin-token-000000000000000000000000"
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/bench_emissions"
REGIONS = ["us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "eu-north-1", "ap-southeast-2",
           "ap-northeast-1", "ca-central-1", "sa-east-1", "ap-south-1", "us-east-2", "eu-west-3"]  # fmt: skip
TYPES = {"m5.large": 0.096, "c5.xlarge": 0.17, "r5.2xlarge": 0.504, "t3.medium": 0.0416, "m6g.xlarge": 0.154}

os.environ.update(
    {
        "SPECTRA_ADMIN_TOKEN": ADMIN_TOKEN,
        "SPECTRA_RUN_SCHEDULER": "false",
        "SPECTRA_LOG_LEVEL": "warning",
        "SPECTRA_METRICS_PROVIDER": "none",
    }
)
sys.path.insert(0, str(ROOT / "src"))


def _ensure_pg_database(url: str) -> None:
    import psycopg

    base, _, name = url.rpartition("/")
    admin = base.replace("postgresql+psycopg://", "postgresql://") + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def _populate(n_instances: int, days: int, today: date) -> dict[str, Any]:
    """Clients, teams, instances, a year of stored emission days and budgets; returns tokens and counts."""
    from spectra.carbon.budgets import service as budgets
    from spectra.carbon.budgets.schemas import BudgetCreate
    from spectra.carbon.emissions import service as emissions
    from spectra.core.auth import Caller
    from spectra.core.db import session_scope
    from spectra.fleet import service as fleet
    from spectra.fleet.instances import service as instances
    from spectra.fleet.instances.schemas import InstanceSync
    from spectra.fleet.schemas import ClientCreate

    rng = np.random.default_rng(7)
    launched = datetime.combine(today - timedelta(days=days + 1), datetime.min.time(), tzinfo=UTC)
    fleet_rows: list[dict[str, Any]] = []
    tokens = {}
    with session_scope() as s:
        for name, share in (("bench-a", 0.6), ("bench-b", 0.4)):
            client, token = fleet.create_client(s, ClientCreate(name=name, teams=[f"team-{i}" for i in range(10)]))
            s.flush()
            tokens[name] = {"client_id": client.id, "token": token}
            teams = fleet.list_teams(s, client.id)
            for i in range(int(n_instances * share)):
                type_name = list(TYPES)[i % len(TYPES)]
                inst, _ = instances.upsert_instance(
                    s,
                    client.id,
                    InstanceSync(provider="aws", source="manual", provider_id=f"i-{name}-{i:06d}",
                                 region=REGIONS[i % len(REGIONS)], instance_type=type_name, launched_at=launched),
                )  # fmt: skip
                inst.team_id = teams[i % len(teams)].id
                fleet_rows.append({"id": inst.id, "client_id": client.id, "team_id": inst.team_id,
                                   "region": inst.region, "type": type_name})  # fmt: skip
        s.flush()
        caller = Caller("admin", None, "admin", "x")
        for name in tokens:
            for team in fleet.list_teams(s, tokens[name]["client_id"]):
                budgets.create_budget(s, BudgetCreate(team_id=team.id, budget_co2e_kg=float(rng.uniform(200, 900))),
                                      caller)  # fmt: skip

    n = len(fleet_rows)
    base_kwh = rng.uniform(0.1, 0.6, n)  # per instance-day
    region_ci = {r: rng.uniform(30, 700) for r in REGIONS}
    started = time.perf_counter()
    now = datetime.now(UTC)
    batch_days: list[date] = []
    batch_rows: list[dict[str, Any]] = []
    for offset in range(days, -1, -1):
        day = today - timedelta(days=offset)
        season = 1.0 + 0.15 * np.sin(2 * np.pi * day.timetuple().tm_yday / 365.0)
        kwh = base_kwh * rng.uniform(0.8, 1.2, n)
        for i, f in enumerate(fleet_rows):
            ci = region_ci[f["region"]] * season
            batch_rows.append({
                "instance_id": f["id"], "client_id": f["client_id"], "team_id": f["team_id"], "region": f["region"],
                "instance_type": f["type"], "day": day, "utilisation": 0.5, "utilisation_source": "default",
                "intensity_g_per_kwh": float(ci), "computed_at": now, "instance_hours": 24.0,
                "kwh": float(kwh[i]), "co2e_location_g": float(kwh[i] * ci), "co2e_market_g": float(kwh[i] * ci * 0.7),
                "embodied_g": 30.0, "cost_usd": TYPES[f["type"]] * 24, "billed_cost_usd": 0.0, "measured_hours": 0.0,
            })  # fmt: skip
        batch_days.append(day)
        if offset == 0 or (day + timedelta(days=1)).day == 1:  # a month at a time, as a backfill would
            with session_scope() as s:
                emissions.store_days(s, batch_days, batch_rows)
            batch_days, batch_rows = [], []
    # The dashboard shows each region's latest hour: a year of hourly intensity for every zone in use.
    from spectra.carbon.intensity import repository as intensity_repository
    from spectra.fleet.reference import REGIONS_BY_CODE

    hours = np.arange((days + 1) * 24)
    first_hour = datetime.combine(today - timedelta(days=days), datetime.min.time(), tzinfo=UTC)
    for region in REGIONS:
        zone = REGIONS_BY_CODE[region].zone
        values = region_ci[region] * (1 + 0.2 * np.sin(2 * np.pi * hours / 24))
        batch = [
            {"zone": zone, "hour": first_hour + timedelta(hours=int(h)), "direct_g_per_kwh": float(v),
             "lifecycle_g_per_kwh": None, "low_carbon_pct": None, "renewable_pct": 30.0, "estimated": False,
             "estimation_method": None, "data_source": "bench", "samples": 1, "imported_from": "bench",
             "imported_at": now}
            for h, v in zip(hours, values, strict=True)
        ]  # fmt: skip
        with session_scope() as s:
            intensity_repository.upsert_hours(s, batch)
    return {"tokens": tokens, "instances": n, "instance_days": n * (days + 1),
            "load_seconds": round(time.perf_counter() - started, 1)}  # fmt: skip


def _measure(client: Any, path: str, headers: dict[str, str], requests: int) -> dict[str, float]:
    for _ in range(3):  # warm caches and the connection pool
        response = client.get(path, headers=headers)
        if response.status_code != 200:
            raise RuntimeError(f"{path}: {response.status_code} {response.text[:300]}")
    samples = []
    for _ in range(requests):
        t0 = time.perf_counter()
        client.get(path, headers=headers)
        samples.append((time.perf_counter() - t0) * 1000)
    samples.sort()
    return {
        "p50_ms": round(statistics.median(samples), 2),
        "p95_ms": round(samples[max(0, int(len(samples) * 0.95) - 1)], 2),
        "max_ms": round(samples[-1], 2),
    }


def run_backend(url: str, n_instances: int, days: int, requests: int) -> dict[str, Any]:
    from fastapi.testclient import TestClient

    from spectra import registry
    from spectra.core import db as core_db
    from spectra.core.config import reset_settings_cache

    os.environ["SPECTRA_DATABASE_URL"] = url
    reset_settings_cache()
    engine = core_db.make_engine(url)
    registry.load_models()
    if engine.dialect.name == "postgresql":
        from sqlalchemy import text

        with engine.begin() as conn:  # a database of its own: start from an empty schema
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    core_db.Base.metadata.create_all(engine)
    core_db.set_engine(engine)
    today = datetime.now(UTC).date()
    info = _populate(n_instances, days, today)

    from spectra.app import create_app

    year_ago = (today - timedelta(days=days)).isoformat()
    a = {"Authorization": f"Bearer {info['tokens']['bench-a']['token']}"}
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    endpoints = {
        "baseline_whoami": ("/api/whoami", a),
        "dashboard_client": ("/api/dashboard", a),
        "dashboard_admin": ("/api/dashboard", admin),
        "report_summary_year_client": (f"/api/reports/summary?start={year_ago}&end={today.isoformat()}", a),
        "report_summary_year_admin": (f"/api/reports/summary?start={year_ago}&end={today.isoformat()}", admin),
        "report_history_12m": ("/api/reports/history?months=12", a),
        "budgets": ("/api/budgets", a),
    }
    results: dict[str, Any] = {}
    with TestClient(create_app(run_scheduler=False)) as client:
        for name, (path, headers) in endpoints.items():
            results[name] = _measure(client, path, headers, requests)
    base = results["baseline_whoami"]["p95_ms"]
    for r in results.values():
        r["p95_vs_baseline"] = round(r["p95_ms"] / base, 2) if base else None
    engine.dispose()
    core_db.set_engine(None)
    return {"dialect": engine.dialect.name, **{k: v for k, v in info.items() if k != "tokens"}, "endpoints": results}


def _report(out: Path, result: dict[str, Any]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    lines = [
        "# Emissions API latency",
        "",
        f"{result['instances']} instances, {result['days']} days of stored daily emissions per instance; "
        f"{result['requests']} requests per endpoint after warm-up. Target: p95 < 200 ms. "
        "Baseline: GET /api/whoami (authenticated, no query) in the same run.",
        "",
        "| backend | endpoint | p50 ms | p95 ms | max ms | p95 ÷ baseline |",
        "|---|---|---:|---:|---:|---:|",
    ]
    fig, ax = plt.subplots(figsize=(9, 4))
    width = 0.38
    for k, (backend, data) in enumerate(result["backends"].items()):
        names = list(data["endpoints"])
        p95 = [data["endpoints"][n]["p95_ms"] for n in names]
        ax.bar([i + k * width for i in range(len(names))], p95, width, label=backend)
        for n in names:
            e = data["endpoints"][n]
            lines.append(
                f"| {backend} | {n} | {e['p50_ms']} | {e['p95_ms']} | {e['max_ms']} | {e['p95_vs_baseline']} |"
            )
        ax.set_xticks([i + width / 2 for i in range(len(names))], names, rotation=30, ha="right", fontsize=7)
    ax.axhline(200, color="red", linestyle="--", linewidth=1, label="target 200 ms")
    ax.set_ylabel("p95 latency (ms)")
    ax.set_title("Dashboard and report endpoints over a year of a 1,000-instance fleet")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "emissions_api.png", dpi=110)
    plt.close(fig)
    for backend, data in result["backends"].items():
        lines.append("")
        lines.append(f"{backend}: loaded {data['instance_days']:,} instance-days in {data['load_seconds']} s.")
    lines += ["", "![p95 latency](emissions_api.png)", ""]
    (out / "emissions_api.md").write_text("\n".join(lines))
    (out / "emissions_api.json").write_text(json.dumps(result, indent=2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=1000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--requests", type=int, default=60)
    parser.add_argument("--sqlite-url", default=None, help="default: a fresh SQLite file")
    parser.add_argument("--postgres-url", default=DEFAULT_PG, help="a database of its own (its schema is dropped); "
                        "'none' to skip")  # fmt: skip
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args()

    backends: dict[str, Any] = {}
    sqlite_url = args.sqlite_url or f"sqlite:///{Path(tempfile.mkdtemp()) / 'bench.db'}"
    backends["sqlite"] = run_backend(sqlite_url, args.instances, args.days, args.requests)
    if args.postgres_url.lower() != "none":
        try:
            _ensure_pg_database(args.postgres_url)
        except Exception as exc:  # no server: report SQLite alone and say why
            backends["postgresql"] = {"skipped": f"{type(exc).__name__}: {exc}"}
        else:
            backends["postgresql"] = run_backend(args.postgres_url, args.instances, args.days, args.requests)
    measured = {k: v for k, v in backends.items() if "endpoints" in v}
    worst = max(e["p95_ms"] for b in measured.values() for n, e in b["endpoints"].items() if n != "baseline_whoami")
    result = {"instances": args.instances, "days": args.days, "requests": args.requests, "backends": measured}
    _report(args.out, result)
    summary = {
        "benchmark": "emissions_api",
        "instances": args.instances,
        "days": args.days,
        "worst_p95_ms": worst,
        "target_p95_ms": 200,
        "meets_target": worst < 200,
        **{
            f"{backend}_{name}_p95_ms": e["p95_ms"]
            for backend, b in measured.items()
            for name, e in b["endpoints"].items()
        },
        **{
            f"{backend}_{name}_p95_vs_baseline": e["p95_vs_baseline"]
            for backend, b in measured.items()
            for name, e in b["endpoints"].items()
            if name != "baseline_whoami"
        },
        "skipped": {k: v["skipped"] for k, v in backends.items() if "skipped" in v},
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
