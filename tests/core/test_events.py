"""Events: persisted, delivered after commit only, filtered per tenant over SSE, resumable by Last-Event-ID."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, insert
from sqlalchemy.orm import Session

from spectra.core import events
from spectra.core.db import session_scope
from spectra.core.models import EventLog
from tests.conftest import ADMIN_TOKEN
from tests.factories import make_tenant

ROOT = Path(__file__).resolve().parents[2]


def read_sse(url: str, headers: dict[str, str], want: int, timeout: float = 10.0) -> list[dict]:
    """Collect `want` data events from an SSE stream (or fail after timeout)."""
    got: list[dict] = []
    with httpx.Client(timeout=timeout) as http, http.stream("GET", url, headers=headers) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        deadline = time.monotonic() + timeout
        current: dict[str, str] = {}
        for line in response.iter_lines():
            if line.startswith("data: "):
                current["data"] = line[6:]
            elif line.startswith("id: "):
                current["id"] = line[4:]
            elif line == "" and "data" in current:
                got.append({"id": int(current["id"]), **json.loads(current["data"])})
                current = {}
                if len(got) >= want:
                    break
            if time.monotonic() > deadline:
                break
    return got


def test_subscriber_runs_after_commit_only(db: Session) -> None:
    seen: list[str] = []
    events.subscribe("test.after", lambda e: seen.append(e.topic))
    try:
        with session_scope() as session:
            events.publish(session, "test.after.commit", {"x": 1})
            assert seen == []
        assert seen == ["test.after.commit"]
        try:
            with session_scope() as session:
                events.publish(session, "test.after.rollback", {"x": 2})
                raise RuntimeError("boom")
        except RuntimeError:
            pass
        assert seen == ["test.after.commit"]
    finally:
        events._subscribers[:] = [s for s in events._subscribers if s[0] != "test.after"]


def test_an_event_in_a_rolled_back_savepoint_is_not_delivered(db: Session) -> None:
    seen: list[str] = []
    events.subscribe("test.savepoint", lambda e: seen.append(e.topic))
    try:
        with session_scope() as session:
            events.publish(session, "test.savepoint.kept", {})
            with session.begin_nested() as inner:
                events.publish(session, "test.savepoint.released", {})
            with session.begin_nested() as inner:
                events.publish(session, "test.savepoint.undone", {})
                with session.begin_nested():
                    events.publish(session, "test.savepoint.undone_deeper", {})
                inner.rollback()
        assert seen == ["test.savepoint.kept", "test.savepoint.released"]
    finally:
        events._subscribers[:] = [s for s in events._subscribers if s[0] != "test.savepoint"]


def test_sse_stream_filters_per_tenant_and_resumes(live_server) -> None:
    with session_scope() as session:
        a, b = make_tenant(session), make_tenant(session)
    with session_scope() as session:
        first = events.publish(session, "spot.price", {"n": 1}, client_id=a.id).id
        events.publish(session, "spot.price", {"n": 2}, client_id=b.id)
        events.publish(session, "spot.price", {"n": 3}, client_id=a.id)
    got = read_sse(f"{live_server.url}/api/events/stream?since={first - 1}", a.headers, want=2)
    assert [e["payload"]["n"] for e in got] == [1, 3]
    resumed = read_sse(f"{live_server.url}/api/events/stream", {**a.headers, "Last-Event-ID": str(first)}, want=1)
    assert [e["payload"]["n"] for e in resumed] == [3]
    admin = read_sse(
        f"{live_server.url}/api/events/stream?since={first - 1}",
        {"Authorization": f"Bearer {ADMIN_TOKEN}"},
        want=3,
    )
    assert [e["payload"]["n"] for e in admin] == [1, 2, 3]


def test_live_event_reaches_a_waiting_client_quickly(live_server) -> None:
    with session_scope() as session:
        tenant = make_tenant(session)
    received: list[dict] = []
    reader = threading.Thread(
        target=lambda: received.extend(
            read_sse(f"{live_server.url}/api/events/stream?topics=emergency.", tenant.headers, want=1)
        )
    )
    reader.start()
    time.sleep(0.5)
    started = time.monotonic()
    with session_scope() as session:
        events.publish(session, "other.topic", {"skip": True}, client_id=tenant.id)
        events.publish(session, "emergency.termination", {"deadline": "soon"}, client_id=tenant.id)
    reader.join(timeout=10)
    assert received and received[0]["topic"] == "emergency.termination"
    assert time.monotonic() - started < 1.0


def test_stream_accepts_token_query_for_eventsource(live_server) -> None:
    with session_scope() as session:
        tenant = make_tenant(session)
        evt = events.publish(session, "t.q", {"ok": True}, client_id=tenant.id)
    got = read_sse(f"{live_server.url}/api/events/stream?since={evt.id - 1}&token={tenant.token}", {}, want=1)
    assert got[0]["payload"] == {"ok": True}


def test_stream_without_token_is_401(client) -> None:
    assert client.get("/api/events/stream").status_code == 401


@pytest.mark.postgres_only
def test_event_from_another_process_reaches_sse_client(live_server) -> None:
    with session_scope() as session:
        tenant = make_tenant(session)
    received: list[dict] = []
    reader = threading.Thread(
        target=lambda: received.extend(
            read_sse(f"{live_server.url}/api/events/stream?topics=xproc.", tenant.headers, want=1)
        )
    )
    reader.start()
    time.sleep(0.5)
    code = (
        "from spectra import registry; registry.load_models()\n"
        "from spectra.core.db import session_scope\n"
        "from spectra.core.events import publish\n"
        "with session_scope() as s:\n"
        f"    publish(s, 'xproc.hello', {{'from': 'other process'}}, client_id={tenant.id!r})\n"
    )
    started = time.monotonic()
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, timeout=60)
    reader.join(timeout=10)
    assert received and received[0]["payload"] == {"from": "other process"}
    # PostgreSQL NOTIFY wakes the server at once (SQLite would rely on its 1 s poll)
    assert time.monotonic() - started < 5


def test_a_keyed_waiter_is_woken_by_its_key_only() -> None:
    async def scenario() -> None:
        broker = events.Broker()
        mine = asyncio.ensure_future(broker.wait(5, key="agent-a"))
        anyone = asyncio.ensure_future(broker.wait(5))
        await asyncio.sleep(0)
        broker.notify(["agent-b", None])
        assert await asyncio.wait_for(anyone, 1) is True  # an unkeyed waiter (SSE) hears every event
        await asyncio.sleep(0.05)
        assert not mine.done()
        assert broker.waiting("agent-a")
        broker.notify(["agent-a"])
        assert await asyncio.wait_for(mine, 1) is True
        assert not broker.waiting("agent-a")
        # After a gap (a listener reconnect) every waiter looks again.
        late = asyncio.ensure_future(broker.wait(5, key="agent-c"))
        await asyncio.sleep(0)
        broker.notify()
        assert await asyncio.wait_for(late, 1) is True
        assert await broker.wait(0.01, key="agent-d") is False
        assert not broker.waiting("agent-d")

    asyncio.run(scenario())


def test_a_committed_event_wakes_the_waiters_of_its_key(committed: Engine) -> None:
    async def scenario() -> None:
        mine = asyncio.ensure_future(events.broker.wait(5, key="agent-a"))
        other = asyncio.ensure_future(events.broker.wait(5, key="agent-b"))
        await asyncio.sleep(0.05)

        def publish() -> None:
            with session_scope() as session:
                events.publish(session, "test.keyed", {"n": 1}, wake_key="agent-a")

        await asyncio.to_thread(publish)
        assert await asyncio.wait_for(mine, 5) is True
        await asyncio.sleep(0.1)
        assert not other.done()
        other.cancel()

    asyncio.run(scenario())


def test_the_event_watch_wakes_keys_of_events_other_processes_published(committed: Engine) -> None:
    """SQLite's look-out: rows another process committed (written here without publish(), so nothing in this
    process wakes anyone) wake the waiters of their keys at the next look, and only those."""
    watcher = events.SqliteEventWatcher()
    assert watcher.check() == 0  # the first look only notes where the log ends

    async def scenario() -> None:
        mine = asyncio.ensure_future(events.broker.wait(5, key="agent-x"))
        other = asyncio.ensure_future(events.broker.wait(5, key="agent-y"))
        await asyncio.sleep(0.05)
        with committed.begin() as conn:
            conn.execute(
                insert(EventLog).values(topic="xproc.command", payload={}, wake_key="agent-x", at=datetime.now(UTC))
            )
        assert await asyncio.to_thread(watcher.check) == 1
        assert await asyncio.wait_for(mine, 1) is True
        await asyncio.sleep(0.05)
        assert not other.done()
        assert await asyncio.to_thread(watcher.check) == 0  # each row is seen once
        other.cancel()

    asyncio.run(scenario())
