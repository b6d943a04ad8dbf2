"""Jobs: recorded runs, one run per period even with two schedulers, simulated-clock ticks run what fell due."""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from spectra.core import jobs
from spectra.core.audit import record_audit
from spectra.core.clock import clock
from spectra.core.db import session_scope
from spectra.core.models import AuditLog, JobRun
from tests.conftest import IS_POSTGRES

calls: list[datetime] = []


@pytest.fixture()
def test_job():
    name = "test.every_second"

    def body(session: Session, now: datetime) -> dict:
        calls.append(now)
        return {"n": len(calls)}

    jobs.job(name, timedelta(seconds=1))(body)
    calls.clear()
    yield name
    jobs._registry.pop(name, None)


@pytest.fixture()
def failing_job():
    name = "test.failing"

    def body(session: Session, now: datetime) -> dict:
        raise ValueError("the provider said no")

    jobs.job(name, timedelta(hours=1))(body)
    yield name
    jobs._registry.pop(name, None)


def test_manual_run_is_recorded(client, admin_headers, test_job) -> None:
    response = client.post(f"/api/admin/jobs/{test_job}/run", headers=admin_headers)
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "succeeded" and body["trigger"] == "manual" and body["result"] == {"n": 1}
    listed = {j["name"]: j for j in client.get("/api/admin/jobs", headers=admin_headers).json()}
    assert listed[test_job]["last_run"]["id"] == body["id"]


def test_failure_is_recorded_with_its_error(client, admin_headers, failing_job) -> None:
    body = client.post(f"/api/admin/jobs/{failing_job}/run", headers=admin_headers).json()
    assert body["status"] == "failed" and "the provider said no" in body["error"]


def test_unknown_job_is_404(client, admin_headers) -> None:
    assert client.post("/api/admin/jobs/nope/run", headers=admin_headers).status_code == 404


def test_same_period_runs_once(db: Session, test_job) -> None:
    slot = datetime(2030, 1, 1, tzinfo=UTC)
    assert jobs.run_job(test_job, "schedule", slot) is not None
    assert jobs.run_job(test_job, "schedule", slot) is None
    assert len(calls) == 1


def test_two_schedulers_run_each_period_once(committed, test_job, settings_env) -> None:
    settings_env(SCHEDULER_LEASE_SECONDS="5")
    # Keep only the test job so the run is about scheduling, not about other jobs' work.
    others = {k: v for k, v in jobs._registry.items() if k != test_job}
    for k in others:
        jobs._registry.pop(k)
    first, second = jobs.JobScheduler(check_seconds=0.2), jobs.JobScheduler(check_seconds=0.2)
    try:
        first.start()
        second.start()
        time.sleep(4.5)
    finally:
        first.shutdown()
        second.shutdown()
        jobs._registry.update(others)
    with session_scope() as session:
        runs = list(session.scalars(select(JobRun).where(JobRun.job_name == test_job)))
    periods = Counter(r.period_start for r in runs)
    assert len(runs) >= 3
    assert max(periods.values()) == 1
    assert len({r.runner for r in runs}) == 1, "only the lease holder runs jobs"
    assert len(calls) == len(runs)


def test_tick_advances_the_simulated_clock_and_runs_due_jobs(client, admin_headers, test_job, settings_env) -> None:
    settings_env(SIM_CLOCK_ENABLED="true", SIM_CLOCK_START="2031-05-01T00:00:00+00:00")
    assert client.get("/api/admin/clock", headers=admin_headers).json()["now"].startswith("2031-05-01T00:00:00")
    body = client.post("/api/admin/tick", json={"minutes": 90}, headers=admin_headers).json()
    assert body["after"].startswith("2031-05-01T01:30:00")
    assert test_job in [r["job_name"] for r in body["jobs_run"]]
    assert calls[-1] == datetime(2031, 5, 1, 1, 30, tzinfo=UTC)
    assert clock.now() == datetime(2031, 5, 1, 1, 30, tzinfo=UTC)  # frozen between ticks (speed 0)
    bad = client.post("/api/admin/tick", json={"minutes": -5}, headers=admin_headers)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "minutes"


def test_tick_refused_on_the_real_clock(client, admin_headers) -> None:
    response = client.post("/api/admin/tick", json={"minutes": 5}, headers=admin_headers)
    assert response.status_code == 400 and response.json()["code"] == "clock_real"


