"""Training datasets exported from the canonical layer (labels worked out by hand), a model trained on one and
uploaded back, and the performance of logged decisions against the prices that followed."""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import math
import uuid
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
import skops.io as sio
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from spectra.core.clock import clock
from spectra.spot.decisions.models import MLDecision
from spectra.spot.decisions.registry import RISK_FEATURES
from spectra.spot.pricing import service as pricing
from spectra.spot.pricing.formats import parse_price_history, parse_spot_advisor
from spectra.spot.training import service
from tests.factories import make_tenant
from tests.spot.spot_factories import register_agent

T0 = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)
NOW = T0 + timedelta(hours=10)
CSV = (
    "Timestamp,InstanceType,ProductDescription,SpotPrice,AvailabilityZone\n"
    f"{T0:%Y-%m-%d %H:%M:%S}+00:00,m5.large,Linux/UNIX,0.040,us-east-1a\n"
    f"{T0 + timedelta(hours=2):%Y-%m-%d %H:%M:%S}+00:00,m5.large,Linux/UNIX,0.050,us-east-1a\n"
    f"{T0 + timedelta(hours=4):%Y-%m-%d %H:%M:%S}+00:00,m5.large,Linux/UNIX,0.080,us-east-1a\n"
    f"{T0:%Y-%m-%d %H:%M:%S}+00:00,m5.large,Linux/UNIX,0.030,us-east-1b\n"
    f"{NOW - timedelta(minutes=5):%Y-%m-%d %H:%M:%S}+00:00,m5.large,Linux/UNIX,0.030,us-east-1b\n"
    f"{NOW - timedelta(minutes=5):%Y-%m-%d %H:%M:%S}+00:00,m5.large,Linux/UNIX,0.080,us-east-1a\n"
)
ADVISOR = {
    "ranges": [{"index": 0, "label": "<5%"}, {"index": 2, "label": "10-15%"}],
    "spot_advisor": {"us-east-1": {"Linux": {"m5.large": {"r": 2, "s": 55}}}},
}


@pytest.fixture()
def market(client: TestClient, db: Session) -> dict[str, str]:
    """Two pools with known prices, consolidated; the agent's PRIMARY in us-east-1a gets a termination notice
    at T0 + 3 h. Returns the pool ids by zone and the tenant's headers."""
    clock.set_override(NOW)
    pricing.import_spot_advisor(db, parse_spot_advisor(json.dumps(ADVISOR)), NOW)
    pricing.import_on_demand(db, {("m5.large", "Linux"): 0.096}, "us-east-1", NOW)
    pricing.import_price_history(db, parse_price_history(CSV), NOW)
    assert pricing.run_consolidation(db, NOW).status == "succeeded"
    tenant = make_tenant(db)
    agent = register_agent(client, tenant.headers, zone="us-east-1a")
    notice = client.post(
        f"/api/agents/{agent['agent_id']}/termination-notice",
        json={"notice_time": (T0 + timedelta(hours=3)).isoformat()},
        headers=tenant.headers,
    )
    assert notice.status_code == 200, notice.text
    from spectra.spot.models import Pool

    pools = {p.availability_zone: p.id for p in db.query(Pool).all()}
    return {"a": pools["us-east-1a"], "b": pools["us-east-1b"], "token": tenant.headers["Authorization"]}


def _download(client: TestClient, admin_headers: dict[str, str], dataset_id: str) -> list[dict[str, str]]:
    response = client.get(f"/api/admin/ml-training-datasets/{dataset_id}/download", headers=admin_headers)
    assert response.status_code == 200 and response.headers["content-type"] == "application/gzip"
    assert hashlib.sha256(response.content).hexdigest() == response.headers["x-content-sha256"]
    return list(csv.DictReader(io.StringIO(gzip.decompress(response.content).decode())))


