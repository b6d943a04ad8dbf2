"""Metric ingest throughput: POST /api/metrics (validation, dedup, 5-min and hourly roll-ups, one transaction
per batch) through a live server, against bare executemany INSERTs of the same rows into the same database.

    python bench/ingest.py [--batches 40] [--batch-size 1000] [--resources 50] [--concurrency 4]
                           [--database-url URL] [--out bench/results]

Last line: one JSON object (points per second of each, and their ratio).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
ADMIN_TOKEN = "spx_adm_bench-admin-token-000000000000000000000000"
START = datetime(2026, 1, 5, tzinfo=UTC)

SETUP = """
import json
from spectra import registry
from spectra.core.db import Base, get_engine, session_scope
from spectra.fleet import service
from spectra.fleet.schemas import ClientCreate
registry.load_models()
Base.metadata.create_all(get_engine())
with session_scope() as s:
    client, token = service.create_client(s, ClientCreate(name="ingest-bench", teams=["ops"]))
    s.flush()
    print(json.dumps({"client_id": client.id, "token": token}))
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def batches(count: int, size: int, resources: int) -> list[list[dict[str, Any]]]:
    """Distinct (resource, metric, time) points, 5 minutes apart per series, cpu and memory."""
    out, k = [], 0
    for _ in range(count):
        batch = []
        for _ in range(size):
            resource, metric = divmod(k % (2 * resources), 2)
            ts = START + timedelta(minutes=5 * (k // (2 * resources)))
            batch.append(
                {
                    "resource_id": f"vm-{resource:04d}",
                    "metric": ("cpu", "memory")[metric],
                    "ts": ts.isoformat(),
                    "value": float((k * 7) % 100),
                }
            )
            k += 1
        out.append(batch)
    return out


async def _post_all(url: str, token: str, work: list[list[dict[str, Any]]], concurrency: int) -> dict[str, float]:
    queue: asyncio.Queue[list[dict[str, Any]]] = asyncio.Queue()
    for batch in work:
        queue.put_nowait(batch)
    errors = 0
    latencies: list[float] = []
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=120) as http:

        async def worker() -> None:
            nonlocal errors
            while not queue.empty():
                batch = queue.get_nowait()
                t0 = time.perf_counter()
                r = await http.post(url, json={"points": batch})
                latencies.append(time.perf_counter() - t0)
                if r.status_code != 200 or r.json()["accepted"] != len(batch):
                    errors += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    points = sum(len(b) for b in work)
    return {
        "points": points,
        "seconds": round(elapsed, 3),
        "points_per_second": round(points / elapsed, 1),
        "p50_batch_ms": round(latencies[len(latencies) // 2] * 1000, 1),
        "errors": errors,
    }


def _bare(url: str, work: list[list[dict[str, Any]]]) -> dict[str, float]:
    """What a hand-written ingest does at best: one executemany INSERT per batch, nothing else."""
    from sqlalchemy import Column, DateTime, Float, Integer, MetaData, String, Table, create_engine

    engine = create_engine(url)
    meta = MetaData()
    table = Table(
        "bench_bare_points",
        meta,
        Column("id", Integer, primary_key=True),
        Column("resource_id", String(128)),
        Column("metric", String(32)),
        Column("ts", DateTime(timezone=True)),
        Column("value", Float),
    )
    meta.create_all(engine)
    started = time.perf_counter()
    for batch in work:
        rows = [{**p, "ts": datetime.fromisoformat(p["ts"])} for p in batch]
        with engine.begin() as conn:
            conn.execute(table.insert(), rows)
    elapsed = time.perf_counter() - started
    engine.dispose()
    points = sum(len(b) for b in work)
    return {"points": points, "seconds": round(elapsed, 3), "points_per_second": round(points / elapsed, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=40)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--resources", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args()

    url = args.database_url or f"sqlite:///{Path(tempfile.mkdtemp()) / 'ingest.db'}"
    env = {
        **os.environ,
        "SPECTRA_DATABASE_URL": url,
        "SPECTRA_ADMIN_TOKEN": ADMIN_TOKEN,
        "SPECTRA_RUN_SCHEDULER": "false",
        "SPECTRA_LOG_LEVEL": "warning",
        "SPECTRA_METRICS_PROVIDER": "none",
    }
    setup = subprocess.run([sys.executable, "-c", SETUP], env=env, cwd=ROOT, capture_output=True, text=True, check=True)
    token = json.loads(setup.stdout.strip().splitlines()[-1])["token"]
    work = batches(args.batches, args.batch_size, args.resources)

    port = _free_port()
    cmd = [sys.executable, "-m", "uvicorn", "spectra.app:create_app", "--factory", "--port", str(port),
           "--log-level", "warning", "--no-access-log"]  # fmt: skip
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
                break
            except httpx.HTTPError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(proc.stderr.read().decode() if proc.stderr else "server died") from None
                time.sleep(0.2)
        spectra = asyncio.run(_post_all(f"http://127.0.0.1:{port}/api/metrics", token, work, args.concurrency))
    finally:
        proc.terminate()
        proc.wait(10)
    bare = _bare(url, work)
    result = {
        "database": url.split(":", 1)[0],
        "batch_size": args.batch_size,
        "spectra": spectra,
        "bare_insert": bare,
        "ratio": round(spectra["points_per_second"] / bare["points_per_second"], 3),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "ingest.md").write_text(
        "# Metric ingest\n\n"
        f"{spectra['points']} points in batches of {args.batch_size} ({args.concurrency} concurrent clients) on "
        f"{result['database']}.\n\n| path | points/s | seconds |\n|---|---|---|\n"
        f"| POST /api/metrics (validate, dedup, roll up, one transaction per batch) | "
        f"{spectra['points_per_second']} | {spectra['seconds']} |\n"
        f"| bare executemany INSERT, same rows, same database | {bare['points_per_second']} | {bare['seconds']} |\n\n"
        f"Ratio: {result['ratio']} (errors: {spectra['errors']}).\n"
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
