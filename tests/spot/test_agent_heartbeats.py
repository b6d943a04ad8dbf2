"""Coalesced heartbeats: written at the flush (not before), the newest time wins across workers, counters add
up under concurrent flushes, the stale/offline job sees them, and a crash between flushes loses only liveness."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from spectra.core.clock import clock
from spectra.core.db import session_scope
from spectra.spot.agents import heartbeats
from spectra.spot.agents.heartbeats import Flusher, HeartbeatBuffer
from spectra.spot.agents.models import SpotActivity
from spectra.spot.models import Agent, Command, Notification, SpotPriceSnapshot
from tests.conftest import ADMIN_TOKEN, IS_POSTGRES, TEST_DATABASE_URL, free_port
from tests.factories import Tenant, make_tenant
from tests.spot.spot_factories import register_agent

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.fixture()
def coalescing(committed: Engine, settings_env) -> Iterator[Flusher]:
    """Coalescing on, with a flush interval longer than any test: each test flushes when it means to."""
    heartbeats.flusher.stop()
    heartbeats.buffer.drain()
    settings_env(HEARTBEAT_FLUSH_SECONDS="30")
    try:
        yield heartbeats.flusher
    finally:
        heartbeats.flusher.stop()
        heartbeats.buffer.drain()
        clock.set_override(None)


def _tenant() -> Tenant:
    with session_scope() as session:
        return make_tenant(session)


def _agent(agent_id: str) -> Agent:
    with session_scope(read_only=True) as session:
        agent = session.get(Agent, agent_id)
        assert agent is not None
        return agent


def _beat(client, tenant: Tenant, agent_id: str, at: datetime) -> dict:
    clock.set_override(at)
    response = client.post(f"/api/agents/{agent_id}/heartbeat", json={"status": "running"}, headers=tenant.headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_heartbeats_reach_the_database_at_the_flush_not_before(committed_client, coalescing: Flusher) -> None:
    tenant = _tenant()
    clock.set_override(T0)
    agent_id = register_agent(committed_client, tenant.headers)["agent_id"]
    registered = _agent(agent_id)
    first = _beat(committed_client, tenant, agent_id, T0 + timedelta(seconds=30))
    # The second beat counts its gap from the first, still pending in memory (the database says T0).
    second = _beat(committed_client, tenant, agent_id, T0 + timedelta(seconds=60))
    assert first["missed_since_last"] == 0 and second["missed_since_last"] == 0
    assert second["status"] == "online" and second["config"]["heartbeat_interval_seconds"] == 30

    before = _agent(agent_id)
    assert before.last_heartbeat_at == T0 and before.heartbeats_received == 0

    assert coalescing.flush_now() == 1
    after = _agent(agent_id)
    assert after.last_heartbeat_at == T0 + timedelta(seconds=60)
    assert (after.heartbeats_received, after.heartbeats_missed) == (2, 0)
    # Liveness is not an edit: the optimistic lock of config edits and updated_at do not move.
    assert after.version == registered.version and after.updated_at == registered.updated_at
    assert coalescing.flush_now() == 0


def test_the_flusher_thread_writes_within_its_interval(committed_client, coalescing: Flusher, settings_env) -> None:
    settings_env(HEARTBEAT_FLUSH_SECONDS="0.2")
    tenant = _tenant()
    agent_id = register_agent(committed_client, tenant.headers)["agent_id"]
    response = committed_client.post(f"/api/agents/{agent_id}/heartbeat", json={}, headers=tenant.headers)
    assert response.status_code == 200
    deadline = time.monotonic() + 10
    while _agent(agent_id).heartbeats_received == 0:
        assert time.monotonic() < deadline, "the background flush never wrote the heartbeat"
        time.sleep(0.05)
    assert len(heartbeats.buffer) == 0


def test_the_newest_heartbeat_wins_whichever_worker_flushes_last(committed_client, coalescing: Flusher) -> None:
    tenant = _tenant()
    clock.set_override(T0)
    ids = [register_agent(committed_client, tenant.headers)["agent_id"] for _ in range(2)]
    newer, older = Flusher(HeartbeatBuffer()), Flusher(HeartbeatBuffer())  # two API workers
    for agent_id in ids:
        for seconds in (30, 60, 90):
            newer.buffer.add(agent_id, T0 + timedelta(seconds=seconds), 0)
        older.buffer.add(agent_id, T0 + timedelta(seconds=75), 1)
    newer.flush_now()
    older.flush_now()  # an older beat flushed later must not move the time back
    first = _agent(ids[0])
    assert first.last_heartbeat_at == T0 + timedelta(seconds=90)
    assert (first.heartbeats_received, first.heartbeats_missed) == (4, 1)

    for seconds in (120, 150):
        newer.buffer.add(ids[1], T0 + timedelta(seconds=seconds), 0)
    older.buffer.add(ids[1], T0 + timedelta(seconds=100), 0)
    older.flush_now()
    newer.flush_now()
    second = _agent(ids[1])
    assert second.last_heartbeat_at == T0 + timedelta(seconds=150)
    assert second.heartbeats_received == 7


def test_concurrent_flushes_of_several_workers_add_up(committed_client, coalescing: Flusher) -> None:
    tenant = _tenant()
    clock.set_override(T0)
    ids = [register_agent(committed_client, tenant.headers)["agent_id"] for _ in range(40)]
    workers = [Flusher(HeartbeatBuffer()) for _ in range(3)]
    rounds = 4
    errors: list[BaseException] = []

    def work(index: int, worker: Flusher) -> None:
        try:
            for round_ in range(rounds):
                # Each worker sees every agent, in its own order, so their row locks would interleave.
                for agent_id in ids[index:] + ids[:index]:
                    worker.buffer.add(agent_id, T0 + timedelta(seconds=10 * round_ + index), 0)
                worker.flush_now()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i, w)) for i, w in enumerate(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    with session_scope(read_only=True) as session:
        rows = session.execute(
            select(Agent.heartbeats_received, Agent.last_heartbeat_at).where(Agent.id.in_(ids))
        ).all()
    assert {received for received, _ in rows} == {3 * rounds}
    assert {last for _, last in rows} == {T0 + timedelta(seconds=10 * (rounds - 1) + 2)}


def test_the_liveness_job_sees_pending_beats_and_marks_a_silent_agent_offline(
    committed_client, coalescing: Flusher
) -> None:
    tenant = _tenant()
    clock.set_override(T0)
    agent_id = register_agent(committed_client, tenant.headers)["agent_id"]
    _beat(committed_client, tenant, agent_id, T0 + timedelta(seconds=30))

    def run_liveness(at: datetime) -> None:
        clock.set_override(at)
        response = committed_client.post("/api/admin/jobs/spot.agent_liveness/run", headers=ADMIN)
        assert response.status_code == 200 and response.json()["status"] == "succeeded", response.text

    # 110 s after registration but 80 s after the pending beat: under 3 intervals, so not even stale.
    run_liveness(T0 + timedelta(seconds=110))
    assert _agent(agent_id).status == "online"
    coalescing.flush_now()
    run_liveness(T0 + timedelta(seconds=30 + 3 * 30))
    assert _agent(agent_id).status == "stale"
    run_liveness(T0 + timedelta(seconds=30 + 10 * 30))
    assert _agent(agent_id).status == "offline"
    with session_scope(read_only=True) as session:
        kinds = session.scalars(select(Notification.kind).where(Notification.entity_id == agent_id)).all()
    assert kinds == ["agent_offline"]

    # Coming back: the agent is told it is online; the flush writes the return with its activity record.
    back = _beat(committed_client, tenant, agent_id, T0 + timedelta(seconds=340))
    assert back["status"] == "online" and back["missed_since_last"] == 9
    assert _agent(agent_id).status == "offline"
    coalescing.flush_now()
    agent = _agent(agent_id)
    assert agent.status == "online" and agent.last_heartbeat_at == T0 + timedelta(seconds=340)
    with session_scope(read_only=True) as session:
        returns = session.scalars(
            select(SpotActivity.message).where(
                SpotActivity.agent_id == agent_id, SpotActivity.event_type == "agent.online"
            )
        ).all()
    assert returns == [f"agent {agent_id} is back after 9 missed heartbeats"]
    # A second flush with more beats does not announce the return again.
    _beat(committed_client, tenant, agent_id, T0 + timedelta(seconds=370))
    coalescing.flush_now()
    with session_scope(read_only=True) as session:
        assert (
            session.scalar(
                select(func.count())
                .select_from(SpotActivity)
                .where(SpotActivity.agent_id == agent_id, SpotActivity.event_type == "agent.online")
            )
            == 1
        )


def test_a_new_agent_version_is_written_at_once(committed_client, coalescing: Flusher) -> None:
    tenant = _tenant()
    agent_id = register_agent(committed_client, tenant.headers)["agent_id"]
    response = committed_client.post(
        f"/api/agents/{agent_id}/heartbeat", json={"agent_version": "2.0.0"}, headers=tenant.headers
    )
    assert response.status_code == 200
    agent = _agent(agent_id)
    assert agent.agent_version == "2.0.0" and agent.heartbeats_received == 1
    assert len(heartbeats.buffer) == 0


def test_heartbeats_stay_tenant_scoped(committed_client, coalescing: Flusher) -> None:
    owner, other = _tenant(), _tenant()
    agent_id = register_agent(committed_client, owner.headers)["agent_id"]
    response = committed_client.post(f"/api/agents/{agent_id}/heartbeat", json={}, headers=other.headers)
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    assert heartbeats.buffer.newest(agent_id) is None
    unknown = committed_client.post("/api/agents/no-such-agent/heartbeat", json={}, headers=owner.headers)
    assert unknown.status_code == 404


# --------------------------------------------------------------------------- a crash between flushes


def _start_server(port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "SPECTRA_DATABASE_URL": TEST_DATABASE_URL,
        # Nothing is flushed while the server lives: the crash takes every buffered beat with it.
        "SPECTRA_HEARTBEAT_FLUSH_SECONDS": "60",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "spectra.app:create_app", "--factory", "--port", str(port)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline or process.poll() is not None:
            process.kill()
            raise RuntimeError("server did not start")
        time.sleep(0.2)


def test_a_crash_between_flushes_loses_no_registration_command_or_price(committed_client, coalescing: Flusher) -> None:
    tenant = _tenant()
    port = free_port()
    server = _start_server(port)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=tenant.headers, timeout=20) as http:
            registered = http.post(
                "/api/agents/register",
                json={
                    "installation_id": "crash-1",
                    "instance_id": "i-0crash000000001",
                    "instance_type": "m5.large",
                    "region": "us-east-1",
                    "availability_zone": "us-east-1a",
                },
            )
            assert registered.status_code == 200, registered.text
            agent_id = registered.json()["agent_id"]
            for _ in range(2):
                assert http.post(f"/api/agents/{agent_id}/heartbeat", json={}).status_code == 200
            command = http.post(
                f"/api/agents/{agent_id}/issue-switch-command",
                json={"target_mode": "on_demand"},
                headers={"X-Request-ID": "crash-test-1"},
            )
            assert command.status_code == 202, command.text
            prices = [{"instance_type": "m5.large", "availability_zone": "us-east-1b", "price": 0.031}]
            assert http.post(f"/api/agents/{agent_id}/pricing-report", json={"prices": prices}).status_code == 200
    finally:
        server.kill()  # SIGKILL: no shutdown, no last flush
        server.wait(10)

    agent = _agent(agent_id)
    # Lost: the two beats of the unflushed interval. The registration's own sign of life stays.
    assert agent.heartbeats_received == 0 and agent.last_heartbeat_at is not None
    with session_scope(read_only=True) as session:
        commands = session.scalars(select(Command).where(Command.agent_id == agent_id)).all()
        staged = session.scalar(
            select(func.count()).select_from(SpotPriceSnapshot).where(SpotPriceSnapshot.agent_id == agent_id)
        )
    assert [c.status for c in commands] == ["pending"] and staged == 1
    # Another process serves the agent on: the command reaches it, and its next beat is counted.
    delivered = committed_client.get(f"/api/agents/{agent_id}/pending-commands", headers=tenant.headers)
    assert [c["id"] for c in delivered.json()] == [commands[0].id]
    beat = committed_client.post(f"/api/agents/{agent_id}/heartbeat", json={}, headers=tenant.headers)
    assert beat.status_code == 200 and beat.json()["status"] == "online"
    coalescing.flush_now()
    assert _agent(agent_id).heartbeats_received == 1


def test_a_graceful_stop_writes_the_pending_beats(app, coalescing: Flusher) -> None:
    tenant = _tenant()
    with TestClient(app) as http:
        agent_id = register_agent(http, tenant.headers)["agent_id"]
        assert http.post(f"/api/agents/{agent_id}/heartbeat", json={}, headers=tenant.headers).status_code == 200
        assert _agent(agent_id).heartbeats_received == 0
    # Leaving the client runs the app's shutdown, as stopping a worker does.
    assert _agent(agent_id).heartbeats_received == 1


@pytest.mark.skipif(IS_POSTGRES, reason="SQLite's single writer lock")
def test_a_heartbeat_is_answered_while_another_writer_holds_sqlites_lock(live_server, coalescing: Flusher) -> None:
    from spectra.core import db as core_db
    from spectra.core.auth import caller_cache

    tenant = _tenant()
    with httpx.Client(base_url=live_server.url, headers=tenant.headers, timeout=30) as http:
        agent_id = http.post("/api/agents/register", json={**_registration(), "installation_id": "locked"}).json()[
            "agent_id"
        ]
        caller_cache.clear()  # the token lookup happens too, on a read-only session
        assert core_db._sqlite_writer.acquire(timeout=10)
        try:
            started = time.monotonic()
            beat = http.post(f"/api/agents/{agent_id}/heartbeat", json={})
            assert beat.status_code == 200, beat.text
            assert time.monotonic() - started < 5  # a writer would have queued for 15 s and failed
        finally:
            core_db._sqlite_writer.release()


def _registration() -> dict:
    return {
        "instance_id": "i-0locked00000001",
        "instance_type": "m5.large",
        "region": "us-east-1",
        "availability_zone": "us-east-1a",
    }
