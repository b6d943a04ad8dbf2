"""Rightsizing with the real platform inputs: capacity samples → job → accept over HTTP → fleet resized →
realised savings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from spectra.capacity import service as capacity_service
from spectra.carbon.actions import service as actions
from spectra.carbon.intensity import service as intensity_service
from spectra.carbon.intensity.parsing import IntensityRecord
from spectra.core.clock import clock
from spectra.core.jobs import run_job
from spectra.fleet.instances import service as instances_service
from spectra.fleet.reference import REGIONS_BY_CODE
from tests.factories import make_tenant
from tests.fleet.factories import make_instance

NOW = datetime(2026, 3, 10, 12, tzinfo=UTC)


def test_job_recommends_and_accept_resizes_in_the_simulated_cloud(client, db: Session) -> None:
    clock.set_override(NOW)
    zone = REGIONS_BY_CODE["us-east-1"].zone
    hours = [NOW - timedelta(hours=h) for h in range(1, 24 * 30 + 1)]
    intensity_service.store_records(db, [("x.csv", [IntensityRecord(zone, h, 400.0) for h in hours])])
    tenant = make_tenant(db)
    instance = make_instance(db, tenant, provider_id="i-0big", source="simulated", instance_type="m5.2xlarge")
    rows = []
    for k in range(288):  # one day of 5-minute samples: CPU ~10 %, memory 20 %
        ts = (NOW - timedelta(minutes=5 * k)).isoformat()
        rows += [
            {"resource_id": "i-0big", "metric": "cpu", "ts": ts, "value": 8.0 + (k % 5)},
            {"resource_id": "i-0big", "metric": "memory", "ts": ts, "value": 20.0},
        ]
    capacity_service.ingest(db, tenant.id, rows)
    db.commit()

    run = run_job("carbon.rightsizing", "manual", now=NOW)
    assert run is not None and run.status == "succeeded", run.error if run else None
    page = client.get("/api/instances/recommendations", headers=tenant.headers).json()
    rec = page["items"][0]
    assert rec["instance_id"] == instance.id and rec["action"] == "downsize"
    assert rec["recommended_type"] == "m5.large" and rec["monthly_co2e_savings_kg"] > 0
    accepted = client.post(f"/api/instances/recommendations/{rec['id']}/accept", headers=tenant.headers)
    assert accepted.status_code == 200 and accepted.json()["applied"], accepted.text
    db.expire_all()
    assert instances_service.get_instance(db, instance.id).instance_type == "m5.large"

    clock.set_override(NOW + timedelta(hours=10))
    savings = actions.realised_savings(db, tenant.id, NOW - timedelta(days=1), NOW + timedelta(days=1))
    assert savings["actions"] == 1
    assert abs(savings["cost_usd"] - rec["monthly_cost_savings_usd"] / 730 * 10) < 0.01
