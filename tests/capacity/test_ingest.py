"""Metric ingest: all-or-nothing batches, idempotent re-sends, raw points only (the roll-up job then equals a
from-scratch aggregation), tenant isolation, concurrent writers (on SQLite and PostgreSQL alike)."""

from __future__ import annotations

import random
import threading
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session

from spectra.capacity import repository, service
from spectra.capacity.models import MetricPoint, MetricRollup, Resource
from spectra.core.clock import clock
from spectra.core.db import session_scope
from spectra.core.errors import Unprocessable
from tests.capacity.rollups import assert_rollups_match_points, run_rollups, stored_rollups
from tests.factories import make_tenant

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _frozen_clock() -> None:
    clock.set_override(NOW)


def _point(resource: str, at: datetime, value: float, metric: str = "cpu") -> dict[str, Any]:
    return {"resource_id": resource, "metric": metric, "ts": at.isoformat(), "value": value}


def _counts(db: Session) -> tuple[int, int, int]:
    return (
        int(db.scalar(select(func.count(MetricPoint.id))) or 0),
        int(db.scalar(select(func.count(MetricRollup.id))) or 0),
        int(db.scalar(select(func.count(Resource.id))) or 0),
    )


def test_one_bad_point_writes_nothing_and_is_named_by_index(client: TestClient, db: Session) -> None:
    tenant = make_tenant(db)
    before = _counts(db)
    points = [_point(f"vm-{i % 7}", NOW - timedelta(minutes=i), float(i % 90)) for i in range(500)]
    points[317]["value"] = 101.0  # cpu above 100 %
    r = client.post("/api/metrics", json={"points": points}, headers=tenant.headers)
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["errors"] == [{"row": 317, "field": "value", "msg": "cpu is a percentage: 0..100"}]
    assert "1 of 500 points" in r.json()["detail"]
    assert _counts(db) == before  # not a point, not a roll-up, not even the batch's new resources


def test_shape_errors_and_rule_errors_are_listed_in_row_order(db: Session) -> None:
    tenant = make_tenant(db)
    rows: list[Any] = [
        _point("vm-1", NOW - timedelta(minutes=3), -1.0, metric="network_in"),  # negative counter
        _point("vm-1", NOW - timedelta(minutes=2), 5.0),
        {"resource_id": "vm-1", "metric": "cpu", "value": 5.0},  # no time
        "not a point",
        _point("vm-1", NOW - timedelta(minutes=2), 6.0),  # same resource, metric and time as row 1
    ]
    with pytest.raises(Unprocessable) as raised:
        service.ingest(db, tenant.id, rows)
    errors = raised.value.extra["errors"]
    assert [(e["row"], e["field"]) for e in errors] == [(0, "value"), (2, "ts"), (3, "point"), (4, "ts")]
    assert "duplicates row 1" in errors[3]["msg"]
    assert _counts(db)[0] == 0


def test_batch_writes_raw_points_only(client: TestClient, db: Session) -> None:
    tenant = make_tenant(db)
    points = [_point(f"vm-{i % 3}", NOW - timedelta(minutes=i), float(i)) for i in range(60)]
    assert client.post("/api/metrics", json={"points": points}, headers=tenant.headers).json()["accepted"] == 60
    assert _counts(db)[:2] == (60, 0)  # the roll-up job builds the tiers, not the request
    stamps = db.scalars(select(MetricPoint.ingested_at)).all()
    assert all(stamp is not None and stamp.tzinfo is not None for stamp in stamps)
    run_rollups()
    assert_rollups_match_points(db)


def test_resent_batch_changes_no_rollup(client: TestClient, db: Session) -> None:
    tenant = make_tenant(db)
    points = [
        _point(f"vm-{r}", NOW - timedelta(minutes=90) + timedelta(seconds=40 * k), float((k * 13 + r) % 100), m)
        for r in range(3)
        for k in range(120)
        for m in ("cpu", "memory")
    ]
    first = client.post("/api/metrics", json={"points": points}, headers=tenant.headers).json()
    assert first["accepted"] == len(points) and first["duplicates"] == 0
    run_rollups()
    rollups, counts = stored_rollups(db), _counts(db)
    seen = {r.resource_id: r.last_seen_at for r in db.scalars(select(Resource))}

    again = client.post("/api/metrics", json={"points": points}, headers=tenant.headers).json()
    assert again == {"accepted": 0, "duplicates": len(points), "resources": ["vm-0", "vm-1", "vm-2"]}
    run_rollups()
    db.expire_all()
    assert stored_rollups(db) == rollups
    assert _counts(db) == counts
    assert {r.resource_id: r.last_seen_at for r in db.scalars(select(Resource))} == seen


