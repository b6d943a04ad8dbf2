"""Agent load: N simulated agents heartbeating every 30 s and reporting prices against a live server on
loopback, while commands are issued to random agents and the time they take to reach a long-polling agent is
measured. SQLite (one worker) and PostgreSQL (several workers) in separate runs.

    python bench/agent_load.py --agents 1000 [--seconds 90] [--database-url URL] [--workers 4] [--out DIR]

Last line: JSON with sustained req/s, p50/p99 ms, heartbeat miss rate (client side: heartbeats that failed or
came later than the interval allows; server side: the agents' recorded misses), command delivery p99.
Targets: miss rate < 5 %, command delivery p99 < 1 s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
ADMIN_TOKEN = "spx_adm_bench-admin-token-000000000000000000000000"
ZONES = ("us-east-1a", "us-east-1b", "us-east-1c")


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Stats:
    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.errors = 0
        self.heartbeats = 0
        self.late_or_failed = 0
        self.delivery: list[float] = []


async def register(n: int, http: httpx.AsyncClient, token: str, gate: asyncio.Semaphore) -> str | None:
    body = {
        "installation_id": f"load-{n}",
        "instance_id": f"i-load{n:08d}",
        "instance_type": "m5.large",
        "region": "us-east-1",
        "availability_zone": ZONES[n % 3],
        "lifecycle": "spot",
    }
    async with gate:
        r = await http.post("/api/agents/register", json=body, headers={"Authorization": f"Bearer {token}"})
    return str(r.json()["agent_id"]) if r.status_code == 200 else None


async def agent_life(
    n: int,
    agent_id: str,
    http: httpx.AsyncClient,
    token: str,
    stats: Stats,
    stop: float,
    interval: float,
    price_every: int,
    rng: random.Random,
) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    await asyncio.sleep(rng.uniform(0, interval))  # agents start spread over one interval, like a real fleet
    beat = 0
    next_due = time.perf_counter()
    while time.perf_counter() < stop:
        t0 = time.perf_counter()
        try:
            r = await http.post(f"/api/agents/{agent_id}/heartbeat", json={"status": "running"}, headers=headers)
            ok = r.status_code == 200
        except httpx.HTTPError:
            ok = False
        elapsed = time.perf_counter() - t0
        stats.latencies.append(elapsed)
        stats.heartbeats += 1
        # A heartbeat that fails, or lands later than the interval after the previous one, is a miss.
        if not ok or t0 + elapsed - next_due > interval:
            stats.late_or_failed += 1
        if not ok:
            stats.errors += 1
        beat += 1
        if beat % price_every == 0:
            prices = [
                {"instance_type": "m5.large", "availability_zone": z, "price": round(0.03 + rng.random() / 100, 4)}
                for z in ZONES
            ]
            t1 = time.perf_counter()
            r = await http.post(
                f"/api/agents/{agent_id}/pricing-report",
                json={"instance_id": f"i-load{n:08d}", "prices": prices},
                headers=headers,
            )
            stats.latencies.append(time.perf_counter() - t1)
            if r.status_code != 200:
                stats.errors += 1
        next_due += interval
        await asyncio.sleep(max(0.0, next_due - time.perf_counter()))


async def long_poller(
    agent_id: str, http: httpx.AsyncClient, token: str, stats: Stats, stop: float, issued: dict[str, float]
) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    while time.perf_counter() < stop:
        try:
            r = await http.get(
                f"/api/agents/{agent_id}/pending-commands", params={"wait": 10}, headers=headers, timeout=20
            )
        except httpx.HTTPError:
            continue
        now = time.perf_counter()
        for command in r.json() if r.status_code == 200 else []:
            sent = issued.pop(command["request_id"], None)
            if sent is not None:
                stats.delivery.append(now - sent)
            await http.post(
                f"/api/agents/{agent_id}/commands/{command['id']}/executed",
                json={"success": True, "result": {}},
                headers=headers,
            )


async def run_load(url: str, tokens: list[str], agents: int, seconds: float, interval: float) -> dict[str, Any]:
    stats = Stats()
    rng = random.Random(7)
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
    issued: dict[str, float] = {}
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as http:
        gate = asyncio.Semaphore(16)
        ids = await asyncio.gather(*(register(n, http, tokens[n % len(tokens)], gate) for n in range(agents)))
        stats.errors += sum(1 for i in ids if i is None)
        started = time.perf_counter()
        stop = started + seconds
        lives = [
            asyncio.create_task(agent_life(n, agent_id, http, tokens[n % len(tokens)], stats, stop, interval, 10, rng))
            for n, agent_id in enumerate(ids)
            if agent_id is not None
        ]
        await asyncio.sleep(2)
        # Five agents of the first client long-poll; commands are issued to them while the fleet runs.
        admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        listed = (await http.get("/api/admin/agents", headers=admin)).json()
        rows = listed if isinstance(listed, list) else listed.get("agents", listed.get("items", []))
        pollers = [a for a in rows if a.get("client_id")][:5]
        client_tokens = {a["client_id"]: tokens[0] for a in pollers}
        poll_tasks = [
            asyncio.create_task(long_poller(a["id"], http, tokens[0], stats, stop, issued))
            for a in pollers
            if client_tokens
        ]
        while time.perf_counter() < stop - 3 and pollers:
            target = rng.choice(pollers)
            request_id = f"load-{rng.getrandbits(48):x}"
            issued[request_id] = time.perf_counter()
            await http.post(
                f"/api/agents/{target['id']}/issue-switch-command",
                json={"target_mode": "on_demand"},
                headers={"Authorization": f"Bearer {tokens[0]}", "X-Request-ID": request_id},
            )
            await asyncio.sleep(1.0)
        await asyncio.gather(*lives)
        for task in poll_tasks:
            task.cancel()
        elapsed = time.perf_counter() - started
        operational = (await http.get("/api/admin/metrics/operational", headers=admin, params={"hours": 1})).json()
    lat = sorted(stats.latencies)
    delivery = sorted(stats.delivery)
    return {
        "requests": len(lat),
        "req_per_s": round(len(lat) / elapsed, 1),
        "p50_ms": round(statistics.median(lat) * 1000, 2) if lat else None,
        "p99_ms": round(lat[int(len(lat) * 0.99) - 1] * 1000, 2) if lat else None,
        "errors": stats.errors,
        "heartbeat_miss_rate": round(stats.late_or_failed / stats.heartbeats, 5) if stats.heartbeats else None,
        "server_heartbeat_miss_rate": operational.get("heartbeat", {}).get("miss_rate"),
        "commands_delivered": len(delivery),
        "command_delivery_p99_ms": round(delivery[max(0, int(len(delivery) * 0.99) - 1)] * 1000, 1)
        if delivery
        else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=90)
    parser.add_argument("--interval", type=float, default=30, help="heartbeat interval, seconds")
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    parser.add_argument("--workers", type=int, default=None, help="default: 1 on SQLite, 4 on PostgreSQL")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args()
    url = args.database_url or f"sqlite:///{Path(tempfile.mkdtemp()) / 'load.db'}"
    workers = args.workers or (1 if url.startswith("sqlite") else 4)
    env = {
        **os.environ,
        "SPECTRA_DATABASE_URL": url,
        "SPECTRA_ADMIN_TOKEN": ADMIN_TOKEN,
        "SPECTRA_LOG_LEVEL": "warning",
        "SPECTRA_METRICS_PROVIDER": "none",
        "SPECTRA_HEARTBEAT_INTERVAL_SECONDS": str(int(args.interval)),
    }
    setup = subprocess.run(
        [
            sys.executable,
            "-c",
            (
                "import json; from spectra.core import migrate; migrate.upgrade();"
                "from spectra import registry; registry.load_models();"
                "from spectra.core.db import session_scope; from spectra.fleet import service;"
                "from spectra.fleet.schemas import ClientCreate\n"
                "out = []\n"
                "with session_scope() as s:\n"
                "    for i in range(4):\n"
                "        c, t = service.create_client(s, ClientCreate(name=f'load-{i}')); out.append(t)\n"
                "print(json.dumps(out))"
            ),
        ],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    tokens = json.loads(setup.stdout.strip().splitlines()[-1])
    port = _free_port()
    server_env = {**env, "SPECTRA_RUN_SCHEDULER": "true" if workers == 1 else "false"}
    cmd = [
        sys.executable,
        "-m",
        "uvicorn",
        "spectra.app:create_app",
        "--factory",
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--no-access-log",
        "--workers",
        str(workers),
    ]
    server = subprocess.Popen(cmd, env=server_env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    scheduler = None
    if workers > 1:
        scheduler = subprocess.Popen(
            [sys.executable, "-m", "spectra", "scheduler"],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        result = asyncio.run(run_load(base, tokens, args.agents, args.seconds, args.interval))
    finally:
        server.terminate()
        if scheduler:
            scheduler.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
    summary = {
        "benchmark": "agent_load",
        "database": "postgresql" if url.startswith("postgresql") else "sqlite",
        "agents": args.agents,
        "workers": workers,
        "seconds": args.seconds,
        **result,
        "targets": {"heartbeat_miss_rate": 0.05, "command_delivery_p99_ms": 1000},
    }
    args.out.mkdir(parents=True, exist_ok=True)
    name = f"agent_load_{summary['database']}_{args.agents}"
    (args.out / f"{name}.json").write_text(json.dumps(summary, indent=2))
    (args.out / f"{name}.md").write_text(
        f"# Agent load: {args.agents} agents, {summary['database']}, {workers} worker(s)\n\n"
        + "\n".join(f"- **{k}**: {v}" for k, v in summary.items() if k not in ("benchmark", "targets"))
        + "\n"
    )
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