def test_export_carries_features_and_hand_worked_labels(
    client: TestClient, db: Session, admin_headers: dict[str, str], market: dict[str, str]
) -> None:
    body = {"name": "risk", "start": T0.isoformat(), "end": NOW.isoformat(), "label_horizon_hours": 1}
    created = client.post("/api/admin/ml-training-datasets", json=body, headers=admin_headers)
    assert created.status_code == 201, created.text
    dataset = created.json()
    assert dataset["dataset_version"] == 1 and dataset["pool_count"] == 2
    assert [c["name"] for c in dataset["columns"] if c["role"] == "risk_feature"] == list(RISK_FEATURES)
    rows = _download(client, admin_headers, dataset["id"])
    assert len(rows) == dataset["row_count"] and list(rows[0]) == [c["name"] for c in dataset["columns"]]
    by = {(r["pool_id"], r["bucket_start"]): r for r in rows}

    def row(pool: str, offset: timedelta) -> dict[str, str]:
        return by[(market[pool], (T0 + offset).isoformat())]

    # The notice came at T0 + 3 h in pool a: buckets in the hour before it are positive, others not.
    assert row("a", timedelta(hours=2, minutes=30))["interrupted_within_h"] == "1"
    assert row("a", timedelta(hours=1))["interrupted_within_h"] == "0"
    assert row("b", timedelta(hours=2, minutes=30))["interrupted_within_h"] == "0"
    assert row("a", timedelta(hours=4))["interruptions_past_30d"] == "1"
    assert row("a", timedelta(hours=2))["interruptions_past_30d"] == "0"
    # At T0 + 1 h the next hour's buckets are 11 × 0.04 and (from T0 + 2 h) 1 × 0.05.
    change = float(row("a", timedelta(hours=1))["price_change_within_h"])
    assert change == pytest.approx((11 * 0.04 + 0.05) / 12 / 0.04 - 1)
    assert float(row("b", timedelta(hours=1))["price_change_within_h"]) == pytest.approx(0.0)
    # The last hour's future has not happened at NOW: its labels are unknown, not 0.
    late = row("a", timedelta(hours=9, minutes=30))
    assert late["interrupted_within_h"] == "" and late["price_change_within_h"] == ""
    assert float(row("a", timedelta(hours=1))["price"]) == pytest.approx(0.04)
    assert float(row("a", timedelta(hours=1))["on_demand_ratio"]) == pytest.approx(0.04 / 0.096, rel=1e-6)
    assert dataset["positive_labels"] == sum(r["interrupted_within_h"] == "1" for r in rows) > 0

    again = client.post("/api/admin/ml-training-datasets", json=body, headers=admin_headers).json()
    assert again["dataset_version"] == 2 and again["sha256"] == dataset["sha256"]  # same rows, same bytes
    listed = client.get("/api/admin/ml-training-datasets?name=risk", headers=admin_headers).json()
    assert [d["dataset_version"] for d in listed] == [2, 1]
    assert listed[0]["download_url"].endswith(f"/{again['id']}/download")


def test_bad_requests_are_refused_and_change_nothing(
    client: TestClient, admin_headers: dict[str, str], market: dict[str, str]
) -> None:
    url = "/api/admin/ml-training-datasets"
    backwards = client.post(url, json={"name": "x", "start": NOW.isoformat(), "end": T0.isoformat()},
                            headers=admin_headers)  # fmt: skip
    assert backwards.status_code == 422 and backwards.json()["errors"][0]["field"] == "end"
    empty = client.post(url, json={"name": "x", "start": "2020-01-01T00:00:00Z", "end": "2020-01-02T00:00:00Z"},
                        headers=admin_headers)  # fmt: skip
    assert empty.status_code == 422 and "consolidation" in empty.json()["detail"]
    bad_name = client.post(url, json={"name": "../x", "start": T0.isoformat(), "end": NOW.isoformat()},
                           headers=admin_headers)  # fmt: skip
    assert bad_name.status_code == 422
    client_token = {"Authorization": market["token"]}
    assert client.get(url, headers=client_token).status_code == 403
    assert client.get(url, headers=admin_headers).json() == []
    assert client.get(f"{url}/{uuid.uuid4().hex}/download", headers=admin_headers).status_code == 404