def test_rollups_equal_a_fresh_aggregation_after_overlapping_batches(db: Session) -> None:
    tenant = make_tenant(db)
    rng = random.Random(7)
    start = NOW - timedelta(hours=5)
    # Irregular times (some on bucket edges, some a microsecond before one), several offsets, three metrics.
    series = {
        (f"db-{r}", metric): sorted(
            {
                start + timedelta(seconds=rng.randrange(0, 5 * 3600), microseconds=rng.choice((0, 0, 999_999)))
                for _ in range(150)
            }
        )
        for r in range(4)
        for metric in ("cpu", "memory", "network_in")
    }
    series[("db-0", "cpu")] += [start + timedelta(minutes=5) - timedelta(microseconds=1), start + timedelta(minutes=5)]
    points = [
        {
            "resource_id": resource,
            "metric": metric,
            "ts": ts.astimezone(timezone(timedelta(hours=rng.choice((-5, 0, 2))))).isoformat(),
            "value": round(rng.uniform(0, 100 if metric != "network_in" else 5e6), 3),
        }
        for (resource, metric), stamps in series.items()
        for ts in dict.fromkeys(stamps)
    ]
    rng.shuffle(points)
    # Overlapping windows: every batch re-sends part of the previous one, some re-send it all.
    windows = [(0, 700), (500, 1200), (1200, 1300), (900, 1800), (0, 300), (1700, 2600), (2400, len(points))]
    accepted = 0
    for i, (lo, hi) in enumerate(windows):
        batch = points[lo:hi]
        result = service.ingest(db, tenant.id, batch)
        accepted += result.accepted
        assert result.accepted + result.duplicates == len(batch)
        if i % 3 == 1:  # the job runs between some batches, which then touch buckets it already built
            run_rollups()
    assert accepted == len(points) == _counts(db)[0]
    run_rollups()
    assert_rollups_match_points(db)


def test_point_times_are_stored_in_utc_and_bucketed_exactly(db: Session) -> None:
    tenant = make_tenant(db)
    at = datetime(2026, 3, 10, 13, 4, 59, 999_999, tzinfo=timezone(timedelta(hours=2)))  # 11:04:59.999999 UTC
    service.ingest(db, tenant.id, [{"resource_id": "edge", "metric": "cpu", "ts": at, "value": 1.0}])
    point = db.scalars(select(MetricPoint)).one()
    assert point.ts == at
    run_rollups()
    buckets = {r.resolution: r.bucket for r in db.scalars(select(MetricRollup))}
    assert buckets == {"5m": datetime(2026, 3, 10, 11, 0, tzinfo=UTC), "1h": datetime(2026, 3, 10, 11, 0, tzinfo=UTC)}
    assert [p.value for p in repository.raw_points(db, point.resource_pk, "cpu", at, at)] == [1.0]


def test_points_written_by_the_orm_and_by_ingest_are_the_same_points(db: Session) -> None:
    # Ingest writes through the driver; a time must be stored exactly as the ORM stores it (on SQLite: the
    # same text), or the two would not de-duplicate, compare or sort alike.
    tenant = make_tenant(db)
    service.ingest(db, tenant.id, [_point("vm-1", NOW - timedelta(minutes=5), 1.0)])
    resource = db.scalars(select(Resource)).one()
    db.add(MetricPoint(resource_pk=resource.id, metric="cpu", ts=NOW, value=2.0))
    db.flush()
    result = service.ingest(db, tenant.id, [_point("vm-1", NOW - timedelta(minutes=5), 1.0), _point("vm-1", NOW, 2.0)])
    assert (result.accepted, result.duplicates) == (0, 2)
    if db.get_bind().dialect.name == "sqlite":
        stored = db.execute(text("SELECT ts FROM capacity_metric_points ORDER BY ts")).scalars().all()
        assert stored == ["2026-03-10 11:55:00.000000", "2026-03-10 12:00:00.000000"]


