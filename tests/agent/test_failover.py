"""Fail-over by the agent program against a live server, on the simulated cloud: it watches its replicas and
reports one being reclaimed, refuses a promotion onto a replica that is gone, keeps a replaced instance serving
until its replacement runs (across a restart too), and launches the instance type a switch names."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from spectra.agent.runner import Agent
from spectra.agent.sim import SimBackend
from spectra.agent.state import StateStore
from spectra.agent.transport import ServerClient
from spectra.core.db import session_scope
from spectra.sim.cloud import SimCloud
from spectra.sim.prices import BootTimeModel, Interruption, PricePath
from spectra.spot.models import Pool
from spectra.spot.pricing.formats import PoolKey

T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
A = PoolKey("us-east-1", "us-east-1a", "m5.large")
B = PoolKey("us-east-1", "us-east-1b", "m5.large")
C = PoolKey("us-east-1", "us-east-1c", "m5.large")
M6I = PoolKey("us-east-1", "us-east-1b", "m6i.large")
NOW = T0 + timedelta(hours=1)


def _cloud(reclaims: dict[PoolKey, datetime] | None = None) -> SimCloud:
    prices = {A: 0.045, B: 0.031, C: 0.035, M6I: 0.030}
    paths = {pool: PricePath(pool, [T0], [price]) for pool, price in prices.items()}
    events = {pool: [Interruption(at, pool)] for pool, at in (reclaims or {}).items()}
    return SimCloud(paths, lambda pool: 0.096, events, BootTimeModel(seed=3), NOW, rebalance_lead=None)


def _agent(url: str, token: str, cloud: SimCloud, instance_id: str, state: Path) -> Agent:
    backend = SimBackend(cloud, instance_id)
    store = StateStore(state)
    return Agent(
        ServerClient(url, token, store, sleep=lambda s: None),
        backend,
        store,
        candidate_types=["m5.large", "m6i.large"],
        clock=lambda: cloud.now,
    )


def _http(live_server, tenant) -> httpx.Client:
    return httpx.Client(base_url=live_server.url, headers=tenant.headers, timeout=10)


def _configure(http: httpx.Client, agent_id: str, **changes: Any) -> None:
    version = http.get(f"/api/agents/{agent_id}").json()["version"]
    response = http.patch(f"/api/agents/{agent_id}/config", json={"version": version, **changes})
    assert response.status_code == 200, response.text


def _roles(http: httpx.Client, client_id: str) -> dict[str, str]:
    return {r["cloud_instance_id"]: r["role"] for r in http.get(f"/api/client/{client_id}/instances").json()}


def _run_all(agent: Agent) -> list[dict[str, Any]]:
    """Run what the server has for the agent until nothing is left; the commands with their outcomes."""
    ran = []
    while commands := agent.pending_commands(0):
        for command in commands:
            ran.append({**command, "outcome": agent.execute(command)})
    return ran


def _with_standby(live_server, tenant, cloud: SimCloud, tmp_path: Path) -> tuple[Agent, httpx.Client, str]:
    """An agent on an instance in A in manual replica mode, its standby launched (in B, the cheapest other pool)."""
    first = cloud.launch(A, "spot", "boot")
    agent = _agent(live_server.url, tenant.token, cloud, first.id, tmp_path / "state.json")
    agent.register()
    agent.report_prices()
    http = _http(live_server, tenant)
    _configure(http, agent.agent_id, auto_switch_enabled=False, manual_replica_enabled=True)
    (created,) = _run_all(agent)
    assert created["command_type"] == "create_replica" and created["outcome"]["success"]
    standby = created["outcome"]["result"]["instance_id"]
    assert cloud.get(standby).pool == B and list(agent.store.state.replicas) == [standby]
    return agent, http, standby


def test_a_reclaimed_replica_is_reported_once_and_replaced(live_server, tenant, tmp_path: Path) -> None:
    reclaim = NOW + timedelta(hours=2)
    cloud = _cloud({B: reclaim})
    agent, http, standby = _with_standby(live_server, tenant, cloud, tmp_path)
    assert agent.check_replicas() == 0  # healthy

    cloud.advance_to(reclaim - timedelta(seconds=100))  # inside the replica's two-minute notice
    assert agent.check_replicas() == 1
    assert agent.check_replicas() == 0 and agent.store.state.replicas == {}  # reported once
    assert agent.store.state.outbox == []  # delivered
    assert _roles(http, tenant.id)[standby] == "TERMINATED"
    (created,) = _run_all(agent)  # the server queued a new standby, away from the pool being reclaimed
    new_standby = created["outcome"]["result"]["instance_id"]
    assert cloud.get(new_standby).pool == C and list(agent.store.state.replicas) == [new_standby]
    assert _roles(http, tenant.id)[new_standby] == "REPLICA"
    # The PRIMARY was never in question.
    primary = agent.backend.identity().instance_id
    assert cloud.get(primary).pool == A and _roles(http, tenant.id)[primary] == "PRIMARY"


def test_a_promotion_onto_a_gone_replica_is_refused_and_fails_over(live_server, tenant, tmp_path: Path) -> None:
    # The standby's pool is reclaimed first, and the agent does not look before the PRIMARY's own notice comes.
    cloud = _cloud({B: NOW + timedelta(hours=1), A: NOW + timedelta(hours=2)})
    agent, http, standby = _with_standby(live_server, tenant, cloud, tmp_path)
    old = agent.backend.identity().instance_id
    cloud.advance_to(NOW + timedelta(hours=2) - timedelta(minutes=2))
    assert cloud.get(standby).terminated_at is not None
    assert agent.check_notice() is not None  # the server promotes the replica it believes in
    ran = _run_all(agent)
    outcomes = {c["command_type"]: c["outcome"] for c in ran}
    # The agent finds the replica gone and refuses; the server answers with an on-demand fail-over at once (and the
    # standby queued at the promotion is launched too, in the pool neither reclaimed nor the dead replica's).
    assert ran[0]["command_type"] == "promote_replica" and not ran[0]["outcome"]["success"]
    assert sorted(outcomes) == ["create_replica", "fallback_on_demand", "promote_replica"]
    assert cloud.get(outcomes["create_replica"]["result"]["instance_id"]).pool == C
    replacement = outcomes["fallback_on_demand"]["result"]["new_instance_id"]
    assert cloud.get(replacement).lifecycle == "on-demand" and agent.backend.identity().instance_id == replacement
    roles = _roles(http, tenant.id)
    assert (roles[standby], roles[replacement], roles[old]) == ("TERMINATED", "PRIMARY", "ZOMBIE")

    # The old instance serves while the replacement boots, and goes once it runs (before its reclaim).
    ready = cloud.get(replacement).ready_at
    assert ready < NOW + timedelta(hours=2)
    assert agent.finish_after_report() == 0 and cloud.get(old).terminated_at is None
    cloud.advance_to(ready)
    assert agent.finish_after_report() == 1
    assert cloud.get(old).terminated_at == ready and not cloud.get(old).interrupted


def test_a_replaced_instance_is_retired_once_across_a_restart(live_server, tenant, tmp_path: Path) -> None:
    cloud = _cloud()
    first = cloud.launch(A, "spot", "boot")
    state = tmp_path / "state.json"
    agent = _agent(live_server.url, tenant.token, cloud, first.id, state)
    agent.register()
    agent.report_prices()
    http = _http(live_server, tenant)
    primary = next(r for r in http.get(f"/api/client/{tenant.id}/instances").json() if r["role"] == "PRIMARY")
    issued = http.post(f"/api/client/instances/{primary['id']}/force-switch", json={"target_mode": "on_demand"})
    assert issued.status_code == 202, issued.text
    (ran,) = _run_all(agent)
    replacement = cloud.get(ran["outcome"]["result"]["new_instance_id"])

    # The agent dies before the replacement runs; a new process on the same state file takes over.
    restarted = _agent(live_server.url, tenant.token, cloud, replacement.id, state)
    (owed,) = restarted.store.state.after_report
    assert (owed["instance_id"], owed["after_running"]) == (first.id, replacement.id)
    restarted.resume()
    assert cloud.get(first.id).terminated_at is None  # still booting: the old one serves
    cloud.advance_to(replacement.ready_at + timedelta(seconds=3))
    terminations: list[str] = []
    original = restarted.backend.terminate

    def counted(instance_id: str, region: str | None = None) -> None:
        terminations.append(instance_id)
        original(instance_id, region)

    restarted.backend.terminate = counted  # type: ignore[method-assign]
    assert restarted.finish_after_report() == 1 and restarted.finish_after_report() == 0
    assert terminations == [first.id] and StateStore(state).state.after_report == []


def test_a_switch_to_a_similar_type_launches_that_type(live_server, tenant, tmp_path: Path) -> None:
    cloud = _cloud()
    first = cloud.launch(A, "spot", "boot")
    agent = _agent(live_server.url, tenant.token, cloud, first.id, tmp_path / "state.json")
    agent.register()
    agent.report_prices()
    http = _http(live_server, tenant)
    _configure(http, agent.agent_id, config={"policy": {"similar_instance_types": True}})
    primary = next(r for r in http.get(f"/api/client/{tenant.id}/instances").json() if r["role"] == "PRIMARY")
    with session_scope() as session:  # the pool the agent's price report created for the other type
        m6i = session.scalar(select(Pool.id).where(Pool.instance_type == "m6i.large"))
    issued = http.post(f"/api/client/instances/{primary['id']}/force-switch", json={"target_pool_id": m6i})
    assert issued.status_code == 202, issued.text
    (ran,) = _run_all(agent)
    new = cloud.get(ran["outcome"]["result"]["new_instance_id"])
    assert new.pool == M6I and agent.backend.identity().instance_type == "m6i.large"
    now_primary = next(r for r in http.get(f"/api/client/{tenant.id}/instances").json() if r["role"] == "PRIMARY")
    assert (now_primary["cloud_instance_id"], now_primary["instance_type"]) == (new.id, "m6i.large")
