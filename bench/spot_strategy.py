"""Spot strategy benchmark through the real server and agents, against the offline baselines on the same trace.

    python bench/spot_strategy.py [--prices FILE] [--advisor FILE] [--on-demand-price USD] [--seed N]
        [--fleet 4] [--step-minutes 60] [--intensity FILE] [--carbon-price USD_PER_T]
        [--interruptions-per-instance-month 20] [--failover-days 8] [--notice-poll-seconds 5] [--out DIR]

Spectra's strategy runs end to end: a Spectra server (in-process uvicorn thread on a free loopback port, fresh
SQLite file, simulated clock starting at the trace start), one client, the trace's history up to the first
decision and the Spot Advisor file (`--advisor`, the risk the offline strategies see) imported through the pricing
import API, and one agent per simulated instance (the real `Agent` with the
`SimBackend`), driven synchronously from this loop so a run is deterministic. Every step the simulated cloud and
the server's clock advance together (`POST /api/admin/tick`, which runs the engine sweep), agents report notices,
heartbeats and prices, fetch their pending commands and execute them in the simulated cloud.

Costs come from the simulated cloud (exact integral of each instance's step-function price, on-demand at its list
price) plus the offline bench's cost model: a voluntary move costs `switch-cost-hours` × on-demand, an
interruption `interruption-cost-hours` × on-demand. The interruption events are the offline bench's (same seed,
same per-pool Poisson process), so stay / always-cheapest / on-demand / oracle from `spot_strategy_offline` are
measured in the same run on the same trace with the same costs.

Carbon: with an intensity file (Electricity Maps export; default: one from the shared data) the server's region of
the trace is pointed at that file's grid zone and the cost run's policy sets `--carbon-price`, so every decision
fills its carbon inputs (CCF power, intensity outlook) as in production; decision latency is measured on them.

Fail-over: the Spot Advisor rate of a usual trace gives no interruption in a month, so fail-over is measured in
separate runs over the first `--failover-days` of the trace with a raised interruption process
(`--interruptions-per-instance-month`, a Poisson rate per pool; the server is not told, it is a stress test of the
fail-over path, not of the strategy), in three modes:
  on_demand         no replica, no rebalance recommendation: the termination notice fails over to on-demand;
  standing_replica  one replica kept per instance by the engine's policy (min_replicas=1), promoted at the notice;
  emergency_replica a rebalance recommendation 10 min ahead queues an emergency replica, promoted at the notice.
An agent sees a notice up to `--notice-poll-seconds` after it is posted (its polling loop; uniform, seeded); its
loop sees as late a switch's replacement running (the instance it replaced serves until then, or until the
notice's deadline), and up to 15 s late (how often it checks them) a replica it launched being reclaimed (it
reports it, and the server queues a new standby).
Per interruption of a serving instance (an agent's PRIMARY):
  downtime = from the termination notice to the replacement serving, where serving = the later of (the agent has run
             what the server answered: detection + the wall time of notice report → commands executed) and (the
             replacement has booted: the simulated boot time). A replacement reclaimed before it serves does not count;
             the next instance the agent moves to does (or the end of the run).
  outage   = from the interrupted instance's end (reclaimed, or terminated by the agent) to the replacement serving,
             at least 0: the time nothing served.

Last line: one JSON object (savings_vs_on_demand_pct, oracle_savings_vs_on_demand_pct, headroom_captured,
switches_per_instance_day, interruptions, downtime_p95_s, downtime_p95_s_with_replicas,
downtime_p95_s_emergency_replica, outage_p95_s…, decision_p99_ms, decision_total_p99_ms, …).
Writes spot_strategy.md + spot_strategy.png to --out.
"""

from __future__ import annotations

import argparse
import csv
import heapq
import io
import itertools
import json
import os
import random
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
from spectra.agent.runner import REPLICA_CHECK_SECONDS, SWITCHING, Agent  # noqa: E402
from spectra.agent.sim import SimBackend  # noqa: E402
from spectra.agent.state import StateStore  # noqa: E402
from spectra.agent.transport import ServerClient  # noqa: E402
from spectra.sim.cloud import REBALANCE_LEAD, SimCloud, SimInstance  # noqa: E402
from spectra.sim.prices import (  # noqa: E402
    NOTICE,
    BootTimeModel,
    Interruption,
    interruption_events,
    interruption_events_at_rate,
)
from spectra.spot.decisions.engine import ClientPolicy  # noqa: E402
from spectra.spot.pricing.formats import PoolKey  # noqa: E402

