"""SQLite has a single writer. Mutating requests pass one at a time through an asyncio gate before they take
a worker thread, so threads are never all parked waiting for the write lock while the request that holds it
waits for a thread to commit (which would stall every writer until timeouts fire). PostgreSQL needs no gate.

A route that only reads in the usual case (an agent heartbeat, coalesced in memory) can be let through with
`ungated(...)`, so a burst of writers does not queue it; it must use read-only sessions, and take the gate with
`hold()` around its rare write. A request carrying an idempotency key is always gated (its key is a write)."""

from __future__ import annotations

import asyncio
import re
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar

from starlette.types import ASGIApp, Receive, Scope, Send

from spectra.core.config import get_settings

MUTATING = {"POST", "PUT", "PATCH", "DELETE"}
IDEMPOTENCY_HEADERS = {b"idempotency-key", b"x-request-id"}

# One gate per event loop and per process: an asyncio.Lock belongs to the loop it was first used on (tests
# and embedded servers may run the same app on several loops over its life).
_gates: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = weakref.WeakKeyDictionary()
_ungated: list[tuple[str, re.Pattern[str]]] = []
# Set while the current request holds the gate, so hold() inside a gated request does not wait for itself.
_holding: ContextVar[bool] = ContextVar("spectra_write_gate_holding", default=False)


def ungated(method: str, path_pattern: str) -> None:
    """Let requests of this method whose whole path matches the pattern through without the gate."""
    entry = (method.upper(), re.compile(path_pattern))
    if entry not in _ungated:
        _ungated.append(entry)


def held() -> bool:
    """Whether the current request already holds the gate (the middleware gated it, or it called hold())."""
    return _holding.get()


def _gate() -> asyncio.Lock:
    loop = asyncio.get_running_loop()
    gate = _gates.get(loop)
    if gate is None:
        gate = _gates[loop] = asyncio.Lock()
    return gate


@asynccontextmanager
async def hold() -> AsyncIterator[None]:
    """Take the gate for a write made by an ungated route (a no-op on PostgreSQL, or when already held)."""
    if not get_settings().is_sqlite or _holding.get():
        yield
        return
    async with _gate():
        token = _holding.set(True)
        try:
            yield
        finally:
            _holding.reset(token)


def _passes(scope: Scope) -> bool:
    if scope["type"] != "http" or scope["method"] not in MUTATING:
        return True
    if not any(method == scope["method"] and pattern.fullmatch(scope["path"]) for method, pattern in _ungated):
        return False
    return not any(name in IDEMPOTENCY_HEADERS for name, _ in scope["headers"])


class SqliteWriteGate:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if _passes(scope):
            await self.app(scope, receive, send)
            return
        async with _gate():
            token = _holding.set(True)
            try:
                await self.app(scope, receive, send)
            finally:
                _holding.reset(token)
