"""Bearer-token authentication: one dependency gives a route its caller, and the caller scopes every query."""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from spectra.core.config import get_settings
from spectra.core.context import set_actor
from spectra.core.db import SessionDep, session_factory
from spectra.core.errors import Forbidden, NotFound, Unauthorized
from spectra.core.models import AdminCredential
from spectra.core.security import generate_token, hash_token, hashes_match, token_prefix


@dataclass(frozen=True)
class Caller:
    role: str  # "admin" | "client"
    client_id: str | None
    name: str
    token_hash: str

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def actor(self) -> str:
        return "admin" if self.is_admin else f"client:{self.client_id}"

    def ensure_tenant(self, client_id: str | None, entity: str = "object") -> None:
        """A client asking for another client's object gets 404, as if it did not exist."""
        if not self.is_admin and client_id != self.client_id:
            raise NotFound(f"{entity} not found")

    def scope_client_id(self, requested: str | None = None) -> str | None:
        """The client whose data a query may see: a client always itself; an admin whoever it asks for."""
        if self.is_admin:
            return requested
        if requested is not None and requested != self.client_id:
            raise NotFound("client not found")
        return self.client_id


# A domain (fleet) resolves client tokens; core knows no domain, so it is registered at start-up.
ClientTokenResolver = Callable[[Session, str], Caller | None]
_client_resolver: ClientTokenResolver | None = None


def register_client_token_resolver(resolver: ClientTokenResolver) -> None:
    global _client_resolver
    _client_resolver = resolver


class _CallerCache:
    """A few seconds of memory per token hash: saves a query per request; a revoked token dies within TTL."""

    ttl_seconds = 5.0

    def __init__(self) -> None:
        self._items: dict[str, tuple[float, Caller]] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> Caller | None:
        with self._lock:
            item = self._items.get(key)
            if item and item[0] > time.monotonic():
                return item[1]
            return None

    def put(self, key: str, caller: Caller) -> None:
        with self._lock:
            if len(self._items) > 10_000:
                self._items.clear()
            self._items[key] = (time.monotonic() + self.ttl_seconds, caller)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


caller_cache = _CallerCache()


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
        return None
    # EventSource cannot send headers: the SSE stream (only) also accepts ?token=.
    if request.url.path.endswith("/events/stream"):
        return request.query_params.get("token")
    return None


def resolve_token(session: Session, token: str) -> Caller | None:
    digest = hash_token(token)
    cached = caller_cache.get(digest)
    if cached is not None:
        return cached
    caller: Caller | None = None
    configured = get_settings().admin_token
    if configured is not None and hashes_match(digest, hash_token(configured.get_secret_value())):
        caller = Caller("admin", None, "admin", digest)
    if caller is None:
        row = session.scalar(select(AdminCredential).where(AdminCredential.token_hash == digest))
        if row is not None and hashes_match(row.token_hash, digest):
            caller = Caller("admin", None, "admin", digest)
    if caller is None and _client_resolver is not None:
        caller = _client_resolver(session, digest)
    if caller is not None:
        caller_cache.put(digest, caller)
    return caller


def _required_token(request: Request) -> str:
    token = _bearer(request)
    if not token:
        raise Unauthorized("a bearer token is required (Authorization: Bearer <token>)", code="token_missing")
    return token


def _authenticated(request: Request, caller: Caller | None) -> Caller:
    if caller is None:
        raise Unauthorized("the bearer token is not valid", code="token_invalid")
    request.state.caller = caller
    set_actor(caller.actor)
    return caller


async def get_caller(request: Request, session: SessionDep) -> Caller:
    # Async so the actor set below lives in the request's context, which sync endpoints then inherit.
    token = _required_token(request)
    # Most requests hit the cache: answer them without a thread hop.
    caller = caller_cache.get(hash_token(token)) or await run_in_threadpool(resolve_token, session, token)
    return _authenticated(request, caller)


def require_admin(caller: Annotated[Caller, Depends(get_caller)]) -> Caller:
    if not caller.is_admin:
        raise Forbidden("this route needs the admin token", code="admin_required")
    return caller


_read_only_binds: weakref.WeakKeyDictionary[Engine, Engine] = weakref.WeakKeyDictionary()


def _unconnected_read_only_session() -> Session:
    """A session that takes no connection until used, and then only a read lock on SQLite."""
    factory = session_factory()
    bind = factory.kw.get("bind")
    if isinstance(bind, Engine) and bind.dialect.name == "sqlite":
        read_only = _read_only_binds.get(bind)
        if read_only is None:
            read_only = _read_only_binds[bind] = bind.execution_options(sqlite_begin="DEFERRED")
        return factory(bind=read_only)
    return factory()


def _resolve_on_own_session(token: str) -> Caller | None:
    session = _unconnected_read_only_session()
    try:
        return resolve_token(session, token)
    finally:
        session.close()


async def unconnected_caller(request: Request) -> Caller:
    """The token check without holding a database connection, for the agents' frequent requests (heartbeats,
    registrations, long-polls, price reports): a cached token needs none, and a lookup reads on a session of its own,
    opened and closed on one worker thread. Thousands of such requests in flight must not each hold a pooled
    connection while they wait for a worker thread or an event (a fleet booting on a cold cache held every connection
    in lookups waiting for a thread to close them, while every thread waited for a connection), and on SQLite a
    lookup must not take the write lock."""
    token = _required_token(request)
    caller = caller_cache.get(hash_token(token)) or await run_in_threadpool(_resolve_on_own_session, token)
    return _authenticated(request, caller)


CallerDep = Annotated[Caller, Depends(get_caller)]
AdminDep = Annotated[Caller, Depends(require_admin)]


def ensure_admin_token(session: Session) -> str | None:
    """First start without SPECTRA_ADMIN_TOKEN: create one, keep only its hash, return it to print once."""
    if get_settings().admin_token is not None:
        return None
    if session.scalar(select(AdminCredential.id).limit(1)) is not None:
        return None
    return rotate_admin_token(session)


def rotate_admin_token(session: Session) -> str:
    token = generate_token("adm")
    session.query(AdminCredential).delete()
    session.add(AdminCredential(token_hash=hash_token(token), token_prefix=token_prefix(token)))
    caller_cache.clear()
    return token
