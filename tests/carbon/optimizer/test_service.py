"""Region optimiser service and routes, on hand-made regions, intensities and prices."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy.orm import Session

from spectra.carbon.optimizer import service
from spectra.carbon.optimizer.dependencies import get_inputs
from spectra.carbon.optimizer.inputs import InstanceInfo
from spectra.carbon.optimizer.latency import great_circle_km
from spectra.carbon.optimizer.schemas import WeightsIn, WorkloadIn
from spectra.core.auth import Caller
from spectra.core.clock import clock
from tests.carbon.optimisation_fakes import BASE_TYPES as TYPES
from tests.carbon.optimisation_fakes import FakeInputs, power_w
from tests.factories import make_tenant

NOW = datetime(2026, 3, 2, 8, tzinfo=UTC)


@pytest.fixture()
def fake(app) -> Iterator[FakeInputs]:
    inputs = FakeInputs()
    app.dependency_overrides[get_inputs] = lambda: inputs
    clock.set_override(NOW)
    try:
        yield inputs
    finally:
        app.dependency_overrides.pop(get_inputs, None)


def _caller(client_id: str) -> Caller:
    return Caller("client", client_id, "t", "h")


def test_carbon_only_ranking_by_hand(db: Session, fake: FakeInputs) -> None:
    tenant = make_tenant(db)
    workload = WorkloadIn(
        instance_type="m5.xlarge", users_region="eu-west-1", current_region="eu-central-1", hours=10,
        weights=WeightsIn(carbon=1, latency=0, cost=0),
    )  # fmt: skip
    result = service.rank(db, fake, workload, _caller(tenant.id))
    watts = power_w(TYPES[1], 0.5)  # 4 × (0.74 + 0.5 × 2.76) + 0.392 × 16 = 14.752 W
    assert watts == pytest.approx(14.752)
    assert result["window"]["it_energy_kwh"] == pytest.approx(0.14752)
    assert [r["code"] for r in result["regions"]] == ["eu-north-1", "eu-west-1", "us-east-1", "eu-central-1"]
    best = result["regions"][0]
    assert best["co2e_kg"] == pytest.approx(0.14752 * 1.135 * 20 / 1000, abs=1e-6)
    assert best["co2e_change_kg"] == pytest.approx(0.14752 * 1.135 * (20 - 400) / 1000, abs=1e-6)
    assert best["cost_usd"] == pytest.approx(0.192 * 1.05 * 10, abs=1e-4)
    assert best["latency_source"] == "modelled"
    excluded = {e["code"]: e["reasons"] for e in result["excluded"]}
    assert "not offered" in excluded["europe-west9"][0]
    assert result["best"] == "eu-north-1"


def test_latency_limit_and_residency(db: Session, fake: FakeInputs) -> None:
    tenant = make_tenant(db)
    distance = great_circle_km(53.35, -6.26, 59.33, 18.07)  # Dublin → Stockholm
    stockholm_ms = 1 + 2 * distance * 1.4 / 200
    workload = WorkloadIn(
        power_kw=0.2, users_region="eu-west-1", hours=24, max_latency_ms=stockholm_ms - 1,
        countries=["IE", "DE", "SE", "FR"], weights=WeightsIn(carbon=1, latency=0, cost=0),
    )  # fmt: skip
    result = service.rank(db, fake, workload, _caller(tenant.id))
    codes = [r["code"] for r in result["regions"]]
    assert "eu-north-1" not in codes and "us-east-1" not in codes
    # No type → no prices: GCP Paris is admissible and is the cleanest within the limit.
    assert codes[0] == "europe-west9"
    reasons = {e["code"]: " ".join(e["reasons"]) for e in result["excluded"]}
    assert "exceeds the limit" in reasons["eu-north-1"]
    assert "data-residency" in reasons["us-east-1"]
    assert result["window"]["it_energy_kwh"] == pytest.approx(4.8)


def test_stored_radar_latency_beats_the_model(db: Session, fake: FakeInputs) -> None:
    tenant = make_tenant(db)
    fake.token = None
    service.fetch_latencies(db, fake)
    from spectra.carbon.optimizer.models import LatencyMetric

    db.add(
        LatencyMetric(
            from_region="eu-west-1", to_region="eu-north-1", rtt_ms=33.0, source="cloudflare_radar",
            measured_at=NOW, details={"access_p50_ms": 10},
        )
    )  # fmt: skip
    db.flush()
    result = service.rank(db, fake, WorkloadIn(power_kw=1, users_region="eu-west-1"), _caller(tenant.id))
    north = next(r for r in result["regions"] if r["code"] == "eu-north-1")
    assert north["latency_ms"] == 33.0 and north["latency_source"] == "cloudflare_radar"


def test_workload_from_an_instance_is_tenant_scoped(db: Session, fake: FakeInputs) -> None:
    tenant, other = make_tenant(db), make_tenant(db)
    fake.add_instance(InstanceInfo("i-1", tenant.id, None, "aws", "eu-central-1", "m5.large", "running", "simulated"))
    result = service.rank(db, fake, WorkloadIn(instance_id="i-1"), _caller(tenant.id))
    assert result["current_region"] == "eu-central-1" and result["users_region"] == "eu-central-1"
    assert next(r for r in result["regions"] if r["is_current"])["code"] == "eu-central-1"
    from spectra.core.errors import NotFound

    with pytest.raises(NotFound):
        service.rank(db, fake, WorkloadIn(instance_id="i-1"), _caller(other.id))


def test_routes(client, db: Session, fake: FakeInputs, admin_headers) -> None:
    tenant = make_tenant(db)
    fake.add_instance(InstanceInfo("i-1", tenant.id, None, "aws", "eu-central-1", "m5.large", "running", "simulated"))
    db.commit()
    got = client.get(
        "/api/optimizer/regions",
        params={"workload": "i-1", "providers": "aws", "countries": "SE,DE", "w_latency": 0, "w_cost": 0},
        headers=tenant.headers,
    )
    assert got.status_code == 200, got.text
    assert [r["code"] for r in got.json()["regions"]] == ["eu-north-1", "eu-central-1"]
    posted = client.post(
        "/api/optimizer/regions",
        json={"instance_type": "m5.large", "users_region": "us-east-1"},
        headers=tenant.headers,
    )
    assert posted.status_code == 200 and posted.json()["users_region"] == "us-east-1"
    assert all(len(r["explanation"]) == 4 for r in posted.json()["regions"])

    bad = client.post("/api/optimizer/regions", json={"users_region": "eu-west-1"}, headers=tenant.headers)
    assert bad.status_code == 422
    assert client.get("/api/optimizer/regions", headers=tenant.headers).status_code == 422
    unknown = client.post(
        "/api/optimizer/regions", json={"power_kw": 1, "users_region": "mars-1"}, headers=tenant.headers
    )
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "users_region"
    weights = client.post(
        "/api/optimizer/regions", json={"power_kw": 1, "weights": {"carbon": 0, "latency": 0, "cost": 0}},
        headers=tenant.headers,
    )  # fmt: skip
    assert weights.status_code == 422

    # Latency fetch is admin only; without a token it stores the model for every pair.
    assert client.post("/api/admin/latency/fetch", headers=tenant.headers).status_code == 403
    fetched = client.post("/api/admin/latency/fetch", headers=admin_headers)
    assert fetched.status_code == 200 and fetched.json()["source"] == "modelled" and fetched.json()["pairs"] == 25
    rows = client.get("/api/optimizer/latency", params={"from": "eu-west-1"}, headers=tenant.headers).json()
    assert len(rows) == 5 and {r["source"] for r in rows} == {"modelled"}
    self_row = next(r for r in rows if r["to_region"] == "eu-west-1")
    assert self_row["rtt_ms"] == 1.0
