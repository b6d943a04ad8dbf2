"""The agent program end to end: a simulated instance's agent against a live Spectra server."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from spectra.agent.cloud import CloudError, Notice
from spectra.agent.runner import Agent
from spectra.agent.sim import SimBackend
from spectra.agent.state import StateStore
from spectra.agent.transport import ServerClient
from spectra.sim.cloud import SimCloud
from spectra.sim.prices import BootTimeModel, PricePath
from spectra.spot.pricing.formats import PoolKey

T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
A = PoolKey("us-east-1", "us-east-1a", "m5.large")
B = PoolKey("us-east-1", "us-east-1b", "m5.large")


def _cloud() -> SimCloud:
    paths = {A: PricePath(A, [T0], [0.045]), B: PricePath(B, [T0], [0.031])}
    return SimCloud(paths, lambda pool: 0.096, {A: [], B: []}, BootTimeModel(seed=3), T0 + timedelta(hours=1))


def _agent(url: str, token: str, cloud: SimCloud, instance_id: str, state: Path) -> Agent:
    backend = SimBackend(cloud, instance_id)
    store = StateStore(state)

    def follow(new_id: str) -> None:
        backend.instance_id = new_id

    return Agent(
        ServerClient(url, token, store, sleep=lambda s: None),
        backend,
        store,
        candidate_types=["m5.large"],
        on_switch=follow,
        clock=lambda: cloud.now,
    )


def _primary(http: httpx.Client, client_id: str) -> dict:
    rows = http.get(f"/api/client/{client_id}/instances").json()
    return next(r for r in rows if r["role"] == "PRIMARY")


def _pool_id(http: httpx.Client, instance_id: str, zone: str) -> str:
    options = http.get(f"/api/client/instances/{instance_id}/available-options").json()
    return next(o["pool_id"] for o in options if o["availability_zone"] == zone)


def test_register_report_and_switch(live_server, tenant, tmp_path: Path) -> None:
    cloud = _cloud()
    first = cloud.launch(A, "spot", "boot")
    agent = _agent(live_server.url, tenant.token, cloud, first.id, tmp_path / "state.json")
    registered = agent.register()
    assert registered["agent_id"] and agent.heartbeat()["agent_id"] == registered["agent_id"]
    assert agent.report_prices() == 2

    http = httpx.Client(base_url=live_server.url, headers=tenant.headers, timeout=10)
    primary = _primary(http, tenant.id)
    assert primary["cloud_instance_id"] == first.id
    pool_b = _pool_id(http, primary["id"], "us-east-1b")
    issued = http.post(f"/api/client/instances/{primary['id']}/force-switch", json={"target_pool_id": pool_b})
    assert issued.status_code == 202, issued.text

    commands = agent.pending_commands(wait=2)
    assert [c["command_type"] for c in commands] == ["switch"]
    result = agent.execute(commands[0])
    assert result["success"], result

    new_primary = _primary(http, tenant.id)
    assert new_primary["cloud_instance_id"] != first.id
    replacement = cloud.get(new_primary["cloud_instance_id"])
    assert replacement.pool == B
    assert agent.backend.identity().instance_id == new_primary["cloud_instance_id"]
    # The old instance serves until the replacement runs (no boot time without service), then goes.
    assert cloud.get(first.id).terminated_at is None and agent.store.state.after_report
    cloud.advance_to(replacement.ready_at - timedelta(seconds=1))
    assert agent.finish_after_report() == 0 and cloud.get(first.id).terminated_at is None
    cloud.advance_to(replacement.ready_at)
    assert agent.finish_after_report() == 1 and cloud.get(first.id).terminated_at == replacement.ready_at
    assert StateStore(agent.store.path).state.after_report == []


def test_crash_mid_command_executes_once(live_server, tenant, tmp_path: Path) -> None:
    cloud = _cloud()
    first = cloud.launch(A, "spot", "boot")
    state = tmp_path / "state.json"
    agent = _agent(live_server.url, tenant.token, cloud, first.id, state)
    agent.register()
    agent.report_prices()
    http = httpx.Client(base_url=live_server.url, headers=tenant.headers, timeout=10)
    primary = _primary(http, tenant.id)
    http.post(
        f"/api/client/instances/{primary['id']}/force-switch",
        json={"target_pool_id": _pool_id(http, primary["id"], "us-east-1b")},
    )
    command = agent.pending_commands(wait=2)[0]

    # the agent launches the new instance, then dies before it can report
    agent.store.state.commands[command["id"]] = "executing:" + json.dumps(command)
    agent.store.save()
    agent._act(command)
    launched = [i for i in cloud.instances.values() if i.pool == B]
    assert len(launched) == 1

    restarted = _agent(live_server.url, tenant.token, cloud, first.id, state)
    assert restarted.store.state.agent_id == agent.store.state.agent_id  # same installation, same agent id
    restarted.resume()
    assert len([i for i in cloud.instances.values() if i.pool == B]) == 1, "the launch was not repeated"
    assert _primary(http, tenant.id)["cloud_instance_id"] == launched[0].id
    # a duplicate report changes nothing
    again = restarted.server.request(
        "POST",
        f"/api/agents/{restarted.agent_id}/commands/{command['id']}/executed",
        {"success": True, "result": {"new_instance_id": launched[0].id}},
    )
    assert again["changed"] is False


def test_sim_backend_migrates_and_resizes_by_replacement(tmp_path: Path) -> None:
    cloud = _cloud()
    first = cloud.launch(A, "on-demand", "boot")
    agent = _agent("http://127.0.0.1:9", "unused", cloud, first.id, tmp_path / "state.json")
    migrate = {
        "id": "c-1",
        "request_id": "carbon:migration:t:m-1",
        "command_type": "migrate",
        "payload": {"cloud_instance_id": first.id, "region": "us-east-1", "target_region": "eu-north-1",
                    "instance_type": "m5.large", "lifecycle": "on_demand"},
    }  # fmt: skip
    moved = agent._act(migrate)
    new = cloud.get(moved["new_instance_id"])
    assert (new.pool.region, new.pool.instance_type, new.lifecycle) == ("eu-north-1", "m5.large", "on-demand")
    assert cloud.get(first.id).terminated_at is not None and moved["old_instance_terminated"] is True
    assert agent.backend.identity().instance_id == new.id  # the agent follows its workload
    # Redone after a crash: the same launch token finds the same instance.
    assert agent._act(migrate)["new_instance_id"] == new.id
    assert len([i for i in cloud.instances.values() if i.pool.region == "eu-north-1"]) == 1

    resize = {
        "id": "c-2",
        "request_id": "carbon:rightsizing:t:r-1",
        "command_type": "resize",
        "payload": {"cloud_instance_id": new.id, "region": "eu-north-1", "target_type": "m5.xlarge",
                    "availability_zone": new.pool.availability_zone, "lifecycle": "on_demand"},
    }  # fmt: skip
    resized = agent._act(resize)
    bigger = cloud.get(resized["new_instance_id"])
    assert resized["method"] == "replaced" and bigger.pool.instance_type == "m5.xlarge"
    assert bigger.pool.availability_zone == new.pool.availability_zone and cloud.get(new.id).terminated_at is not None

    stop = {"id": "c-3", "request_id": "r-3", "command_type": "stop", "payload": {"cloud_instance_id": bigger.id}}
    with pytest.raises(CloudError, match="cannot stop"):
        agent._act(stop)
    assert agent._after_report == [] and cloud.get(bigger.id).terminated_at is None


def test_a_step_on_its_own_instance_waits_for_the_report(tmp_path: Path) -> None:
    """Stopping or terminating the agent's own instance happens only once the report has been delivered."""
    cloud = _cloud()
    first = cloud.launch(A, "on-demand", "boot")
    store = StateStore(tmp_path / "state.json")
    store.state.agent_id = "agent-1"
    store.state.commands["c-1"] = "executed:" + json.dumps({"success": True, "result": {}})
    store.state.after_report = [{"command_id": "c-1", "action": "terminate", "instance_id": first.id, "region": None}]
    store.save()
    server = ServerClient("http://127.0.0.1:9", "t", store, sleep=lambda s: None)
    agent = Agent(server, SimBackend(cloud, first.id), store)
    store.enqueue("POST", "/api/agents/agent-1/commands/c-1/executed", {"success": True}, key="executed:c-1")
    assert agent.finish_after_report() == 0 and cloud.get(first.id).terminated_at is None  # report not delivered
    store.drop("executed:c-1")  # delivered
    assert agent.finish_after_report() == 1 and cloud.get(first.id).terminated_at is not None
    assert StateStore(tmp_path / "state.json").state.after_report == []


