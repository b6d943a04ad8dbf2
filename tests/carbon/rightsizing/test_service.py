"""Rightsizing service and routes: evaluation from measured p95, accept applies and records, isolation."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy.orm import Session

from spectra.carbon.actions import service as actions
from spectra.carbon.optimizer.dependencies import get_inputs
from spectra.carbon.optimizer.inputs import InstanceInfo
from spectra.carbon.rightsizing import service
from spectra.carbon.rightsizing.engine import Utilisation
from spectra.core.clock import clock
from spectra.core.errors import Conflict
from spectra.core.models import EventLog
from tests.carbon.optimisation_fakes import BASE_TYPES, FakeInputs, power_w
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


def _idle_box(fake: FakeInputs, client_id: str, iid: str = "i-1", cloud: str = "simulated") -> InstanceInfo:
    fake.usage[iid] = Utilisation(cpu_p95=20.0, memory_p95=25.0, cpu_mean=10.0, samples=2016, window_hours=168)
    return fake.add_instance(
        InstanceInfo(iid, client_id, None, "aws", "us-east-1", "m5.2xlarge", "running", cloud, provider_id="i-0f")
    )


def test_evaluate_by_hand(db: Session, fake: FakeInputs) -> None:
    tenant = make_tenant(db)
    instance = _idle_box(fake, tenant.id)
    rec = service.evaluate(db, fake, instance)
    assert (rec.action, rec.recommended_type, rec.status) == ("downsize", "m5.xlarge", "open")
    assert rec.monthly_cost_savings_usd == pytest.approx((0.384 - 0.192) * 730, abs=0.01)
    # us-east-1: 380 g/kWh, PUE 1.135; CPU work kept: 10% of 8 vCPU = 20% of 4.
    delta_w = power_w(BASE_TYPES[2], 0.10) - power_w(BASE_TYPES[1], 0.20)
    assert rec.monthly_co2e_savings_kg == pytest.approx(delta_w / 1000 * 730 * 1.135 * 380 / 1000, abs=1e-3)
    assert rec.details["samples"] == 2016
    # Re-evaluating supersedes the open one.
    again = service.evaluate(db, fake, instance)
    assert rec.status == "superseded" and again.status == "open"


def test_accept_applies_in_the_simulated_cloud_and_records_savings(db: Session, fake: FakeInputs) -> None:
    tenant = make_tenant(db)
    rec = service.evaluate(db, fake, _idle_box(fake, tenant.id))
    result = service.accept(db, fake, rec)
    assert result["applied"] and fake.resizes == [("i-1", "m5.xlarge")]
    assert rec.status == "accepted" and rec.action_id == result["action_id"]
    recorded = actions.list_actions(db, tenant.id, kind="rightsizing")
    assert recorded[0].status == "applied"
    assert recorded[0].cost_usd_per_hour == pytest.approx(0.192)
    # Accepting again applies nothing more.
    assert not service.accept(db, fake, rec)["applied"] and len(fake.resizes) == 1


def test_accept_on_aws_asks_the_agent(db: Session, fake: FakeInputs) -> None:
    tenant = make_tenant(db)
    rec = service.evaluate(db, fake, _idle_box(fake, tenant.id, cloud="aws"))
    result = service.accept(db, fake, rec)
    assert not result["applied"] and fake.resizes == []
    event = db.query(EventLog).filter(EventLog.topic == "carbon.rightsizing.requested").one()
    assert event.payload["to_type"] == "m5.xlarge" and event.payload["provider_id"] == "i-0f"
    assert actions.list_actions(db, tenant.id)[0].status == "recommended"  # no credit until it is done


def test_outdated_or_keep_cannot_be_accepted(db: Session, fake: FakeInputs) -> None:
    tenant = make_tenant(db)
    instance = _idle_box(fake, tenant.id)
    rec = service.evaluate(db, fake, instance)
    fake.resize_instance(db, "i-1", "m5.large")
    with pytest.raises(Conflict):
        service.accept(db, fake, rec)
    fake.usage["i-1"] = Utilisation(cpu_p95=60, memory_p95=60, cpu_mean=40, samples=100, window_hours=168)
    keep = service.evaluate(db, fake, fake.instances_by_id["i-1"])
    assert keep.action == "keep"
    with pytest.raises(Conflict):
        service.accept(db, fake, keep)


def test_refresh_all(db: Session, fake: FakeInputs) -> None:
    tenant = make_tenant(db)
    _idle_box(fake, tenant.id, "i-1")
    _idle_box(fake, tenant.id, "i-2")
    fake.usage["i-2"] = Utilisation(cpu_p95=5, memory_p95=5, samples=2, window_hours=168)
    fake.add_instance(InstanceInfo("i-3", tenant.id, None, "aws", "us-east-1", "m5.large", "stopped", "simulated"))
    assert service.refresh_all(db, fake) == {"evaluated": 2, "actionable": 1, "skipped": 0}


def test_recommendations_path_is_not_shadowed_by_instance_detail(app) -> None:
    """`GET /api/instances/recommendations` must be routed before the fleet's `GET /api/instances/{id}`."""

    def flatten(routes: list) -> list:
        out: list = []
        for route in routes:
            out.extend(flatten(route.original_router.routes) if hasattr(route, "original_router") else [route])
        return out

    paths = [getattr(r, "path", "") for r in flatten(app.router.routes) if "GET" in (getattr(r, "methods", None) or ())]
    mine, detail = "/api/instances/recommendations", "/api/instances/{instance_id}"
    if detail in paths:
        assert paths.index(mine) < paths.index(detail), "register carbon's rightsizing router before fleet's instances"


def test_routes(client, db: Session, fake: FakeInputs) -> None:
    tenant, other = make_tenant(db), make_tenant(db)
    _idle_box(fake, tenant.id)
    db.commit()
    h = tenant.headers
    evaluated = client.post("/api/instances/i-1/optimize", json={}, headers=h)
    assert evaluated.status_code == 200, evaluated.text
    rec = evaluated.json()["recommendation"]
    assert rec["action"] == "downsize" and not evaluated.json()["applied"]
    page = client.get("/api/instances/recommendations", headers=h).json()
    assert page["total"] == 1 and page["monthly_cost_savings_usd"] == pytest.approx(140.16, abs=0.01)
    assert client.get("/api/instances/recommendations", headers=other.headers).json()["total"] == 0
    assert client.post("/api/instances/i-1/optimize", json={}, headers=other.headers).status_code == 404
    assert client.post(f"/api/instances/recommendations/{rec['id']}/accept", headers=other.headers).status_code == 404
    accepted = client.post(f"/api/instances/recommendations/{rec['id']}/accept", headers=h)
    assert accepted.status_code == 200 and accepted.json()["applied"]
    assert client.get("/api/instances/recommendations?status=accepted", headers=h).json()["total"] == 1
    # Optimise-and-accept in one call on a fresh instance.
    _idle_box(fake, tenant.id, "i-9")
    both = client.post("/api/instances/i-9/optimize", json={"accept": True}, headers=h).json()
    assert both["applied"] and both["recommendation"]["status"] == "accepted"
    assert client.post("/api/instances/i-9/optimize", json={"window_hours": 0}, headers=h).status_code == 422
