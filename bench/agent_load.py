"""Agent load: N simulated agents register, heartbeat every interval and report prices against a live server on
loopback (`spectra serve`; with several workers `spectra scheduler` runs beside them), while commands are issued
to random agents and the time they take to arrive is measured.

    python bench/agent_load.py --agents 1000 [--seconds 120] [--interval 30] [--database-url URL] [--workers 4]
                               [--reset-database] [--out DIR]

The fleet boots spread over one interval, like a real one. Each agent behaves as `spectra agent run` does, on one
keep-alive connection of its own: it registers, then beats with each beat held open by the server as its
long-poll for commands (answered a second before the next beat is due, or as soon as a command is open), takes
and acknowledges the commands a beat announces, and reports three prices every `--price-every` beats. So every
agent of the fleet is waiting for commands all the time, and the server holds one connection per agent.
"Start-up" lasts until every agent has registered; "steady" is the `--seconds` after that. Figures:

- sustained req/s and p50/p99 latency of the steady phase (a beat's latency: until the server took it, the
  liveness time it records), and the ratio of requests served to requests the fleet offered in the same window
  (the baseline: 1.0 means the server kept up);
- client-side late rate: of the beats sent in the steady phase, those that failed or came after a gap the server
  charges as missed (over 1.5 intervals), and agents left silent that long at the end;
- server-side miss rate: at every check (`--check-every`), an agent whose last heartbeat recorded by the server
  (GET /api/admin/agents) is older than two intervals is missed;
- the server's own counted miss rate (heartbeats_missed / (received + missed) of the bench's agents);
- command delivery p99: from sending `issue-switch-command` to the agent holding the command;
- CPU seconds of the bench (client) and of the server processes, to say which side limits the figures.

Targets: miss rate < 5 %, command delivery p99 < 1 s. The last line printed is the JSON summary.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _loopback import LoopbackError, LoopbackPool
from _report import markdown_table, save_plot, write_outputs

ROOT = Path(__file__).resolve().parents[1]
ADMIN_TOKEN = "spx_adm_bench-admin-token-000000000000000000000000"
ZONES = ("us-east-1a", "us-east-1b", "us-east-1c")
CLIENTS = 4


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


@dataclass
class Sample:
    sent: float  # perf_counter when the request was sent
    seconds: float
    kind: str  # register | heartbeat (seconds until the server took it) | prices | commands | executed
    ok: bool
    status: int  # HTTP status; 0 when the connection failed or the answer timed out


@dataclass
class Run:
    interval: float
    samples: list[Sample] = field(default_factory=list)
    heartbeats: list[tuple[float, bool]] = field(default_factory=list)  # (due, late or failed)
    checks: list[tuple[float, int, int]] = field(default_factory=list)  # (time, agents checked, missed)
    delivery: list[float] = field(default_factory=list)
    delivered_at: list[tuple[float, float]] = field(default_factory=list)  # (issued, seconds to arrive)
    commands_issued: int = 0
    commands_refused: int = 0
    registered_at: dict[str, float] = field(default_factory=dict)  # agent id -> perf_counter
    last_taken: dict[str, float] = field(default_factory=dict)  # agent id -> when the server took its last beat
    startup_done: float | None = None


@dataclass
class Answer:
    status_code: int
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body)


async def _post(pool: LoopbackPool, run: Run, kind: str, path: str, body: dict[str, Any] | None) -> Answer | None:
    sent = time.perf_counter()
    try:
        if body is None:
            answer: Answer | None = Answer(*await pool.request("GET", path))
        else:
            answer = Answer(*await pool.post(path, body))
    except LoopbackError:
        answer = None
    status = answer.status_code if answer is not None else 0
    run.samples.append(Sample(sent, time.perf_counter() - sent, kind, status == 200, status))
    return answer


async def agent_life(
    n: int,
    pool: LoopbackPool,
    run: Run,
    ids: list[str | None],
    boot_at: float,
    stop: asyncio.Event,
    price_every: int,
    issued: dict[str, float],
) -> None:
    """One agent as `spectra agent run` behaves: register, then beat with each beat held open as the long-poll
    for commands (answered at once when one is open), take and acknowledge the commands a beat announces, and
    report prices every `price_every` beats. One keep-alive connection, like a real agent."""
    await asyncio.sleep(max(0.0, boot_at - time.perf_counter()))
    body = {
        "installation_id": f"load-{n}",
        "instance_id": f"i-load{n:08d}",
        "instance_type": "m5.large",
        "region": "us-east-1",
        "availability_zone": ZONES[n % 3],
        "lifecycle": "spot",
        "agent_version": "load-1",
    }
    agent_id = None
    attempt = 0
    while not stop.is_set():  # a real agent retries with back-off (full jitter) until the server takes it
        response = await _post(pool, run, "register", "/api/agents/register", body)
        if response is not None and response.status_code == 200:
            agent_id = str(response.json()["agent_id"])
            break
        attempt += 1
        await asyncio.sleep(min(30.0, 0.5 * 2 ** min(attempt, 6)) * random.random())
    ids[n] = agent_id
    if agent_id is None or stop.is_set():
        return
    run.registered_at[agent_id] = time.perf_counter()
    hold = hold_seconds(run.interval)
    beat_path = f"/api/agents/{agent_id}/heartbeat?wait={hold:g}"
    beat_body = {"status": "running", "instance_id": body["instance_id"], "agent_version": "load-1"}
    rng = random.Random(n)
    beat = rng.randrange(price_every)  # price reports spread over the fleet, not all on the same beat
    last_taken: float | None = None
    failures = 0
    while not stop.is_set():
        sent, sent_wall = time.perf_counter(), time.time()
        try:
            status, raw = await pool.post(beat_path, beat_body)
        except LoopbackError:
            status, raw = 0, b""
        if status != 200:
            run.samples.append(Sample(sent, time.perf_counter() - sent, "heartbeat", False, status))
            run.heartbeats.append((sent, True))
            failures += 1
            await asyncio.sleep(min(30.0, 0.5 * 2**failures) * random.random())
            continue
        failures = 0
        answer = orjson.loads(raw)
        # A beat counts when the server takes it (the liveness time it records); the answer is held after that.
        taken = datetime.fromisoformat(answer["server_time"]).timestamp()
        taken_at = sent + (taken - sent_wall)  # on the perf_counter scale
        run.samples.append(Sample(sent, max(0.0, taken - sent_wall), "heartbeat", True, 200))
        # Late: the server saw a gap the agent's own miss count would charge (more than 1.5 intervals).
        run.heartbeats.append((sent, last_taken is not None and taken_at - last_taken > 1.5 * run.interval))
        last_taken = run.last_taken[agent_id] = taken_at
        if answer["pending_commands"]:
            commands = await _post(pool, run, "commands", f"/api/agents/{agent_id}/pending-commands", None)
            received = time.perf_counter()
            for command in commands.json() if commands is not None and commands.status_code == 200 else []:
                issued_at = issued.pop(command["request_id"].rsplit(":", 1)[-1], None)
                if issued_at is not None:
                    run.delivery.append(received - issued_at)
                    run.delivered_at.append((issued_at, received - issued_at))
                await _post(
                    pool,
                    run,
                    "executed",
                    f"/api/agents/{agent_id}/commands/{command['id']}/executed",
                    {"success": True, "result": {}},
                )
        beat += 1
        if beat % price_every == 0:
            prices = [
                {"instance_type": "m5.large", "availability_zone": z, "price": round(0.03 + rng.random() / 100, 4)}
                for z in ZONES
            ]
            await _post(
                pool,
                run,
                "prices",
                f"/api/agents/{agent_id}/pricing-report",
                {"instance_id": body["instance_id"], "prices": prices},
            )


def hold_seconds(interval: float) -> float:
    """How long an agent's beat is held for commands: the answer comes a second before the next beat is due
    (as `spectra agent run` does)."""
    return max(0.0, interval - 1.0)


async def issue_commands(
    http: httpx.AsyncClient,
    run: Run,
    ids: list[str | None],
    stop: asyncio.Event,
    issued: dict[str, float],
    every: float,
) -> None:
    """A command every `every` seconds to a random agent of the first tenant that has none on its way."""
    rng = random.Random(11)
    while not stop.is_set():
        waiting = {rid.split("/", 1)[0] for rid in issued}
        free = [a for a in ids[::CLIENTS] if a is not None and a not in waiting]
        if free:
            target = rng.choice(free)
            request_id = f"{target}/{rng.getrandbits(48):x}"
            issued[request_id] = time.perf_counter()
            try:
                response = await http.post(
                    f"/api/agents/{target}/issue-switch-command",
                    json={"target_mode": "on_demand", "reason": "load test"},
                    headers={"X-Request-ID": request_id},
                )
                ok = response.status_code == 202
            except httpx.HTTPError:
                ok = False
            run.commands_issued += int(ok)
            if not ok:
                run.commands_refused += 1
                issued.pop(request_id, None)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every)


async def check_server(admin: httpx.AsyncClient, run: Run, stop: asyncio.Event, every: float) -> None:
    """An agent is missed at a check when its last heartbeat, as the server recorded it, is older than two
    intervals (agents registered less than two intervals ago are not yet judged)."""
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), every)
            return
        except TimeoutError:
            pass
        try:
            response = await admin.get("/api/admin/agents", timeout=120)
        except httpx.HTTPError:
            continue
        now = datetime.now(UTC)
        at = time.perf_counter()
        if response.status_code != 200 or stop.is_set():
            continue
        judged = missed = 0
        for agent in response.json():
            registered = run.registered_at.get(agent["id"])
            if registered is None or at - registered < 2 * run.interval:
                continue
            judged += 1
            last = agent["last_heartbeat_at"]
            age = (now - datetime.fromisoformat(last)).total_seconds() if last else float("inf")
            missed += int(age > 2 * run.interval)
        run.checks.append((at, judged, missed))


async def run_load(
    url: str, tokens: list[str], args: argparse.Namespace, admin_token: str = ADMIN_TOKEN
) -> tuple[Run, dict[str, Any]]:
    run = Run(interval=args.interval)
    random.seed(7)
    stop = asyncio.Event()
    ids: list[str | None] = [None] * args.agents
    # One keep-alive connection per agent, as a real fleet has: every agent holds its beat open on it.
    pools = [
        LoopbackPool(url, tokens[n % len(tokens)], 1, timeout=hold_seconds(args.interval) + 60)
        for n in range(args.agents)
    ]
    commander = httpx.AsyncClient(base_url=url, timeout=60, headers={"Authorization": f"Bearer {tokens[0]}"})
    admin = httpx.AsyncClient(base_url=url, timeout=120, headers={"Authorization": f"Bearer {admin_token}"})
    started = time.perf_counter()
    wall_started = datetime.now(UTC)
    cpu_started = time.process_time()
    boots = [started + random.uniform(0, args.interval) for _ in range(args.agents)]
    issued: dict[str, float] = {}
    lives = [
        asyncio.create_task(agent_life(n, pools[n], run, ids, boots[n], stop, args.price_every, issued))
        for n in range(args.agents)
    ]
    checker = asyncio.create_task(check_server(admin, run, stop, args.check_every))
    side_tasks = [asyncio.create_task(issue_commands(commander, run, ids, stop, issued, args.command_every))]
    deadline = started + args.interval + args.max_startup
    while time.perf_counter() < deadline:
        if all(task.done() or ids[n] is not None for n, task in enumerate(lives)) and time.perf_counter() > max(boots):
            break
        await asyncio.sleep(0.5)
    run.startup_done = time.perf_counter()
    await asyncio.sleep(args.seconds)
    stop.set()
    ended = time.perf_counter()
    cpu_client = time.process_time() - cpu_started
    # Beats held when the window closed are answered within a hold: wait for them, so that every beat the server
    # took in the window is counted (the agents stop after their current beat).
    await asyncio.wait(lives, timeout=hold_seconds(args.interval) + 15)
    for task in (*lives, *side_tasks):
        task.cancel()
    await asyncio.gather(*lives, *side_tasks, checker, return_exceptions=True)
    # The server writes liveness within its flush interval: let the last flush land before reading counters.
    await asyncio.sleep(2.5)
    ours = {i for i in ids if i}
    listed = (await admin.get("/api/admin/agents")).json()
    # The server's own periodic jobs run beside the load (in the server on SQLite, in `spectra scheduler` on
    # PostgreSQL): the longest ones explain latency spikes.
    runs = (await admin.get("/api/admin/jobs/runs", params={"limit": 500})).json()
    jobs = sorted(
        (
            {
                "job": r["job_name"],
                "started_s": round((datetime.fromisoformat(r["started_at"]) - wall_started).total_seconds(), 1),
                "seconds": round(
                    (
                        datetime.fromisoformat(r["finished_at"]) - datetime.fromisoformat(r["started_at"])
                    ).total_seconds(),
                    2,
                ),
            }
            for r in runs
            if r["finished_at"] and datetime.fromisoformat(r["started_at"]) >= wall_started
        ),
        key=lambda j: -j["seconds"],
    )
    received = sum(a["heartbeats_received"] for a in listed if a["id"] in ours)
    counted_missed = sum(a["heartbeats_missed"] for a in listed if a["id"] in ours)
    for pool in pools:
        await pool.aclose()
    for http in (commander, admin):
        await http.aclose()
    return run, {
        "started": started,
        "ended": ended,
        "cpu_client_seconds": cpu_client,
        "registered": len(ours),
        "jobs": jobs,
        "server_heartbeats_received": received,
        "server_counted_miss_rate": round(counted_missed / (received + counted_missed), 5)
        if received + counted_missed
        else None,
    }


def _by_status(failed: Iterable[Sample]) -> dict[str, int]:
    """Failed requests by kind and status (0: no answer within the client's timeout, or no connection)."""
    counts: dict[str, int] = {}
    for sample in failed:
        key = f"{sample.kind} {sample.status}"
        counts[key] = counts.get(key, 0) + 1
    return dict(sorted(counts.items()))


def summarise(run: Run, extra: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    started, ended = extra["started"], extra["ended"]
    steady_from = run.startup_done or started
    steady = [s for s in run.samples if steady_from <= s.sent < ended]
    startup = [s for s in run.samples if s.sent < steady_from]
    steady_seconds = max(1e-9, ended - steady_from)
    # Throughput counts answers that arrived in the window, whenever their request was sent.
    served = sum(1 for s in run.samples if s.ok and steady_from <= s.sent + s.seconds < ended) / steady_seconds
    # A fleet of agents that each beat every hold (plus a price report every `price_every` beats).
    offered = extra["registered"] / max(1.0, hold_seconds(args.interval)) * (1 + 1 / args.price_every)
    # Late: beats sent in the window that failed or came after a gap the server charges as missed (over 1.5
    # intervals), plus one for each agent whose last beat the server took is that old when the window closes
    # (a server far behind leaves beats queued, and they never come).
    judged_until = ended - args.interval / 2
    judged = [late for sent, late in run.heartbeats if steady_from <= sent < judged_until]
    silent = sum(1 for taken in run.last_taken.values() if judged_until - taken > 1.5 * args.interval)
    late_rate = (sum(judged) + silent) / (len(judged) + silent) if judged or silent else None
    beats_all = [late for _, late in run.heartbeats]
    checks_steady = [(j, m) for at, j, m in run.checks if at >= steady_from]

    def ms(values: list[float], q: float) -> float | None:
        value = percentile(values, q)
        return round(value * 1000, 1) if value is not None else None

    judged = sum(j for j, _ in checks_steady)
    missed = sum(m for _, m in checks_steady)
    registrations = [s.seconds for s in startup if s.kind == "register" and s.ok]
    return {
        "requests_steady": len(steady),
        "req_per_s": round(served, 1),
        "offered_req_per_s": round(offered, 1),
        "served_to_offered": round(served / offered, 3) if offered else None,
        "p50_ms": ms([s.seconds for s in steady], 50),
        "p99_ms": ms([s.seconds for s in steady], 99),
        "heartbeat_p99_ms": ms([s.seconds for s in steady if s.kind == "heartbeat"], 99),
        "price_report_p99_ms": ms([s.seconds for s in steady if s.kind == "prices"], 99),
        "errors_steady": sum(1 for s in steady if not s.ok),
        "errors_steady_by_status": _by_status(s for s in steady if not s.ok),
        "heartbeat_late_rate": round(late_rate, 5) if late_rate is not None else None,
        "server_heartbeat_miss_rate": round(missed / judged, 5) if judged else None,
        "server_checks": len(checks_steady),
        "server_counted_miss_rate": extra["server_counted_miss_rate"],
        "commands_issued": run.commands_issued,
        "commands_refused": run.commands_refused,
        "commands_delivered": len(run.delivery),
        "command_delivery_p50_ms": ms(run.delivery, 50),
        "command_delivery_p99_ms": ms(run.delivery, 99),
        "startup": {
            "seconds": round(steady_from - started, 1),
            "registered": extra["registered"],
            "register_p50_ms": ms(registrations, 50),
            "register_p99_ms": ms(registrations, 99),
            "p99_ms": ms([s.seconds for s in startup], 99),
            "errors": sum(1 for s in startup if not s.ok),
            "errors_by_status": _by_status(s for s in startup if not s.ok),
            "heartbeat_late_rate": round(sum(beats_all) / len(beats_all), 5) if beats_all else None,
        },
        "longest_jobs": extra["jobs"][:5],
        "cpu": {
            "client_cores": round(extra["cpu_client_seconds"] / max(1e-9, ended - started), 2),
            "server_cores": round(extra.get("cpu_server_seconds", 0.0) / max(1e-9, ended - started), 2),
        },
    }


def _server_cpu(pid: int) -> float:
    import psutil

    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0.0
    total = 0.0
    for proc in procs:
        try:
            times = proc.cpu_times()
            total += times.user + times.system
        except psutil.Error:
            continue
    return total


def _plots(run: Run, extra: dict[str, Any], out: Path, name: str) -> list[str]:
    started = extra["started"]
    buckets: dict[int, list[float]] = {}
    price_buckets: dict[int, list[float]] = {}
    for s in run.samples:
        if s.kind in ("heartbeat", "prices"):
            kind = buckets if s.kind == "heartbeat" else price_buckets
            kind.setdefault(int((s.sent - started) // 5), []).append(s.seconds)
    xs = sorted(buckets)
    price_xs = sorted(price_buckets)
    written = []

    def latency(ax: Any) -> None:
        ax.plot([x * 5 for x in xs], [1000 * (percentile(buckets[x], 50) or 0) for x in xs], label="heartbeat p50")
        ax.plot([x * 5 for x in xs], [1000 * (percentile(buckets[x], 99) or 0) for x in xs], label="heartbeat p99")
        ax.plot(
            [x * 5 for x in price_xs],
            [1000 * (percentile(price_buckets[x], 99) or 0) for x in price_xs],
            label="price report p99",
        )
        ax.scatter(
            [sent - started for sent, _ in run.delivered_at],
            [1000 * seconds for _, seconds in run.delivered_at],
            s=6,
            color="black",
            label="command delivery",
        )
        if run.startup_done:
            ax.axvline(run.startup_done - started, color="grey", linestyle="--", label="all registered")
        ax.set_yscale("log")
        ax.set_xlabel("seconds since the fleet started booting (5 s buckets)")
        ax.set_ylabel("ms")
        ax.legend()

    if xs and save_plot(out / f"{name}_latency.png", latency):
        written.append(f"{name}_latency.png")

    def delivery(ax: Any) -> None:
        ordered = sorted(run.delivery)
        ax.plot([1000 * d for d in ordered], [(i + 1) / len(ordered) for i in range(len(ordered))])
        ax.axvline(1000, color="red", linestyle="--", label="target 1 s")
        ax.set_xlabel("command delivery, ms")
        ax.set_ylabel("fraction of commands")
        ax.legend()

    if run.delivery and save_plot(out / f"{name}_delivery.png", delivery, size=(6.0, 4.0)):
        written.append(f"{name}_delivery.png")
    return written


def _setup(env: dict[str, str], reset: bool) -> list[str]:
    code = (
        "import json, time; from spectra.core import migrate\n"
        f"if {reset!r}:\n"
        "    migrate.downgrade_all()\n"
        "migrate.upgrade()\n"
        "from spectra import registry; registry.load_models()\n"
        "from spectra.core.db import session_scope; from spectra.fleet import service\n"
        "from spectra.fleet.schemas import ClientCreate\n"
        "out = []\n"
        "with session_scope() as s:\n"
        f"    for i in range({CLIENTS}):\n"
        "        c, t = service.create_client(s, ClientCreate(name=f'load-{time.time_ns()}-{i}')); out.append(t)\n"
        "print(json.dumps(out))"
    )
    setup = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, check=True)
    return list(json.loads(setup.stdout.strip().splitlines()[-1]))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=120, help="steady phase after every agent registered")
    parser.add_argument("--interval", type=float, default=30, help="heartbeat interval, seconds")
    parser.add_argument("--price-every", type=int, default=10, help="a price report every this many heartbeats")
    parser.add_argument("--command-every", type=float, default=1.0, help="seconds between issued commands")
    parser.add_argument("--check-every", type=float, default=10.0, help="seconds between server-side checks")
    parser.add_argument("--max-startup", type=float, default=600, help="give up waiting for registrations after")
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    parser.add_argument("--reset-database", action="store_true", help="drop every table of --database-url first")
    parser.add_argument("--workers", type=int, default=None, help="default: 1 on SQLite, 4 on PostgreSQL")
    parser.add_argument("--flush-seconds", type=float, default=None, help="server's heartbeat flush (default 1)")
    parser.add_argument(
        "--no-jobs", action="store_true", help="run the server without its periodic jobs (isolates the agent protocol)"
    )
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    return parser


def main() -> None:
    args = build_parser().parse_args()
    url = args.database_url or f"sqlite:///{Path(tempfile.mkdtemp()) / 'load.db'}"
    database = "postgresql" if url.startswith("postgresql") else "sqlite"
    workers = args.workers or (1 if database == "sqlite" else 4)
    env = {
        **os.environ,
        "SPECTRA_DATABASE_URL": url,
        "SPECTRA_ADMIN_TOKEN": ADMIN_TOKEN,
        "SPECTRA_LOG_LEVEL": "warning",
        "SPECTRA_METRICS_PROVIDER": "none",
        "SPECTRA_HEARTBEAT_INTERVAL_SECONDS": str(int(args.interval)),
        "SPECTRA_SIM_CLOCK_ENABLED": "false",
    }
    if args.flush_seconds is not None:
        env["SPECTRA_HEARTBEAT_FLUSH_SECONDS"] = str(args.flush_seconds)
    if args.no_jobs:
        env["SPECTRA_RUN_SCHEDULER"] = "false"
    tokens = _setup(env, args.reset_database)
    port = _free_port()
    # The server's log goes to a file: a pipe nobody reads would fill up and stall the server.
    args.out.mkdir(parents=True, exist_ok=True)
    name = f"agent_load_{database}_{args.agents}" + ("_no_jobs" if args.no_jobs else "")
    server_log = (args.out / f"{name}_server.log").open("w")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "spectra",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
        ],
        env=env,
        cwd=ROOT,
        stdout=server_log,
        stderr=subprocess.STDOUT,
    )
    scheduler = None
    if workers > 1 and not args.no_jobs:
        scheduler = subprocess.Popen(
            [sys.executable, "-m", "spectra", "scheduler"],
            env=env,
            cwd=ROOT,
            stdout=server_log,
            stderr=subprocess.STDOUT,
        )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        cpu_server = _server_cpu(server.pid) + (_server_cpu(scheduler.pid) if scheduler else 0.0)
        run, extra = asyncio.run(run_load(base, tokens, args))
        extra["cpu_server_seconds"] = (
            _server_cpu(server.pid) + (_server_cpu(scheduler.pid) if scheduler else 0.0) - cpu_server
        )
    finally:
        for proc in (server, scheduler):
            if proc is not None:
                proc.terminate()
        for proc in (server, scheduler):
            if proc is not None:
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    proc.kill()
        server_log.close()
    figures = summarise(run, extra, args)
    summary = {
        "benchmark": "agent_load",
        "database": database,
        "agents": args.agents,
        "workers": workers,
        "periodic_jobs": not args.no_jobs,
        "interval_seconds": args.interval,
        "steady_seconds": args.seconds,
        **figures,
        "load_average_1m": round(os.getloadavg()[0], 2),
        "targets": {"heartbeat_miss_rate": 0.05, "command_delivery_p99_ms": 1000},
        "meets_targets": bool(
            (figures["server_heartbeat_miss_rate"] or 0) < 0.05
            and (figures["heartbeat_late_rate"] or 0) < 0.05
            and figures["command_delivery_p99_ms"] is not None
            and figures["command_delivery_p99_ms"] < 1000
        ),
    }
    plots = _plots(run, extra, args.out, name)
    rows = [
        ("sustained req/s (steady)", figures["req_per_s"]),
        ("served / offered", figures["served_to_offered"]),
        ("p50 / p99 ms (steady)", f"{figures['p50_ms']} / {figures['p99_ms']}"),
        ("heartbeat late rate (client)", figures["heartbeat_late_rate"]),
        ("heartbeat miss rate (server, > 2 intervals)", figures["server_heartbeat_miss_rate"]),
        ("heartbeat miss rate (server counters)", figures["server_counted_miss_rate"]),
        (
            "command delivery p50 / p99 ms",
            f"{figures['command_delivery_p50_ms']} / {figures['command_delivery_p99_ms']}",
        ),
        ("commands delivered / issued", f"{figures['commands_delivered']} / {figures['commands_issued']}"),
        ("start-up seconds", figures["startup"]["seconds"]),
        (
            "registration p50 / p99 ms",
            f"{figures['startup']['register_p50_ms']} / {figures['startup']['register_p99_ms']}",
        ),
        ("start-up p99 ms", figures["startup"]["p99_ms"]),
        ("CPU cores used: client / server", f"{figures['cpu']['client_cores']} / {figures['cpu']['server_cores']}"),
        ("load average of the machine (1 min, at the end)", summary["load_average_1m"]),
        (
            "longest server jobs during the run",
            ", ".join(f"{j['job']} {j['seconds']} s" for j in figures["longest_jobs"]),
        ),
    ]
    markdown = (
        f"# Agent load: {args.agents} agents, {database}, {workers} worker(s)\n\n"
        f"Each agent holds its heartbeat open as its long-poll for commands ({hold_seconds(args.interval):g} s, so "
        f"a beat every {args.interval:g} s at most), reports prices every {args.price_every} beats; a command to a "
        f"random agent every {args.command_every:g} s; steady phase {args.seconds:g} s.\n\n"
        + markdown_table(["figure", "value"], rows)
        + "\n\n"
        + "\n".join(f"![{p}]({p})" for p in plots)
    )
    write_outputs(args.out, name, summary, markdown)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
