"""Concurrency guarantees: one PRIMARY per agent under 50 concurrent force-switches (PostgreSQL), one command for
100 concurrent requests with one X-Request-ID, and a promotion that reaches a long-polling agent within a second."""

from __future__ import annotations

import contextlib
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlalchemy import func, select

from spectra.core import db as core_db
from spectra.spot.commands import router as commands_router
from spectra.spot.models import Command, SpotInstance
from tests.factories import make_tenant
from tests.spot.spot_factories import register_agent, report_prices


def _tenant_committed():  # type: ignore[no-untyped-def]
    with core_db.session_scope() as session:
        tenant = make_tenant(session)
        session.expunge_all()
    return tenant


@pytest.mark.postgres_only
def test_fifty_concurrent_force_switches_make_one_primary(committed_client) -> None:
    t = _tenant_committed()
    a = register_agent(committed_client, t.headers)
    aid = a["agent_id"]
    pools = report_prices(committed_client, t.headers, aid, {"us-east-1a": 0.04, "us-east-1b": 0.03})
    url = f"/api/client/instances/{a['instance_id']}/force-switch"
    barrier = threading.Barrier(50)

    def fire(_: int) -> int:
        barrier.wait()
        return committed_client.post(url, json={"target_pool_id": pools[1]}, headers=t.headers).status_code

    with ThreadPoolExecutor(max_workers=50) as pool:
        codes = list(pool.map(fire, range(50)))
    assert codes.count(202) == 1 and codes.count(409) == 49, codes
    cmds = committed_client.get(f"/api/agents/{aid}/pending-commands", headers=t.headers).json()
    assert len(cmds) == 1
    report = {"command_id": cmds[0]["id"], "new_instance_id": "i-0winner", "new_availability_zone": "us-east-1b"}

    def finish(_: int) -> int:
        return committed_client.post(f"/api/agents/{aid}/switch-report", json=report, headers=t.headers).status_code

    with ThreadPoolExecutor(max_workers=10) as pool:
        assert all(code in (200, 409) for code in pool.map(finish, range(10)))
    with core_db.session_scope() as session:
        primaries = session.scalars(
            select(SpotInstance.cloud_instance_id).where(SpotInstance.agent_id == aid, SpotInstance.role == "PRIMARY")
        ).all()
    assert primaries == ["i-0winner"]


def test_hundred_identical_issue_switch_commands_make_one_command(committed_client) -> None:
    t = _tenant_committed()
    a = register_agent(committed_client, t.headers)
    aid = a["agent_id"]
    pools = report_prices(committed_client, t.headers, aid, {"us-east-1a": 0.04, "us-east-1b": 0.03})
    headers = {**t.headers, "X-Request-ID": "test-idempotency-123"}
    barrier = threading.Barrier(25)

    def fire(_: int) -> tuple[int, str]:
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait(timeout=5)
        response = committed_client.post(
            f"/api/agents/{aid}/issue-switch-command", json={"target_pool": pools[1]}, headers=headers
        )
        return response.status_code, response.json().get("id", "")

    with ThreadPoolExecutor(max_workers=25) as pool:
        results = list(pool.map(fire, range(100)))
    assert {code for code, _ in results} == {202}, results
    assert len({cid for _, cid in results}) == 1
    with core_db.session_scope() as session:
        count = session.scalar(select(func.count(Command.id)).where(Command.agent_id == aid))
    assert count == 1


