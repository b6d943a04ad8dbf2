"""Migrations: plan figures by hand, execute in the simulated cloud, AWS via the event, idempotency."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy.orm import Session

from spectra.carbon.actions import service as actions
from spectra.carbon.migrations import service
from spectra.carbon.migrations.schemas import MigrationIn
from spectra.carbon.optimizer.dependencies import get_inputs
from spectra.carbon.optimizer.inputs import InstanceInfo
from spectra.core.auth import Caller
from spectra.core.clock import clock
from spectra.core.errors import Conflict, NotFound, Unprocessable
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


def _instance(fake: FakeInputs, client_id: str, cloud: str = "simulated", iid: str = "i-1") -> InstanceInfo:
    return fake.add_instance(
        InstanceInfo(iid, client_id, None, "aws", "eu-central-1", "m5.xlarge", "running", cloud, provider_id="i-0abc")
    )


def _caller(client_id: str) -> Caller:
    return Caller("client", client_id, "t", "h")


def test_plan_and_execute_in_the_simulated_cloud(db: Session, fake: FakeInputs) -> None:
    tenant = make_tenant(db)
    _instance(fake, tenant.id)
    migration, created = service.execute(
        db, fake, MigrationIn(instance_id="i-1", to_region="eu-north-1", request_id="r1"), _caller(tenant.id)
    )
    assert created and migration.status == "completed"
    assert fake.moves == [("i-1", "eu-north-1")]
    # 50% CPU assumed (no metrics): 14.752 W; 730 h × 1.135 PUE × (20 − 400) g/kWh.
    watts = power_w(BASE_TYPES[1], 0.5)
    expected_co2e = watts / 1000 * 1.135 * (20 - 400) / 1000 * 730
    assert migration.co2e_change_kg_per_month == pytest.approx(expected_co2e, abs=1e-3)
    assert migration.cost_change_usd_per_month == pytest.approx(0.192 * (1.05 - 1.2) * 730, abs=1e-3)
    assert migration.plan["utilisation_basis"].startswith("no measured CPU")
    assert migration.started_at is not None and migration.finished_at is not None

    # The realised savings credit the migration from now on.
    recorded = actions.list_actions(db, tenant.id, kind="migration")
    assert len(recorded) == 1 and recorded[0].co2e_kg_per_hour == pytest.approx(-expected_co2e / 730, rel=1e-3)

    # Same request id: the first migration, nothing moves twice.
    again, created_again = service.execute(
        db, fake, MigrationIn(instance_id="i-1", to_region="eu-north-1", request_id="r1"), _caller(tenant.id)
    )
    assert not created_again and again.id == migration.id and len(fake.moves) == 1
    topics = [e.topic for e in db.query(EventLog).order_by(EventLog.id)]
    assert topics.count("carbon.migration.completed") == 1


def test_dry_run_then_execute_the_plan(db: Session, fake: FakeInputs) -> None:
    tenant = make_tenant(db)
    _instance(fake, tenant.id)
    planned, _ = service.execute(
        db,
        fake,
        MigrationIn(instance_id="i-1", to_region="eu-west-1", request_id="p", dry_run=True),
        _caller(tenant.id),
    )
    assert planned.status == "planned" and fake.moves == []
    done, created = service.execute(db, fake, MigrationIn(instance_id="i-1", request_id="p"), _caller(tenant.id))
    assert not created and done.id == planned.id and done.status == "completed"
    assert fake.moves == [("i-1", "eu-west-1")]


def test_aws_goes_to_the_spot_agent_via_an_event(db: Session, fake: FakeInputs) -> None:
    tenant = make_tenant(db)
    _instance(fake, tenant.id, cloud="aws")
    migration, _ = service.execute(
        db, fake, MigrationIn(instance_id="i-1", to_region="eu-north-1", request_id="aws-1"), _caller(tenant.id)
    )
    assert migration.status == "executing" and fake.moves == []
    event = db.query(EventLog).filter(EventLog.topic == "carbon.migration.requested").one()
    assert event.client_id == tenant.id
    assert event.payload["provider_id"] == "i-0abc" and event.payload["to_region"] == "eu-north-1"
    # A second migration while this one is in flight is refused.
    with pytest.raises(Conflict):
        service.execute(db, fake, MigrationIn(instance_id="i-1", to_region="eu-west-1"), _caller(tenant.id))
    service.report_result(db, migration.id, succeeded=True)
    assert migration.status == "completed"
    assert service.report_result(db, migration.id, succeeded=True).status == "completed"  # repeat: no-op
    with pytest.raises(Conflict):
        service.report_result(db, migration.id, succeeded=False)


def test_unknown_cloud_fails_cleanly(db: Session, fake: FakeInputs) -> None:
    tenant = make_tenant(db)
    _instance(fake, tenant.id, cloud="azure")
    migration, _ = service.execute(db, fake, MigrationIn(instance_id="i-1", to_region="eu-north-1"), _caller(tenant.id))
    assert migration.status == "failed" and "no executor" in (migration.error or "")


def test_target_chosen_by_the_optimiser(db: Session, fake: FakeInputs) -> None:
    tenant = make_tenant(db)
    _instance(fake, tenant.id)
    migration, _ = service.execute(db, fake, MigrationIn(instance_id="i-1"), _caller(tenant.id))
    assert migration.to_region == "eu-north-1"
    assert migration.plan["chosen_by_optimizer"]["best"] == "eu-north-1"


def test_refusals(db: Session, fake: FakeInputs) -> None:
    tenant, other = make_tenant(db), make_tenant(db)
    _instance(fake, tenant.id)
    with pytest.raises(NotFound):
        service.execute(db, fake, MigrationIn(instance_id="i-1", to_region="eu-north-1"), _caller(other.id))
    with pytest.raises(Unprocessable):
        service.execute(db, fake, MigrationIn(instance_id="i-1", to_region="eu-central-1"), _caller(tenant.id))
    with pytest.raises(Unprocessable):
        service.execute(db, fake, MigrationIn(instance_id="i-1", to_region="mars-1"), _caller(tenant.id))
    service.execute(
        db, fake, MigrationIn(instance_id="i-1", to_region="eu-north-1", request_id="x"), _caller(tenant.id)
    )
    with pytest.raises(Conflict):
        service.execute(
            db, fake, MigrationIn(instance_id="i-1", to_region="eu-west-1", request_id="x"), _caller(tenant.id)
        )


def test_routes(client, db: Session, fake: FakeInputs) -> None:
    tenant, other = make_tenant(db), make_tenant(db)
    _instance(fake, tenant.id)
    db.commit()
    body = {"instance_id": "i-1", "to_region": "eu-north-1"}
    first = client.post("/api/migrations/execute", json=body, headers={**tenant.headers, "X-Request-ID": "abc"})
    assert first.status_code == 201, first.text
    assert first.json()["status"] == "completed" and first.json()["request_id"] == "abc"
    replay = client.post("/api/migrations/execute", json=body, headers={**tenant.headers, "X-Request-ID": "abc"})
    assert replay.status_code in (200, 201) and replay.json()["id"] == first.json()["id"]
    assert len(fake.moves) == 1
    history = client.get("/api/migrations/history", headers=tenant.headers).json()
    assert history["total"] == 1 and history["items"][0]["id"] == first.json()["id"]
    assert client.get("/api/migrations/history", headers=other.headers).json()["total"] == 0
    mid = first.json()["id"]
    assert client.get(f"/api/migrations/{mid}", headers=tenant.headers).status_code == 200
    assert client.get(f"/api/migrations/{mid}", headers=other.headers).status_code == 404
    assert client.post("/api/migrations/execute", json={}, headers=tenant.headers).status_code == 422
    assert client.post("/api/migrations/execute", json=body, headers=other.headers).status_code == 404
    assert client.get("/api/migrations/history?status=bogus", headers=tenant.headers).status_code == 422


def test_a_migration_nobody_executes_fails_after_the_timeout(db: Session, fake: FakeInputs) -> None:
    from datetime import timedelta

    tenant = make_tenant(db)
    _instance(fake, tenant.id, cloud="aws")
    migration, _ = service.execute(db, fake, MigrationIn(instance_id="i-1", to_region="eu-north-1"), _caller(tenant.id))
    assert service.fail_stalled(db, NOW + timedelta(hours=5)) == 0 and migration.status == "executing"
    assert service.fail_stalled(db, NOW + timedelta(hours=7)) == 1
    assert migration.status == "failed" and "within 6 h" in (migration.error or "")
