"""Health: the database check plus whatever domains contribute (collectors, scheduler, providers)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy import text

from spectra.core.db import get_engine

log = logging.getLogger("spectra.health")

HealthCheck = Callable[[], dict[str, Any]]
_checks: dict[str, HealthCheck] = {}


def register_health_check(name: str, check: HealthCheck) -> None:
    """`check` returns {"status": "ok"|"degraded"|"failing", ...details}; it must not raise."""
    _checks[name] = check


def database_ok() -> bool:
    try:
        with get_engine().connect() as conn:
            conn.execution_options(sqlite_begin="DEFERRED").execute(text("SELECT 1"))
        return True
    except Exception as exc:
        log.warning("database health check failed: %s", exc)
        return False


def component_health() -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for name, check in _checks.items():
        try:
            out[name] = check()
        except Exception as exc:
            out[name] = {"status": "failing", "error": str(exc)}
    return out
