"""The platform Inputs against the real fleet and emissions services."""

from __future__ import annotations

from datetime import UTC, date, datetime

import numpy as np
import pytest
from sqlalchemy.orm import Session

from spectra.carbon.optimizer.platform_inputs import FleetInputs
from spectra.fleet.instances import service as instances_service
from tests.factories import make_tenant
from tests.fleet.factories import make_instance


def test_instances_map_to_who_executes_a_change(db: Session) -> None:
    tenant, other = make_tenant(db), make_tenant(db)
    sim = make_instance(db, tenant, source="simulated", users_region="eu-west-1", flexible=True)
    aws = make_instance(db, tenant, source="aws")
    manual = make_instance(db, tenant, source="manual")
    make_instance(db, other)
    inputs = FleetInputs()
    info = inputs.instance(db, sim.id)
    assert info is not None
    assert (info.cloud, info.flexible, info.users_region, info.region) == ("simulated", True, "eu-west-1", "us-east-1")
    assert inputs.instance(db, aws.id).cloud == "aws"  # type: ignore[union-attr]
    assert inputs.instance(db, manual.id).cloud == "manual"  # type: ignore[union-attr]
    assert inputs.instance(db, "0" * 32) is None
    assert {i.id for i in inputs.instances(db, tenant.id)} == {sim.id, aws.id, manual.id}


def test_simulated_changes_go_through_the_fleet(db: Session) -> None:
    tenant = make_tenant(db)
    sim = make_instance(db, tenant, source="simulated", zone="us-east-1a", tags={"team": "web"})
    inputs = FleetInputs()
    inputs.move_instance(db, sim.id, "eu-north-1")
    inputs.resize_instance(db, sim.id, "m5.xlarge")
    moved = instances_service.get_instance(db, sim.id)
    assert (moved.region, moved.zone, moved.instance_type) == ("eu-north-1", None, "m5.xlarge")
    assert moved.tags == {"team": "web"} and moved.source == "simulated"
    inputs.stop_instance(db, sim.id)
    assert instances_service.get_instance(db, sim.id).state == "stopped"


def test_cost_series_from_bills(db: Session) -> None:
    tenant = make_tenant(db)
    instance = make_instance(db, tenant)
    instances_service.record_daily_cost(db, instance.id, date(2026, 3, 1), 4.6, "manual")
    instances_service.record_daily_cost(db, instance.id, date(2026, 3, 3), 9.2, "manual")
    series = FleetInputs().cost_series(
        db, instance.id, datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 4, tzinfo=UTC)
    )
    assert series.step_hours == 24 and series.start == datetime(2026, 3, 1, tzinfo=UTC)
    np.testing.assert_array_equal(np.isnan(series.values), [False, True, False])
    assert series.values[0] == pytest.approx(4.6) and series.values[2] == pytest.approx(9.2)


def test_reference_regions_types_and_ccf_power(db: Session) -> None:
    from spectra.carbon.emissions.coefficients import MICROARCHITECTURES
    from spectra.carbon.optimizer.platform_inputs import PlatformInputs

    inputs = PlatformInputs()
    regions = {r.code: r for r in inputs.regions(db)}
    assert regions["eu-north-1"].zone and regions["eu-north-1"].pue == pytest.approx(1.135)
    spec = inputs.instance_type(db, "m5.xlarge", "us-east-1")
    assert spec is not None and (spec.vcpu, spec.memory_gib, spec.price_usd_per_hour) == (4, 16, 0.192)
    assert inputs.instance_type(db, "m5.xlarge", "europe-west1") is not None
    assert inputs.instance_type(db, "m5.xlarge", "europe-west1").price_usd_per_hour is None  # type: ignore[union-attr]
    assert all(t.price_usd_per_hour is not None for t in inputs.catalog(db, "eu-west-1"))
    # Skylake: 0.65 … 4.26 W per vCPU; at 50 % the CPU part of 4 vCPU is 4 × (0.65 + 0.5 × 3.61).
    skylake = MICROARCHITECTURES["Skylake"]
    cpu_part = 4 * (skylake.min_watts + 0.5 * (skylake.max_watts - skylake.min_watts))
    assert inputs.power_w(spec, 0.5) >= cpu_part
    assert inputs.power_w(spec, 1.0) - inputs.power_w(spec, 0.0) == pytest.approx(4 * (4.26 - 0.65))
    assert inputs.embodied_g_per_hour(spec) > 0


