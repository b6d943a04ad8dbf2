"""Spot strategy benchmark through the real server and agents, against the offline baselines on the same trace.

    python bench/spot_strategy.py [--prices FILE] [--advisor FILE] [--on-demand-price USD] [--seed N]
        [--fleet 4] [--step-minutes 60] [--out DIR]

Spectra's strategy runs end to end: a Spectra server (in-process uvicorn thread on a free loopback port, fresh
SQLite file, simulated clock starting at the trace start), one client, the trace's history up to the first
decision imported through the pricing import API, and one agent per simulated instance (the real `Agent` with the
`SimBackend`), driven synchronously from this loop so a run is deterministic. Every step the simulated cloud and
the server's clock advance together (`POST /api/admin/tick`, which runs the engine sweep), agents report notices,
heartbeats and prices, fetch their pending commands and execute them in the simulated cloud.

Costs come from the simulated cloud (exact integral of each instance's step-function price, on-demand at its list
price) plus the offline bench's cost model: a voluntary move costs `switch-cost-hours` × on-demand, an
interruption `interruption-cost-hours` × on-demand. The interruption events are the offline bench's (same seed,
same per-pool Poisson process), so stay / always-cheapest / on-demand / oracle from `spot_strategy_offline` are
measured in the same run on the same trace with the same costs.

Downtime: per interruption, seconds between the old instance's end and the replacement being ready. The run is
done twice: without replicas (the server fails over on the termination notice) and with one replica kept per
instance (the notice promotes it), over the first `--replica-days` of the trace (it only measures downtime).

Last line: one JSON object (savings_vs_on_demand_pct, oracle_savings_vs_on_demand_pct, headroom_captured,
switches_per_instance_day, interruptions, downtime_p95_s, downtime_p95_s_with_replicas, decision_p99_ms, …).
Writes spot_strategy.md + spot_strategy.png to --out.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import socket
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

import spot_strategy_offline as offline  # noqa: E402
from spectra.agent.runner import SWITCHING, Agent  # noqa: E402
from spectra.agent.sim import SimBackend  # noqa: E402
from spectra.agent.state import StateStore  # noqa: E402
from spectra.agent.transport import ServerClient  # noqa: E402
from spectra.sim.cloud import SimCloud, SimInstance  # noqa: E402
from spectra.sim.prices import BootTimeModel, Interruption, interruption_events  # noqa: E402
from spectra.spot.decisions.engine import ClientPolicy  # noqa: E402
from spectra.spot.pricing.formats import PoolKey  # noqa: E402

EPSILON = timedelta(microseconds=1)
ADMIN_TOKEN = "spx_adm_bench-spot-strategy-0123456789abcdefghijklmnopq"


# --------------------------------------------------------------------------- the server


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def spectra_server(start: datetime, workdir: Path, all_jobs: bool = False) -> Iterator[str]:
    """A fresh Spectra server on loopback with the simulated clock at `start`; yields its URL.

    By default each tick runs only the platform's and the spot domain's jobs: the carbon and capacity jobs have
    nothing to do for this fleet but cost a few hundred ms per tick (`all_jobs=True` keeps them)."""
    os.environ.update(
        {
            "SPECTRA_DATABASE_URL": f"sqlite:///{workdir / 'spectra.db'}",
            "SPECTRA_ADMIN_TOKEN": ADMIN_TOKEN,
            "SPECTRA_RUN_SCHEDULER": "false",  # the bench's ticks run the jobs, nothing runs on wall time
            "SPECTRA_SIM_CLOCK_ENABLED": "true",
            "SPECTRA_SIM_CLOCK_START": start.isoformat(),
            "SPECTRA_SIM_CLOCK_SPEED": "0",
            "SPECTRA_LOG_LEVEL": "warning",
            "SPECTRA_METRICS_PROVIDER": "none",
        }
    )
    import uvicorn

    from spectra import registry
    from spectra.app import create_app
    from spectra.core import db as core_db
    from spectra.core.config import reset_settings_cache

    reset_settings_cache()
    engine = core_db.make_engine(os.environ["SPECTRA_DATABASE_URL"])
    registry.load_models()
    # The repository has no Alembic revision yet (they are generated at release): build the bench's own fresh
    # database from the models instead of `spectra.core.migrate.upgrade()`.
    core_db.Base.metadata.create_all(engine)
    core_db.set_engine(engine)
    app = create_app(run_scheduler=False)
    if not all_jobs:
        from spectra.core import jobs

        for name in list(jobs.registered_jobs()):
            if not name.startswith(("spot.", "platform.")):
                del jobs._registry[name]
    port = _free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the Spectra server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        engine.dispose()


# --------------------------------------------------------------------------- the run through the server


@dataclass
class ServerRun:
    name: str
    cost: float = 0.0
    running_cost: float = 0.0
    switches: int = 0
    interruptions: int = 0
    emergency_commands: int = 0
    commands_executed: int = 0
    failed_commands: int = 0
    downtimes_s: list[float] = field(default_factory=list)
    decision_latencies_ms: list[float] = field(default_factory=list)
    cumulative: list[float] = field(default_factory=list)
    on_demand_hours: float = 0.0
    tick_seconds: float = 0.0  # wall time in POST /api/admin/tick (clock + jobs, including the engine sweep)
    agent_seconds: float = 0.0  # wall time of the agents' requests and executions
    cloud: SimCloud | None = None  # the simulated cloud at the end of the run (instances, launches, ends)


def _check(response: httpx.Response) -> Any:
    if response.status_code >= 400:
        raise RuntimeError(
            f"{response.request.method} {response.request.url.path}: {response.status_code} {response.text}"
        )
    return response.json() if response.content else None


def _history_csv(market: offline.Market, until: datetime) -> str:
    """The trace's rows up to `until` in describe-spot-price-history CSV form: the history the server starts with.
    Later rows reach the server only as the agents observe them (no look-ahead)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["Timestamp", "InstanceType", "ProductDescription", "SpotPrice", "AvailabilityZone"])
    for pool in market.pools:
        path = market.paths[pool]
        for t, price in zip(path.times, path.prices, strict=True):
            if t <= until:
                writer.writerow(
                    [t.isoformat(), pool.instance_type, pool.product_description, price, pool.availability_zone]
                )
    return out.getvalue()


