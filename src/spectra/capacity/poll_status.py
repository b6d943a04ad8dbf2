"""The collector's last poll in this process, for /api/health."""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Any

from spectra.core.clock import clock
from spectra.core.config import get_settings

_lock = threading.Lock()
_last: dict[str, Any] = {}


def record(provider: str, at: datetime, points: int = 0, error: str | None = None) -> None:
    with _lock:
        _last.update({"provider": provider, "at": at, "points": points, "error": error})
        if error is None:
            _last["last_success_at"] = at


def health() -> dict[str, Any]:
    """ok after a successful recent poll; degraded when the last poll failed or none succeeded lately."""
    settings = get_settings()
    with _lock:
        last = dict(_last)
    if not last:
        return {"status": "ok", "provider": settings.metrics_provider, "last_poll_at": None, "detail": "no poll yet"}
    stale = clock.now() - last.get("last_success_at", last["at"])
    overdue = stale.total_seconds() > 3 * 60 * settings.poll_interval_minutes
    status = "degraded" if last["error"] or overdue else "ok"
    return {
        "status": status,
        "provider": last["provider"],
        "last_poll_at": last["at"].isoformat(),
        "last_success_at": last["last_success_at"].isoformat() if last.get("last_success_at") else None,
        "points": last["points"],
        "error": last["error"],
    }


def reset() -> None:
    with _lock:
        _last.clear()
