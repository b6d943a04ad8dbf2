"""SQLite has a single writer. Mutating requests pass one at a time through an asyncio gate before they take
a worker thread, so threads are never all parked waiting for the write lock while the request that holds it
waits for a thread to commit (which would stall every writer until timeouts fire). PostgreSQL needs no gate.

A route that only reads in the usual case (an agent heartbeat, coalesced in memory) can be let through with
`ungated(...)`, so a burst of writers does not queue it; it must use read-only sessions, and take the gate with
`hold()` around its rare write. A request carrying an idempotency key is always gated (its key is a write).

The queue is not first come, first served: writes declared `bulk(...)` (telemetry a fleet sends all the time: price
reports, registrations) pass only when no other write is waiting. A command to an agent, its acknowledgement or an
operator's edit then waits for the write in progress, not for the fleet's telemetry queued before it."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import re
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar

from starlette.types import ASGIApp, Receive, Scope, Send

from spectra.core.config import get_settings

MUTATING = {"POST", "PUT", "PATCH", "DELETE"}
IDEMPOTENCY_HEADERS = {b"idempotency-key", b"x-request-id"}

URGENT, BULK = 0, 1


class PriorityGate:
    """An asyncio lock whose waiters pass by priority (URGENT before BULK), in arrival order within one."""

    def __init__(self) -> None:
        self._busy = False
        self._waiting: list[tuple[int, int, asyncio.Future[None]]] = []
        self._arrivals = itertools.count()

    async def acquire(self, priority: int) -> None:
        if not self._busy and not self._waiting:
            self._busy = True
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiting, (priority, next(self._arrivals), future))
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self.release()  # handed the gate just as it was cancelled: pass it on
            else:
                self._waiting = [entry for entry in self._waiting if entry[2] is not future]
                heapq.heapify(self._waiting)
            raise

    def release(self) -> None:
        while self._waiting:
            _priority, _arrival, future = heapq.heappop(self._waiting)
            if not future.done():
                future.set_result(None)  # the gate passes straight to it: _busy stays True
                return
        self._busy = False

    @asynccontextmanager
    async def held(self, priority: int) -> AsyncIterator[None]:
        await self.acquire(priority)
        try:
            yield
        finally:
            self.release()


# One gate per event loop and per process: an asyncio future belongs to the loop it was made on (tests and
# embedded servers may run the same app on several loops over its life).
_gates: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, PriorityGate] = weakref.WeakKeyDictionary()
_ungated: list[tuple[str, re.Pattern[str]]] = []
_bulk: list[tuple[str, re.Pattern[str]]] = []
# Set while the current request holds the gate, so hold() inside a gated request does not wait for itself.
_holding: ContextVar[bool] = ContextVar("spectra_write_gate_holding", default=False)


def _declare(routes: list[tuple[str, re.Pattern[str]]], method: str, path_pattern: str) -> None:
    entry = (method.upper(), re.compile(path_pattern))
    if entry not in routes:
        routes.append(entry)


def _declared(routes: list[tuple[str, re.Pattern[str]]], scope: Scope) -> bool:
    return any(method == scope["method"] and pattern.fullmatch(scope["path"]) for method, pattern in routes)


def ungated(method: str, path_pattern: str) -> None:
    """Let requests of this method whose whole path matches the pattern through without the gate."""
    _declare(_ungated, method, path_pattern)


def bulk(method: str, path_pattern: str) -> None:
    """Let requests of this method whose whole path matches the pattern pass the gate only when nothing else waits."""
    _declare(_bulk, method, path_pattern)


def held() -> bool:
    """Whether the current request already holds the gate (the middleware gated it, or it called hold())."""
    return _holding.get()


def _gate() -> PriorityGate:
    loop = asyncio.get_running_loop()
    gate = _gates.get(loop)
    if gate is None:
        gate = _gates[loop] = PriorityGate()
    return gate


@asynccontextmanager
async def hold(priority: int = URGENT) -> AsyncIterator[None]:
    """Take the gate for a write made by an ungated route (a no-op on PostgreSQL, or when already held)."""
    if not get_settings().is_sqlite or _holding.get():
        yield
        return
    async with _gate().held(priority):
        token = _holding.set(True)
        try:
            yield
        finally:
            _holding.reset(token)


def _passes(scope: Scope) -> bool:
    if scope["type"] != "http" or scope["method"] not in MUTATING:
        return True
    if not _declared(_ungated, scope):
        return False
    return not any(name in IDEMPOTENCY_HEADERS for name, _ in scope["headers"])


class SqliteWriteGate:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if _passes(scope):
            await self.app(scope, receive, send)
            return
        async with _gate().held(BULK if _declared(_bulk, scope) else URGENT):
            token = _holding.set(True)
            try:
                await self.app(scope, receive, send)
            finally:
                _holding.reset(token)