def test_a_model_trained_on_an_export_is_accepted_back_and_used(
    client: TestClient, admin_headers: dict[str, str], market: dict[str, str]
) -> None:
    from sklearn.linear_model import LogisticRegression

    body = {"name": "risk", "start": T0.isoformat(), "end": NOW.isoformat(), "label_horizon_hours": 1}
    dataset = client.post("/api/admin/ml-training-datasets", json=body, headers=admin_headers).json()
    rows = [r for r in _download(client, admin_headers, dataset["id"]) if r["interrupted_within_h"] != ""]
    features = np.array([[float(r[f] or 0) for f in RISK_FEATURES] for r in rows])
    labels = np.array([int(r["interrupted_within_h"]) for r in rows])
    assert 0 < labels.sum() < len(labels)
    model = LogisticRegression(max_iter=1000).fit(features, labels)
    upload = client.post(
        "/api/admin/ml-models/upload",
        files={"file": ("risk.skops", io.BytesIO(sio.dumps(model)), "application/octet-stream")},
        data={"name": "trained-on-export", "version": f"dataset-{dataset['sha256'][:12]}", "framework": "skops"},
        headers=admin_headers,
    )
    assert upload.status_code == 201, upload.text
    activated = client.post("/api/admin/ml-models/activate", json={"model_id": upload.json()["id"]},
                            headers=admin_headers)  # fmt: skip
    assert activated.status_code == 200 and activated.json()["status"] == "active"


def _decision(db: Session, client_id: str, at: datetime, action: str, current: str, target: str | None,
              quotes: dict[str, float]) -> MLDecision:  # fmt: skip
    candidates = [{"pool_id": p, "price": q, "interruption_probability": 0.125} for p, q in quotes.items()]
    row = MLDecision(
        id=uuid.uuid4().hex, client_id=client_id, agent_id=None, instance_id=None, model_id=None, engine="test",
        action=action, target_pool_id=target, expected_cost_per_hour=0.0, risk=0.0, reason="test",
        inputs={"on_demand_price": 0.096, "instance": {"pool_id": current}, "candidates": candidates},
        latency_ms=0.1, decided_at=at,
    )  # fmt: skip
    db.add(row)
    db.flush()
    return row


def test_performance_of_decisions_against_the_prices_that_followed(
    client: TestClient, db: Session, admin_headers: dict[str, str], market: dict[str, str]
) -> None:
    a, b = market["a"], market["b"]
    tenant = make_tenant(db)
    # 1: at T0 + 1 h, move a → b. Over the next 2 h: a costs 0.04 then 0.05 (mean 0.045), b 0.03.
    _decision(db, tenant.id, T0 + timedelta(hours=1), "switch", a, b, {a: 0.04, b: 0.03})
    # 2: at T0 + 3 h, stay in a. Over the next 2 h: a 0.05 then 0.08 (mean 0.065), b 0.03 would have been best.
    _decision(db, tenant.id, T0 + timedelta(hours=3), "stay", a, None, {a: 0.05, b: 0.03})
    # 3: too recent for a 2 h horizon.
    _decision(db, tenant.id, NOW - timedelta(hours=1), "stay", a, None, {a: 0.08, b: 0.03})
    result = client.get(
        "/api/admin/ml-models/performance",
        params={"engine": "test", "start": T0.isoformat(), "end": NOW.isoformat(), "horizon_hours": 2},
        headers=admin_headers,
    ).json()
    assert (result["decisions_logged"], result["decisions_waiting"], result["decisions_evaluated"]) == (3, 1, 2)
    assert result["actions"] == {"switch": 1, "stay": 1}
    assert result["realised_saving_usd_per_hour"] == pytest.approx((0.015 + 0.0) / 2)
    assert result["share_no_worse_than_staying"] == 1.0 and result["share_of_moves_that_paid"] == 1.0
    assert result["regret_usd_per_hour"] == pytest.approx((0.0 + 0.035) / 2)
    assert result["price_at_decision_mae_usd"] == pytest.approx((0.0 + 0.015) / 2)
    p = 1 - (1 - 0.125) ** (2 / 730)
    # Decision 1 chose b (no notice there); decision 2 stayed in a, where the notice came at T0 + 3 h.
    assert result["interruption_brier"] == pytest.approx((p**2 + (p - 1) ** 2) / 2)
    assert "time-weighted" in result["method"]
    assert client.get("/api/admin/ml-models/performance", headers={"Authorization": market["token"]}).status_code == 403


def test_step_mean_holds_each_price_until_the_next() -> None:
    series = [(T0, 1.0), (T0 + timedelta(hours=1), 3.0)]
    assert service.step_mean(series, T0 - timedelta(hours=1), T0) is None  # nothing known before the first point
    assert service.step_mean(series, T0 + timedelta(minutes=30), T0 + timedelta(hours=2)) == pytest.approx(
        (0.5 * 1 + 1 * 3) / 1.5
    )
    assert math.isclose(service.step_mean(series, T0 + timedelta(hours=5), T0 + timedelta(hours=6)) or 0, 3.0)
