"""Registration at fleet scale: a boot burst does not hold up other writes behind SQLite's single writer, the
same installation registering twice at once stays one agent, and a re-install retires only the agent that ran on
that instance (one query, whatever the size of the client's fleet)."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from spectra.core.db import session_scope
from spectra.spot.agents import service as agent_service
from spectra.spot.models import Agent, SpotInstance
from tests.conftest import IS_POSTGRES
from tests.factories import Tenant, make_tenant
from tests.spot.spot_factories import register_agent


def _tenant() -> Tenant:
    with session_scope() as session:
        return make_tenant(session)


def _body(n: int, installation: str | None = None) -> dict:
    return {
        "installation_id": installation or f"burst-{n}",
        "instance_id": f"i-burst{n:010d}",
        "instance_type": "m5.large",
        "region": "us-east-1",
        "availability_zone": "us-east-1a",
    }


def _hold_registrations(monkeypatch) -> tuple[threading.Semaphore, list[int]]:
    """Registrations wait for a permit inside the write gate, so the test decides when each one finishes: (the
    permits to release, one entry per registration that reached the service)."""
    permits = threading.Semaphore(0)
    entered: list[int] = []
    real_register = agent_service.register

    def held_register(*args: Any, **kwargs: Any) -> Any:
        entered.append(1)
        assert permits.acquire(timeout=60)
        return real_register(*args, **kwargs)

    monkeypatch.setattr(agent_service, "register", held_register)
    return permits, entered


@pytest.mark.skipif(IS_POSTGRES, reason="the write gate and the registration lane exist on SQLite only")
def test_a_registration_burst_does_not_hold_up_other_writes(live_server, monkeypatch) -> None:
    tenant = _tenant()
    with httpx.Client(base_url=live_server.url, headers=tenant.headers, timeout=30) as http:
        first = http.post("/api/agents/register", json=_body(-1)).json()["agent"]
    permits, entered = _hold_registrations(monkeypatch)
    burst = 20

    async def scenario() -> tuple[httpx.Response, int]:
        limits = httpx.Limits(max_connections=burst + 5)
        async with httpx.AsyncClient(
            base_url=live_server.url, headers=tenant.headers, limits=limits, timeout=90
        ) as http:
            registrations = [
                asyncio.create_task(http.post("/api/agents/register", json=_body(n))) for n in range(burst)
            ]
            while not entered:
                await asyncio.sleep(0.01)
            await asyncio.sleep(1.0)  # the rest of the burst reaches the server and queues
            edit = asyncio.create_task(
                http.patch(
                    f"/api/agents/{first['id']}/config",
                    json={"version": first["version"], "terminate_wait_seconds": 120},
                )
            )
            await asyncio.sleep(0.5)
            assert not edit.done()  # one registration holds the write gate
            permits.release()
            # That registration done, the edit is next: not the nineteen registrations that came before it.
            answer = await asyncio.wait_for(edit, 20)
            finished = sum(task.done() for task in registrations)
            for _ in range(burst):
                permits.release()
            assert {r.status_code for r in await asyncio.gather(*registrations)} == {200}
            return answer, finished

    answer, finished = asyncio.run(scenario())
    assert answer.status_code == 200, answer.text
    assert finished <= 2
    assert len(entered) == burst
    with session_scope(read_only=True) as session:
        count = session.scalar(select(func.count()).select_from(Agent).where(Agent.client_id == tenant.id))
    assert count == burst + 1


def test_the_same_installation_registering_twice_at_once_stays_one_agent(live_server) -> None:
    tenant = _tenant()

    def register() -> httpx.Response:
        with httpx.Client(base_url=live_server.url, headers=tenant.headers, timeout=60) as http:
            return http.post("/api/agents/register", json=_body(1, installation="twice"))

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: register(), range(8)))
    # The loser of a race on the unique installation gets a 409 and its retry finds the agent.
    assert {a.status_code for a in answers} <= {200, 409}
    assert all(
        a.headers["content-type"].startswith("application/problem+json") for a in answers if a.status_code == 409
    )
    retry = register()
    assert retry.status_code == 200 and retry.json()["created"] is False
    assert {a.json()["agent_id"] for a in answers if a.status_code == 200} == {retry.json()["agent_id"]}
    with session_scope(read_only=True) as session:
        agents = session.scalar(select(func.count()).select_from(Agent).where(Agent.client_id == tenant.id))
        primaries = session.scalar(
            select(func.count())
            .select_from(SpotInstance)
            .where(SpotInstance.client_id == tenant.id, SpotInstance.role == "PRIMARY")
        )
    assert (agents, primaries) == (1, 1)


def test_a_reinstall_retires_only_the_agent_of_that_instance(client, db) -> None:
    tenant, neighbour = make_tenant(db), make_tenant(db)
    agents = [register_agent(client, tenant.headers) for _ in range(12)]
    target = agents[7]
    # Another tenant's agent on an instance with the same id (ids are per account) is not touched.
    theirs = client.post(
        "/api/agents/register",
        json={**_body(0, installation="neighbour"), "instance_id": target["cloud_instance_id"]},
        headers=neighbour.headers,
    ).json()
    again = client.post(
        "/api/agents/register",
        json={**_body(0, installation="reinstalled"), "instance_id": target["cloud_instance_id"]},
        headers=tenant.headers,
    )
    assert again.status_code == 200 and again.json()["created"] is True
    statuses = {
        a["agent_id"]: client.get(f"/api/agents/{a['agent_id']}", headers=tenant.headers).json()["status"]
        for a in agents
    }
    assert statuses.pop(target["agent_id"]) == "replaced"
    assert set(statuses.values()) == {"online"}
    listed = client.get(f"/api/client/{tenant.id}/instances?agent_id={target['agent_id']}", headers=tenant.headers)
    assert [(i["id"], i["role"]) for i in listed.json()] == [(target["instance_id"], "TERMINATED")]
    assert client.get(f"/api/agents/{theirs['agent_id']}", headers=neighbour.headers).json()["status"] == "online"


@pytest.mark.skipif(IS_POSTGRES, reason="the registration lane exists on SQLite only")
def test_a_burst_past_the_lane_queue_is_told_to_come_back(live_server, monkeypatch) -> None:
    """Past REGISTRATION_QUEUE waiting, a registration is answered 503 with Retry-After at once (not left queued
    longer than its client waits); nothing of it was written, and it registers when it comes back."""
    from spectra.spot.agents import router as agents_router

    tenant = _tenant()
    monkeypatch.setattr(agents_router, "REGISTRATION_QUEUE", 3)
    permits, entered = _hold_registrations(monkeypatch)
    burst = 8

    async def scenario() -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=burst + 2)
        async with httpx.AsyncClient(
            base_url=live_server.url, headers=tenant.headers, limits=limits, timeout=60
        ) as http:
            first = asyncio.create_task(http.post("/api/agents/register", json=_body(0)))
            while not entered:
                await asyncio.sleep(0.01)
            rest = [asyncio.create_task(http.post("/api/agents/register", json=_body(n))) for n in range(1, burst)]
            await asyncio.wait(rest, timeout=5, return_when=asyncio.FIRST_COMPLETED)
            await asyncio.sleep(0.5)
            shed = [t.result() for t in rest if t.done()]
            assert len(shed) == burst - 1 - 3  # one in the gate, three queued, the others told at once
            for _ in range(2 * burst):  # these, and the comebacks below
                permits.release()
            return [await first, *await asyncio.gather(*rest)]

    answers = asyncio.run(scenario())
    busy = [a for a in answers if a.status_code == 503]
    assert len(busy) == burst - 1 - 3
    for answer in busy:
        assert answer.headers["retry-after"] == "2"
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert answer.json()["code"] == "registrations_busy"
    with session_scope(read_only=True) as session:
        count = session.scalar(select(func.count()).select_from(Agent).where(Agent.client_id == tenant.id))
    assert count == burst - len(busy)
    with httpx.Client(base_url=live_server.url, headers=tenant.headers, timeout=30) as http:
        for n in range(burst):
            assert http.post("/api/agents/register", json=_body(n)).status_code == 200
    with session_scope(read_only=True) as session:
        assert session.scalar(select(func.count()).select_from(Agent).where(Agent.client_id == tenant.id)) == burst