EPSILON = timedelta(microseconds=1)
ADMIN_TOKEN = "spx_adm_bench-spot-strategy-0123456789abcdefghijklmnopq"
DEFAULT_INTENSITY = offline.DATA / "carbon_intensity" / "electricitymaps" / "US-CAL-CISO_2023_hourly.csv"
# US EPA's 2023 social cost of carbon (2 % discount rate, 2020 emissions), USD per tonne CO2e
DEFAULT_CARBON_PRICE = 190.0
FAILOVER_MODES = ("on_demand", "standing_replica", "emergency_replica")


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
class Failover:
    """An interruption of an instance that was serving (an agent's PRIMARY), and what took over."""

    agent: int
    instance_id: str
    notice_at: datetime
    terminate_at: datetime
    detected_at: datetime  # when the agent's notice polling saw it
    handled_seconds: float  # wall time: the agent's notice report → it has run the commands the server answered
    replacement_id: str | None  # the instance the agent moved to then (None: it did not move)
    serving_at: datetime | None = None  # when a replacement served (None: none before the end of the run)
    old_end: datetime | None = None  # when the interrupted instance stopped (reclaimed, or terminated by the agent)

    def downtime_s(self, end: datetime) -> float:
        return ((self.serving_at or end) - self.notice_at).total_seconds()

    def outage_s(self, end: datetime) -> float:
        stopped = self.old_end or self.terminate_at
        return max(((self.serving_at or end) - stopped).total_seconds(), 0.0)


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
    failovers: list[Failover] = field(default_factory=list)
    downtimes_s: list[float] = field(default_factory=list)  # per failover, notice → replacement serving
    outages_s: list[float] = field(default_factory=list)  # per failover, nothing serving
    replica_interruptions: int = 0  # interrupted instances that were not serving (replicas)
    replica_losses_reported: int = 0  # replicas an agent reported being reclaimed (the server re-made the standby)
    promotions_refused: int = 0  # promotions an agent refused: the replica was gone before its loss was reported
    decision_latencies_ms: list[float] = field(default_factory=list)  # the engine alone
    decision_total_ms: list[float] = field(default_factory=list)  # reading the inputs (carbon included) + engine
    carbon_costs_per_hour: list[float] = field(default_factory=list)  # per decision, where the instance ends up
    carbon_lookups_ms: list[float] = field(default_factory=list)  # per decision that read intensity or power
    carbon_notes: set[str] = field(default_factory=set)
    cumulative: list[float] = field(default_factory=list)
    on_demand_hours: float = 0.0
    tick_seconds: float = 0.0  # wall time in POST /api/admin/tick (clock + jobs, including the engine sweep)
    agent_seconds: float = 0.0  # wall time of the agents' requests and executions
    end: datetime | None = None
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


def _probe_times(events: dict[PoolKey, list[Interruption]], lead: timedelta | None) -> list[datetime]:
    """The moments a notice appears in the cloud: termination notices, and rebalance recommendations if any."""
    moments = {e.notice_at for pool_events in events.values() for e in pool_events}
    if lead is not None:
        moments |= {e.terminate_at - lead for pool_events in events.values() for e in pool_events}
    return sorted(moments)


