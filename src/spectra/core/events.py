"""Platform bus: publish in a transaction, persist to the event log, deliver after commit.

In-process subscribers run in the publishing process once the transaction commits. SSE clients read the
event log (so `Last-Event-ID` resume is exact) and are woken by the broker; on PostgreSQL a NOTIFY
wakes the brokers of every worker process.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
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
        return cls(row.id, row.topic, row.client_id, row.at, row.payload)


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


class Broker:
    """Wakes coroutines waiting for new events; notify() is safe from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = set()

    def notify(self) -> None:
        with self._lock:
            waiters, self._waiters = self._waiters, set()
        for loop, future in waiters:
            loop.call_soon_threadsafe(_resolve, future)

    async def wait(self, timeout: float) -> bool:
        """True when woken by an event, False on timeout."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        key = (loop, future)
        with self._lock:
            self._waiters.add(key)
        try:
            await asyncio.wait_for(future, timeout)
            return True
        except TimeoutError:
            return False
        finally:
            with self._lock:
                self._waiters.discard(key)


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


broker = Broker()


def publish(session: Session, topic: str, payload: dict[str, Any], client_id: str | None = None) -> EventLog:
    """Record an event in the caller's transaction; it is delivered only if that transaction commits."""
    row = EventLog(topic=topic, client_id=client_id, payload=payload)
    session.add(row)
    session.flush()
    EVENTS_PUBLISHED.labels(topic=topic.split(".", 1)[0]).inc()
    if session.get_bind().dialect.name == "postgresql":
        # Delivered by PostgreSQL at commit to every listening worker (this one included).
        session.execute(text("SELECT pg_notify(:c, :p)"), {"c": NOTIFY_CHANNEL, "p": str(row.id)})
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
    if session.get_bind().dialect.name != "postgresql":
        broker.notify()
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
                        for _ in conn.notifies(timeout=1.0, stop_after=100):
                            broker.notify()
            except Exception as exc:
                log.warning("event listener reconnecting: %s", exc)
                self._stop.wait(1.0)


def poll_interval_seconds() -> float:
    """How long an SSE loop sleeps unwoken: short on SQLite, where other processes cannot notify."""
    return 1.0 if get_settings().is_sqlite else 5.0
