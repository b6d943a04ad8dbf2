"""The carbon demo seed: emissions for the stored intensity's days, then budgets sized from them."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from spectra.carbon import seed as carbon_seed
from spectra.carbon.budgets import service as budgets_service
from spectra.carbon.emissions import service as emissions
from spectra.carbon.intensity import repository as intensity_repository
from spectra.core.clock import clock
from spectra.fleet import seed as fleet_seed
from spectra.fleet.catalog import service as catalog_service
from spectra.fleet.instances import service as instance_service

NOW = datetime(2024, 5, 20, 9, 30, tzinfo=UTC)


def test_seed_computes_emissions_and_budgets(db: Session) -> None:
    clock.set_override(NOW)
    fleet_seed.seed(db, random.Random(42))
    rows, _ = instance_service.list_instances(db, None, limit=1000)
    zones = {catalog_service.find_region(db, r).zone for r in {i.region for i in rows}}
    start = NOW.replace(hour=0, minute=0) - timedelta(days=29)
    for n, zone in enumerate(sorted(z for z in zones if z)):
        intensity_repository.upsert_hours(
            db,
            [
                {"zone": zone, "hour": start + timedelta(hours=h), "direct_g_per_kwh": 50.0 + 40 * n,
                 "lifecycle_g_per_kwh": None, "low_carbon_pct": None, "renewable_pct": 30.0, "estimated": False,
                 "estimation_method": None, "data_source": "test", "samples": 1, "imported_from": "test",
                 "imported_at": NOW}
                for h in range(30 * 24)
            ],
        )  # fmt: skip

    summary = carbon_seed.seed(db, random.Random(42))
    assert len(summary["emissions"]["days"]) == 30
    assert summary["budgets"]["budgets"] == 5  # every demo team runs instances
    today = emissions.totals(db, None, NOW.date(), NOW.date())[0]
    running_now = sum(1 for i in rows if i.state == "running")
    assert today["instance_hours"] == running_now * 9  # nine complete hours today
    assert today["co2e_market_g"] < today["co2e_location_g"]
    statuses = sorted(b.status for b in budgets_service.list_budgets(db, None))
    assert statuses == ["at_risk", "at_risk", "on_track", "on_track", "over"]  # five teams take turns