def _on_demand_csv(market: offline.Market) -> str:
    pool = market.pools[0]
    column = "Windows On Demand cost" if pool.os == "Windows" else "Linux On Demand cost"
    return f"API Name,{column}\n{pool.instance_type},${market.on_demand_price} hourly\n"


def _instance_cost(cloud: SimCloud, inst: SimInstance, start: datetime, end: datetime) -> float:
    """USD of one simulated instance over [start, end): exact integral of its price while it ran."""
    begin, finish = max(inst.launched_at, start), min(inst.terminated_at or end, end)
    if finish <= begin:
        return 0.0
    if inst.lifecycle == "spot":
        return cloud.paths[inst.pool].cost(begin, finish)
    return cloud.on_demand_price(inst.pool) * (finish - begin).total_seconds() / 3600.0


def _notice_times(events: dict[PoolKey, list[Interruption]], after: datetime, until: datetime) -> list[datetime]:
    return sorted({e.notice_at for pool_events in events.values() for e in pool_events if after < e.notice_at <= until})


def run_through_server(
    url: str,
    market: offline.Market,
    times: list[datetime],
    step: timedelta,
    fleet: int,
    seed: int,
    policy: ClientPolicy,
    workdir: Path,
    admin_token: str = ADMIN_TOKEN,
    replicas: bool = False,
    name: str = "spectra",
) -> ServerRun:
    """Drive `fleet` agents on the simulated cloud against the server at `url` over `times` (one step each)."""
    admin = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {admin_token}"}, timeout=60)
    t0 = times[0] - step  # the server and the cloud start one step before the first decision
    _check(admin.put("/api/admin/clock", json={"at": t0.isoformat(), "speed": 0}))
    tenant = _check(admin.post("/api/admin/clients/create", json={"name": f"bench-{name}-{seed}-{time.time_ns()}"}))
    region = market.pools[0].region
    _check(
        admin.post(
            "/api/admin/pricing/import",
            files={"file": ("on-demand.csv", _on_demand_csv(market))},
            data={"kind": "on-demand", "region": region},
        )
    )
    _check(
        admin.post(
            "/api/admin/pricing/import",
            files={"file": ("history.csv", _history_csv(market, t0))},
            data={"kind": "price-history"},
        )
    )

    # Same interruption process as the offline strategies (same probabilities, span and seed).
    events = interruption_events(market.probability, market.start, market.end + step, seed=seed)
    on_demand = market.on_demand_price
    cloud = SimCloud(market.paths, lambda pool: on_demand, events, BootTimeModel(seed=seed), t0)
    agents: list[Agent] = []
    backends: list[SimBackend] = []
    server_policy = {
        "switch_cost_on_demand_hours": policy.switch_cost_on_demand_hours,
        "interruption_cost_on_demand_hours": policy.interruption_cost_on_demand_hours,
        "max_pool_share": policy.max_pool_share,
        "hysteresis_pct": policy.hysteresis_pct,
        "amortisation_hours": policy.amortisation_hours,
        "min_dwell_hours": policy.min_dwell_hours,
    }
    if replicas:
        server_policy.update({"min_replicas": 1, "replica_risk_threshold": 0.0})
    heartbeat = int(min(3600, max(5, step.total_seconds())))
    for n in range(fleet):
        inst = cloud.launch(market.pools[n % len(market.pools)], "spot", client_token=f"bench-{seed}-{n}")
        backend = SimBackend(cloud, inst.id)
        store = StateStore(workdir / f"{name}-agent-{n}.json")
        server = ServerClient(url, tenant["token"], store, sleep=lambda s: None)

        def follow(new_id: str, backend: SimBackend = backend) -> None:
            backend.instance_id = new_id

        agent = Agent(
            server,
            backend,
            store,
            candidate_types=[inst.pool.instance_type],
            logical_name=f"{name}-{n:03d}",
            on_switch=follow,
            clock=lambda: cloud.now,
        )
        agent.register()
        me = _check(server.http.get(f"/api/agents/{agent.agent_id}"))
        _check(
            server.http.patch(
                f"/api/agents/{agent.agent_id}/config",
                json={
                    "version": me["version"],
                    "auto_switch_enabled": True,
                    # One heartbeat per step: the liveness job must not call a stepping agent silent.
                    "heartbeat_interval_seconds": heartbeat,
                    "config": {"policy": server_policy},
                },
            )
        )
        agent.heartbeat()
        agent.report_prices()
        agents.append(agent)
        backends.append(backend)

    run = ServerRun(name)
    server_now = t0
    switch_cost = policy.switch_cost(on_demand)
    interruption_cost = policy.interruption_cost(on_demand)
    replaced: dict[str, str] = {}  # interrupted instance id → the instance that took over

    def tick_to(moment: datetime) -> None:
        nonlocal server_now
        minutes = (moment - server_now).total_seconds() / 60.0
        if minutes > 0:
            began = time.perf_counter()
            _check(admin.post("/api/admin/tick", json={"minutes": minutes}))
            run.tick_seconds += time.perf_counter() - began
            server_now = moment

    def run_commands(agent: Agent, backend: SimBackend, emergency: bool) -> None:
        for command in agent.pending_commands(0):
            before = backend.instance_id
            result = agent.execute(command)
            run.commands_executed += 1
            if not result.get("success"):
                run.failed_commands += 1
                continue
            kind = command["command_type"]
            from_engine = command.get("issued_by") == "engine" and not emergency
            if kind in SWITCHING and backend.instance_id != before:
                if from_engine:
                    run.switches += 1
                else:
                    run.emergency_commands += 1
                    replaced[before] = backend.instance_id
            elif kind == "promote_replica" and backend.instance_id != before:
                run.emergency_commands += 1
                replaced[before] = backend.instance_id

    reported_at = t0
    for t in times:
        # Interruption notices in this step: the server and the cloud stop at each, the warned agents report it
        # and carry out what the server answers (fail-over or replica promotion).
        for notice_at in _notice_times(events, cloud.now, t):
            tick_to(notice_at)
            cloud.advance_to(notice_at)
            for agent, backend in zip(agents, backends, strict=True):
                if agent.check_notice() is not None:
                    run_commands(agent, backend, emergency=True)
        tick_to(t)  # runs the engine sweep on what the agents reported up to the previous step
        cloud.advance_to(t)
        began = time.perf_counter()
        # Agents report when a candidate pool's price moved since the last step (an unchanged price tells the
        # server nothing new; the replayed traces change a few times a day per pool).
        changed = any(p.changes_between(reported_at, t + EPSILON) for p in market.paths.values())
        reported_at = t
        for agent, backend in zip(agents, backends, strict=True):
            # The heartbeat's answer says whether commands wait: poll only then (what a long-polling agent sees).
            waiting = agent.heartbeat().get("pending_commands", 1)
            agent.check_notice()
            if waiting:
                run_commands(agent, backend, emergency=False)
            if changed:
                agent.report_prices()
        run.agent_seconds += time.perf_counter() - began
        running = sum(_instance_cost(cloud, inst, times[0], t + step) for inst in cloud.instances.values())
        interrupted = sum(1 for inst in cloud.instances.values() if _interrupted_in_run(inst, times[0]))
        run.cumulative.append(running + run.switches * switch_cost + interrupted * interruption_cost)

    end = times[-1] + step
    cloud.advance_to(end)
    run.running_cost = sum(_instance_cost(cloud, inst, times[0], end) for inst in cloud.instances.values())
    run.interruptions = sum(1 for inst in cloud.instances.values() if _interrupted_in_run(inst, times[0]))
    run.cost = run.running_cost + run.switches * switch_cost + run.interruptions * interruption_cost
    for inst in cloud.instances.values():
        if inst.lifecycle != "spot":
            begin, finish = max(inst.launched_at, times[0]), min(inst.terminated_at or end, end)
            run.on_demand_hours += max((finish - begin).total_seconds(), 0.0) / 3600.0
        if _interrupted_in_run(inst, times[0]) and inst.terminated_at is not None:
            successor = replaced.get(inst.id)
            if successor is None:
                # Nobody took over before the end of the run: down until then.
                run.downtimes_s.append((end - inst.terminated_at).total_seconds())
            else:
                ready = cloud.get(successor).ready_at
                run.downtimes_s.append(max((ready - inst.terminated_at).total_seconds(), 0.0))
    run.decision_latencies_ms = _decision_latencies(tenant["id"])
    run.cloud = cloud
    return run


