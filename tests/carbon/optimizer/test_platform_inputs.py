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
