"""Computing a stored day: hand-worked against CCF's constants (Skylake m5.large in us-east-1)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest
from sqlalchemy.orm import Session

from spectra.carbon.emissions import service
from spectra.carbon.emissions.service import ZoneHours
from spectra.carbon.intensity import repository as intensity_repository
from spectra.core.clock import clock
from spectra.fleet.instances import service as instance_service
from spectra.fleet.settings import service as settings_service
from spectra.fleet.settings.schemas import ClientSettingsIn
from tests.carbon.factories import emission_row, store
from tests.factories import make_tenant
from tests.fleet.factories import make_instance

DAY = date(2024, 3, 1)
NOW = datetime(2024, 3, 1, 10, 30, tzinfo=UTC)  # ten complete hours
# m5.large (Skylake 0.65-4.26 W/vCPU, 2 vCPU, 8 GiB) on a 96-vCPU, 384 GiB, 2-socket host, AWS PUE 1.135:
# memory baseline 81.32 GB/chip × 2 chips × 2/96 = 3.3883 GB, so 4.6117 GB × 0.392 W = 1.8078 W extra;
KWH_AT_50 = 0.0076246727  # (2 × (0.65 + 0.5 × 3.61) + 1.8078) W × 1.135 / 1000
KWH_AT_100 = 0.0117220227  # (2 × 4.26 + 1.8078) W × 1.135 / 1000
# embodied: (1000 + 368 GB × 533/384 + 100 for the 2nd socket) kg over 4 years × 2/96 vCPU share
EMBODIED_G_PER_HOUR = 0.9577100377


def _zones(location: float, market: float):
    def source(_session, zones, _start, hours):
        return {z: ZoneHours(np.full(hours, location), np.full(hours, market)) for z in zones if z != "DE"}

    return source


def test_one_day_hand_worked(db: Session) -> None:
    acme = make_tenant(db)
    clock.set_override(NOW)
    always = make_instance(db, acme, launched_at=datetime(2024, 2, 1, tzinfo=UTC))
    late = make_instance(db, acme, launched_at=datetime(2024, 3, 1, 3, 20, tzinfo=UTC))
    stopped = make_instance(db, acme, launched_at=datetime(2024, 2, 1, tzinfo=UTC))
    stopped.stopped_at, stopped.state = datetime(2024, 3, 1, 5, tzinfo=UTC), "stopped"
    make_instance(db, acme, instance_type="x9.huge")  # not in the catalogue: skipped
    make_instance(db, acme, region="eu-central-1")  # zone DE has no intensity: skipped
    instance_service.record_daily_cost(db, late.id, DAY, 1.25, "cost_explorer")

    def cpu(_session, instances, _start, hours):
        row = np.full(hours, np.nan)
        row[:2] = 1.0  # measured at 100% for the first two hours only
        return {always.id: row}

    result = service.compute_day(db, DAY, NOW, intensity=_zones(400.0, 100.0), utilisation=cpu)
    assert result["hours"] == 10 and result["instances"] == 3
    assert result["skipped"] == {"unknown_type": 1, "unknown_region": 0, "no_intensity": 1}

    rows = {r["instance_id"]: r for r in service.by_instance(db, acme.id, DAY, DAY)}
    a, b, c = rows[always.id], rows[late.id], rows[stopped.id]
    kwh_a = 2 * KWH_AT_100 + 8 * KWH_AT_50
    assert a["instance_hours"] == 10 and a["measured_hours"] == 2
    assert a["kwh"] == pytest.approx(kwh_a, rel=1e-3)
    assert a["co2e_location_g"] == pytest.approx(kwh_a * 400, rel=1e-3)
    assert a["co2e_market_g"] == pytest.approx(kwh_a * 100, rel=1e-3)
    assert a["embodied_g"] == pytest.approx(10 * EMBODIED_G_PER_HOUR, rel=1e-3)
    assert a["cost_usd"] == pytest.approx(10 * 0.096)  # no bill: hours × us-east-1 list price
    assert (b["instance_hours"], b["cost_usd"], b["billed_cost_usd"]) == (7, 1.25, 1.25)  # 03:00-10:00, billed
    assert b["kwh"] == pytest.approx(7 * KWH_AT_50, rel=1e-3)
    assert c["instance_hours"] == 5  # stopped at 05:00
    [day_row] = service.instance_days(db, always.id, DAY, DAY)
    assert day_row.utilisation == pytest.approx(0.6) and day_row.utilisation_source == "measured"
    assert day_row.intensity_g_per_kwh == pytest.approx(400.0)

    [total] = service.totals(db, acme.id, DAY, DAY)
    assert total["instance_hours"] == 22
    assert total["kwh"] == pytest.approx(kwh_a + 12 * KWH_AT_50, rel=1e-3)


def test_recomputing_replaces_the_day_and_follows_the_default_utilisation(db: Session) -> None:
    acme = make_tenant(db)
    clock.set_override(NOW)
    inst = make_instance(db, acme, launched_at=datetime(2024, 2, 1, tzinfo=UTC))
    none = lambda *_args: {}  # noqa: E731
    service.compute_day(db, DAY, NOW, intensity=_zones(400.0, float("nan")), utilisation=none)
    [first] = service.by_instance(db, acme.id, DAY, DAY)
    assert first["co2e_market_g"] == pytest.approx(first["co2e_location_g"])  # no market data: location-based

    settings_service._apply(db, acme.id, ClientSettingsIn(default_utilisation=1.0), acme.id)
    service.compute_day(db, DAY, NOW, intensity=_zones(400.0, 0.0), utilisation=none)
    [again] = service.by_instance(db, acme.id, DAY, DAY)
    assert again["kwh"] == pytest.approx(10 * KWH_AT_100, rel=1e-3)
    assert again["co2e_market_g"] == 0.0
    assert len(service.instance_days(db, inst.id, DAY, DAY)) == 1
    assert service.last_day(db) == DAY


def test_days_to_compute(db: Session) -> None:
    make_tenant(db)
    assert service.days_to_compute(db, NOW)[0] == date(2024, 2, 1)  # nothing stored: 30 days, today included
    assert len(service.days_to_compute(db, NOW)) == 30
    acme = make_tenant(db)
    inst = make_instance(db, acme, launched_at=datetime(2024, 2, 1, tzinfo=UTC))
    store(db, [emission_row(inst, date(2024, 2, 27), instance_hours=24)])
    assert service.days_to_compute(db, NOW) == [date(2024, 2, 27), date(2024, 2, 28), date(2024, 2, 29), DAY]


def _hours(zone: str, start: datetime, values: list[float | None], renewable: float | None = None) -> list[dict]:
    return [
        {
            "zone": zone,
            "hour": start + timedelta(hours=i),
            "direct_g_per_kwh": v,
            "lifecycle_g_per_kwh": None,
            "low_carbon_pct": None,
            "renewable_pct": renewable,
            "estimated": False,
            "estimation_method": None,
            "data_source": "test",
            "samples": 1,
            "imported_from": "test",
            "imported_at": NOW,
        }
        for i, v in enumerate(values)
        if v is not None
    ]


def test_stored_intensity_fills_gaps_and_derives_market_based(db: Session) -> None:
    day = datetime(2024, 3, 1, tzinfo=UTC)
    # PJM: 00:00 missing, 01:00 = 300, 02:00 missing, 03:00 = 500; 40% renewable.
    intensity_repository.upsert_hours(db, _hours("US-MIDA-PJM", day, [None, 300.0, None, 500.0], renewable=40.0))
    # FR: nothing on the day, last stored hour the evening before = 60.
    intensity_repository.upsert_hours(db, _hours("FR", datetime(2024, 2, 29, 20, tzinfo=UTC), [80.0, 60.0]))
    zones = service.stored_intensity(db, ["US-MIDA-PJM", "FR", "DE"], day, 4)
    assert set(zones) == {"US-MIDA-PJM", "FR"}  # DE: nothing stored at all
    assert zones["US-MIDA-PJM"].location.tolist() == [300.0, 300.0, 300.0, 500.0]
    assert zones["US-MIDA-PJM"].market.tolist() == pytest.approx([180.0, 180.0, 180.0, 300.0])
    assert zones["FR"].location.tolist() == [60.0] * 4
    assert np.isnan(zones["FR"].market).all()  # no renewable share: market-based falls back to location-based
