"""Recorded actions: idempotent recording, and realised savings credited only for time in effect."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from spectra.carbon.actions import service
from spectra.core.clock import clock
from spectra.core.errors import Unprocessable
from tests.factories import make_tenant

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def _record(db: Session, client_id: str, request_id: str, at: datetime, kind: str = "rightsizing", **kw):
    clock.set_override(at)
    return service.record_action(
        db, client_id=client_id, kind=kind, origin=kw.get("origin", "manual"), request_id=request_id,
        entity_type="instance", entity_id="i-1", instance_id=kw.get("instance_id", "i-1"),
        summary="m5.2xlarge → m5.xlarge", co2e_kg_per_hour=kw.get("co2e", 0.01),
        cost_usd_per_hour=kw.get("cost", 0.192), status=kw.get("status", "applied"),
    )  # fmt: skip


def test_same_request_id_records_once(db: Session) -> None:
    tenant = make_tenant(db)
    first, created = _record(db, tenant.id, "req-1", T0)
    again, created_again = _record(db, tenant.id, "req-1", T0 + timedelta(hours=1))
    assert created and not created_again and first.id == again.id
    assert len(service.list_actions(db, tenant.id)) == 1


def test_realised_savings_by_hand(db: Session) -> None:
    tenant = make_tenant(db)
    other = make_tenant(db)
    _record(db, tenant.id, "a", T0, co2e=0.01, cost=0.2)  # in effect from T0
    b, _ = _record(db, tenant.id, "b", T0 + timedelta(hours=10), kind="migration", co2e=0.1, cost=-0.05)
    _record(db, tenant.id, "c", T0, status="recommended", co2e=5, cost=5)  # never applied: no credit
    _record(db, other.id, "a", T0, co2e=1, cost=1)  # another client's
    clock.set_override(T0 + timedelta(hours=20))
    service.end_action(db, b)  # migration in effect 10 h (T0+10 → T0+20)
    clock.set_override(T0 + timedelta(hours=30))

    savings = service.realised_savings(db, tenant.id, T0 + timedelta(hours=5), T0 + timedelta(hours=100))
    # a: from T0+5 to now (T0+30) = 25 h; b: T0+10 → T0+20 = 10 h; the end is capped at now.
    assert savings["co2e_kg"] == pytest.approx(25 * 0.01 + 10 * 0.1)
    assert savings["cost_usd"] == pytest.approx(25 * 0.2 + 10 * -0.05)
    assert savings["actions"] == 2
    assert savings["by_kind"]["migration"]["co2e_kg"] == pytest.approx(1.0)
    assert savings["by_kind"]["rightsizing"]["cost_usd"] == pytest.approx(5.0)
    # A period before anything was applied credits nothing.
    empty = service.realised_savings(db, tenant.id, T0 - timedelta(days=2), T0 - timedelta(days=1))
    assert empty["co2e_kg"] == 0 and empty["actions"] == 0


def test_superseding_ends_the_previous_action(db: Session) -> None:
    tenant = make_tenant(db)
    _record(db, tenant.id, "first", T0, co2e=1.0)
    clock.set_override(T0 + timedelta(hours=2))
    service.supersede_instance_actions(db, tenant.id, "i-1", "rightsizing")
    _record(db, tenant.id, "second", T0 + timedelta(hours=2), co2e=3.0)
    clock.set_override(T0 + timedelta(hours=4))
    savings = service.realised_savings(db, tenant.id, T0, T0 + timedelta(hours=4))
    assert savings["co2e_kg"] == pytest.approx(2 * 1.0 + 2 * 3.0)


def test_bad_period_and_kind(db: Session) -> None:
    tenant = make_tenant(db)
    with pytest.raises(Unprocessable):
        service.realised_savings(db, tenant.id, T0, T0)
    with pytest.raises(Unprocessable):
        _record(db, tenant.id, "x", T0, kind="teleport")


def test_routes_are_tenant_scoped(client, db: Session) -> None:
    tenant, other = make_tenant(db), make_tenant(db)
    _record(db, tenant.id, "a", T0, co2e=0.5, cost=1.0)
    db.commit()
    clock.set_override(T0 + timedelta(hours=2))
    mine = client.get("/api/optimizer/actions", headers=tenant.headers).json()
    theirs = client.get("/api/optimizer/actions", headers=other.headers).json()
    assert len(mine) == 1 and mine[0]["kind"] == "rightsizing" and theirs == []
    savings = client.get(
        "/api/optimizer/savings",
        params={"start": "2026-03-01T00:00:00", "end": "2026-03-02T00:00:00"},
        headers=tenant.headers,
    ).json()
    assert savings["co2e_kg"] == pytest.approx(1.0) and savings["cost_usd"] == pytest.approx(2.0)
    assert client.get(f"/api/optimizer/actions?client_id={tenant.id}", headers=other.headers).status_code == 404
