"""The anomaly job with the real platform inputs: capacity samples of an idle instance → idle waste."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from spectra.capacity import service as capacity_service
from spectra.carbon.anomalies import service
from spectra.carbon.intensity import service as intensity_service
from spectra.carbon.intensity.parsing import IntensityRecord
from spectra.core.clock import clock
from spectra.core.jobs import run_job
from spectra.fleet.reference import REGIONS_BY_CODE
from tests.factories import make_tenant
from tests.fleet.factories import make_instance

NOW = datetime(2026, 3, 10, 12, tzinfo=UTC)


def test_idle_instance_becomes_idle_waste(client, db: Session) -> None:
    clock.set_override(NOW)
    zone = REGIONS_BY_CODE["us-east-1"].zone
    hours = [NOW - timedelta(hours=h) for h in range(1, 24 * 30 + 1)]
    intensity_service.store_records(db, [("x.csv", [IntensityRecord(zone, h, 400.0) for h in hours])])
    tenant = make_tenant(db)
    instance = make_instance(db, tenant, provider_id="i-0idle", source="simulated", instance_type="m5.large")
    rows = [
        {"resource_id": "i-0idle", "metric": "cpu", "ts": (NOW - timedelta(minutes=5 * k)).isoformat(), "value": 0.8}
        for k in range(1, 30 * 12 + 1)
    ]
    capacity_service.ingest(db, tenant.id, rows)
    db.commit()

    run = run_job("carbon.anomalies", "manual", now=NOW)
    assert run is not None and run.status == "succeeded", run.error if run else None
    assert run.result is not None and run.result["anomalies"] == 1
    rows_out, total = service.list_anomalies(db, tenant.id, 10, 0, kind="idle_waste")
    assert total == 1 and rows_out[0].instance_id == instance.id
    idle = rows_out[0]
    assert idle.evidence["hours"] >= 29 and idle.cost_usd == round(0.096 * idle.evidence["hours"], 4)
    assert idle.co2e_kg > 0
    page = client.get("/api/anomalies?kind=idle_waste", headers=tenant.headers).json()
    assert page["total"] == 1
