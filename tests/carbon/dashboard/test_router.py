"""GET /api/dashboard end to end: stored intensity → the emissions job → the dashboard; tenant scoping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from spectra.carbon.emissions.tasks import compute_emissions
from spectra.carbon.intensity import repository as intensity_repository
from spectra.core.clock import clock
from tests.factories import make_tenant
from tests.fleet.factories import make_instance

NOW = datetime(2024, 3, 15, 6, 30, tzinfo=UTC)
KWH_AT_50 = 0.0076246727  # m5.large at 50% CPU, AWS PUE (see tests/carbon/emissions/test_compute.py)
EMBODIED_G_PER_HOUR = 0.9577100377


def _intensity(db: Session, zone: str, start: datetime, hours: int, value: float, renewable: float | None) -> None:
    intensity_repository.upsert_hours(
        db,
        [
            {"zone": zone, "hour": start + timedelta(hours=i), "direct_g_per_kwh": value, "lifecycle_g_per_kwh": None,
             "low_carbon_pct": None, "renewable_pct": renewable, "estimated": False, "estimation_method": None,
             "data_source": "test-grid", "samples": 1, "imported_from": "test", "imported_at": NOW}
            for i in range(hours)
        ],
    )  # fmt: skip
    db.flush()


def test_dashboard_after_the_emissions_job(client, db: Session, admin_headers) -> None:
    acme, globex = make_tenant(db, teams=()), make_tenant(db)
    make_instance(db, acme, launched_at=NOW - timedelta(days=3), tags={"team": "web"})
    make_instance(db, globex, region="eu-west-3", launched_at=NOW - timedelta(days=3))
    midnight = NOW.replace(hour=0, minute=0)
    _intensity(db, "US-MIDA-PJM", midnight - timedelta(days=2), 72, 400.0, 50.0)
    _intensity(db, "FR", midnight - timedelta(days=2), 72, 50.0, None)
    clock.set_override(NOW)
    result = compute_emissions(db, NOW)
    assert result["days"][-1] == "2024-03-15" and result["instance_days"] >= 2
    db.commit()

    body = client.get("/api/dashboard", headers=acme.headers).json()
    # Six complete hours today (00:00-06:00) of one m5.large at 400 g/kWh, market-based at 50% renewable.
    assert body["today"]["instance_hours"] == 6
    assert body["today"]["kwh"] == pytest.approx(6 * KWH_AT_50, abs=1e-3)
    assert body["today"]["operational_location_kg"] == pytest.approx(6 * KWH_AT_50 * 0.4, abs=1e-3)
    assert body["today"]["operational_market_kg"] == pytest.approx(6 * KWH_AT_50 * 0.2, abs=1e-3)
    assert body["today"]["embodied_kg"] == pytest.approx(6 * EMBODIED_G_PER_HOUR / 1000, abs=1e-3)
    assert [r["name"] for r in body["by_team"]] == ["web"]
    assert body["intensity"] == [
        {"region": "us-east-1", "zone": "US-MIDA-PJM", "g_per_kwh": 400.0, "at": "2024-03-15T06:00:00Z",
         "renewable_pct": 50.0, "source": "test-grid"}
    ]  # fmt: skip
    assert body["last_computed_day"] == "2024-03-15"

    theirs = client.get("/api/dashboard", headers=globex.headers).json()
    assert [r["key"] for r in theirs["by_region"]] == ["eu-west-3"]
    assert client.get("/api/dashboard", params={"client_id": acme.id}, headers=globex.headers).status_code == 404
    everyone = client.get("/api/dashboard", headers=admin_headers).json()
    assert {r["key"] for r in everyone["by_region"]} == {"us-east-1", "eu-west-3"}
    assert everyone["today"]["instance_hours"] == 12


def test_admin_recomputes_a_range(client, db: Session, admin_headers) -> None:
    acme = make_tenant(db, teams=())
    make_instance(db, acme, launched_at=NOW - timedelta(days=40))  # 4 February 06:30: 18 hours that day
    midnight = NOW.replace(hour=0, minute=0)
    _intensity(db, "US-MIDA-PJM", midnight - timedelta(days=40), 24 * 5, 300.0, None)  # 4-8 February
    db.commit()
    clock.set_override(NOW)
    body = {"start": "2024-02-04", "end": "2024-02-06"}
    assert client.post("/api/admin/emissions/recompute", json=body, headers=acme.headers).status_code == 403
    response = client.post("/api/admin/emissions/recompute", json=body, headers=admin_headers)
    assert response.status_code == 200, response.text
    assert response.json() == {"days": ["2024-02-04", "2024-02-05", "2024-02-06"], "instance_days": 3}
    backwards = client.post("/api/admin/emissions/recompute", json={"start": "2024-02-06", "end": "2024-02-01"},
                            headers=admin_headers)  # fmt: skip
    assert backwards.status_code == 422
    report = client.get("/api/reports/summary", params={"start": "2024-02-04", "end": "2024-02-06"},
                        headers=acme.headers).json()  # fmt: skip
    assert report["inputs"]["instance_hours"] == 18 + 24 + 24
