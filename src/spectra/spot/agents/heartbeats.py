"""Coalesced heartbeats.

A heartbeat is liveness, not data. Each API process keeps, per agent, the newest heartbeat time and how many
beats (and missed beats) arrived, and a background thread writes them all in one set-based UPDATE every
`SPECTRA_HEARTBEAT_FLUSH_SECONDS` (1 s). A crash of the process loses at most that last interval of liveness
(the agent looks up to a second older, its counters miss those beats); it never loses a registration, a
command or a price, which are written in their request's own transaction before the answer.

A stale or offline agent that beats again comes back online in the flush's transaction, together with its
activity record and event; so a fleet the server fell behind on recovers in one write per second instead of
one per agent (which would only deepen the backlog). A new agent version is written at once.

Several workers each flush their own buffer; the UPDATE keeps the newest time (an older flush never moves it
back) and adds the counts. Readers (the UI, the stale/offline job) see the database value, at most one flush
interval old; the job in the same process also looks at this buffer."""

from __future__ import annotations

import logging
import os
import threading
from datetime import datetime

from sqlalchemy.orm import Session

from spectra.core.config import get_settings
from spectra.core.db import session_scope
from spectra.spot import activity
from spectra.spot.agents import repository
from spectra.spot.agents.repository import PendingBeat

log = logging.getLogger("spectra.spot.heartbeats")

# Statuses a buffered heartbeat may carry: the flush brings stale and offline agents back online.
REVIVABLE = ("online", "stale", "offline")
# How long a flush may queue for SQLite's write lock behind a burst of writers; the beats wait in memory.
FLUSH_WRITER_WAIT_SECONDS = 30.0


class HeartbeatBuffer:
    """Pending heartbeats per agent, safe to use from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._beats: dict[str, PendingBeat] = {}

    def add(self, agent_id: str, at: datetime, missed: int) -> None:
        with self._lock:
            beat = self._beats.get(agent_id)
            if beat is None:
                self._beats[agent_id] = PendingBeat(agent_id, at, 1, missed)
            else:
                beat.last_at = max(beat.last_at, at)
                beat.received += 1
                beat.missed += missed

    def newest(self, agent_id: str) -> datetime | None:
        with self._lock:
            beat = self._beats.get(agent_id)
            return beat.last_at if beat is not None else None

    def drain(self) -> list[PendingBeat]:
        with self._lock:
            beats, self._beats = list(self._beats.values()), {}
        return beats

    def restore(self, beats: list[PendingBeat]) -> None:
        """Put back beats whose write failed (rolled back): merged with any that arrived meanwhile."""
        with self._lock:
            for old in beats:
                beat = self._beats.get(old.agent_id)
                if beat is None:
                    self._beats[old.agent_id] = old
                else:
                    beat.last_at = max(beat.last_at, old.last_at)
                    beat.received += old.received
                    beat.missed += old.missed

    def __len__(self) -> int:
        with self._lock:
            return len(self._beats)


class Flusher:
    """The per-process writer of a buffer: a daemon thread started with the first buffered beat. The API's
    shutdown stops it after a last flush, so a graceful stop of a worker loses nothing."""

    def __init__(self, buffer: HeartbeatBuffer) -> None:
        self.buffer = buffer
        self._flush_lock = threading.Lock()
        self._start_lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._pid: int | None = None

    def ensure_running(self) -> None:
        if self._thread is not None and self._pid == os.getpid() and self._thread.is_alive():
            return
        with self._start_lock:
            if self._thread is not None and self._pid == os.getpid() and self._thread.is_alive():
                return
            self._pid = os.getpid()
            self._stopping = threading.Event()
            self._thread = threading.Thread(
                target=self._run, args=(self._stopping,), name="spectra-heartbeat-flush", daemon=True
            )
            self._thread.start()

    def flush_now(self) -> int:
        """Write everything pending in one transaction; on failure the beats go back to the buffer."""
        with self._flush_lock:
            beats = self.buffer.drain()
            if not beats:
                return 0
            try:
                with session_scope(writer_wait=FLUSH_WRITER_WAIT_SECONDS) as session:
                    write(session, beats)
            except BaseException:
                self.buffer.restore(beats)
                raise
            return len(beats)

    def stop(self) -> None:
        """Stop the thread after one last flush attempt (the next buffered beat starts it again)."""
        with self._start_lock:
            thread, self._thread = self._thread, None
            if thread is None or not thread.is_alive():
                return
            self._stopping.set()
            self._wake.set()
        thread.join()

    def _run(self, stopping: threading.Event) -> None:
        while not stopping.is_set():
            self._wake.wait(get_settings().heartbeat_flush_seconds or 1.0)
            self._wake.clear()
            try:
                self.flush_now()
            except Exception:
                log.exception("heartbeat flush failed; %d agents' beats kept for the next try", len(self.buffer))


def write(session: Session, beats: list[PendingBeat]) -> None:
    """Liveness of a batch of agents, and the return of those that were stale or offline, in one transaction."""
    repository.apply_heartbeats(session, beats)
    missed = {b.agent_id: b.missed for b in beats}
    for agent_id, client_id in repository.revive(session, list(missed)):
        activity.record(
            session,
            "agent.online",
            f"agent {agent_id} is back after {missed[agent_id]} missed heartbeats",
            client_id=client_id,
            agent_id=agent_id,
            topic="spot.agent.online",
        )


buffer = HeartbeatBuffer()
flusher = Flusher(buffer)


def record(agent_id: str, at: datetime, missed: int) -> None:
    buffer.add(agent_id, at, missed)
    flusher.ensure_running()