@pytest.mark.live
def test_termination_notice_promotion_reaches_a_long_polling_agent_within_a_second(live_server) -> None:
    t = _tenant_committed()
    with httpx.Client(base_url=live_server.url, headers=t.headers, timeout=30) as http:
        reg = http.post(
            "/api/agents/register",
            json={
                "installation_id": "live-1",
                "instance_id": "i-0live",
                "instance_type": "m5.large",
                "region": "us-east-1",
                "availability_zone": "us-east-1a",
                "spot_price": 0.04,
                "on_demand_price": 0.096,
            },
        ).json()
        aid = reg["agent_id"]
        http.post(
            f"/api/agents/{aid}/pricing-report",
            json={"prices": [{"instance_type": "m5.large", "availability_zone": "us-east-1b", "price": 0.05}]},
        )
        http.post(f"/api/agents/{aid}/rebalance-notice", json={})
        cmd = http.get(f"/api/agents/{aid}/pending-commands").json()[0]
        http.post(
            f"/api/agents/{aid}/commands/{cmd['id']}/executed",
            json={"result": {"instance_id": "i-0standby", "boot_seconds": 30}},
        )
        received: dict[str, object] = {}

        def agent_long_poll() -> None:
            with httpx.Client(base_url=live_server.url, headers=t.headers, timeout=30) as agent_http:
                response = agent_http.get(f"/api/agents/{aid}/pending-commands", params={"wait": 20})
                received["at"] = time.monotonic()
                received["commands"] = response.json()

        poller = threading.Thread(target=agent_long_poll)
        poller.start()
        time.sleep(0.5)  # the agent is waiting
        assert "at" not in received
        sent = time.monotonic()
        assert http.post(f"/api/agents/{aid}/termination-notice", json={}).json()["status"] == "promoted"
        poller.join(timeout=10)
    commands = received["commands"]
    assert isinstance(commands, list) and [c["command_type"] for c in commands] == ["promote_replica"]
    assert commands[0]["payload"]["new_primary"] == "i-0standby"
    assert float(received["at"]) - sent < 1.0  # type: ignore[arg-type]


def test_concurrent_polls_of_one_agent_deliver_a_command_once(committed_client) -> None:
    t = _tenant_committed()
    a = register_agent(committed_client, t.headers)
    aid = a["agent_id"]
    pools = report_prices(committed_client, t.headers, aid, {"us-east-1a": 0.04, "us-east-1b": 0.03})

    def poll(_: int) -> list[str]:
        response = committed_client.get(f"/api/agents/{aid}/pending-commands?wait=3", headers=t.headers)
        return [c["id"] for c in response.json()]

    with ThreadPoolExecutor(max_workers=8) as pool:
        futures = [pool.submit(poll, i) for i in range(8)]
        time.sleep(0.5)
        issued = committed_client.post(
            f"/api/agents/{aid}/issue-switch-command", json={"target_pool_id": pools[1]}, headers=t.headers
        ).json()
        delivered = [cid for f in futures for cid in f.result()]
    assert delivered == [issued["id"]]


def test_concurrent_force_switches_on_any_database(committed_client) -> None:
    """The same guarantee at a smaller scale, so the SQLite run checks it too."""
    t = _tenant_committed()
    a = register_agent(committed_client, t.headers)
    pools = report_prices(committed_client, t.headers, a["agent_id"], {"us-east-1a": 0.04, "us-east-1b": 0.03})
    url = f"/api/client/instances/{a['instance_id']}/force-switch"
    with ThreadPoolExecutor(max_workers=10) as pool:
        codes = list(
            pool.map(
                lambda _: committed_client.post(url, json={"target_pool_id": pools[1]}, headers=t.headers).status_code,
                range(10),
            )
        )
    assert sorted(codes) == [202] + [409] * 9


def test_x_request_id_holds_at_the_database_level(client, db) -> None:
    """Even when the HTTP replay layer does not catch a repeat (another Idempotency-Key), the command's unique
    request id returns the first command."""
    from tests.factories import make_tenant

    t = make_tenant(db)
    a = register_agent(client, t.headers)
    aid = a["agent_id"]
    pools = report_prices(client, t.headers, aid, {"us-east-1a": 0.04, "us-east-1b": 0.03})
    ids = []
    for key in ("k1", "k2"):
        headers = {**t.headers, "X-Request-ID": "switch-42", "Idempotency-Key": key}
        response = client.post(
            f"/api/agents/{aid}/issue-switch-command", json={"target_pool_id": pools[1]}, headers=headers
        )
        assert response.status_code == 202
        ids.append(response.json()["id"])
    assert ids[0] == ids[1]
    assert db.scalar(select(func.count(Command.id)).where(Command.agent_id == aid)) == 1