def configure_carbon(
    url: str, region: str, intensity_file: Path, catalog_file: Path | None, admin_token: str = ADMIN_TOKEN
) -> str:
    """Import an intensity export and make it the grid of the trace's region, and the instance-type export (the CCF
    power model needs the type's processor); returns the zone."""
    admin = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {admin_token}"}, timeout=120)
    if catalog_file is not None:
        _check(
            admin.post(
                "/api/admin/import",
                files={"file": (catalog_file.name, catalog_file.read_bytes(), "text/csv")},
                data={"region": region},
            )
        )
    summary = _check(
        admin.post(
            "/api/admin/import",
            files={"file": (intensity_file.name, intensity_file.read_bytes(), "text/csv")},
        )
    )
    zone = sorted(summary["zones"])[0]
    current = _check(admin.get(f"/api/regions/{region}"))
    body = {k: current.get(k) for k in ("name", "provider", "latitude", "longitude", "country", "pue")}
    _check(admin.put(f"/api/regions/{region}", json={**body, "zone": zone}))
    return str(zone)


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
    events: dict[PoolKey, list[Interruption]] | None = None,
    rebalance_lead: timedelta | None = REBALANCE_LEAD,
    notice_poll_seconds: float = 5.0,
    carbon_price: float = 0.0,
    advisor: Path | None = None,
) -> ServerRun:
    """Drive `fleet` agents on the simulated cloud against the server at `url` over `times` (one step each).

    events: the interruption process (default: the market's Spot Advisor probabilities, as the offline strategies
    see them); rebalance_lead: how early the cloud recommends a rebalance (None: never); advisor: the Spot Advisor
    file the offline strategies read, imported into the server so its engine and pool choices see the same risk."""
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
    if advisor is not None:
        # After the history, so the pools it created get their interruption bucket too.
        _check(
            admin.post(
                "/api/admin/pricing/import",
                files={"file": (advisor.name, advisor.read_bytes(), "application/json")},
                data={"kind": "spot-advisor"},
            )
        )

    if events is None:
        # Same interruption process as the offline strategies (same probabilities, span and seed).
        events = interruption_events(market.probability, market.start, market.end + step, seed=seed)
    on_demand = market.on_demand_price
    cloud = SimCloud(market.paths, lambda pool: on_demand, events, BootTimeModel(seed=seed), t0, rebalance_lead)
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
    if carbon_price > 0:
        server_policy["carbon_price_usd_per_tonne"] = carbon_price
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
    moves: list[list[tuple[datetime, str]]] = [[] for _ in agents]  # per agent: (when, the instance it moved to)

    def tick_to(moment: datetime) -> None:
        nonlocal server_now
        minutes = (moment - server_now).total_seconds() / 60.0
        if minutes > 0:
            began = time.perf_counter()
            _check(admin.post("/api/admin/tick", json={"minutes": minutes}))
            run.tick_seconds += time.perf_counter() - began
            server_now = moment

    def run_commands(n: int, emergency: bool) -> None:
        """Everything the server has for the agent, until nothing is left (what a long-polling agent gets: a
        refused promotion is answered by an on-demand fail-over, which it runs at once)."""
        agent = agents[n]
        for _round in range(10):
            commands = agent.pending_commands(0)
            if not commands:
                break
            for command in commands:
                execute(n, command, emergency)
        schedule_agent_checks(n, cloud.now)

    def execute(n: int, command: dict[str, Any], emergency: bool) -> None:
        agent, backend = agents[n], backends[n]
        before = backend.instance_id
        result = agent.execute(command)
        run.commands_executed += 1
        kind = command["command_type"]
        if not result.get("success"):
            run.failed_commands += 1
            run.promotions_refused += kind == "promote_replica"
            return
        if backend.instance_id != before:
            moves[n].append((cloud.now, backend.instance_id))
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

    # Notices: at each moment one appears in the cloud (probe), every agent whose instance has it sees it after its
    # polling delay (detect), reports it and runs what the server answers (replica, promotion or fail-over).
    # The agent's own loop, between the steps: it sees a replica being reclaimed up to REPLICA_CHECK_SECONDS late
    # (how often it checks them), and a switch's replacement running (then retires the instance it replaced) up to
    # `notice_poll_seconds` late, like a notice.
    probes = _probe_times(events, rebalance_lead)
    probe_index = next((i for i, moment in enumerate(probes) if moment > t0), len(probes))
    detections: list[tuple[datetime, int, int, str]] = []  # heap of (moment, sequence, agent, what: notice|…)
    sequence = itertools.count()
    polling = random.Random(f"notice-poll:{seed}")
    loop_delay = random.Random(f"agent-loop:{seed}")  # own stream: the notices' delays stay as they were
    seen: set[tuple[str, str]] = set()  # (notice kind, instance) already scheduled for detection

    def schedule_agent_checks(n: int, moment: datetime) -> None:
        agent, backend = agents[n], backends[n]
        for replica_id in agent.store.state.replicas:
            if ("replica", replica_id) not in seen and backend.watch(replica_id) is not None:
                seen.add(("replica", replica_id))
                at = moment + timedelta(seconds=loop_delay.uniform(0.0, REPLICA_CHECK_SECONDS))
                heapq.heappush(detections, (at, next(sequence), n, "replica"))
        for owed in agent.store.state.after_report:
            replacement = owed.get("after_running")
            if replacement and ("retire", owed["instance_id"]) not in seen:
                seen.add(("retire", owed["instance_id"]))
                ready = max(moment, cloud.get(replacement).ready_at)
                at = min(ready + timedelta(seconds=loop_delay.uniform(0.0, notice_poll_seconds)), _time(owed))
                heapq.heappush(detections, (at, next(sequence), n, "retire"))

    def handle_notices_until(t: datetime) -> None:
        nonlocal probe_index
        while True:
            probe = probes[probe_index] if probe_index < len(probes) and probes[probe_index] <= t else None
            detect = detections[0][0] if detections and detections[0][0] <= t else None
            if probe is None and detect is None:
                return
            if detect is not None and (probe is None or detect <= probe):
                moment, _, n, what = heapq.heappop(detections)
                tick_to(moment)
                cloud.advance_to(moment)
                if what == "notice":
                    detect_notice(n, moment)
                elif what == "replica":
                    run.replica_losses_reported += agents[n].check_replicas()
                    run_commands(n, emergency=True)  # the standby the server queued in its place
                else:
                    agents[n].finish_after_report()
                continue
            assert probe is not None
            probe_index += 1
            tick_to(probe)
            cloud.advance_to(probe)
            for n, backend in enumerate(backends):
                notice = cloud.notice(backend.instance_id)
                if notice is not None and (notice.kind, backend.instance_id) not in seen:
                    seen.add((notice.kind, backend.instance_id))
                    delay = timedelta(seconds=polling.uniform(0.0, notice_poll_seconds))
                    heapq.heappush(detections, (probe + delay, next(sequence), n, "notice"))
                schedule_agent_checks(n, probe)

    def detect_notice(n: int, moment: datetime) -> None:
        agent, backend = agents[n], backends[n]
        serving = backend.instance_id
        notice = cloud.notice(serving)
        if notice is None:
            return  # the agent moved away (or the instance ended) before it looked
        began = time.perf_counter()
        agent.check_notice()
        run_commands(n, emergency=True)
        handled = time.perf_counter() - began
        if notice.kind == "termination" and notice.deadline is not None:
            run.failovers.append(
                Failover(
                    agent=n,
                    instance_id=serving,
                    notice_at=notice.deadline - NOTICE,
                    terminate_at=notice.deadline,
                    detected_at=moment,
                    handled_seconds=handled,
                    replacement_id=backend.instance_id if backend.instance_id != serving else None,
                )
            )

    reported_at = t0
    for t in times:
        handle_notices_until(t)
        tick_to(t)  # runs the engine sweep on what the agents reported up to the previous step
        cloud.advance_to(t)
        began = time.perf_counter()
        # Agents report when a candidate pool's price moved since the last step (an unchanged price tells the
        # server nothing new; the replayed traces change a few times a day per pool).
        changed = any(p.changes_between(reported_at, t + EPSILON) for p in market.paths.values())
        reported_at = t
        for n, agent in enumerate(agents):
            run.replica_losses_reported += agent.check_replicas()
            agent.finish_after_report()
            # The heartbeat's answer says whether commands wait: poll only then (what a long-polling agent sees).
            waiting = agent.heartbeat().get("pending_commands", 1)
            if waiting:
                run_commands(n, emergency=False)
            if changed:
                agent.report_prices()
        run.agent_seconds += time.perf_counter() - began
        running = sum(_instance_cost(cloud, inst, times[0], t + step) for inst in cloud.instances.values())
        interrupted = sum(1 for inst in cloud.instances.values() if _interrupted_in_run(cloud, inst, times[0]))
        run.cumulative.append(running + run.switches * switch_cost + interrupted * interruption_cost)

    end = times[-1] + step
    handle_notices_until(end)
    cloud.advance_to(end)
    run.end = end
    run.running_cost = sum(_instance_cost(cloud, inst, times[0], end) for inst in cloud.instances.values())
    run.interruptions = sum(1 for inst in cloud.instances.values() if _interrupted_in_run(cloud, inst, times[0]))
    run.cost = run.running_cost + run.switches * switch_cost + run.interruptions * interruption_cost
    for inst in cloud.instances.values():
        if inst.lifecycle != "spot":
            begin, finish = max(inst.launched_at, times[0]), min(inst.terminated_at or end, end)
            run.on_demand_hours += max((finish - begin).total_seconds(), 0.0) / 3600.0
    for failover in run.failovers:
        _resolve(failover, moves[failover.agent], cloud)
        run.downtimes_s.append(failover.downtime_s(end))
        run.outages_s.append(failover.outage_s(end))
    serving = {f.instance_id for f in run.failovers}
    run.replica_interruptions = sum(
        1 for inst in cloud.instances.values() if _interrupted_in_run(cloud, inst, times[0]) and inst.id not in serving
    )
    _decision_figures(run, tenant["id"])
    run.cloud = cloud
    return run