def test_intensity_outlook_and_measured_utilisation(db: Session) -> None:
    from datetime import timedelta

    from spectra.capacity import service as capacity_service
    from spectra.carbon.intensity import service as intensity_service
    from spectra.carbon.intensity.parsing import IntensityRecord
    from spectra.carbon.optimizer.platform_inputs import PlatformInputs
    from spectra.core.clock import clock

    now = datetime(2026, 3, 10, 12, tzinfo=UTC)
    clock.set_override(now)
    hours = [now - timedelta(hours=h) for h in range(1, 24 * 30 + 1)]
    records = [IntensityRecord("SE", h, 100.0 if h.hour % 2 else 50.0) for h in hours]
    intensity_service.store_records(db, [("se.csv", records)])
    inputs = PlatformInputs()
    past = inputs.intensity(db, "SE", now - timedelta(days=2), now)
    assert past is not None and past.mean == pytest.approx(75.0) and past.hours == 48
    future = inputs.intensity(db, "SE", now, now + timedelta(hours=24))
    assert future is not None and future.hours == 24 and 40 < future.mean < 110 and "forecast" in future.method
    assert inputs.intensity(db, "NOWHERE", now - timedelta(days=1), now + timedelta(hours=2)) is None

    tenant = make_tenant(db)
    instance = make_instance(db, tenant, provider_id="i-0cafe", source="simulated")
    rows = [
        {"resource_id": "i-0cafe", "metric": "cpu", "ts": (now - timedelta(minutes=5 * k)).isoformat(), "value": v}
        for k, v in enumerate([10.0] * 19 + [90.0])
    ] + [{"resource_id": "i-0cafe", "metric": "memory", "ts": now.isoformat(), "value": 40.0}]
    capacity_service.ingest(db, tenant.id, rows)
    usage = inputs.utilisation(db, instance.id, now - timedelta(hours=3), now + timedelta(minutes=1))
    assert usage.samples == 20 and usage.cpu_mean == pytest.approx(14.0)
    assert usage.cpu_p95 == pytest.approx(float(np.percentile([10.0] * 19 + [90.0], 95)))
    assert usage.memory_p95 == 40.0
    series = inputs.cpu_series(db, instance.id, now - timedelta(hours=1), now + timedelta(minutes=5))
    assert series.step_hours == pytest.approx(5 / 60) and series.values.size == 13
    assert series.values[-1] == 10.0 and np.isfinite(series.values).sum() == 13


def test_one_forecast_per_zone_and_hour(db: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    """A ranking asks every region's outlook and automation ranks each instance: the forecast is fitted once."""
    from datetime import timedelta

    from spectra.carbon.intensity import service as intensity_service
    from spectra.carbon.intensity.parsing import IntensityRecord
    from spectra.carbon.optimizer.platform_inputs import PlatformInputs
    from spectra.core.clock import clock

    now = datetime(2026, 3, 10, 12, tzinfo=UTC)
    clock.set_override(now)
    hours = [now - timedelta(hours=h) for h in range(1, 24 * 20 + 1)]
    intensity_service.store_records(db, [("se.csv", [IntensityRecord("SE", h, 50.0 + h.hour) for h in hours])])
    calls: list[tuple[str, int]] = []
    real = intensity_service.forecast_zone

    def counting(session: Session, zone: str, horizon: int, at: datetime | None = None) -> dict:
        calls.append((zone, horizon))
        return real(session, zone, horizon, at)

    monkeypatch.setattr(intensity_service, "forecast_zone", counting)
    inputs = PlatformInputs()
    first = inputs.intensity(db, "SE", now, now + timedelta(hours=24))
    again = inputs.intensity(db, "SE", now + timedelta(hours=2), now + timedelta(hours=20))
    assert first is not None and again is not None and calls == [("SE", 24)]
    longer = inputs.intensity(db, "SE", now, now + timedelta(hours=48))  # needs more hours: fitted again
    assert longer is not None and longer.hours == 48 and calls == [("SE", 24), ("SE", 48)]
    assert inputs.intensity(db, "NOWHERE", now, now + timedelta(hours=5)) is None
    assert inputs.intensity(db, "NOWHERE", now, now + timedelta(hours=5)) is None
    assert calls.count(("NOWHERE", 5)) == 1  # a zone without history is not asked twice either
    clock.set_override(now + timedelta(hours=1))
    assert inputs.intensity(db, "SE", now + timedelta(hours=1), now + timedelta(hours=3)) is not None
    assert calls[-1] == ("SE", 2)  # a new hour: the forecast is made again from what is stored by then
