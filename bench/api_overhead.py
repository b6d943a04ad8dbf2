"""Platform overhead: an authenticated, tenant-scoped single-row write through Spectra vs. a bare Starlette app
doing the same UPDATE with the same driver, both under uvicorn on loopback, in the same run.

    python bench/api_overhead.py [--seconds 8] [--rounds 4] [--concurrency 16] [--database-url URL]
                                 [--out bench/results]

Prints JSON (last line): spectra_rps, bare_rps, ratio, p50/p99 ms of each. Target: ratio >= 0.5 on SQLite.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from _server import ROOT, database_url, run_setup, serve, spectra_env

BARE_APP = """
import os
from sqlalchemy import create_engine, event, text
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

# What a developer would write by hand: the same driver, a pool, and on SQLite the same durability settings as
# Spectra's (WAL, synchronous=NORMAL), so neither side pays an fsync the other does not; none of Spectra's machinery.
url = os.environ["BENCH_DATABASE_URL"]
if url.startswith("sqlite"):
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 15}, pool_size=20)

    def pragmas(connection, _record):
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")

    event.listen(engine, "connect", pragmas)
else:
    engine = create_engine(url, pool_size=20)

async def write(request: Request) -> JSONResponse:
    body = await request.json()
    team_id = request.path_params["team_id"]
    def run():
        with engine.begin() as conn:
            conn.execute(text("UPDATE teams SET cost_center = :c WHERE id = :i AND client_id = :k"),
                         {"c": body["cost_center"], "i": team_id, "k": os.environ["BENCH_CLIENT_ID"]})
            row = conn.execute(text("SELECT id, name, cost_center FROM teams WHERE id = :i"), {"i": team_id}).one()
        return dict(row._mapping)
    from starlette.concurrency import run_in_threadpool
    return JSONResponse(await run_in_threadpool(run))

app = Starlette(routes=[Route("/teams/{team_id}", write, methods=["PATCH"])])
"""

SETUP = """
import json
from spectra.core.db import session_scope
from spectra.fleet import service
from spectra.fleet.schemas import ClientCreate
with session_scope() as s:
    c, t = service.create_client(s, ClientCreate(name="bench", teams=["ops"]))
    s.flush()
    team = service.list_teams(s, c.id)[0]
    print(json.dumps({"client_id": c.id, "token": t, "team_id": team.id}))
"""


async def _load(url: str, headers: dict[str, str], seconds: float, concurrency: int) -> dict[str, Any]:
    """One round: `concurrency` clients writing for `seconds`; the latencies and the wall time."""
    latencies: list[float] = []
    errors = 0
    stop = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(headers=headers, limits=limits, timeout=30) as http:

        async def worker(n: int) -> None:
            nonlocal errors
            i = 0
            while time.perf_counter() < stop:
                i += 1
                t0 = time.perf_counter()
                r = await http.patch(url, json={"cost_center": f"cc-{n}-{i}"})
                latencies.append(time.perf_counter() - t0)
                if r.status_code != 200:
                    errors += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker(n) for n in range(concurrency)))
        elapsed = time.perf_counter() - started
    return {"latencies": latencies, "elapsed": elapsed, "errors": errors}


def _combine(rounds: list[dict[str, Any]]) -> dict[str, float]:
    latencies = sorted(x for r in rounds for x in r["latencies"])
    elapsed = sum(r["elapsed"] for r in rounds)
    return {
        "rps": len(latencies) / elapsed,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000,
        "requests": len(latencies),
        "errors": sum(r["errors"] for r in rounds),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8, help="per side, split over the rounds")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args()

    url = database_url(args.database_url, "bench")
    env = spectra_env(url)
    ids = run_setup(SETUP, env)
    bare_dir = Path(tempfile.mkdtemp())
    (bare_dir / "bare_app.py").write_text(BARE_APP)
    bare_env = {
        **env,
        "BENCH_DATABASE_URL": url,
        "BENCH_CLIENT_ID": ids["client_id"],
        "PYTHONPATH": f"{bare_dir}{os.pathsep}{env.get('PYTHONPATH', '')}",
    }
    headers = {"Authorization": f"Bearer {ids['token']}"}
    rounds: dict[str, list[dict[str, Any]]] = {"spectra": [], "bare": []}
    # Both servers up at once, measured in alternating rounds after a warm-up request each: a machine whose load
    # changes during the run slows both sides alike instead of whichever ran second.
    with serve("spectra.app:create_app", env, factory=True) as spectra, serve("bare_app:app", bare_env) as bare:
        targets = {
            "spectra": (f"{spectra}/api/teams/{ids['team_id']}", headers),
            "bare": (f"{bare}/teams/{ids['team_id']}", {}),
        }
        for target, target_headers in targets.values():
            httpx.patch(target, json={"cost_center": "warm-up"}, headers=target_headers, timeout=30)
        for _ in range(args.rounds):
            for name, (target, target_headers) in targets.items():
                rounds[name].append(
                    asyncio.run(_load(target, target_headers, args.seconds / args.rounds, args.concurrency))
                )
    results = {name: _combine(r) for name, r in rounds.items()}

    summary = {
        "benchmark": "api_overhead",
        "database": "postgresql" if url.startswith("postgresql") else "sqlite",
        "spectra_rps": round(results["spectra"]["rps"], 1),
        "bare_rps": round(results["bare"]["rps"], 1),
        "ratio": round(results["spectra"]["rps"] / results["bare"]["rps"], 3),
        "spectra_p50_ms": round(results["spectra"]["p50_ms"], 2),
        "spectra_p99_ms": round(results["spectra"]["p99_ms"], 2),
        "bare_p50_ms": round(results["bare"]["p50_ms"], 2),
        "bare_p99_ms": round(results["bare"]["p99_ms"], 2),
        "errors": int(results["spectra"]["errors"] + results["bare"]["errors"]),
        "target_ratio": 0.5,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "api_overhead.json").write_text(json.dumps(summary, indent=2))
    (args.out / "api_overhead.md").write_text(
        "# API overhead\n\nAuthenticated, tenant-scoped single-row write (`PATCH /api/teams/{id}`) through Spectra "
        "vs. a bare Starlette app doing the same UPDATE with the same driver; both under uvicorn on loopback, "
        f"{args.concurrency} concurrent clients for {args.seconds:g} s each, in {args.rounds} alternating rounds.\n\n"
        "| | req/s | p50 ms | p99 ms |\n|---|---|---|---|\n"
        f"| Spectra | {summary['spectra_rps']} | {summary['spectra_p50_ms']} | {summary['spectra_p99_ms']} |\n"
        f"| bare Starlette | {summary['bare_rps']} | {summary['bare_p50_ms']} | {summary['bare_p99_ms']} |\n\n"
        f"**ratio {summary['ratio']}** (target ≥ 0.5, {summary['database']})\n"
    )
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
