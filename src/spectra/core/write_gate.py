"""SQLite has a single writer. Mutating requests pass one at a time through an asyncio gate before they take
a worker thread, so threads are never all parked waiting for the write lock while the request that holds it
waits for a thread to commit (which would stall every writer until timeouts fire). PostgreSQL needs no gate."""

from __future__ import annotations

import asyncio
import weakref

from starlette.types import ASGIApp, Receive, Scope, Send

MUTATING = {"POST", "PUT", "PATCH", "DELETE"}


class SqliteWriteGate:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        # One gate per event loop: an asyncio.Lock belongs to the loop it was first used on (tests and
        # embedded servers may run the same app on several loops over its life).
        self._gates: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = weakref.WeakKeyDictionary()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in MUTATING:
            await self.app(scope, receive, send)
            return
        loop = asyncio.get_running_loop()
        gate = self._gates.get(loop)
        if gate is None:
            gate = self._gates[loop] = asyncio.Lock()
        async with gate:
            await self.app(scope, receive, send)