def test_run_soon_runs_a_job_at_once_on_the_leader_only(committed) -> None:
    """An event can make a job due before its period: the leading scheduler runs it at once, others do nothing."""
    name = "test.hourly"
    hourly: list[datetime] = []
    jobs.job(name, timedelta(hours=1))(lambda session, now: hourly.append(now) or {"n": len(hourly)})
    others = {k: v for k, v in jobs._registry.items() if k != name}
    for k in others:
        jobs._registry.pop(k)
    scheduler = jobs.JobScheduler(check_seconds=0.2)
    follower = jobs.JobScheduler(check_seconds=0.2)
    try:
        follower.run_soon(name)  # not started, not leading: nothing happens
        scheduler.start()
        deadline = time.monotonic() + 10
        while not (scheduler.is_leader and hourly) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(hourly) == 1  # the scheduled run of this hour's period
        scheduler.run_soon(name)
        while len(hourly) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(hourly) == 2
    finally:
        scheduler.shutdown()
        jobs._registry.pop(name, None)
        jobs._registry.update(others)
    with session_scope() as session:
        triggers = sorted(r.trigger for r in session.scalars(select(JobRun).where(JobRun.job_name == name)))
    assert triggers == ["event", "schedule"]


def test_a_job_in_steps_commits_each_step_and_keeps_them_on_failure(committed) -> None:
    """A job that yields commits after each step: others see a step at once, and a later failure undoes only
    its own step (the run is recorded failed)."""
    name = "test.in_steps"
    seen_by_others: list[int] = []

    def audited(session: Session) -> int:
        return len(session.scalars(select(AuditLog).where(AuditLog.action == name)).all())

    def body(session: Session, now: datetime):
        for step in range(3):
            record_audit(session, actor="system", action=name, entity_type="test", entity_id=str(step))
            if step == 2:
                raise ValueError("the third step fails")
            yield {"steps": step + 1}
            with session_scope(read_only=True) as other:  # another connection: only committed rows
                seen_by_others.append(audited(other))

    jobs.job(name, timedelta(hours=1))(body)
    try:
        run = jobs.run_job(name, "manual")
    finally:
        jobs._registry.pop(name, None)
    assert run is not None and run.status == "failed" and "the third step fails" in (run.error or "")
    assert seen_by_others == [1, 2]
    with session_scope(read_only=True) as session:
        assert audited(session) == 2  # the failed step's row rolled back, the committed steps kept


def test_a_job_in_steps_records_its_last_result(committed) -> None:
    name = "test.in_steps_ok"
    jobs.job(name, timedelta(hours=1))(lambda session, now: ({"steps": n} for n in (1, 2, 3)))
    try:
        run = jobs.run_job(name, "manual")
    finally:
        jobs._registry.pop(name, None)
    assert run is not None and (run.status, run.result) == ("succeeded", {"steps": 3})


@pytest.mark.skipif(IS_POSTGRES, reason="SQLite's single writer only")
def test_writers_queued_during_a_step_get_the_write_lock_before_the_next_step(committed) -> None:
    """Between two steps of a long job, the requests that queued for SQLite's write lock meanwhile go first:
    without the pause the job's next step took the lock back at once and let one writer through per step (the
    write gate hands the lock to one request at a time, like the writer here)."""
    name = "test.steps_pause"
    order: list[str] = []
    holding = threading.Event()

    def body(session: Session, now: datetime):
        for step in range(2):
            record_audit(session, actor="system", action=name, entity_type="test", entity_id=str(step))
            order.append(f"step {step}")
            holding.set()
            time.sleep(0.3)  # a long step, holding the write lock
            yield {"steps": step + 1}

    def writer() -> None:
        holding.wait(5)
        for n in range(3):
            with session_scope() as session:
                record_audit(session, actor="system", action=f"{name}.writer", entity_type="test", entity_id=str(n))
                order.append("writer")

    jobs.job(name, timedelta(hours=1))(body)
    try:
        thread = threading.Thread(target=writer)
        thread.start()
        run = jobs.run_job(name, "manual")
        thread.join(5)
    finally:
        jobs._registry.pop(name, None)
    assert run is not None and run.status == "succeeded"
    assert order == ["step 0", "writer", "writer", "writer", "step 1"]