def _interrupted_in_run(inst: SimInstance, start: datetime) -> bool:
    return inst.interrupted and inst.terminated_at is not None and inst.terminated_at >= start


def _decision_latencies(client_id: str) -> list[float]:
    """The engine latency the server logged with every decision it made for this client."""
    from sqlalchemy import select

    from spectra.core.db import session_scope
    from spectra.spot.decisions.models import MLDecision

    with session_scope(read_only=True) as session:
        return [
            float(v) for v in session.scalars(select(MLDecision.latency_ms).where(MLDecision.client_id == client_id))
        ]


# --------------------------------------------------------------------------- figures and report


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def as_outcome(run: ServerRun) -> offline.Outcome:
    return offline.Outcome(run.name, run.cost, run.switches, run.interruptions, run.on_demand_hours, run.cumulative)


def write_report(
    out: Path,
    result: dict[str, Any],
    table: dict[str, dict[str, float | int]],
    times: list[datetime],
    outcomes: list[offline.Outcome],
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 4))
    stay = next(o for o in outcomes if o.name == "stay")
    for outcome in outcomes:
        if outcome.name == "on_demand_only" or len(outcome.cumulative) != len(times):
            continue
        ax.plot(
            mdates.date2num(times),
            [c - s for c, s in zip(outcome.cumulative, stay.cumulative, strict=True)],
            label=outcome.name,
        )
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%m-%d"))
    ax.set_ylabel("cumulative cost − stay (USD)")
    ax.set_title("Fleet cost relative to staying put (lower is better); spectra = through the server and agents")
    ax.legend(fontsize=8)
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(out / "spot_strategy.png", dpi=110)
    plt.close(fig)
    lines = [
        "# Spot strategies through the real server and agents",
        "",
        f"Trace `{result['trace']}`{' (synthetic)' if result['synthetic'] else ''}: {result['instance_type']} in "
        f"{result['region']}, {result['pools']} pools, {result['days']} days, fleet of {result['fleet']}, "
        "one step every "
        f"{result['step_minutes']:g} min. On-demand {result['on_demand_price']} USD/h; switch "
        f"{result['switch_cost_usd']} USD; interruption {result['interruption_cost_usd']} USD. `spectra` ran through "
        "a live server (engine sweep on every tick) and the agent program on the simulated cloud; the other rows "
        "are the offline strategies on the same trace, interruptions and costs.",
        "",
        "| strategy | cost USD | savings vs on-demand % | switches/instance-day | interruptions | on-demand share % |",
        "|---|---|---|---|---|---|",
    ]
    for name, row in table.items():
        lines.append(
            f"| {name} | {row['cost_usd']} | {row['savings_vs_on_demand_pct']} | {row['switches_per_instance_day']} |"
            f" {row['interruptions']} | {row['on_demand_share_pct']} |"
        )
    lines += [
        "",
        f"Headroom captured (cost_stay − cost_spectra) ÷ (cost_stay − cost_oracle): **{result['headroom_captured']}** "
        f"(offline engine {result['offline_engine_headroom_captured']}). Target ≥ 0.7 at ≤ 1 switch per instance-day "
        f"→ {'met' if result['target_met'] else 'not met'}.",
        f"Downtime p95 per interruption: {result['downtime_p95_s']} s without replicas, "
        f"{result['downtime_p95_s_with_replicas']} s with replicas (target < 10 s).",
        f"Decision latency (server-logged, engine only) p50 {result['decision_p50_ms']} ms,"
        f" p99 {result['decision_p99_ms']} ms;"
        f" {result['commands_executed']} commands executed by agents, {result['failed_commands']} failed.",
        f"Wall time {result['wall_seconds']} s.",
        "",
        "![cost](spot_strategy.png)",
        "",
    ]
    (out / "spot_strategy.md").write_text("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--prices", default=str(offline.DEFAULT_PRICES), help="price history file; '' for synthetic")
    parser.add_argument("--advisor", default=str(offline.DEFAULT_ADVISOR) if offline.DEFAULT_ADVISOR.exists() else "")
    parser.add_argument(
        "--on-demand", default=str(offline.DEFAULT_ON_DEMAND) if offline.DEFAULT_ON_DEMAND.exists() else ""
    )
    parser.add_argument("--on-demand-price", type=float, default=None, help="USD/h; overrides the on-demand table")
    parser.add_argument("--fleet", type=int, default=4, help="instances (4 keeps a default run near 3 minutes)")
    parser.add_argument("--step-minutes", type=float, default=60.0)
    parser.add_argument("--switch-cost-hours", type=float, default=0.1)
    parser.add_argument("--interruption-cost-hours", type=float, default=1.0)
    parser.add_argument(
        "--replica-fleet", type=int, default=None, help="fleet of the with-replicas run (default --fleet)"
    )
    parser.add_argument(
        "--replica-days", type=float, default=8.0, help="days of the trace for the with-replicas run (downtime only)"
    )
    parser.add_argument("--all-jobs", action="store_true", help="run every domain's jobs on each tick")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()

    market = offline.load_market(args)
    if args.on_demand_price is not None:
        market.on_demand_price = args.on_demand_price
    step = timedelta(minutes=args.step_minutes)
    times = offline.step_times(market, step)
    days = len(times) * step.total_seconds() / 86400.0
    market.step_costs = offline.step_cost_table(market, times, step)
    features = offline.build_features(market, step)
    policy = ClientPolicy(
        switch_cost_on_demand_hours=args.switch_cost_hours,
        interruption_cost_on_demand_hours=args.interruption_cost_hours,
    )
    baseline = offline.run_seed(market, features, step, times, args.fleet, policy, 0.4, args.seed)

    # A RAM-backed folder when there is one: SQLite's fsyncs would otherwise dominate the run's wall time.
    shm = Path("/dev/shm")
    base = str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else None
    runs: dict[str, ServerRun] = {}
    for name, replicas, fleet in (("spectra", False, args.fleet), ("spectra_replicas", True, args.replica_fleet)):
        # Each run gets a fresh server and database: job slots and pools' latest prices must not carry over.
        with (
            tempfile.TemporaryDirectory(prefix="spectra-bench-", dir=base) as tmp,
            spectra_server(times[0] - step, Path(tmp), args.all_jobs) as url,
        ):
            span = times if not replicas else times[: max(1, int(args.replica_days * 86400 / step.total_seconds()))]
            runs[name] = run_through_server(
                url, market, span, step, fleet or args.fleet, args.seed, policy, Path(tmp), replicas=replicas, name=name
            )
    spectra, with_replicas = runs["spectra"], runs["spectra_replicas"]
    by_name = {o.name: o for o in baseline.outcomes}
    stay, best, on_demand = by_name["stay"], by_name["oracle"], by_name["on_demand_only"]
    outcomes = [*baseline.outcomes, as_outcome(spectra)]
    table = {o.name: offline.summarise(o, on_demand.cost, args.fleet, days) for o in outcomes}
    latencies = spectra.decision_latencies_ms + with_replicas.decision_latencies_ms
    p95 = percentile(spectra.downtimes_s, 0.95)
    p95_replicas = percentile(with_replicas.downtimes_s, 0.95)
    p99 = percentile(latencies, 0.99)
    result: dict[str, Any] = {
        "trace": Path(args.prices).name if args.prices else "synthetic",
        "synthetic": market.synthetic,
        "instance_type": market.pools[0].instance_type,
        "region": market.pools[0].region,
        "pools": len(market.pools),
        "fleet": args.fleet,
        "days": round(days, 2),
        "step_minutes": args.step_minutes,
        "seed": args.seed,
        "on_demand_price": market.on_demand_price,
        "switch_cost_usd": round(policy.switch_cost(market.on_demand_price), 4),
        "interruption_cost_usd": round(policy.interruption_cost(market.on_demand_price), 4),
        "cost_spectra_usd": round(spectra.cost, 4),
        "cost_stay_usd": round(stay.cost, 4),
        "cost_oracle_usd": round(best.cost, 4),
        "savings_vs_on_demand_pct": table["spectra"]["savings_vs_on_demand_pct"],
        "oracle_savings_vs_on_demand_pct": table["oracle"]["savings_vs_on_demand_pct"],
        "stay_savings_vs_on_demand_pct": table["stay"]["savings_vs_on_demand_pct"],
        "headroom_captured": offline.headroom(stay, as_outcome(spectra), best),
        "offline_engine_headroom_captured": baseline.headroom,
        "switches_per_instance_day": table["spectra"]["switches_per_instance_day"],
        "interruptions": spectra.interruptions,
        "interruptions_with_replicas": with_replicas.interruptions,
        "downtime_p95_s": round(p95, 1) if p95 is not None else None,
        "downtime_p95_s_with_replicas": round(p95_replicas, 1) if p95_replicas is not None else None,
        "decision_p50_ms": round(statistics.median(latencies), 4) if latencies else None,
        "decision_p99_ms": round(p99, 4) if p99 is not None else None,
        "decisions": len(latencies),
        "commands_executed": spectra.commands_executed + with_replicas.commands_executed,
        "failed_commands": spectra.failed_commands + with_replicas.failed_commands,
        "tick_seconds": round(spectra.tick_seconds, 1),
        "agent_seconds": round(spectra.agent_seconds, 1),
        "wall_seconds": round(time.perf_counter() - started, 1),
    }
    result["target_met"] = bool(
        (result["headroom_captured"] or 0.0) >= 0.7 and (result["switches_per_instance_day"] or 0.0) <= 1.0
    )
    write_report(args.out, result, table, times, outcomes)
    (args.out / "spot_strategy.json").write_text(json.dumps({"result": result, "strategies": table}, indent=2))
    print(json.dumps(table))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
