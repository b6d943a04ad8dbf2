"""SQLite has a single writer. Mutating requests pass one at a time through an asyncio gate before they take
a worker thread, so threads are never all parked waiting for the write lock while the request that holds it
waits for a thread to commit (which would stall every writer until timeouts fire). PostgreSQL needs no gate."""

from __future__ import annotations

import asyncio

from starlette.types import ASGIApp, Receive, Scope, Send

MUTATING = {"POST", "PUT", "PATCH", "DELETE"}


class SqliteWriteGate:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._gate: asyncio.Lock | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in MUTATING:
            await self.app(scope, receive, send)
            return
        if self._gate is None:
            self._gate = asyncio.Lock()
        async with self._gate:
            await self.app(scope, receive, send)
