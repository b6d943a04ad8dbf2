"""Periodic jobs. Domains declare them with @job in their tasks.py; one scheduler process runs them.

Exactly-once per period comes from the database, not from luck: a run first inserts its
(job_name, period_start) row, which is unique, so a second scheduler (or a restart) inside the same
period finds the row and skips. The lease (plus a PostgreSQL advisory lock) keeps a second scheduler
idle so it does not even try.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client import Counter, Histogram
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from spectra.core import repository
from spectra.core.clock import clock
from spectra.core.config import Settings, get_settings
from spectra.core.db import get_engine, session_scope, utcnow
from spectra.core.errors import NotFound
from spectra.core.models import JobRun

log = logging.getLogger("spectra.jobs")

JOB_RUNS = Counter("spectra_job_runs_total", "Job runs", ["job", "status"])
JOB_SECONDS = Histogram("spectra_job_seconds", "Job run time", ["job"])

EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
# Jobs may queue longer than requests for SQLite's single write lock: at start-up every job is due at once.
JOB_WRITER_WAIT_SECONDS = 600.0
# A stepped job's pause between steps on SQLite: as long as the step took, at most this (see _steps).
STEP_PAUSE_MAX_SECONDS = 1.0
LEASE_NAME = "scheduler"
ADVISORY_LOCK_KEY = 0x5EC7A  # any constant shared by every Spectra process

# A job returns its result, or yields it step by step: the runner commits after each step (see `run_job`).
JobFunc = Callable[[Session, datetime], "dict[str, Any] | Iterator[dict[str, Any]] | None"]


@dataclass(frozen=True)
class JobSpec:
    name: str
    func: JobFunc
    every: Callable[[Settings], timedelta]
    description: str

    def interval(self) -> timedelta:
        return self.every(get_settings())

    def period_start(self, now: datetime) -> datetime:
        step = self.interval()
        return EPOCH + step * ((now - EPOCH) // step)


_registry: dict[str, JobSpec] = {}


def job(
    name: str, every: timedelta | Callable[[Settings], timedelta], description: str = ""
) -> Callable[[JobFunc], JobFunc]:
    def decorator(func: JobFunc) -> JobFunc:
        interval = every if callable(every) else (lambda _s, e=every: e)
        _registry[name] = JobSpec(name, func, interval, description or (func.__doc__ or "").strip())
        return func

    return decorator


def registered_jobs() -> dict[str, JobSpec]:
    return dict(_registry)


def get_job(name: str) -> JobSpec:
    try:
        return _registry[name]
    except KeyError:
        raise NotFound(f"no job named {name!r}") from None


RUNNER_ID = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def run_job(
    name: str,
    trigger: str,
    period_start: datetime | None = None,
    now: datetime | None = None,
    runner: str = RUNNER_ID,
) -> JobRun | None:
    """Run one job in its own transaction and record the run. None when its period already ran."""
    spec = get_job(name)
    now = now or clock.now()
    try:
        with session_scope(writer_wait=JOB_WRITER_WAIT_SECONDS) as session:
            run = JobRun(job_name=name, period_start=period_start, trigger=trigger, status="running", runner=runner)
            session.add(run)
            session.flush()
            run_id = run.id
    except IntegrityError:
        return None
    status, error, result = "succeeded", None, None
    with JOB_SECONDS.labels(job=name).time():
        try:
            with session_scope(writer_wait=JOB_WRITER_WAIT_SECONDS) as session:
                result = _steps(session, spec.func(session, now))
        except Exception as exc:
            status, error = "failed", "".join(traceback.format_exception_only(exc)).strip()
            log.error("job %s failed: %s", name, error, exc_info=True)
    JOB_RUNS.labels(job=name, status=status).inc()
    with session_scope(writer_wait=JOB_WRITER_WAIT_SECONDS) as session:
        finished = session.get(JobRun, run_id)
        assert finished is not None
        finished.status, finished.error, finished.result = status, error, result
        finished.finished_at = utcnow()
        session.flush()
        session.expunge(finished)
    return finished


def _steps(session: Session, outcome: dict[str, Any] | Iterator[dict[str, Any]] | None) -> dict[str, Any] | None:
    """A job's result. A job that yields runs in steps, each committed when it yields (its result so far): a long
    job then never holds SQLite's only write lock for long, and a failure keeps the steps before it. On SQLite
    the job then pauses as long as the step took (up to STEP_PAUSE_MAX_SECONDS) before it begins the next: the
    requests that queued for the write lock meanwhile all get through, instead of one per step."""
    if outcome is None or isinstance(outcome, dict):
        return outcome
    pause = get_settings().is_sqlite
    result = None
    began = time.monotonic()
    for result in outcome:  # noqa: B007 (the last step's result is the job's)
        session.commit()
        if pause:
            time.sleep(min(time.monotonic() - began, STEP_PAUSE_MAX_SECONDS))
        began = time.monotonic()
    return result


def run_due_jobs(now: datetime, trigger: str, last_slots: dict[str, datetime] | None = None) -> list[JobRun]:
    """Run each job whose current period has not run yet (coalesced: once per job however far we jumped)."""
    runs = []
    for spec in sorted(_registry.values(), key=lambda s: s.name):
        slot = spec.period_start(now)
        if last_slots is not None:
            if last_slots.get(spec.name) == slot:
                continue
            last_slots[spec.name] = slot
        run = run_job(spec.name, trigger, slot, now)
        if run is not None:
            runs.append(run)
    return runs


class JobScheduler:
    """APScheduler drives the timing; the platform clock decides what is due (so simulated time works)."""

    def __init__(self, check_seconds: float = 1.0) -> None:
        from apscheduler.schedulers.background import BackgroundScheduler

        self.check_seconds = check_seconds
        self.runner_id = f"{RUNNER_ID}:{uuid.uuid4().hex[:4]}"
        self._scheduler = BackgroundScheduler(timezone="UTC", job_defaults={"coalesce": True, "max_instances": 1})
        self._leader = False
        self._last_slots: dict[str, datetime] = {}
        self._advisory_conn: Any = None
        self._lock = threading.Lock()

    @property
    def is_leader(self) -> bool:
        return self._leader

    def start(self) -> None:
        settings = get_settings()
        self._scheduler.add_job(
            self._renew_lease,
            "interval",
            seconds=max(1, settings.scheduler_lease_seconds / 3),
            id="lease",
            next_run_time=datetime.now(UTC),
        )
        for name in _registry:
            self._scheduler.add_job(
                self._maybe_run, "interval", seconds=self.check_seconds, args=[name], id=f"job:{name}"
            )
        self._scheduler.start()
        log.info("scheduler %s started with %d jobs", self.runner_id, len(_registry))

    def shutdown(self) -> None:
        self._scheduler.shutdown(wait=True)
        if self._leader:
            with session_scope() as session:
                repository.release_lease(session, LEASE_NAME, self.runner_id)
        self._release_advisory()
        self._leader = False

    def _renew_lease(self) -> None:
        lease = timedelta(seconds=get_settings().scheduler_lease_seconds)
        try:
            if not self._hold_advisory():
                self._leader = False
                return
            now = utcnow()
            with session_scope() as session:
                self._leader = repository.try_take_lease(session, LEASE_NAME, self.runner_id, now, now + lease)
        except Exception as exc:
            log.warning("lease renewal failed: %s", exc)
            self._leader = False

    def _hold_advisory(self) -> bool:
        engine = get_engine()
        if engine.dialect.name != "postgresql":
            return True
        if self._advisory_conn is not None:
            return True
        conn = engine.raw_connection()
        cur = conn.cursor()
        cur.execute("SELECT pg_try_advisory_lock(%s)", (ADVISORY_LOCK_KEY,))
        row = cur.fetchone()
        conn.commit()
        if row and row[0]:
            self._advisory_conn = conn
            return True
        conn.close()
        return False

    def _release_advisory(self) -> None:
        if self._advisory_conn is not None:
            try:
                # The connection goes back to the pool, where a session-level lock would outlive this scheduler
                # and keep every later scheduler of the process from leading: unlock it explicitly.
                cur = self._advisory_conn.cursor()
                cur.execute("SELECT pg_advisory_unlock(%s)", (ADVISORY_LOCK_KEY,))
                self._advisory_conn.commit()
                self._advisory_conn.close()
            except Exception as exc:
                log.warning("advisory lock release failed: %s", exc)
            finally:
                self._advisory_conn = None

    def run_soon(self, name: str) -> None:
        """Run a job once now, besides its schedule (an event made work due). Only the leader runs jobs; a
        request for a run already waiting replaces it, so a burst of events costs one run."""
        if not self._leader or self._scheduler is None or not self._scheduler.running:
            return
        self._scheduler.add_job(
            run_job, args=[name, "event", None, None, self.runner_id], id=f"soon:{name}", replace_existing=True
        )

    def _maybe_run(self, name: str) -> None:
        if not self._leader:
            return
        spec = _registry[name]
        now = clock.now()
        slot = spec.period_start(now)
        if self._last_slots.get(name) == slot:
            return
        self._last_slots[name] = slot
        try:
            run_job(name, "schedule", slot, now, runner=self.runner_id)
        except Exception as exc:  # the run could not even be recorded (database away): try again next check
            log.warning("job %s could not start: %s", name, exc)
            self._last_slots.pop(name, None)


@job("platform.cleanup", timedelta(hours=1), "Expire idempotency keys and prune the event log")
def cleanup_platform_tables(session: Session, now: datetime) -> dict[str, Any]:
    settings = get_settings()
    keys = repository.prune_idempotency_keys(session, utcnow())
    events = repository.prune_events(session, utcnow() - timedelta(days=settings.event_retention_days))
    return {"idempotency_keys_deleted": keys, "events_deleted": events}


# The scheduler running in this process, if any (health reports it).
current_scheduler: JobScheduler | None = None


def run_soon(name: str) -> None:
    """Ask this process's scheduler, if it runs one and leads, to run `name` now; otherwise its schedule does."""
    if current_scheduler is not None:
        current_scheduler.run_soon(name)
