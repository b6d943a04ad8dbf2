"""Platform bus: publish in a transaction, persist to the event log, deliver after commit.

In-process subscribers run in the publishing process once the transaction commits. SSE clients read the
event log (so `Last-Event-ID` resume is exact) and are woken by the broker; on PostgreSQL a NOTIFY
wakes the brokers of every worker process.

An event may carry a wake key (an agent's id): waiters that asked for that key (the agent's long-poll) are woken
by it and by nothing else, so a fleet of agents holding long-polls costs nothing while nothing happens to them.
On SQLite, where other processes cannot notify, one thread per process reads the keys of new event-log rows
every second instead of every waiter looking on its own.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from prometheus_client import Counter
from sqlalchemy import event as sa_event
from sqlalchemy import text
from sqlalchemy.orm import Session, SessionTransaction

from spectra.core.config import get_settings
from spectra.core.models import EventLog

log = logging.getLogger("spectra.events")

NOTIFY_CHANNEL = "spectra_events"
EVENTS_PUBLISHED = Counter("spectra_events_published_total", "Events published", ["topic"])
EVENTS_DELIVERED = Counter("spectra_events_delivered_total", "Events sent to SSE clients")


@dataclass(frozen=True)
class Event:
    id: int
    topic: str
    client_id: str | None
    at: datetime
    payload: dict[str, Any]
    wake_key: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "topic": self.topic,
            "client_id": self.client_id,
            "at": self.at.isoformat(),
            "payload": self.payload,
        }

    @classmethod
    def from_row(cls, row: EventLog) -> Event:
        return cls(row.id, row.topic, row.client_id, row.at, row.payload, row.wake_key)


Handler = Callable[[Event], None]
InTransactionHandler = Callable[[Session, Event], object]  # its result is ignored
_subscribers: list[tuple[str, Handler]] = []
_in_transaction: list[tuple[str, InTransactionHandler]] = []


def subscribe(topic_prefix: str, handler: Handler) -> None:
    """Run `handler` after the publishing transaction commits, for topics starting with the prefix."""
    _subscribers.append((topic_prefix, handler))


def on_publish(topic_prefix: str, handler: InTransactionHandler) -> None:
    """Run `handler` inside the publishing transaction, so what it writes commits (or rolls back) with the
    event itself: a record derived from an event can never be lost between the commit and a subscriber."""
    _in_transaction.append((topic_prefix, handler))


def clear_subscribers() -> None:
    _subscribers.clear()
    _in_transaction.clear()


Waiter = tuple[asyncio.AbstractEventLoop, "asyncio.Future[None]"]


class Broker:
    """Wakes coroutines waiting for new events; notify() is safe from any thread. Waiters without a key are woken
    by every event; a keyed waiter only by events with its key (or by `notify()` without keys, after a gap)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiters: set[Waiter] = set()
        self._keyed: dict[str, set[Waiter]] = {}

    def notify(self, keys: Iterable[str | None] | None = None) -> None:
        """Wake every unkeyed waiter and the waiters of `keys`; every keyed waiter too when `keys` is None
        (events may have been missed, e.g. while the listener reconnected)."""
        with self._lock:
            woken, self._waiters = self._waiters, set()
            if keys is None:
                for group in self._keyed.values():
                    woken |= group
                self._keyed = {}
            else:
                for key in keys:
                    if key is not None and key in self._keyed:
                        woken |= self._keyed.pop(key)
        for loop, future in woken:
            loop.call_soon_threadsafe(_resolve, future)

    def waiting(self, key: str) -> bool:
        with self._lock:
            return key in self._keyed

    async def wait(self, timeout: float, key: str | None = None) -> bool:
        """True when woken by an event, False on timeout."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        entry = (loop, future)
        with self._lock:
            if key is None:
                self._waiters.add(entry)
            else:
                self._keyed.setdefault(key, set()).add(entry)
        if key is not None and get_settings().is_sqlite and get_settings().event_watch_seconds > 0:
            sqlite_watcher.ensure_running()
        try:
            await asyncio.wait_for(future, timeout)
            return True
        except TimeoutError:
            return False
        finally:
            with self._lock:
                if key is None:
                    self._waiters.discard(entry)
                else:
                    group = self._keyed.get(key)
                    if group is not None:
                        group.discard(entry)
                        if not group:
                            del self._keyed[key]


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


broker = Broker()


def publish(
    session: Session, topic: str, payload: dict[str, Any], client_id: str | None = None, wake_key: str | None = None
) -> EventLog:
    """Record an event in the caller's transaction; it is delivered only if that transaction commits.
    `wake_key` also wakes the waiters of that key (an agent's id wakes the agent's long-poll)."""
    row = EventLog(topic=topic, client_id=client_id, payload=payload, wake_key=wake_key)
    session.add(row)
    session.flush()
    EVENTS_PUBLISHED.labels(topic=topic.split(".", 1)[0]).inc()
    if session.get_bind().dialect.name == "postgresql":
        # Delivered by PostgreSQL at commit to every listening worker.
        notice = f"{row.id} {wake_key or ''}".rstrip()
        session.execute(text("SELECT pg_notify(:c, :p)"), {"c": NOTIFY_CHANNEL, "p": notice})
    published = Event.from_row(row)
    for prefix, handler in list(_in_transaction):
        if topic.startswith(prefix):
            handler(session, published)
    # Remember the (innermost) transaction the event belongs to: if that savepoint rolls back, so does the event.
    pending: list[tuple[Event, SessionTransaction | None]] = session.info.setdefault("spectra_pending_events", [])
    pending.append((published, session.get_nested_transaction() or session.get_transaction()))
    return row


def _within(transaction: SessionTransaction | None, ancestor: SessionTransaction) -> bool:
    while transaction is not None:
        if transaction is ancestor:
            return True
        transaction = transaction.parent
    return False


@sa_event.listens_for(Session, "after_soft_rollback")
def _after_soft_rollback(session: Session, previous_transaction: SessionTransaction) -> None:
    """A rolled-back savepoint takes its events with it (the rows are gone; nobody must hear of them)."""
    pending: list[tuple[Event, SessionTransaction | None]] = session.info.get("spectra_pending_events", [])
    if pending:
        pending[:] = [(evt, tx) for evt, tx in pending if not _within(tx, previous_transaction)]


@sa_event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint was released: the enclosing transaction still decides whether any of this happened
    pending = [evt for evt, _tx in session.info.pop("spectra_pending_events", [])]
    if not pending:
        return
    # Wake this process's waiters now; on PostgreSQL the NOTIFY also reaches the other workers (and echoes here
    # as a harmless second wake), so a process never depends on its own listener to hear its own commits.
    broker.notify(evt.wake_key for evt in pending)
    for evt in pending:
        for prefix, handler in list(_subscribers):
            if evt.topic.startswith(prefix):
                try:
                    handler(evt)
                except Exception:
                    log.exception("event handler failed for %s", evt.topic)


class PostgresListener:
    """One thread per process that LISTENs and wakes the local broker."""

    def __init__(self, url: str) -> None:
        self._url = url.replace("postgresql+psycopg://", "postgresql://")
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="spectra-pg-listen", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        import psycopg

        while not self._stop.is_set():
            try:
                with psycopg.connect(self._url, autocommit=True) as conn:
                    conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
                    broker.notify()  # events may have been missed while (re)connecting
                    while not self._stop.is_set():
                        for notice in conn.notifies(timeout=1.0, stop_after=100):
                            broker.notify([_wake_key(notice.payload)])
            except Exception as exc:
                log.warning("event listener reconnecting: %s", exc)
                self._stop.wait(1.0)


def _wake_key(notice: str) -> str | None:
    """A NOTIFY payload is "<event id>" or "<event id> <wake key>"."""
    _, _, key = notice.partition(" ")
    return key or None


class SqliteEventWatcher:
    """On SQLite, the keyed waiters' look-out for events other processes published: one thread per process reads
    the wake keys of event-log rows newer than it last saw, every `SPECTRA_EVENT_WATCH_SECONDS`, and wakes those
    keys (events of this process wake their waiters at commit; seeing them again costs a waiter one extra look)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.last_id: int | None = None
        self._bind: object = None

    def ensure_running(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="spectra-event-watch", daemon=True)
                self._thread.start()

    def check(self) -> int:
        """Wake the keys of rows published since the last check; the number of keys woken."""
        from spectra.core import repository
        from spectra.core.db import session_scope

        with session_scope(read_only=True) as session:
            bind = session.get_bind()
            if bind is not self._bind or self.last_id is None:
                self._bind, self.last_id = bind, repository.last_event_id(session)
                return 0
            rows = repository.wake_keys_after(session, self.last_id)
        if not rows:
            return 0
        self.last_id = rows[-1][0]
        keys = {key for _, key in rows if key}
        if keys:
            broker.notify(keys)
        return len(keys)

    def _run(self) -> None:
        while (every := get_settings().event_watch_seconds) > 0:
            time.sleep(every)
            try:
                self.check()
            except Exception as exc:  # the database may be briefly busy or gone (tests); the next look retries
                log.debug("event watch failed: %s", exc)


sqlite_watcher = SqliteEventWatcher()


def poll_interval_seconds() -> float:
    """How long an SSE loop sleeps unwoken: short on SQLite, where other processes cannot notify."""
    return 1.0 if get_settings().is_sqlite else 5.0
