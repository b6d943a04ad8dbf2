"""Idempotent mutations: `Idempotency-Key` (or the Spot v6 seed's `X-Request-ID`) on POST/PUT/PATCH/DELETE.

The first request with a key claims it (a unique row), runs, and stores its status and body; a repeat
with the same key and body gets the stored answer without running again; the same key with another
body is refused; a concurrent duplicate waits for the first to finish and then gets its answer.
Keys are private to the caller's credential and the route, and expire (cleanup job).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from spectra.core import repository
from spectra.core.config import get_settings
from spectra.core.db import session_scope, utcnow
from spectra.core.errors import PROBLEM_JSON
from spectra.core.models import IdempotencyKey

MUTATING = {"POST", "PUT", "PATCH", "DELETE"}
MAX_KEY_LENGTH = 255
WAIT_FOR_FIRST_SECONDS = 30.0
# An in-progress claim older than this belongs to a crashed process and may be taken over.
STALE_CLAIM = timedelta(minutes=5)


@dataclass
class Claim:
    outcome: str  # claimed | replay | mismatch | in_progress
    status: int | None = None
    body: str | None = None
    media_type: str | None = None


def _claim(scope_hash: str, request_hash: str) -> Claim:
    now = utcnow()
    expires = now + timedelta(hours=get_settings().idempotency_ttl_hours)
    try:
        with session_scope() as session:
            existing = repository.idempotency_key(session, scope_hash)
            if existing is not None and (
                existing.expires_at < now
                or (existing.state == "in_progress" and existing.created_at < now - STALE_CLAIM)
            ):
                repository.delete_idempotency_key(session, scope_hash)
                session.flush()
                existing = None
            if existing is None:
                session.add(
                    IdempotencyKey(
                        scope_hash=scope_hash,
                        request_hash=request_hash,
                        state="in_progress",
                        expires_at=expires,
                    )
                )
                session.flush()
                return Claim("claimed")
            return _describe(existing, request_hash)
    except IntegrityError:
        with session_scope(read_only=True) as session:
            existing = repository.idempotency_key(session, scope_hash)
            return _describe(existing, request_hash) if existing else Claim("in_progress")


def _describe(row: IdempotencyKey, request_hash: str) -> Claim:
    if row.request_hash != request_hash:
        return Claim("mismatch")
    if row.state != "done":
        return Claim("in_progress")
    return Claim("replay", row.response_status, row.response_body, row.response_media_type)


def _store(scope_hash: str, status: int, body: bytes, media_type: str | None) -> None:
    with session_scope() as session:
        row = repository.idempotency_key(session, scope_hash)
        if row is None:
            return
        if status >= 500:
            # A failure that changed nothing may be retried with the same key.
            repository.delete_idempotency_key(session, scope_hash)
            return
        row.state, row.response_status, row.response_media_type = "done", status, media_type
        row.response_body = body.decode("utf-8", errors="replace")


def _release(scope_hash: str) -> None:
    with session_scope() as session:
        repository.delete_idempotency_key(session, scope_hash)


def _problem(status: int, code: str, detail: str) -> tuple[int, bytes]:
    body = {
        "type": f"https://spectra.dev/problems/{code}",
        "title": "Idempotency conflict",
        "status": status,
        "detail": detail,
        "code": code,
    }
    return status, json.dumps(body).encode()


class IdempotencyMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in MUTATING or not scope["path"].startswith("/api/"):
            await self.app(scope, receive, send)
            return
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        key = headers.get("idempotency-key") or headers.get("x-request-id")
        auth = headers.get("authorization", "")
        if not key or not auth:
            await self.app(scope, receive, send)
            return
        if len(key) > MAX_KEY_LENGTH:
            await _send_simple(
                send,
                *_problem(
                    422,
                    "idempotency_key_invalid",
                    f"Idempotency-Key is longer than {MAX_KEY_LENGTH} characters",
                ),
            )
            return

        body = await _read_body(receive)
        scope_hash = _sha(auth, scope["method"], scope["path"], key)
        request_hash = _sha(scope.get("query_string", b"").decode(), body.decode("utf-8", errors="replace"))

        claim = await run_in_threadpool(_claim, scope_hash, request_hash)
        waited = 0.0
        while claim.outcome == "in_progress" and waited < WAIT_FOR_FIRST_SECONDS:
            await asyncio.sleep(0.05)
            waited += 0.05
            claim = await run_in_threadpool(_claim, scope_hash, request_hash)
        if claim.outcome == "mismatch":
            await _send_simple(
                send,
                *_problem(
                    422,
                    "idempotency_key_reused",
                    "this Idempotency-Key / X-Request-ID was already used with a different request body",
                ),
            )
            return
        if claim.outcome == "in_progress":
            await _send_simple(
                send,
                *_problem(409, "idempotency_in_progress", "a request with this key is still being processed"),
            )
            return
        if claim.outcome == "replay":
            await _send_simple(send, claim.status or 200, (claim.body or "").encode(), claim.media_type, replayed=True)
            return

        captured: dict[str, Any] = {"status": 500, "headers": [], "body": b""}
        messages: list[Message] = []

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                captured["status"] = message["status"]
                captured["headers"] = message.get("headers", [])
            elif message["type"] == "http.response.body":
                captured["body"] += message.get("body", b"")
            messages.append(message)

        try:
            await self.app(scope, _replay_body(body), capture)
        except BaseException:
            await run_in_threadpool(_release, scope_hash)
            raise
        media_type = next((v.decode() for k, v in captured["headers"] if k.lower() == b"content-type"), None)
        await run_in_threadpool(_store, scope_hash, captured["status"], captured["body"], media_type)
        for message in messages:
            await send(message)


def _sha(*parts: str) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode())
        digest.update(b"\x00")
    return digest.hexdigest()


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay_body(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.Event().wait()  # the request has no more body; wait like a quiet client
        return {"type": "http.disconnect"}

    return receive


async def _send_simple(
    send: Send, status: int, body: bytes, media_type: str | None = PROBLEM_JSON, replayed: bool = False
) -> None:
    headers = [
        (b"content-type", (media_type or "application/json").encode()),
        (b"content-length", str(len(body)).encode()),
    ]
    if replayed:
        headers.append((b"idempotent-replayed", b"true"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
