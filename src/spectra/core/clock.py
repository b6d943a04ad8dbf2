"""The platform clock: real time, or SPECTRA's simulated clock (frozen or running, advanced by ticks)."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from spectra.core.config import get_settings
from spectra.core.db import session_scope
from spectra.core.models import SimClockState


class Clock:
    # Other processes may tick the clock; re-read the anchor at most this often.
    refresh_seconds = 1.0

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._state: tuple[datetime, datetime, float] | None = None
        self._read_at = 0.0
        self._override: datetime | None = None

    @property
    def simulated(self) -> bool:
        return get_settings().sim_clock_enabled

    def now(self) -> datetime:
        if self._override is not None:
            return self._override
        wall = datetime.now(UTC)
        if not self.simulated:
            return wall
        sim_anchor, wall_anchor, speed = self._anchor()
        return sim_anchor + (wall - wall_anchor) * speed

    def _anchor(self) -> tuple[datetime, datetime, float]:
        with self._lock:
            if self._state is None or time.monotonic() - self._read_at > self.refresh_seconds:
                # Read only: now() is called inside other transactions, and SQLite has one writer.
                with session_scope(read_only=True) as session:
                    state = session.get(SimClockState, 1) or _initial_state()
                    self._state = (state.sim_anchor, state.wall_anchor, state.speed)
                self._read_at = time.monotonic()
            return self._state

    def invalidate(self) -> None:
        with self._lock:
            self._state = None

    def set_override(self, value: datetime | None) -> None:
        """Pin now() for the duration of a catch-up run or a test; None releases it."""
        self._override = value


def _initial_state() -> SimClockState:
    settings = get_settings()
    start = (
        datetime.fromisoformat(settings.sim_clock_start).astimezone(UTC)
        if settings.sim_clock_start
        else datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    )
    return SimClockState(id=1, sim_anchor=start, wall_anchor=datetime.now(UTC), speed=settings.sim_clock_speed)


def load_or_create_state(session: Session) -> SimClockState:
    state = session.get(SimClockState, 1)
    if state is None:
        state = _initial_state()
        session.add(state)
        session.flush()
    return state


def ensure_clock_state() -> None:
    """Create the simulated clock's row at start-up, before anything asks the time inside a transaction."""
    if get_settings().sim_clock_enabled:
        with session_scope() as session:
            load_or_create_state(session)
        clock.invalidate()


def sim_now(state: SimClockState) -> datetime:
    return state.sim_anchor + (datetime.now(UTC) - state.wall_anchor) * state.speed


def tick_clock(session: Session, minutes: float) -> tuple[datetime, datetime]:
    """Advance the simulated clock; returns (before, after). The caller's transaction persists it."""
    state = load_or_create_state(session)
    before = sim_now(state)
    after = before + timedelta(minutes=minutes)
    state.sim_anchor, state.wall_anchor = after, datetime.now(UTC)
    clock.invalidate()
    return before, after


def set_clock(session: Session, at: datetime, speed: float | None = None) -> datetime:
    state = load_or_create_state(session)
    state.sim_anchor, state.wall_anchor = at.astimezone(UTC), datetime.now(UTC)
    if speed is not None:
        state.speed = speed
    clock.invalidate()
    return at


clock = Clock()