def test_a_replaced_installation_stops_its_loop(live_server, tenant, tmp_path: Path) -> None:
    cloud = _cloud()
    instance = cloud.launch(A, "spot", "boot")
    old = _agent(live_server.url, tenant.token, cloud, instance.id, tmp_path / "old.json")
    old.register()
    # A new installation on the same instance (its own state file, so a new installation id) takes over.
    new = _agent(live_server.url, tenant.token, cloud, instance.id, tmp_path / "new.json")
    assert new.register()["agent_id"] != old.agent_id

    stop = threading.Event()
    loop = threading.Thread(target=old.run, args=(stop,), kwargs={"poll_wait": 0.1}, daemon=True)
    loop.start()
    loop.join(timeout=20)
    assert not loop.is_alive() and stop.is_set()  # it stopped by itself, at its first heartbeat
    http = httpx.Client(base_url=live_server.url, headers=tenant.headers, timeout=10)
    assert http.get(f"/api/agents/{old.agent_id}").json()["status"] == "replaced"
    assert http.get(f"/api/agents/{new.agent_id}").json()["status"] == "online"


def test_zombies_past_their_grace_period_are_terminated_and_reported(live_server, tenant, tmp_path: Path) -> None:
    cloud = _cloud()
    old_instance, new_instance = cloud.launch(A, "spot", "boot-1"), cloud.launch(B, "spot", "boot-2")
    state = tmp_path / "state.json"
    agent = _agent(live_server.url, tenant.token, cloud, old_instance.id, state)
    agent.register()
    http = httpx.Client(base_url=live_server.url, headers=tenant.headers, timeout=10)
    version = http.get(f"/api/agents/{agent.agent_id}").json()["version"]
    patched = http.patch(f"/api/agents/{agent.agent_id}/config", json={"version": version, "terminate_wait_seconds": 0})
    assert patched.status_code == 200, patched.text
    # The same installation comes up on another instance: the one it left is a ZOMBIE, still running.
    moved = _agent(live_server.url, tenant.token, cloud, new_instance.id, state)
    assert moved.register()["agent_id"] == agent.agent_id
    listed = http.get(f"/api/agents/{agent.agent_id}/instances-to-terminate").json()
    assert [i["instance_id"] for i in listed] == [old_instance.id]

    assert moved.clean_up() == 1
    assert cloud.get(old_instance.id).terminated_at is not None
    assert cloud.get(new_instance.id).terminated_at is None  # never its own instance
    roles = {i["cloud_instance_id"]: i["role"] for i in http.get(f"/api/client/{tenant.id}/instances").json()}
    assert roles == {old_instance.id: "TERMINATED", new_instance.id: "PRIMARY"}
    assert http.get(f"/api/agents/{agent.agent_id}/instances-to-terminate").json() == []
    assert moved.clean_up() == 0 and moved.store.state.outbox == []


