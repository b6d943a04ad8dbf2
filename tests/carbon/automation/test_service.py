"""Automation: policy CRUD, guard-rails, and automatic actions through the manual services."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from spectra.carbon.actions import service as actions
from spectra.carbon.anomalies import service as anomalies
from spectra.carbon.automation import service
from spectra.carbon.automation.schemas import PolicyUpdate
from spectra.carbon.optimizer.dependencies import get_inputs
from spectra.carbon.optimizer.inputs import InstanceInfo
from spectra.carbon.rightsizing import service as rightsizing
from spectra.carbon.rightsizing.engine import Utilisation
from spectra.core.clock import clock
from spectra.core.errors import StaleVersion, Unprocessable
from spectra.core.models import AuditLog
from tests.carbon.optimisation_fakes import FakeInputs
from tests.factories import make_tenant

NOW = datetime(2026, 3, 7, 3, tzinfo=UTC)  # a Saturday, 03:00 UTC


@pytest.fixture()
def fake(app) -> Iterator[FakeInputs]:
    inputs = FakeInputs()
    app.dependency_overrides[get_inputs] = lambda: inputs
    clock.set_override(NOW)
    try:
        yield inputs
    finally:
        app.dependency_overrides.pop(get_inputs, None)


def _oversized(fake: FakeInputs, client_id: str, iid: str, flexible: bool = False, region: str = "us-east-1") -> None:
    fake.usage[iid] = Utilisation(cpu_p95=20.0, memory_p95=25.0, cpu_mean=10.0, samples=2016, window_hours=168)
    fake.add_instance(InstanceInfo(iid, client_id, None, "aws", region, "m5.2xlarge", "running", "simulated",
                                   flexible=flexible))  # fmt: skip


def _policy(db: Session, client_id: str, **kw) -> None:
    service.put_policy(db, client_id, PolicyUpdate(**kw))


def test_policy_defaults_and_versioning(db: Session) -> None:
    tenant = make_tenant(db)
    default = service.get_policy(db, tenant.id)
    assert (default.mode, default.auto_rightsize, default.version) == ("recommend", False, 0)
    saved = service.put_policy(db, tenant.id, PolicyUpdate(mode="apply", auto_rightsize=True))
    assert saved.version == 1
    with pytest.raises(Unprocessable):
        service.put_policy(db, tenant.id, PolicyUpdate(mode="off"))
    with pytest.raises(StaleVersion):
        service.put_policy(db, tenant.id, PolicyUpdate(mode="off", version=7))
    assert service.put_policy(db, tenant.id, PolicyUpdate(mode="off", version=1)).mode == "off"


def test_auto_rightsize_goes_through_the_manual_path_within_the_budget(db: Session, fake: FakeInputs) -> None:
    tenant = make_tenant(db)
    for iid in ("i-1", "i-2", "i-3"):
        _oversized(fake, tenant.id, iid)
    rightsizing.refresh_all(db, fake, tenant.id)
    _policy(db, tenant.id, mode="apply", auto_rightsize=True, rightsize_min_monthly_savings_usd=50,
            daily_change_budget=2)  # fmt: skip
    result = service.run_for_client(db, fake, tenant.id)
    assert len(result["applied"]) == 2 and len(result["recommended"]) == 1
    assert "budget of 2" in result["recommended"][0]["why"]
    assert len(fake.resizes) == 2
    applied = actions.list_actions(db, tenant.id, status="applied")
    assert {a.origin for a in applied} == {"automatic"} and len(applied) == 2
    audit = db.query(AuditLog).filter(AuditLog.action == "rightsizing.accept").all()
    assert len(audit) == 2 and {a.actor for a in audit} == {"automation"}
    # A second run the same day: the budget is spent, nothing more is applied or re-recorded.
    again = service.run_for_client(db, fake, tenant.id)
    assert again["applied"] == [] and again["recommended"] == []
    # Next day the budget is fresh.
    clock.set_override(NOW + timedelta(days=1))
    assert len(service.run_for_client(db, fake, tenant.id)["applied"]) == 1


def test_recommend_only_and_maintenance_window(db: Session, fake: FakeInputs) -> None:
    tenant = make_tenant(db)
    _oversized(fake, tenant.id, "i-1")
    rightsizing.refresh_all(db, fake, tenant.id)
    _policy(db, tenant.id, mode="recommend", auto_rightsize=True)
    result = service.run_for_client(db, fake, tenant.id)
    assert result["applied"] == [] and result["recommended"][0]["why"] == "recommend-only mode"
    assert fake.resizes == []
    policy = service.get_policy(db, tenant.id)
    service.put_policy(
        db, tenant.id,
        PolicyUpdate(mode="apply", auto_rightsize=True, version=policy.version,
                     maintenance_window={"days": [6], "start": "02:00", "hours": 4}),  # Sundays only
    )  # fmt: skip
    assert service.run_for_client(db, fake, tenant.id)["applied"] == []
    clock.set_override(NOW + timedelta(days=1))  # Sunday 03:00
    assert len(service.run_for_client(db, fake, tenant.id)["applied"]) == 1


def test_auto_migrate_flexible_workloads_only(db: Session, fake: FakeInputs) -> None:
    tenant = make_tenant(db)
    _oversized(fake, tenant.id, "i-flex", flexible=True, region="eu-central-1")
    _oversized(fake, tenant.id, "i-fixed", flexible=False, region="eu-central-1")
    _policy(db, tenant.id, mode="apply", auto_migrate=True, migrate_min_savings_pct=50, migrate_max_latency_ms=60)
    result = service.run_for_client(db, fake, tenant.id)
    # Frankfurt 400 g/kWh → Stockholm 20 g/kWh (95% less), ~32 ms modelled from Frankfurt: within 60 ms.
    assert fake.moves == [("i-flex", "eu-north-1")]
    assert result["applied"][0]["kind"] == "migration" and result["applied"][0]["status"] == "completed"
    # The same day's run does not move it again (idempotent request id; and it is now in the best region).
    assert service.run_for_client(db, fake, tenant.id)["applied"] == []


def test_idle_stop_notifies_first(db: Session, fake: FakeInputs) -> None:
    tenant = make_tenant(db)
    fake.add_instance(InstanceInfo("i-idle", tenant.id, None, "aws", "us-east-1", "m5.large", "running", "simulated"))
    anomalies.raise_anomaly(
        db, client_id=tenant.id, kind="idle_waste", score=0.8, start=NOW - timedelta(hours=30), end=NOW,
        evidence={"hours": 30.0}, co2e_kg=3.0, cost_usd=2.88, instance_id="i-idle",
    )  # fmt: skip
    _policy(db, tenant.id, mode="apply", stop_idle=True, idle_stop_after_hours=24, idle_notice_hours=4)
    first = service.run_for_client(db, fake, tenant.id)
    assert len(first["notices"]) == 1 and first["applied"] == [] and fake.stops == []
    clock.set_override(NOW + timedelta(hours=2))
    assert service.run_for_client(db, fake, tenant.id)["applied"] == []
    clock.set_override(NOW + timedelta(hours=4))
    done = service.run_for_client(db, fake, tenant.id)
    assert fake.stops == ["i-idle"] and done["applied"][0]["kind"] == "idle_stop"
    stop = actions.list_actions(db, tenant.id, kind="idle_stop")[0]
    assert stop.cost_usd_per_hour == pytest.approx(2.88 / 30) and stop.co2e_kg_per_hour == pytest.approx(0.1)
    assert anomalies.list_anomalies(db, tenant.id, 10, 0, kind="idle_waste")[0][0].status == "resolved"


def test_routes(client, db: Session, fake: FakeInputs, admin_headers) -> None:
    tenant, other = make_tenant(db), make_tenant(db)
    db.commit()
    h = tenant.headers
    assert client.get("/api/automation/policy", headers=h).json()["version"] == 0
    saved = client.put("/api/automation/policy", json={"mode": "apply", "auto_rightsize": True}, headers=h)
    assert saved.status_code == 200 and saved.json()["version"] == 1
    stale = client.put("/api/automation/policy", json={"mode": "off", "version": 0}, headers=h)
    assert stale.status_code == 409
    bad = client.put(
        "/api/automation/policy", json={"maintenance_window": {"days": [9], "hours": 2}, "version": 1}, headers=h
    )
    assert bad.status_code == 422
    assert client.get("/api/automation/policy", headers=other.headers).json()["mode"] == "recommend"
    assert client.get(f"/api/automation/policy?client_id={tenant.id}", headers=other.headers).status_code == 404
    assert client.get(f"/api/automation/policy?client_id={tenant.id}", headers=admin_headers).json()["version"] == 1
    assert client.get("/api/automation/policy", headers=admin_headers).status_code == 400
    run = client.post("/api/automation/run", headers=h)
    assert run.status_code == 200 and run.json()["mode"] == "apply"
    assert client.get("/api/automation/notices", headers=h).json() == []
