"""The inventory upsert: cloud-owned vs user-owned fields, team from tags, state times."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy.orm import Session

from spectra.core.clock import clock
from spectra.fleet import repository as fleet_repository
from spectra.fleet.instances import service
from spectra.fleet.instances.schemas import InstanceSync
from tests.factories import make_team, make_tenant
from tests.fleet.factories import LAUNCHED, make_instance

NOW = datetime(2024, 3, 1, 12, tzinfo=UTC)


def _sync(**fields: object) -> InstanceSync:
    data: dict[str, object] = {
        "provider": "aws",
        "source": "aws",
        "provider_id": "i-abc",
        "region": "us-east-1",
        "instance_type": "m5.large",
        "launched_at": LAUNCHED,
    }
    data.update(fields)
    return InstanceSync(**data)  # type: ignore[arg-type]


def test_team_tag_creates_the_team_and_user_assignment_survives_resync(db: Session) -> None:
    acme = make_tenant(db, teams=())
    instance, created = service.upsert_instance(db, acme.id, _sync(tags={"Team": "payments", "Name": "web-1"}))
    assert created
    team = fleet_repository.team_by_name(db, acme.id, "payments")
    assert team is not None and instance.team_id == team.id
    assert instance.name == "web-1"

    other = make_team(db, acme, "platform")
    instance.team_id = other.id
    instance.tags = {**instance.tags, "cost": "x"}
    db.flush()
    again, created = service.upsert_instance(
        db, acme.id, _sync(tags={"Team": "payments", "Name": "web-1"}, instance_type="m5.xlarge")
    )
    assert not created and again.id == instance.id
    assert again.team_id == other.id  # the user's choice wins over the tag
    assert again.instance_type == "m5.xlarge"  # the cloud's facts win over the stored ones
    assert again.tags == {"Team": "payments", "Name": "web-1", "cost": "x"}


def test_state_changes_set_stop_and_termination_times(db: Session) -> None:
    acme = make_tenant(db)
    clock.set_override(NOW)
    instance, _ = service.upsert_instance(db, acme.id, _sync())
    assert instance.stopped_at is None and instance.terminated_at is None

    clock.set_override(NOW + timedelta(hours=2))
    service.upsert_instance(db, acme.id, _sync(state="stopped"))
    assert instance.stopped_at == NOW + timedelta(hours=2) and instance.terminated_at is None

    clock.set_override(NOW + timedelta(hours=3))
    service.upsert_instance(db, acme.id, _sync(state="running"))
    assert instance.stopped_at is None

    clock.set_override(NOW + timedelta(hours=5))
    service.set_state(db, instance.id, "terminated")
    assert instance.stopped_at == instance.terminated_at == NOW + timedelta(hours=5)


def test_full_inventory_terminates_what_it_no_longer_lists(db: Session) -> None:
    acme = make_tenant(db)
    clock.set_override(NOW)
    kept = make_instance(db, acme, source="aws", provider_id="i-kept")
    gone = make_instance(db, acme, source="aws", provider_id="i-gone")
    manual = make_instance(db, acme, source="manual", provider_id="i-manual")
    elsewhere = make_instance(db, acme, source="aws", provider_id="i-eu", region="eu-west-1")
    count = service.mark_missing_terminated(db, acme.id, "aws", "aws", ["us-east-1"], {"i-kept"})
    assert count == 1
    assert gone.state == "terminated" and gone.terminated_at == NOW
    assert kept.state == manual.state == elsewhere.state == "running"


def test_active_between_excludes_instances_outside_the_window(db: Session) -> None:
    acme = make_tenant(db)
    start, end = NOW, NOW + timedelta(days=1)
    running = make_instance(db, acme)
    make_instance(db, acme, launched_at=end + timedelta(hours=1))
    clock.set_override(start - timedelta(hours=1))
    ended = make_instance(db, acme)
    service.set_state(db, ended.id, "terminated")
    ids = {i.id for i in service.active_between(db, acme.id, start, end)}
    assert ids == {running.id}


def test_daily_cost_is_replaced_on_resync(db: Session) -> None:
    acme = make_tenant(db)
    instance = make_instance(db, acme)
    service.record_daily_cost(db, instance.id, date(2024, 3, 1), 2.5, "cost_explorer")
    service.record_daily_cost(db, instance.id, date(2024, 3, 1), 2.75, "cost_explorer")
    service.record_daily_cost(db, instance.id, date(2024, 3, 2), 1.0, "cost_explorer")
    costs = service.billed_costs(db, [instance.id], date(2024, 3, 1), date(2024, 3, 1))
    assert costs == {(instance.id, date(2024, 3, 1)): 2.75}