def _resolve(failover: Failover, moves: list[tuple[datetime, str]], cloud: SimCloud) -> None:
    """When a replacement served: the first instance the agent moved to from the detection on that was up once it
    had booted and the agent had switched to it (a replica reclaimed before that does not count)."""
    failover.old_end = cloud.get(failover.instance_id).terminated_at
    for moment, instance_id in moves:
        if moment < failover.detected_at:
            continue
        inst = cloud.get(instance_id)
        switched = moment
        if instance_id == failover.replacement_id and moment == failover.detected_at:
            switched = moment + timedelta(seconds=failover.handled_seconds)
        serving = max(switched, inst.ready_at)
        if inst.terminated_at is None or inst.terminated_at > serving:
            failover.serving_at = serving
            return


def _time(owed: dict[str, Any]) -> datetime:
    """When an owed retirement happens at the latest (the notice's deadline, or the agent's cap)."""
    return datetime.fromisoformat(owed["not_after"])


def _interrupted_in_run(cloud: SimCloud, inst: SimInstance, start: datetime) -> bool:
    """Reclaimed in the run, or ended by its agent within the notice of a reclaim (fail-over terminates it early)."""
    if inst.lifecycle != "spot" or inst.terminated_at is None or inst.terminated_at < start:
        return False
    if inst.interrupted:
        return True
    event = cloud.reclaim_of(inst)
    return event is not None and event.notice_at <= inst.terminated_at <= event.terminate_at


