"""The SQLite write gate: mutating requests pass one at a time; a route declared ungated passes beside them
(unless it carries an idempotency key), and takes the gate itself with hold() without waiting for itself."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from spectra.core import write_gate
from spectra.core.write_gate import SqliteWriteGate

# Paths no real route uses, so registering them changes nothing for the app under test elsewhere.
write_gate.ungated("POST", r"/gate-test/beat/[^/]+")
write_gate.bulk("POST", r"/gate-test/telemetry/[^/]+")


def _scope(method: str, path: str, headers: list[tuple[bytes, bytes]] | None = None) -> dict[str, Any]:
    return {"type": "http", "method": method, "path": path, "headers": headers or []}


def _recording_gate(release: asyncio.Event, order: list[str]) -> SqliteWriteGate:
    """A gate in front of an app that records each path it served; "/slow" holds the gate until `release`."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["path"] == "/slow":
            await release.wait()
        order.append(scope["path"])

    return SqliteWriteGate(app)


@pytest.fixture()
def sqlite_settings(settings_env) -> None:
    # hold() acts only where the gate is installed (SQLite); the database itself is not touched here.
    settings_env(DATABASE_URL="sqlite:///gate-test.db")


def test_an_ungated_route_passes_while_writers_queue(sqlite_settings) -> None:
    async def scenario() -> list[str]:
        release = asyncio.Event()
        finished: list[str] = []
        gate = _recording_gate(release, finished)
        slow = asyncio.create_task(gate(_scope("POST", "/slow"), None, None))
        await asyncio.sleep(0)
        other = asyncio.create_task(gate(_scope("PATCH", "/other"), None, None))
        keyed = asyncio.create_task(
            gate(_scope("POST", "/gate-test/beat/a2", [(b"idempotency-key", b"k-1")]), None, None)
        )
        await asyncio.wait_for(gate(_scope("POST", "/gate-test/beat/a1"), None, None), 1)
        await asyncio.wait_for(gate(_scope("GET", "/anything"), None, None), 1)
        await asyncio.sleep(0.05)
        assert not other.done() and not keyed.done()  # gated: behind the slow writer
        release.set()
        await asyncio.gather(slow, other, keyed)
        return finished

    finished = asyncio.run(scenario())
    assert finished[:2] == ["/gate-test/beat/a1", "/anything"]
    assert finished[2:] == ["/slow", "/other", "/gate-test/beat/a2"]


def test_hold_waits_for_the_gate_and_never_for_itself(sqlite_settings) -> None:
    async def scenario() -> list[str]:
        release = asyncio.Event()
        order: list[str] = []

        async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
            if scope["path"] == "/slow":
                await release.wait()
                order.append("slow")
                return
            assert write_gate.held() is (scope["path"] != "/gate-test/beat/x")
            # An ungated request takes the gate for its write; a gated one already has it.
            async with write_gate.hold():
                assert write_gate.held()
                order.append(scope["path"])
            assert write_gate.held() is (scope["path"] != "/gate-test/beat/x")

        gate = SqliteWriteGate(app)
        slow = asyncio.create_task(gate(_scope("POST", "/slow"), None, None))
        await asyncio.sleep(0)
        beat = asyncio.create_task(gate(_scope("POST", "/gate-test/beat/x"), None, None))
        await asyncio.sleep(0.05)
        assert not beat.done()  # its write waits for the writer holding the gate
        release.set()
        await asyncio.wait_for(asyncio.gather(slow, beat), 1)
        await asyncio.wait_for(gate(_scope("POST", "/gated"), None, None), 1)  # no deadlock on itself
        return order

    assert asyncio.run(scenario()) == ["slow", "/gate-test/beat/x", "/gated"]


def test_hold_is_free_where_there_is_no_gate(settings_env) -> None:
    settings_env(DATABASE_URL="postgresql+psycopg://nobody@127.0.0.1:1/none")

    async def scenario() -> bool:
        async with write_gate.hold(), write_gate.hold():
            return write_gate.held()

    assert asyncio.run(scenario()) is False


def test_a_command_passes_the_telemetry_queued_before_it(sqlite_settings) -> None:
    """Bulk writes (price reports) queued first pass only when no other write waits; a cancelled waiter (its client
    went away) gives up its place."""

    async def scenario() -> list[str]:
        release = asyncio.Event()
        order: list[str] = []
        gate = _recording_gate(release, order)
        slow = asyncio.create_task(gate(_scope("POST", "/slow"), None, None))
        await asyncio.sleep(0)
        queued = [asyncio.create_task(gate(_scope("POST", f"/gate-test/telemetry/{n}"), None, None)) for n in range(3)]
        await asyncio.sleep(0)
        gone = asyncio.create_task(gate(_scope("POST", "/agents/gone/commands"), None, None))
        command = asyncio.create_task(gate(_scope("POST", "/agents/a/issue-switch-command"), None, None))
        await asyncio.sleep(0)
        gone.cancel()
        release.set()
        await asyncio.wait_for(asyncio.gather(slow, command, *queued), 1)
        # The gate is free again once everyone has passed.
        await asyncio.wait_for(gate(_scope("POST", "/after"), None, None), 1)
        return order

    assert asyncio.run(scenario()) == [
        "/slow",
        "/agents/a/issue-switch-command",
        "/gate-test/telemetry/0",
        "/gate-test/telemetry/1",
        "/gate-test/telemetry/2",
        "/after",
    ]


def test_a_waiter_cancelled_as_the_gate_reaches_it_passes_it_on() -> None:
    async def scenario() -> list[str]:
        gate = write_gate.PriorityGate()
        order: list[str] = []
        await gate.acquire(write_gate.URGENT)

        async def writer(name: str, priority: int) -> None:
            async with gate.held(priority):
                order.append(name)

        doomed = asyncio.create_task(writer("doomed", write_gate.URGENT))
        later = asyncio.create_task(writer("later", write_gate.BULK))
        await asyncio.sleep(0)
        gate.release()  # hands the gate to `doomed`, which is cancelled before it runs
        doomed.cancel()
        await asyncio.wait_for(later, 1)
        return order

    assert asyncio.run(scenario()) == ["later"]