def test_a_waiting_long_poll_looks_again_only_when_its_agent_gets_a_command(committed_client, monkeypatch) -> None:
    """A fleet's agents all hold long-polls: events about other agents must not make each of them query again."""
    t = _tenant_committed()
    a = register_agent(committed_client, t.headers)["agent_id"]
    b = register_agent(committed_client, t.headers)["agent_id"]
    pools = report_prices(committed_client, t.headers, a, {"us-east-1a": 0.04, "us-east-1b": 0.03})
    looks: list[str] = []
    take = commands_router._take

    def counted_take(caller, agent_id):  # type: ignore[no-untyped-def]
        looks.append(agent_id)
        return take(caller, agent_id)

    monkeypatch.setattr(commands_router, "_take", counted_take)
    with ThreadPoolExecutor(max_workers=1) as pool:
        poll = pool.submit(
            committed_client.get, f"/api/agents/{a}/pending-commands", params={"wait": 4}, headers=t.headers
        )
        time.sleep(0.3)
        for _ in range(3):  # events about agent b, and more than one SQLite poll interval of waiting
            report_prices(committed_client, t.headers, b, {"us-east-1a": 0.04, "us-east-1b": 0.03})
            time.sleep(0.5)
        issued = committed_client.post(
            f"/api/agents/{a}/issue-switch-command", json={"target_pool_id": pools[1]}, headers=t.headers
        ).json()
        delivered = poll.result(timeout=10).json()
    assert [c["id"] for c in delivered] == [issued["id"]]
    assert looks == [a, a]  # when the poll arrived, and when its command was issued


def test_a_held_heartbeat_answers_when_its_agent_gets_a_command(committed_client) -> None:
    """With `wait`, a heartbeat is the agent's long-poll: held while nothing is open for the agent (events about
    other agents do not end it), answered with the open command as soon as one is issued, and answered at once
    when one is already open."""
    t = _tenant_committed()
    a = register_agent(committed_client, t.headers)["agent_id"]
    b = register_agent(committed_client, t.headers)["agent_id"]
    pools = report_prices(committed_client, t.headers, a, {"us-east-1a": 0.04, "us-east-1b": 0.03})
    beat = {"status": "running", "agent_version": "1.0"}

    def held_beat(wait: float) -> tuple[float, dict]:
        began = time.monotonic()
        response = committed_client.post(
            f"/api/agents/{a}/heartbeat", params={"wait": wait}, json=beat, headers=t.headers
        )
        assert response.status_code == 200, response.text
        return time.monotonic() - began, response.json()

    took, answer = held_beat(0.5)  # nothing to deliver: held the whole wait
    assert took >= 0.5 and answer["pending_commands"] == 0
    with ThreadPoolExecutor(max_workers=1) as pool:
        held = pool.submit(held_beat, 20)
        time.sleep(0.3)
        report_prices(committed_client, t.headers, b, {"us-east-1a": 0.04, "us-east-1b": 0.03})
        time.sleep(0.3)
        assert not held.done()
        committed_client.post(
            f"/api/agents/{a}/issue-switch-command", json={"target_pool_id": pools[1]}, headers=t.headers
        )
        took, answer = held.result(timeout=10)
    assert took < 5 and answer["pending_commands"] == 1
    took, answer = held_beat(20)  # the command is still open (not yet taken): no wait at all
    assert took < 5 and answer["pending_commands"] == 1
    too_long = committed_client.post(f"/api/agents/{a}/heartbeat", params={"wait": 61}, json=beat, headers=t.headers)
    assert too_long.status_code == 422 and "wait" in too_long.text
