"""The roll-up job (`capacity.rollups`): ingest writes raw points only; the job recomputes the buckets that points
stored since its last run fall in, from the raw points, so its roll-ups equal a from-scratch aggregation whatever
the order of batches, re-sends and runs; a point whose transaction commits late or that is about to leave
retention is never lost; reads count the points it has not rolled up yet. On SQLite and PostgreSQL alike."""

from __future__ import annotations

import random
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from spectra.capacity import repository, service, tasks
from spectra.capacity.models import MetricPoint, MetricRollup, Resource, RollupState
from spectra.core import jobs
from spectra.core.clock import clock
from spectra.core.config import ConfigError
from spectra.core.db import session_factory, session_scope
from spectra.core.models import JobRun
from tests.capacity.rollups import (
    assert_rollups_match_points,
    assert_same,
    from_scratch,
    run_rollups,
    stored_rollups,
)
from tests.factories import make_tenant

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _frozen_clock() -> None:
    clock.set_override(NOW)


def _point(resource: str, at: datetime, value: float, metric: str = "cpu") -> dict[str, Any]:
    return {"resource_id": resource, "metric": metric, "ts": at.isoformat(), "value": value}


def _rollup_count(db: Session) -> int:
    return int(db.scalar(select(func.count(MetricRollup.id))) or 0)


def _state(db: Session) -> RollupState:
    db.expire_all()
    state = db.get(RollupState, repository.ROLLUP_STATE)
    assert state is not None
    return state


