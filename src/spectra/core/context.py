"""Per-request context (request id, caller) carried in contextvars so audit and logs can read it."""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

_request_id: ContextVar[str | None] = ContextVar("spectra_request_id", default=None)
_actor: ContextVar[str | None] = ContextVar("spectra_actor", default=None)


def current_request_id() -> str | None:
    return _request_id.get()


def set_request_id(value: str | None) -> Any:
    return _request_id.set(value)


def current_actor() -> str | None:
    return _actor.get()


def set_actor(value: str | None) -> Any:
    return _actor.set(value)