def test_the_loop_holds_its_beat_open_and_a_notice_brings_the_command_at_once(
    live_server, tenant, tmp_path: Path
) -> None:
    """The loop holds each beat open as its long-poll (one request per interval, however large the fleet), and its
    watcher reports a termination notice while a beat is held: the emergency command it causes ends the held beat
    and is executed within seconds, not at the next beat."""
    cloud = _cloud()
    instance = cloud.launch(A, "spot", "boot")
    agent = _agent(live_server.url, tenant.token, cloud, instance.id, tmp_path / "state.json")
    sent: list[str] = []
    request = agent.server.request

    def counted(method: str, path: str, *args: Any, **kwargs: Any) -> Any:
        sent.append(path.rsplit("/", 1)[-1])
        return request(method, path, *args, **kwargs)

    agent.server.request = counted  # type: ignore[method-assign]
    stop = threading.Event()
    loop = threading.Thread(target=agent.run, args=(stop,), kwargs={"watch_interval": 0.1}, daemon=True)
    loop.start()
    try:
        _until(lambda: agent.holding)
        time.sleep(0.5)  # the beat stays held: nothing to deliver
        assert agent.holding and sent.count("heartbeat") == 1 and "pending-commands" not in sent
        held_at = time.monotonic()
        deadline = cloud.now + timedelta(minutes=2)
        agent.backend.notice = lambda: (  # type: ignore[method-assign]
            Notice("termination", deadline) if agent.backend.identity().instance_id == instance.id else None
        )
        _until(lambda: agent.executed == 1)
        assert time.monotonic() - held_at < 5
        assert sent.count("termination-notice") == 1 and sent.count("pending-commands") == 1
        assert sent.count("heartbeat") <= 2  # the held beat (and perhaps the next one, held again)
    finally:
        stop.set()
        agent.wait_stopped(loop, timeout=10)
    assert not loop.is_alive() or agent.holding  # a held beat is not waited out


def _until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)
