"""Platform overhead: an authenticated, tenant-scoped single-row write through Spectra vs. a bare Starlette app
doing the same UPDATE with the same driver, both under uvicorn on loopback, in the same run.

    python bench/api_overhead.py [--seconds 8] [--concurrency 16] [--database-url URL] [--out bench/results]

Prints JSON (last line): spectra_rps, bare_rps, ratio, p50/p99 ms of each. Target: ratio >= 0.5 on SQLite.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
ADMIN_TOKEN = "spx_adm_bench-admin-token-000000000000000000000000"

BARE_APP = """
import os
from sqlalchemy import create_engine, event, text
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

# What a developer would write by hand: the same driver, a pool, WAL on SQLite; none of Spectra's machinery.
url = os.environ["BENCH_DATABASE_URL"]
if url.startswith("sqlite"):
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 15}, pool_size=20)
    event.listen(engine, "connect", lambda c, _r: c.execute("PRAGMA journal_mode=WAL"))
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


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start(args: list[str], env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(args, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
            return proc
        except httpx.HTTPError:
            if proc.poll() is not None:
                raise RuntimeError(proc.stderr.read().decode() if proc.stderr else "server died") from None
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("server did not start")


async def _load(url: str, headers: dict[str, str], seconds: float, concurrency: int) -> dict[str, float]:
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
    latencies.sort()
    return {
        "rps": len(latencies) / elapsed,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000,
        "requests": len(latencies),
        "errors": errors,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args()

    url = args.database_url or f"sqlite:///{Path(tempfile.mkdtemp()) / 'bench.db'}"
    env = {
        **os.environ,
        "SPECTRA_DATABASE_URL": url,
        "SPECTRA_ADMIN_TOKEN": ADMIN_TOKEN,
        "SPECTRA_RUN_SCHEDULER": "false",
        "SPECTRA_LOG_LEVEL": "warning",
        "SPECTRA_METRICS_PROVIDER": "none",
    }
    python = sys.executable
    setup = subprocess.run(
        [
            python,
            "-c",
            (
                "import json; from spectra.core import migrate; migrate.upgrade();"
                "from spectra import registry; registry.load_models();"
                "from spectra.core.db import session_scope; from spectra.fleet import service;"
                "from spectra.fleet.schemas import ClientCreate\n"
                "with session_scope() as s:\n"
                "    c, t = service.create_client(s, ClientCreate(name='bench', teams=['ops'])); s.flush()\n"
                "    team = service.list_teams(s, c.id)[0]\n"
                "    print(json.dumps({'client_id': c.id, 'token': t, 'team_id': team.id}))"
            ),
        ],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    ids = json.loads(setup.stdout.strip().splitlines()[-1])
    results: dict[str, dict[str, float]] = {}

    port = _free_port()
    proc = _start(
        [
            python,
            "-m",
            "uvicorn",
            "spectra.app:create_app",
            "--factory",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        env,
        port,
    )
    try:
        headers = {"Authorization": f"Bearer {ids['token']}"}
        results["spectra"] = asyncio.run(
            _load(f"http://127.0.0.1:{port}/api/teams/{ids['team_id']}", headers, args.seconds, args.concurrency)
        )
    finally:
        proc.terminate()
        proc.wait(10)

    bare_dir = Path(tempfile.mkdtemp())
    (bare_dir / "bare_app.py").write_text(BARE_APP)
    port = _free_port()
    bare_env = {
        **env,
        "BENCH_DATABASE_URL": url,
        "BENCH_CLIENT_ID": ids["client_id"],
        "PYTHONPATH": f"{bare_dir}{os.pathsep}{env.get('PYTHONPATH', '')}",
    }
    proc = _start(
        [python, "-m", "uvicorn", "bare_app:app", "--port", str(port), "--log-level", "warning", "--no-access-log"],
        bare_env,
        port,
    )
    try:
        results["bare"] = asyncio.run(
            _load(f"http://127.0.0.1:{port}/teams/{ids['team_id']}", {}, args.seconds, args.concurrency)
        )
    finally:
        proc.terminate()
        proc.wait(10)

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
        f"{args.concurrency} concurrent clients for {args.seconds:g} s each.\n\n"
        "| | req/s | p50 ms | p99 ms |\n|---|---|---|---|\n"
        f"| Spectra | {summary['spectra_rps']} | {summary['spectra_p50_ms']} | {summary['spectra_p99_ms']} |\n"
        f"| bare Starlette | {summary['bare_rps']} | {summary['bare_p50_ms']} | {summary['bare_p99_ms']} |\n\n"
        f"**ratio {summary['ratio']}** (target ≥ 0.5, {summary['database']})\n"
    )
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