def _decision_figures(run: ServerRun, client_id: str) -> None:
    """What the server logged with every decision it made for this client: the engine's latency, the latency with
    reading its inputs (carbon look-ups included), the emissions cost per hour where the instance ends up."""
    from sqlalchemy import select

    from spectra.core.db import session_scope
    from spectra.spot.decisions.models import MLDecision

    with session_scope(read_only=True) as session:
        rows = session.execute(
            select(MLDecision.latency_ms, MLDecision.inputs).where(MLDecision.client_id == client_id)
        ).all()
    for latency, inputs in rows:
        run.decision_latencies_ms.append(float(latency))
        context = (inputs or {}).get("context_ms")
        if context is not None:
            run.decision_total_ms.append(float(latency) + float(context))
        carbon = (inputs or {}).get("carbon") or {}
        if carbon.get("cost_per_hour") is not None:
            run.carbon_costs_per_hour.append(float(carbon["cost_per_hour"]))
        if carbon.get("lookup_ms") is not None:
            run.carbon_lookups_ms.append(float(carbon["lookup_ms"]))
        run.carbon_notes.update(carbon.get("notes") or [])


# --------------------------------------------------------------------------- figures and report


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def as_outcome(run: ServerRun) -> offline.Outcome:
    return offline.Outcome(run.name, run.cost, run.switches, run.interruptions, run.on_demand_hours, run.cumulative)


