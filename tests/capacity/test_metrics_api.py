"""Metrics API: all-or-nothing batches, tenancy, roll-ups, ranges, forecasts, resources, config, retention."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from spectra.capacity import service
from spectra.capacity.models import MetricPoint, MetricRollup
from spectra.core.auth import Caller
from spectra.core.clock import clock
from tests.capacity.rollups import run_rollups
from tests.factories import Tenant, make_tenant

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _frozen_clock() -> None:
    clock.set_override(NOW)


def _point(resource: str, minutes_ago: float, value: float, metric: str = "cpu") -> dict[str, object]:
    return {"resource_id": resource, "metric": metric, "ts": (NOW - timedelta(minutes=minutes_ago)).isoformat(),
            "value": value}  # fmt: skip


def _count(db: Session) -> int:
    return int(db.scalar(select(func.count()).select_from(MetricPoint)) or 0)


def test_batch_is_stored_and_rolled_up(client: TestClient, db: Session) -> None:
    tenant = make_tenant(db)
    # 12:00 - 11:51 .. 11:59: three points in the 11:50 5-minute bucket, two in 11:55
    points = [_point("web-1", m, v) for m, v in ((9, 10.0), (8, 20.0), (6, 30.0), (4, 40.0), (1, 50.0))]
    r = client.post("/api/metrics", json={"points": points}, headers=tenant.headers)
    assert r.status_code == 200, r.text
    assert r.json() == {"accepted": 5, "duplicates": 0, "resources": ["web-1"]}
    run_rollups()
    rollups = db.scalars(select(MetricRollup).order_by(MetricRollup.resolution, MetricRollup.bucket)).all()
    five = [(r.bucket.minute, r.count, r.total, r.minimum, r.maximum) for r in rollups if r.resolution == "5m"]
    assert five == [(50, 3, 60.0, 10.0, 30.0), (55, 2, 90.0, 40.0, 50.0)]
    hourly = [(r.count, r.total) for r in rollups if r.resolution == "1h"]
    assert hourly == [(5, 150.0)]


def test_bad_points_reject_the_whole_batch_named_by_index(client: TestClient, db: Session) -> None:
    tenant = make_tenant(db)
    points = [
        _point("web-1", 5, 10.0),
        _point("web-1", 4, 140.0),  # cpu over 100 %
        {"resource_id": "web-1", "metric": "cpu", "ts": "2026-03-10T11:00:00", "value": 5},  # no offset
        _point("web-1", -30, 10.0),  # 30 min in the future
        _point("web-1", 5, 11.0),  # same time as row 0
        {"resource_id": "web-1", "metric": "gpu", "ts": NOW.isoformat(), "value": 5},
    ]
    r = client.post("/api/metrics", json={"points": points}, headers=tenant.headers)
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    rows = sorted({e["row"] for e in r.json()["errors"]})
    assert rows == [1, 2, 3, 4, 5]
    assert _count(db) == 0  # nothing stored, not even row 0


def test_resent_batch_counts_duplicates(client: TestClient, db: Session) -> None:
    tenant = make_tenant(db)
    body = {"points": [_point("web-1", 3, 10.0), _point("web-1", 2, 12.0)]}
    assert client.post("/api/metrics", json=body, headers=tenant.headers).json()["accepted"] == 2
    again = client.post("/api/metrics", json=body, headers=tenant.headers).json()
    assert again == {"accepted": 0, "duplicates": 2, "resources": ["web-1"]}
    run_rollups()
    rollup = db.scalars(select(MetricRollup).where(MetricRollup.resolution == "1h")).one()
    assert rollup.count == 2  # roll-ups not double counted


def test_tenants_see_only_their_resources(client: TestClient, db: Session, admin_headers: dict[str, str]) -> None:
    a, b = make_tenant(db), make_tenant(db)
    client.post("/api/metrics", json={"points": [_point("shared-name", 1, 10.0)]}, headers=a.headers)
    client.post("/api/metrics", json={"points": [_point("shared-name", 1, 99.0)]}, headers=b.headers)
    client.post("/api/metrics", json={"points": [_point("b-only", 1, 5.0)]}, headers=b.headers)
    res_a = client.get("/api/resources", headers=a.headers).json()
    assert [(r["resource_id"], r["latest"]["cpu"]["value"]) for r in res_a] == [("shared-name", 10.0)]
    assert client.get("/api/metrics?resource_id=b-only", headers=a.headers).status_code == 404
    res_b = client.get("/api/resources", headers=b.headers).json()
    assert {r["resource_id"]: r["over_threshold"] for r in res_b} == {"b-only": [], "shared-name": ["cpu"]}
    assert len(client.get("/api/resources", headers=admin_headers).json()) == 3


def test_metrics_ranges_pick_the_store(client: TestClient, db: Session) -> None:
    tenant = make_tenant(db)
    points = [_point("web-1", m, float(m % 50)) for m in range(0, 24 * 60, 5)]
    client.post("/api/metrics", json={"points": points}, headers=tenant.headers)
    one_hour = client.get("/api/metrics?resource_id=web-1&range=1h", headers=tenant.headers).json()
    assert one_hour["source"] == "raw"
    assert len(one_hour["metrics"]["cpu"]) == 13  # 11:00 .. 12:00 inclusive at 5-minute steps
    day = client.get("/api/metrics?resource_id=web-1&range=24h&max_points=24", headers=tenant.headers).json()
    assert day["source"] == "5m" and day["bucket_seconds"] == 3600
    assert len(day["metrics"]["cpu"]) <= 25
    assert all(p["min"] <= p["value"] <= p["max"] for p in day["metrics"]["cpu"])
    week = client.get("/api/metrics?resource_id=web-1&range=7d", headers=tenant.headers).json()
    assert week["source"] == "1h"
    custom = client.get(
        "/api/metrics",
        params={"resource_id": "web-1", "start": (NOW - timedelta(minutes=30)).isoformat(), "end": NOW.isoformat()},
        headers=tenant.headers,
    ).json()
    assert custom["source"] == "raw" and len(custom["metrics"]["cpu"]) == 7
    assert client.get("/api/metrics?range=2h", headers=tenant.headers).status_code == 422
    default = client.get("/api/metrics", headers=tenant.headers).json()
    assert default["resource_id"] == "web-1"


def test_forecast_endpoint_computes_both_methods(client: TestClient, db: Session) -> None:
    tenant = make_tenant(db)
    # memory rising 0.5 %/5 min to 85 % now: 90 % is 10 steps = 50 min away by the line
    points = [_point("db-1", 5 * k, 85.0 - 0.5 * k, "memory") for k in range(0, 24)]
    client.post("/api/metrics", json={"points": points}, headers=tenant.headers)
    r = client.get("/api/forecast?resource_id=db-1", headers=tenant.headers)
    assert r.status_code == 200, r.text
    by = {(f["metric"], f["method"]): f for f in r.json()["forecasts"]}
    assert set(by) == {("memory", "seasonal"), ("memory", "linear")}
    assert by[("memory", "linear")]["minutes_to_breach"] == pytest.approx(50.0)
    assert by[("memory", "seasonal")]["minutes_to_breach"] is not None
    assert by[("memory", "linear")]["points_used"] == 12


def test_stored_forecasts_are_served(client: TestClient, db: Session) -> None:
    tenant = make_tenant(db)
    client.post("/api/metrics", json={"points": [_point("db-1", 5 * k, 40.0) for k in range(12)]},
                headers=tenant.headers)  # fmt: skip
    resource = service.get_resource(db, _caller(tenant), "db-1")
    stored = service.compute_forecasts(db, resource)
    assert {(f.metric, f.method) for f in stored} == {("cpu", "seasonal"), ("cpu", "linear")}
    body = client.get("/api/forecast?resource_id=db-1", headers=tenant.headers).json()
    assert all(f["breach_at"] is None for f in body["forecasts"])
    assert all(datetime.fromisoformat(f["generated_at"].replace("Z", "+00:00")) == NOW for f in body["forecasts"])


def _caller(tenant: Tenant) -> Caller:
    return Caller(role="client", client_id=tenant.id, name="t", token_hash="x")


def test_config_reports_settings(client: TestClient, db: Session, settings_env) -> None:  # type: ignore[no-untyped-def]
    tenant = make_tenant(db)
    settings_env(THRESHOLD_CPU="85", ALERT_LOOKAHEAD_MIN="30")
    body = client.get("/api/config", headers=tenant.headers).json()
    assert body["thresholds"] == {"cpu": 85.0, "memory": 90.0}
    assert body["alert_lookahead_min"] == 30
    assert body["forecast_methods"] == {"default": "seasonal", "baseline": "linear"}


def test_retention_drops_old_rows(db: Session) -> None:
    tenant = make_tenant(db)
    old = NOW - timedelta(days=10)
    service.ingest(db, tenant.id, [{"resource_id": "r", "metric": "cpu", "ts": old, "value": 1.0},
                                   {"resource_id": "r", "metric": "cpu", "ts": NOW, "value": 2.0}])  # fmt: skip
    deleted = service.apply_retention(db, NOW)
    assert deleted["raw"] == 1  # raw kept 7 days by default
    assert deleted["5m"] == 0  # 5-minute roll-ups kept 35 days
    assert _count(db) == 1


def test_a_batch_that_is_not_standard_json_changes_nothing(client: TestClient, db: Session) -> None:
    tenant = make_tenant(db)
    body = b'{"points": [{"resource_id": "web-1", "metric": "cpu", "ts": "2026-03-10T11:00:00Z", "value": NaN}]}'
    r = client.post("/api/metrics", content=body, headers={**tenant.headers, "content-type": "application/json"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body"
    assert db.query(MetricPoint).count() == 0
