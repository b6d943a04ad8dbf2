"""Optimiser + migration with the real platform inputs: stored intensity and reference regions decide, the
simulated instance really moves in the fleet, the AWS one becomes an event for the spot agent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from spectra.carbon.intensity import service as intensity_service
from spectra.carbon.intensity.parsing import IntensityRecord
from spectra.core.clock import clock
from spectra.core.models import EventLog
from spectra.fleet.instances import service as instances_service
from spectra.fleet.reference import REGIONS_BY_CODE
from tests.factories import make_tenant
from tests.fleet.factories import make_instance

NOW = datetime(2026, 3, 10, 12, tzinfo=UTC)
LEVELS = {"eu-central-1": 380.0, "eu-north-1": 25.0, "eu-west-1": 290.0}


def _store_intensity(db: Session) -> None:
    hours = [NOW - timedelta(hours=h) for h in range(1, 24 * 30 + 1)]
    records = [
        IntensityRecord(REGIONS_BY_CODE[code].zone, h, level + (h.hour % 3))
        for code, level in LEVELS.items()
        for h in hours
    ]
    intensity_service.store_records(db, [("e2e.csv", records)])


def test_rank_then_migrate(client, db: Session) -> None:
    clock.set_override(NOW)
    _store_intensity(db)
    tenant = make_tenant(db)
    sim = make_instance(db, tenant, source="simulated", region="eu-central-1", instance_type="m5.xlarge",
                        users_region="eu-central-1")  # fmt: skip
    aws = make_instance(db, tenant, source="aws", region="eu-central-1", instance_type="m5.xlarge")
    db.commit()
    h = tenant.headers

    ranking = client.get(
        "/api/optimizer/regions",
        params={"workload": sim.id, "countries": "DE,SE,IE", "providers": "aws", "w_latency": 0, "w_cost": 0},
        headers=h,
    )
    assert ranking.status_code == 200, ranking.text
    body = ranking.json()
    assert [r["code"] for r in body["regions"]][:1] == ["eu-north-1"]
    north = body["regions"][0]
    assert 24 <= north["intensity_g_per_kwh"] <= 28 and north["co2e_change_kg"] < 0
    assert any("forecast" in line for line in north["explanation"])

    moved = client.post(
        "/api/migrations/execute", json={"instance_id": sim.id, "to_region": "eu-north-1"},
        headers={**h, "X-Request-ID": "e2e-1"},
    )  # fmt: skip
    assert moved.status_code == 201 and moved.json()["status"] == "completed", moved.text
    assert moved.json()["co2e_change_kg_per_month"] < 0
    db.expire_all()
    assert instances_service.get_instance(db, sim.id).region == "eu-north-1"

    queued = client.post("/api/migrations/execute", json={"instance_id": aws.id, "to_region": "eu-north-1"}, headers=h)
    assert queued.status_code == 201 and queued.json()["status"] == "executing"
    event = db.query(EventLog).filter(EventLog.topic == "carbon.migration.requested").one()
    assert event.payload["provider_id"] == aws.provider_id
    assert instances_service.get_instance(db, aws.id).region == "eu-central-1"