def _series(client: TestClient, headers: dict[str, str], **params: str) -> dict[str, Any]:
    response = client.get("/api/metrics", params={"resource_id": "web-1", **params}, headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_ingest_writes_no_rollups_and_the_job_builds_exactly_the_aggregation(db: Session) -> None:
    tenant = make_tenant(db)
    rng = random.Random(3)
    points = [
        _point(f"vm-{r}", NOW - timedelta(seconds=rng.randrange(0, 3 * 3600)), round(rng.uniform(0, 100), 2), m)
        for r in range(3)
        for m in ("cpu", "memory")
        for _ in range(80)
    ]
    points = list({(p["resource_id"], p["metric"], p["ts"]): p for p in points}.values())
    assert service.ingest(db, tenant.id, points).accepted == len(points)
    assert _rollup_count(db) == 0

    results = run_rollups()
    assert sum(r["points"] for r in results) == len(points)
    assert_rollups_match_points(db)
    # Both tiers, for every resource and metric.
    assert {(k[1], k[2]) for k in stored_rollups(db)} == {(m, t) for m in ("cpu", "memory") for t in ("5m", "1h")}
    runs = db.scalars(select(JobRun).where(JobRun.job_name == tasks.ROLLUPS)).all()
    assert [r.status for r in runs] == ["succeeded"] * len(results)  # recorded like every job run


def test_the_job_equals_a_fresh_aggregation_after_overlapping_resent_and_out_of_order_batches(
    db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(service, "ROLLUP_CHUNK_POINTS", 137)  # many small runs, chunk edges inside buckets
    tenant = make_tenant(db)
    rng = random.Random(11)
    points = [
        _point(
            f"db-{r}",
            NOW - timedelta(hours=6) + timedelta(seconds=rng.randrange(0, 6 * 3600), microseconds=rng.choice((0, 1))),
            round(rng.uniform(0, 100), 3),
            metric,
        )
        for r in range(4)
        for metric in ("cpu", "memory")
        for _ in range(120)
    ]
    points = list({(p["resource_id"], p["metric"], p["ts"]): p for p in points}.values())
    # Newest hours first, then older ones (out of time order), overlapping windows, whole re-sends.
    points.sort(key=lambda p: p["ts"], reverse=True)
    windows = [(0, 300), (250, 600), (0, 600), (900, 1200), (550, 950), (1100, len(points)), (0, len(points))]
    for i, (lo, hi) in enumerate(windows):
        batch = points[lo:hi]
        rng.shuffle(batch)
        for part in range(0, len(batch), 60):  # agents' batches: 60 points each
            service.ingest(db, tenant.id, batch[part : part + 60])
        if i % 2:
            results = run_rollups()
            # Bounded: a chunk of what has settled and one of the newest points, each ending with a whole batch.
            assert all(r["points"] <= 2 * (137 + 60) for r in results)
    run_rollups()
    assert_rollups_match_points(db)


def test_running_the_job_again_changes_nothing(db: Session) -> None:
    tenant = make_tenant(db)
    points = [_point(f"vm-{k % 4}", NOW - timedelta(minutes=k), float(k % 100)) for k in range(400)]
    service.ingest(db, tenant.id, points)
    run_rollups()
    rows = db.execute(select(MetricRollup.id, MetricRollup.count, MetricRollup.total)).all()
    state = _state(db)
    watermark = state.watermark

    again = run_rollups()
    assert all(r["buckets"] == {"5m": 0, "1h": 0} for r in again)  # nothing rewritten, let alone added
    db.expire_all()
    assert db.execute(select(MetricRollup.id, MetricRollup.count, MetricRollup.total)).all() == rows
    assert _state(db).watermark is not None and _state(db).watermark >= watermark  # type: ignore[operator]
    assert_rollups_match_points(db)


def test_a_point_stamped_before_a_run_but_committed_after_it_is_rolled_up(db: Session) -> None:
    tenant = make_tenant(db)
    service.ingest(db, tenant.id, [_point("vm-1", NOW - timedelta(minutes=m), 10.0) for m in range(30)])
    run_rollups()
    watermark = _state(db).watermark
    assert watermark is not None
    resource = db.scalars(select(Resource)).one()
    # A transaction that stamped its point before the run read the clock (later than this stamp) and committed
    # after the run: its id is above every point the run saw, its stamp below some of them.
    late = MetricPoint(
        resource_pk=resource.id,
        metric="cpu",
        ts=NOW - timedelta(minutes=2, seconds=30),
        value=90.0,
        ingested_at=watermark + service.ROLLUP_SETTLE / 2,
    )
    db.add(late)
    db.flush()
    run_rollups()
    assert_rollups_match_points(db)
    bucket = db.scalars(
        select(MetricRollup).where(MetricRollup.resolution == "5m", MetricRollup.bucket == NOW - timedelta(minutes=5))
    ).one()
    assert (bucket.count, bucket.maximum) == (6, 90.0)


def test_a_point_committed_later_than_the_look_back_is_counted_when_its_bucket_is_touched_or_retired(
    db: Session,
) -> None:
    tenant = make_tenant(db)
    old = NOW - timedelta(days=7, hours=2)  # in the hour retention finishes next
    service.ingest(db, tenant.id, [_point("vm-1", old, 10.0), _point("vm-1", NOW - timedelta(minutes=1), 20.0)])
    run_rollups()
    resource = db.scalars(select(Resource)).one()
    stamp = _state(db).watermark - service.ROLLUP_LOOKBACK * 2  # type: ignore[operator]
    # Two points whose transactions committed long after stamping them, in 5-minute buckets nothing else touches.
    stragglers = ((old + timedelta(minutes=10), 70.0), (NOW - timedelta(minutes=7), 80.0))
    for ts, value in stragglers:
        db.add(MetricPoint(resource_pk=resource.id, metric="cpu", ts=ts, value=value, ingested_at=stamp))
    db.flush()
    run_rollups()
    assert stored_rollups(db) != from_scratch(db)  # too late for the job to see...
    service.ingest(db, tenant.id, [_point("vm-1", NOW - timedelta(minutes=8), 30.0)])  # ...until its bucket moves
    run_rollups()
    expected = from_scratch(db)
    assert service.apply_retention(db, NOW)["raw"] == 2  # ...or retention finishes its hour
    assert_same(stored_rollups(db), expected)
    rolled = {(k[2], k[3]): v for k, v in stored_rollups(db).items()}
    assert rolled[("5m", old + timedelta(minutes=10))] == (1, 70.0, 70.0, 70.0)
    assert rolled[("1h", old)] == (2, 80.0, 10.0, 70.0)
    assert rolled[("5m", NOW - timedelta(minutes=10))] == (2, 110.0, 30.0, 80.0)


@pytest.mark.postgres_only
def test_a_transaction_open_during_a_run_is_rolled_up_once_it_commits(committed: Engine) -> None:
    with session_scope() as session:
        tenant_id = make_tenant(session).id
        service.ingest(session, tenant_id, [_point("vm-1", NOW - timedelta(minutes=m), 10.0) for m in range(20)])
    run_rollups()
    # Another request stores points and is still open (its stamp is taken) while the job runs.
    open_session = session_factory()()
    try:
        service.ingest(open_session, tenant_id, [_point("vm-1", NOW - timedelta(seconds=150), 99.0)])
        stamp = open_session.scalar(select(func.max(MetricPoint.ingested_at)))
        time.sleep(1.5)  # the job's clock moves past the stamp by more than its settling time
        with session_scope() as session:
            service.ingest(session, tenant_id, [_point("vm-2", NOW - timedelta(minutes=1), 5.0)])
        run_rollups()
        with session_scope(read_only=True) as session:
            watermark = _state(session).watermark
            assert watermark is not None and stamp is not None and watermark < stamp  # held back by the open one
            assert session.scalar(select(func.max(MetricRollup.maximum))) == 10.0
        open_session.commit()
    finally:
        open_session.close()
    run_rollups()
    with session_scope(read_only=True) as session:
        assert_rollups_match_points(session)
        assert session.scalar(select(func.max(MetricRollup.maximum)).where(MetricRollup.resolution == "1h")) == 99.0


def test_retention_counts_raw_points_before_removing_them_and_keeps_the_rest(db: Session) -> None:
    tenant = make_tenant(db)
    horizon = service.bucket_start(NOW - timedelta(days=7), "1h")
    old = [_point("vm-1", horizon - timedelta(minutes=m), float(m)) for m in range(1, 90, 7)]
    recent = [_point("vm-1", NOW - timedelta(minutes=m), 50.0 + m) for m in range(10)]
    edge = [_point("vm-1", horizon, 1.0), _point("vm-1", horizon + timedelta(minutes=3), 2.0)]
    service.ingest(db, tenant.id, old + recent + edge)
    expected = from_scratch(db)  # the job has not run: nothing is rolled up yet

    deleted = service.apply_retention(db, NOW)
    assert deleted["raw"] == len(old)  # whole hours before the horizon, counted first
    assert _state(db).horizon == horizon
    assert db.scalar(select(func.min(MetricPoint.ts))) == horizon  # the rest is kept raw, rolled up or not
    finished = {k: v for k, v in expected.items() if k[3] < horizon}
    assert_same({k: v for k, v in stored_rollups(db).items() if k[3] < horizon}, finished)

    run_rollups()
    assert_same(stored_rollups(db), expected)  # the job adds the kept points, and leaves finished buckets alone
    assert service.apply_retention(db, NOW)["raw"] == 0  # a second pass changes nothing
    assert_same(stored_rollups(db), expected)


def test_a_point_for_a_finished_bucket_is_added_to_it_once(client: TestClient, db: Session) -> None:
    tenant = make_tenant(db)
    late_at = NOW - timedelta(days=9, minutes=2)
    service.ingest(db, tenant.id, [_point("web-1", late_at - timedelta(minutes=1), 10.0)])
    run_rollups()
    service.apply_retention(db, NOW)
    assert _rollup_count(db) == 2 and db.scalar(select(func.count(MetricPoint.id))) == 0
    before = stored_rollups(db)

    # An agent back after nine days sends the point late, then again (a retry after a lost answer).
    assert service.ingest(db, tenant.id, [_point("web-1", late_at, 40.0)]).accepted == 1
    assert service.ingest(db, tenant.id, [_point("web-1", late_at, 40.0)]).duplicates == 1
    span = {"start": (NOW - timedelta(days=10)).isoformat(), "end": NOW.isoformat()}
    hourly = _series(client, tenant.headers, **span)
    assert hourly["source"] == "1h"
    assert [(p["samples"], p["max"]) for p in hourly["metrics"]["cpu"]] == [(2, 40.0)]  # read before the job runs
    run_rollups()
    run_rollups()
    service.apply_retention(db, NOW)
    after = stored_rollups(db)
    assert {k: v[:1] + v[2:] for k, v in after.items()} == {k: (2, 10.0, 40.0) for k in before}
    assert db.scalar(select(func.count(MetricPoint.id))) == 0  # consumed: added once, then removed
    assert _series(client, tenant.headers, **span)["metrics"] == hourly["metrics"]


def test_long_ranges_include_points_stored_after_the_last_roll_up(client: TestClient, db: Session) -> None:
    tenant = make_tenant(db)
    day = [_point("web-1", NOW - timedelta(minutes=m), float(m % 50)) for m in range(10, 26 * 60, 5)]
    client.post("/api/metrics", json={"points": day}, headers=tenant.headers)
    run_rollups()
    fresh = [_point("web-1", NOW - timedelta(minutes=m), 97.0 + m / 10) for m in (1, 3, 6, 8)]
    assert client.post("/api/metrics", json={"points": fresh}, headers=tenant.headers).json()["accepted"] == 4

    seen = {}
    for range_ in ("24h", "7d"):
        body = _series(client, tenant.headers, range=range_, max_points="5000")
        assert body["source"] == ("5m" if range_ == "24h" else "1h")
        cpu = body["metrics"]["cpu"]
        assert max(p["max"] for p in cpu) == pytest.approx(97.8)  # the newest minutes are there...
        assert cpu[-1]["max"] == pytest.approx(97.3 if range_ == "24h" else 97.8)
        seen[range_] = body
    day_total = sum(p["samples"] for p in seen["24h"]["metrics"]["cpu"])
    assert day_total == len(range(10, 24 * 60 + 1, 5)) + len(fresh)
    run_rollups()
    for range_, body in seen.items():  # ...exactly as they are once rolled up
        assert _series(client, tenant.headers, range=range_, max_points="5000") == body


def test_the_poll_rolls_up_what_it_collected_at_once(db: Session, settings_env) -> None:
    settings_env(METRICS_PROVIDER="local")
    result = tasks.poll(db, NOW)
    assert result is not None
    assert result["accepted"] == 6 and result["rolled_up"] == 6
    assert_rollups_match_points(db)
    assert {k[2] for k in stored_rollups(db)} == {"5m", "1h"}


def test_the_interval_is_configurable(settings_env) -> None:
    assert jobs.get_job(tasks.ROLLUPS).interval() == timedelta(minutes=1)
    settings_env(METRICS_ROLLUP_INTERVAL_SECONDS="300")
    assert jobs.get_job(tasks.ROLLUPS).interval() == timedelta(minutes=5)
    assert service.config()["rollup_interval_seconds"] == 300
    settings_env(METRICS_ROLLUP_INTERVAL_SECONDS="0")
    with pytest.raises(ConfigError, match="SPECTRA_METRICS_ROLLUP_INTERVAL_SECONDS"):
        jobs.get_job(tasks.ROLLUPS).interval()


def test_concurrent_batches_and_runs_lose_nothing(committed: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(service, "ROLLUP_CHUNK_POINTS", 400)
    with session_scope() as session:
        tenant_id = make_tenant(session).id
    points = [
        _point(f"vm-{k % 6}", NOW - timedelta(hours=3) + timedelta(seconds=20 * (k // 6)), float(k % 89))
        for k in range(3000)
    ]
    windows = [points[i * 300 : i * 300 + 700] for i in range(9)]
    for seed, window in enumerate(windows):
        random.Random(seed).shuffle(window)
    failures: list[BaseException] = []
    sending = threading.Event()
    sending.set()

    def send(batch: list[dict[str, Any]]) -> None:
        try:
            for part in (batch[:350], batch[350:]):
                with session_scope() as session:
                    service.ingest(session, tenant_id, part)
        except BaseException as exc:
            failures.append(exc)

    def roll() -> None:
        try:
            while sending.is_set():
                run_rollups()
        except BaseException as exc:
            failures.append(exc)

    roller = threading.Thread(target=roll)
    roller.start()
    senders = [threading.Thread(target=send, args=(w,)) for w in windows]
    for thread in senders:
        thread.start()
    for thread in senders:
        thread.join(timeout=120)
    sending.clear()
    roller.join(timeout=120)
    assert not failures, failures
    run_rollups()
    with session_scope(read_only=True) as session:
        assert session.scalar(select(func.count(MetricPoint.id))) == len(points)
        assert_rollups_match_points(session)


def test_the_scheduler_goes_on_at_once_when_a_run_leaves_points_waiting(
    committed: Engine, settings_env, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings_env(SCHEDULER_LEASE_SECONDS="5", METRICS_ROLLUP_INTERVAL_SECONDS="3600")
    monkeypatch.setattr(service, "ROLLUP_CHUNK_POINTS", 150)
    with session_scope() as session:
        tenant_id = make_tenant(session).id
    for b in range(8):
        with session_scope() as session:
            batch = [_point(f"vm-{k % 5}", NOW - timedelta(minutes=100 * b + k // 5), 1.0 * k) for k in range(100)]
            service.ingest(session, tenant_id, batch)
    time.sleep(service.ROLLUP_SETTLE.total_seconds() * 1.5)  # settled: read in chunks, not as the newest points
    monkeypatch.setattr(jobs, "_registry", {tasks.ROLLUPS: jobs.get_job(tasks.ROLLUPS)})
    scheduler = jobs.JobScheduler(check_seconds=0.2)
    monkeypatch.setattr(jobs, "current_scheduler", scheduler)
    scheduler.start()
    try:
        deadline = time.monotonic() + 60
        while True:
            with session_scope(read_only=True) as session:
                if stored_rollups(session) and stored_rollups(session) == from_scratch(session):
                    break
            assert time.monotonic() < deadline, "the scheduler did not roll everything up"
            time.sleep(0.2)
    finally:
        scheduler.shutdown()
    with session_scope(read_only=True) as session:
        triggers = session.scalars(select(JobRun.trigger).where(JobRun.job_name == tasks.ROLLUPS)).all()
        assert_rollups_match_points(session)
    # One scheduled run an hour here: the rest were the runs it asked for (800 points, 150-200 a run).
    assert triggers.count("schedule") == 1 and triggers.count("event") >= 3