def _fmt(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def failover_summary(run: ServerRun) -> dict[str, Any]:
    handled = [f.handled_seconds for f in run.failovers]
    cloud = run.cloud
    reclaimed = [
        f
        for f in run.failovers
        if cloud is not None
        and f.replacement_id is not None
        and (ended := cloud.get(f.replacement_id).terminated_at) is not None
        and ended <= f.detected_at + timedelta(seconds=f.handled_seconds)
    ]
    return {
        "interruptions": len(run.failovers),
        "replica_interruptions": run.replica_interruptions,
        "downtime_p50_s": _round(percentile(run.downtimes_s, 0.5)),
        "downtime_p95_s": _round(percentile(run.downtimes_s, 0.95)),
        "downtime_max_s": _round(max(run.downtimes_s, default=None)),
        "outage_p50_s": _round(percentile(run.outages_s, 0.5)),
        "outage_p95_s": _round(percentile(run.outages_s, 0.95)),
        "handled_p95_s": _round(percentile(handled, 0.95), 3),
        "without_replacement": sum(1 for f in run.failovers if f.serving_at is None),
        # moved onto a replacement the cloud had already reclaimed when the agent switched to it
        "replacement_reclaimed": len(reclaimed),
        "downtime_p95_s_live_replacement": _round(
            percentile([d for f, d in zip(run.failovers, run.downtimes_s, strict=True) if f not in reclaimed], 0.95)
        ),
        "replica_losses_reported": run.replica_losses_reported,
        "promotions_refused": run.promotions_refused,
        "commands_executed": run.commands_executed,
        "failed_commands": run.failed_commands,
    }


def _round(value: float | None, digits: int = 1) -> float | None:
    return round(value, digits) if value is not None else None


def write_report(
    out: Path,
    result: dict[str, Any],
    table: dict[str, dict[str, float | int]],
    times: list[datetime],
    outcomes: list[offline.Outcome],
    failovers: dict[str, dict[str, Any]],
    failover_runs: dict[str, ServerRun],
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

    fig, ax = plt.subplots(figsize=(8, 4))
    for mode, run in failover_runs.items():
        if run.downtimes_s:
            ordered = sorted(run.downtimes_s)
            ax.step(ordered, [(i + 1) / len(ordered) for i in range(len(ordered))], where="post", label=mode)
    ax.axvline(10.0, color="black", linestyle="--", linewidth=0.8, label="10 s target")
    ax.set_xscale("symlog", linthresh=1.0)
    ax.set_xlim(left=0.0)
    ax.set_xlabel("downtime per interruption: termination notice → replacement serving (s)")
    ax.set_ylabel("share of interruptions")
    ax.set_title("Fail-over downtime by mode (empirical CDF)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "spot_strategy_failover.png", dpi=110)
    plt.close(fig)

    carbon = (
        f" Carbon price {result['carbon_price_usd_per_tonne']:g} USD/tCO2e on the grid of `{result['intensity_file']}`"
        f" (zone {result['carbon_zone']}, standing in for {result['region']}): mean emissions cost"
        f" {_fmt(result['carbon_cost_per_instance_hour'], 5)} USD per instance-hour in the decisions."
        if result["carbon_zone"]
        else " No carbon price."
    )
    lines = [
        "# Spot strategies through the real server and agents",
        "",
        f"Trace `{result['trace']}`{' (synthetic)' if result['synthetic'] else ''}: {result['instance_type']} in "
        f"{result['region']}, {result['pools']} pools, {result['days']} days, fleet of {result['fleet']}, "
        "one step every "
        f"{result['step_minutes']:g} min. On-demand {result['on_demand_price']} USD/h; switch "
        f"{result['switch_cost_usd']} USD; interruption {result['interruption_cost_usd']} USD. `spectra` ran through "
        "a live server (engine sweep on every tick) and the agent program on the simulated cloud; the other rows "
        "are the offline strategies on the same trace, interruptions and costs." + carbon,
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
        f"Decision latency (server-logged) p50 {result['decision_p50_ms']} ms, p99 {result['decision_p99_ms']} ms for "
        f"the engine; p99 {result['decision_total_p99_ms']} ms with reading its inputs from the database, "
        f"{_fmt(result['decision_total_p99_ms_carbon'], 3)} ms with a carbon price (carbon look-ups p50"
        f" {_fmt(result['carbon_lookup_p50_ms'], 2)} ms, p99 {_fmt(result['carbon_lookup_p99_ms'], 2)} ms: an intensity"
        " outlook is read once per region per engine sweep, so the first decision of a sweep pays it)."
        f" {result['commands_executed']} commands executed by agents, {result['failed_commands']} failed."
        + (f" Carbon notes: {'; '.join(result['carbon_notes'])}." if result["carbon_notes"] else ""),
        "",
        "## Fail-over",
        "",
        f"First {result['failover_days']} days of the trace, fleet of {result['failover_fleet']}, interruptions raised"
        f" to {result['interruptions_per_instance_month']:g} per instance-month (Poisson per pool, seed"
        f" {result['seed']}; the server is not told). Agents see a notice up to {result['notice_poll_seconds']:g} s"
        " after it is posted.",
        "",
        "- **downtime**: from the termination notice to the replacement serving — the later of the agent having run"
        " what the server answered (its polling delay + the measured wall time of notice report → commands"
        " executed) and the replacement having booted (simulated boot time, ~90 s median). A replacement reclaimed"
        " before it serves does not count; the next instance the agent moves to does, or the end of the run.",
        "- **outage**: from the interrupted instance's end (reclaimed, or terminated by the agent once its"
        " replacement runs) to the replacement serving, at least 0: the time nothing served.",
        "",
        "| mode | interruptions (serving) | replicas interrupted | replica losses reported | promotions refused |"
        " downtime p50 s | downtime p95 s | downtime max s | outage p95 s | control loop p95 s |"
        " moved onto a reclaimed replacement | downtime p95 s otherwise |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for mode, row in failovers.items():
        lines.append(
            f"| {mode} | {row['interruptions']} | {row['replica_interruptions']} | {row['replica_losses_reported']} |"
            f" {row['promotions_refused']} | {_fmt(row['downtime_p50_s'])} |"
            f" {_fmt(row['downtime_p95_s'])} | {_fmt(row['downtime_max_s'])} | {_fmt(row['outage_p95_s'])} |"
            f" {_fmt(row['handled_p95_s'], 3)} | {row['replacement_reclaimed']} |"
            f" {_fmt(row['downtime_p95_s_live_replacement'])} |"
        )
    lines += [
        "",
        "Control loop: wall time from the agent's notice report to its having run what the server answered.",
        "Each agent watches the replicas it launched and reports one being reclaimed (its termination notice, seen up"
        f" to {REPLICA_CHECK_SECONDS:g} s late); the server marks it TERMINATED and queues a new standby elsewhere."
        " A termination notice promotes only a replica that is ready, not reported lost and not in the pool being"
        " reclaimed;"
        " otherwise it fails over to on-demand at once. An agent refuses a promotion onto a replica it finds gone"
        " (a loss not yet reported), and the server answers with an on-demand fail-over. After a fail-over or switch"
        " the replaced instance serves until its replacement runs (or the notice's deadline).",
        "",
        f"Target: downtime p95 < 10 s with replicas → standing replica {_fmt(result['downtime_p95_s_with_replicas'])}"
        f" s ({_fmt(result['downtime_p95_s_with_live_replicas'])} s without moves onto reclaimed replacements),"
        f" emergency replica {_fmt(result['downtime_p95_s_emergency_replica'])} s"
        f" ({'met' if result['downtime_target_met'] else 'not met'}).",
        "",
        "![cost](spot_strategy.png)",
        "",
        "![fail-over](spot_strategy_failover.png)",
        "",
        f"Wall time {result['wall_seconds']} s.",
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
    parser.add_argument("--fleet", type=int, default=4, help="instances (4 keeps a default run near 7 minutes)")
    parser.add_argument("--step-minutes", type=float, default=60.0)
    parser.add_argument("--switch-cost-hours", type=float, default=0.1)
    parser.add_argument("--interruption-cost-hours", type=float, default=1.0)
    parser.add_argument(
        "--intensity",
        default=str(DEFAULT_INTENSITY) if DEFAULT_INTENSITY.exists() else "",
        help="Electricity Maps intensity export for the cost run's carbon price; '' for none",
    )
    parser.add_argument("--carbon-price", type=float, default=DEFAULT_CARBON_PRICE, help="USD per tCO2e")
    parser.add_argument(
        "--interruptions-per-instance-month",
        type=float,
        default=20.0,
        help="interruption rate of the fail-over runs (the Spot Advisor rate rarely interrupts within a month)",
    )
    parser.add_argument("--failover-days", type=float, default=8.0, help="days of the trace for the fail-over runs")
    parser.add_argument(
        "--failover-fleet", type=int, default=None, help="fleet of the fail-over runs (default --fleet)"
    )
    parser.add_argument(
        "--notice-poll-seconds", type=float, default=5.0, help="how often an agent looks for a notice (its loop)"
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
    intensity = Path(args.intensity) if args.intensity and args.carbon_price > 0 else None
    failover_fleet = args.failover_fleet or args.fleet
    failover_times = times[: max(1, int(args.failover_days * 86400 / step.total_seconds()))]
    raised = interruption_events_at_rate(
        dict.fromkeys(market.pools, args.interruptions_per_instance_month),
        market.start,
        market.end + step,
        seed=args.seed,
    )

    # A RAM-backed folder when there is one: SQLite's fsyncs would otherwise dominate the run's wall time.
    shm = Path("/dev/shm")
    base = str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else None
    carbon_zone: str | None = None
    plan: list[tuple[str, dict[str, Any]]] = [
        ("spectra", {"carbon_price": args.carbon_price if intensity else 0.0}),
        ("on_demand", {"events": raised, "rebalance_lead": None}),
        ("standing_replica", {"events": raised, "rebalance_lead": None, "replicas": True}),
        ("emergency_replica", {"events": raised, "rebalance_lead": REBALANCE_LEAD}),
    ]
    runs: dict[str, ServerRun] = {}
    for name, options in plan:
        cost_run = name == "spectra"
        # Each run gets a fresh server and database: job slots and pools' latest prices must not carry over.
        with (
            tempfile.TemporaryDirectory(prefix="spectra-bench-", dir=base) as tmp,
            spectra_server(times[0] - step, Path(tmp), args.all_jobs) as url,
        ):
            if cost_run and intensity is not None:
                catalog = Path(args.on_demand) if args.on_demand else None
                carbon_zone = configure_carbon(url, market.pools[0].region, intensity, catalog)
            runs[name] = run_through_server(
                url,
                market,
                times if cost_run else failover_times,
                step,
                args.fleet if cost_run else failover_fleet,
                args.seed,
                policy,
                Path(tmp),
                name=name,
                notice_poll_seconds=args.notice_poll_seconds,
                advisor=Path(args.advisor) if args.advisor else None,
                **options,
            )
    spectra = runs["spectra"]
    failover_runs = {mode: runs[mode] for mode in FAILOVER_MODES}
    failovers = {mode: failover_summary(run) for mode, run in failover_runs.items()}
    by_name = {o.name: o for o in baseline.outcomes}
    stay, best, on_demand = by_name["stay"], by_name["oracle"], by_name["on_demand_only"]
    outcomes = [*baseline.outcomes, as_outcome(spectra)]
    table = {o.name: offline.summarise(o, on_demand.cost, args.fleet, days) for o in outcomes}
    latencies = [ms for run in runs.values() for ms in run.decision_latencies_ms]
    p99 = percentile(latencies, 0.99)
    # With reading the inputs: the fail-over runs price no carbon; the cost run does when there is an intensity file.
    p99_total = percentile([ms for mode in FAILOVER_MODES for ms in runs[mode].decision_total_ms], 0.99)
    p99_total_carbon = percentile(spectra.decision_total_ms, 0.99) if carbon_zone else None
    carbon_costs = spectra.carbon_costs_per_hour
    with_replicas = failovers["standing_replica"]["downtime_p95_s"]
    emergency = failovers["emergency_replica"]["downtime_p95_s"]
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
        "carbon_price_usd_per_tonne": args.carbon_price if carbon_zone else 0.0,
        "intensity_file": intensity.name if intensity and carbon_zone else None,
        "carbon_zone": carbon_zone,
        "carbon_cost_per_instance_hour": round(statistics.fmean(carbon_costs), 6) if carbon_costs else None,
        "carbon_lookup_p50_ms": _round(percentile(spectra.carbon_lookups_ms, 0.5), 2),
        "carbon_lookup_p99_ms": _round(percentile(spectra.carbon_lookups_ms, 0.99), 2),
        "carbon_notes": sorted(spectra.carbon_notes),
        "interruptions_per_instance_month": args.interruptions_per_instance_month,
        "failover_days": args.failover_days,
        "failover_fleet": failover_fleet,
        "notice_poll_seconds": args.notice_poll_seconds,
        "failover_interruptions": {mode: row["interruptions"] for mode, row in failovers.items()},
        "downtime_p95_s": failovers["on_demand"]["downtime_p95_s"],
        "downtime_p95_s_with_replicas": with_replicas,
        "downtime_p95_s_emergency_replica": emergency,
        "downtime_p95_s_with_live_replicas": failovers["standing_replica"]["downtime_p95_s_live_replacement"],
        "promotions_onto_reclaimed_replicas": failovers["standing_replica"]["replacement_reclaimed"],
        "replica_losses_reported": failovers["standing_replica"]["replica_losses_reported"],
        "promotions_refused": failovers["standing_replica"]["promotions_refused"],
        "advisor_file": Path(args.advisor).name if args.advisor else None,
        "outage_p95_s": failovers["on_demand"]["outage_p95_s"],
        "outage_p95_s_with_replicas": failovers["standing_replica"]["outage_p95_s"],
        "outage_p95_s_emergency_replica": failovers["emergency_replica"]["outage_p95_s"],
        "downtime_target_met": bool(
            with_replicas is not None and emergency is not None and with_replicas < 10.0 and emergency < 10.0
        ),
        "decision_p50_ms": round(statistics.median(latencies), 4) if latencies else None,
        "decision_p99_ms": round(p99, 4) if p99 is not None else None,
        "decision_total_p99_ms": _round(p99_total, 3),
        "decision_total_p99_ms_carbon": _round(p99_total_carbon, 3),
        "decisions": len(latencies),
        "commands_executed": sum(run.commands_executed for run in runs.values()),
        "failed_commands": sum(run.failed_commands for run in runs.values()),
        "tick_seconds": round(spectra.tick_seconds, 1),
        "agent_seconds": round(spectra.agent_seconds, 1),
        "wall_seconds": round(time.perf_counter() - started, 1),
    }
    result["target_met"] = bool(
        (result["headroom_captured"] or 0.0) >= 0.7 and (result["switches_per_instance_day"] or 0.0) <= 1.0
    )
    write_report(args.out, result, table, times, outcomes, failovers, failover_runs)
    (args.out / "spot_strategy.json").write_text(
        json.dumps({"result": result, "strategies": table, "failover": failovers}, indent=2)
    )
    print(json.dumps(table))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