def test_another_tenants_resource_is_not_written_into(client: TestClient, db: Session, admin_headers) -> None:
    a, b = make_tenant(db), make_tenant(db)
    at = NOW - timedelta(minutes=10)
    assert (
        client.post("/api/metrics", json={"points": [_point("web-1", at, 10.0)]}, headers=a.headers).status_code == 200
    )
    a_resource = db.scalars(select(Resource).where(Resource.client_id == a.id)).one()
    run_rollups()
    a_rollups = {k: v for k, v in stored_rollups(db).items() if k[0] == a_resource.id}
    a_seen = a_resource.last_seen_at

    # Same external id, same time, from tenant B and from the platform's own collectors: separate resources.
    later = [_point("web-1", at, 90.0), _point("web-1", NOW, 95.0)]
    assert client.post("/api/metrics", json={"points": later}, headers=b.headers).json()["accepted"] == 2
    assert client.post("/api/metrics", json={"points": later}, headers=admin_headers).json()["accepted"] == 2
    db.expire_all()
    owners = sorted((r.client_id or "") for r in db.scalars(select(Resource).where(Resource.resource_id == "web-1")))
    assert owners == sorted(["", a.id, b.id])
    assert db.scalars(select(MetricPoint.value).where(MetricPoint.resource_pk == a_resource.id)).all() == [10.0]
    run_rollups()
    assert {k: v for k, v in stored_rollups(db).items() if k[0] == a_resource.id} == a_rollups
    assert db.get(Resource, a_resource.id).last_seen_at == a_seen  # type: ignore[union-attr]
    assert client.get("/api/metrics?resource_id=web-1&range=1h", headers=a.headers).json()["metrics"]["cpu"][0][
        "max"
    ] == pytest.approx(10.0)


def test_resources_loaded_before_a_batch_see_its_writes(db: Session) -> None:
    tenant = make_tenant(db)
    service.ingest(db, tenant.id, [_point("vm-1", NOW - timedelta(minutes=30), 5.0)])
    resource = db.scalars(select(Resource)).one()
    assert resource.last_seen_at == NOW - timedelta(minutes=30)
    service.ingest(db, tenant.id, [{**_point("vm-1", NOW, 6.0), "name": "web server"}])
    assert resource.last_seen_at == NOW  # the loaded object was refreshed, not left stale
    assert resource.name == "web server"


def test_concurrent_overlapping_batches_count_every_point_once(committed: Engine) -> None:
    with session_scope() as session:
        tenant_id = make_tenant(session).id
    # Eight writers, each sending a window of the same points that overlaps its neighbours' windows, for
    # resources none of them has created yet (a client's and the platform's).
    points = [
        _point(f"vm-{k % 5}", NOW - timedelta(hours=2) + timedelta(seconds=15 * (k // 5)), float(k % 97))
        for k in range(2000)
    ]
    windows = [points[i * 200 : i * 200 + 500] for i in range(8)]
    for seed, window in enumerate(windows):
        random.Random(seed).shuffle(window)  # each in its own order: shared points are met in different orders
    barrier = threading.Barrier(len(windows))
    failures: list[BaseException] = []
    accepted: list[int] = []

    def send(batch: list[dict[str, Any]], owner: str | None) -> None:
        try:
            barrier.wait()
            with session_scope() as session:
                accepted.append(service.ingest(session, owner, batch).accepted)
        except BaseException as exc:  # collected: an exception in a thread would otherwise go unseen
            failures.append(exc)

    for owner in (tenant_id, None):
        accepted.clear()
        threads = [threading.Thread(target=send, args=(w, owner)) for w in windows]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert not failures, failures
        assert sum(accepted) == len({(p["resource_id"], p["ts"]) for w in windows for p in w})

    run_rollups()
    with session_scope(read_only=True) as session:
        resources = session.execute(select(Resource.client_id, Resource.resource_id)).all()
        assert sorted(resources, key=lambda r: (r[0] or "", r[1])) == sorted(
            [(None, f"vm-{i}") for i in range(5)] + [(tenant_id, f"vm-{i}") for i in range(5)],
            key=lambda r: (r[0] or "", r[1]),
        )
        assert_rollups_match_points(session)
