"""Budgets: hand-worked consumption, projection and status; versioned edits; tenant isolation;
threshold notices once each; the chargeback CSV."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from spectra.carbon.budgets import service
from spectra.carbon.budgets.service import Quarter
from spectra.core.clock import clock
from spectra.core.models import EventLog
from spectra.fleet.settings import service as settings_service
from spectra.fleet.settings.schemas import ClientSettingsIn
from tests.carbon.factories import emission_row, store
from tests.factories import make_team, make_tenant
from tests.fleet.factories import make_instance

# 2024 Q1 runs 91 days (leap year); on 31 January 00:00 UTC, 61 days are left.
NOW = datetime(2024, 1, 31, tzinfo=UTC)


@pytest.mark.parametrize(
    ("consumed", "rate", "projected", "status"),
    [
        (300.0, 10.0, 910.0, "on_track"),  # 300 + 10 × 61
        (300.0, 12.0, 1032.0, "at_risk"),  # projected over the budget
        (800.0, 0.0, 800.0, "at_risk"),  # 80% used
        (1000.0, 0.0, 1000.0, "over"),
    ],
)
def test_projection_and_status_hand_worked(consumed: float, rate: float, projected: float, status: str) -> None:
    got_projected, pct, got_status = service.evaluate(consumed, 1000.0, rate, Quarter(2024, 1), NOW)
    assert got_projected == pytest.approx(projected, rel=1e-6)
    assert pct == pytest.approx(consumed / 10)
    assert got_status == status


def test_rate_window() -> None:
    q1 = Quarter(2024, 1)
    assert service.rate_window(q1, NOW) == (date(2024, 1, 24), date(2024, 1, 30), 7.0)
    assert service.rate_window(q1, datetime(2024, 1, 3, 12, tzinfo=UTC)) == (date(2024, 1, 1), date(2024, 1, 2), 2.0)
    assert service.rate_window(q1, datetime(2024, 1, 1, 6, tzinfo=UTC)) == (date(2024, 1, 1), date(2024, 1, 1), 0.25)
    assert service.rate_window(Quarter(2024, 2), NOW) is None


def test_projection_uses_the_last_week(client, db: Session) -> None:
    acme, team, instance = _setup(db)
    # 24-30 January: 7 × 10 kg (location 8 + embodied 2) → 10 kg/day; 61 days left.
    store(
        db, [emission_row(instance, date(2024, 1, d), co2e_location_g=8_000, embodied_g=2_000) for d in range(24, 31)]
    )
    db.commit()
    clock.set_override(NOW)
    body = client.post("/api/budgets", json={"team_id": team.id, "budget_co2e_kg": 900}, headers=acme.headers).json()
    assert body["consumed_co2e_kg"] == pytest.approx(250.0 + 70.0)
    assert body["projected_co2e_kg"] == pytest.approx(320.0 + 10.0 * 61)
    assert body["status"] == "at_risk"  # 930 kg projected against 900


def test_quarter_bounds() -> None:
    q4 = Quarter.of(date(2023, 11, 5))
    assert (q4.year, q4.quarter, q4.first_day, q4.last_day) == (2023, 4, date(2023, 10, 1), date(2023, 12, 31))
    assert q4.next() == Quarter(2024, 1) and Quarter(2024, 1).previous() == q4


def _setup(db: Session):
    acme = make_tenant(db, teams=())
    team = make_team(db, acme, "checkout")
    instance = make_instance(db, acme, tags={"team": "checkout"})
    # 10 Jan: 200 kg location-based, 120 kg market-based, 50 kg embodied. 1 Dec 2023 is outside Q1.
    store(
        db,
        [
            emission_row(instance, date(2024, 1, 10), co2e_location_g=200_000, co2e_market_g=120_000, embodied_g=50_000,
                         kwh=500, cost_usd=40),
            emission_row(instance, date(2023, 12, 1), co2e_location_g=999_000),
        ],
    )  # fmt: skip
    db.commit()
    return acme, team, instance


def test_budget_lifecycle_over_the_api(client, db: Session) -> None:
    acme, team, _ = _setup(db)
    clock.set_override(NOW)
    created = client.post("/api/budgets", json={"team_id": team.id, "budget_co2e_kg": 1000}, headers=acme.headers)
    assert created.status_code == 201, created.text
    body = created.json()
    assert (body["year"], body["quarter"], body["period_start"], body["period_end"]) == (
        2024,
        1,
        "2024-01-01",
        "2024-03-31",
    )
    assert body["consumed_co2e_kg"] == pytest.approx(250.0)  # 200 location + 50 embodied
    assert body["projected_co2e_kg"] == pytest.approx(250.0)  # nothing in the last week: no run-rate
    assert (body["status"], body["team_name"], body["kwh"], body["cost_usd"]) == ("on_track", "checkout", 500, 40)

    again = client.post("/api/budgets", json={"team_id": team.id, "budget_co2e_kg": 5}, headers=acme.headers)
    assert again.status_code == 409 and again.json()["code"] == "budget_exists"

    url = f"/api/budgets/{body['id']}"
    patched = client.patch(url, json={"version": 1, "basis": "market", "include_embodied": False}, headers=acme.headers)
    assert patched.status_code == 200, patched.text
    assert patched.json()["consumed_co2e_kg"] == pytest.approx(120.0) and patched.json()["version"] == 2
    stale = client.patch(url, json={"version": 1, "budget_co2e_kg": 10}, headers=acme.headers)
    assert stale.status_code == 409 and stale.json()["code"] == "stale_version"

    listed = client.get("/api/budgets", headers=acme.headers).json()
    assert [b["id"] for b in listed] == [body["id"]] and listed[0]["budget_co2e_kg"] == 1000
    assert client.get("/api/budgets", params={"year": 2023, "quarter": 4}, headers=acme.headers).json() == []


def test_budgets_are_tenant_scoped(client, db: Session, admin_headers) -> None:
    acme, team, _ = _setup(db)
    globex = make_tenant(db)
    db.commit()
    clock.set_override(NOW)
    foreign_team = client.post("/api/budgets", json={"team_id": team.id, "budget_co2e_kg": 10}, headers=globex.headers)
    assert foreign_team.status_code == 404
    mine = client.post("/api/budgets", json={"team_id": team.id, "budget_co2e_kg": 10}, headers=acme.headers).json()
    assert client.get("/api/budgets", headers=globex.headers).json() == []
    assert client.patch(f"/api/budgets/{mine['id']}", json={"version": 1, "budget_co2e_kg": 1},
                        headers=globex.headers).status_code == 404  # fmt: skip
    assert client.get("/api/budgets", params={"client_id": acme.id}, headers=globex.headers).status_code == 404
    assert [
        b["id"] for b in client.get("/api/budgets", params={"client_id": acme.id}, headers=admin_headers).json()
    ] == [mine["id"]]


def test_bad_budgets_are_refused(client, db: Session) -> None:
    acme, team, _ = _setup(db)
    for body in (
        {"team_id": team.id, "budget_co2e_kg": 0},
        {"team_id": team.id, "budget_co2e_kg": 10, "basis": "vibes"},
        {"team_id": team.id, "budget_co2e_kg": 10, "quarter": 5, "year": 2024},
        {"team_id": team.id, "budget_co2e_kg": 10, "year": 2024},
        {"team_id": team.id},
    ):
        assert client.post("/api/budgets", json=body, headers=acme.headers).status_code == 422, body
    assert client.get("/api/budgets", params={"year": 2024, "quarter": 1}, headers=acme.headers).json() == []


def _threshold_events(db: Session) -> list[dict]:
    return [
        e.payload
        for e in db.scalars(select(EventLog).where(EventLog.topic == "budget.threshold").order_by(EventLog.id))
    ]


def test_thresholds_are_announced_once_each(db: Session) -> None:
    acme, team, instance = _setup(db)
    clock.set_override(NOW)
    service.create_budget(db, service.BudgetCreate(team_id=team.id, budget_co2e_kg=300), _admin())
    service.check_thresholds(db, NOW)  # 250 of 300 kg = 83%
    service.check_thresholds(db, NOW)
    events = _threshold_events(db)
    assert [(e["threshold_pct"], e["team_name"]) for e in events] == [(80, "checkout")]
    assert events[0]["consumed_co2e_kg"] == pytest.approx(250.0)

    store(db, [emission_row(instance, date(2024, 1, 20), co2e_location_g=60_000)])
    service.check_thresholds(db, NOW)
    assert [e["threshold_pct"] for e in _threshold_events(db)] == [80, 100]
    assert service.list_budgets(db, acme.id)[0].thresholds_notified == [80, 100]


def test_thresholds_follow_the_client_setting(db: Session) -> None:
    acme, team, _ = _setup(db)
    settings_service._apply(db, acme.id, ClientSettingsIn(budget_alert_pcts=[50, 90]), acme.id)
    clock.set_override(NOW)
    service.create_budget(db, service.BudgetCreate(team_id=team.id, budget_co2e_kg=300), _admin())
    service.check_thresholds(db, NOW)
    assert [e["threshold_pct"] for e in _threshold_events(db)] == [50]


def _admin():
    from spectra.core.auth import Caller

    return Caller("admin", None, "admin", "x")


def test_chargeback_csv_is_scoped_and_formula_safe(client, db: Session) -> None:
    acme, _team, instance = _setup(db)
    evil = make_team(db, acme, '=HYPERLINK("http://x","y")')
    other = make_instance(db, acme, name="@SUM(A1)", team=evil.name)
    store(db, [emission_row(other, date(2024, 2, 1), co2e_location_g=1_000, cost_usd=2.5)])
    globex = make_tenant(db)
    make_instance(db, globex)
    db.commit()
    clock.set_override(NOW)

    response = client.get("/api/budgets/export", params={"year": 2024, "quarter": 1}, headers=acme.headers)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == 2
    by_team = {r["team"]: r for r in rows}
    assert set(by_team) == {"checkout", '\'=HYPERLINK("http://x","y")'}
    checkout = by_team["checkout"]
    assert (checkout["provider_id"], checkout["period_start"], checkout["period_end"]) == (
        instance.provider_id, "2024-01-01", "2024-03-31",
    )  # fmt: skip
    assert float(checkout["co2e_kg"]) == pytest.approx(250.0) and float(checkout["kwh"]) == 500
    assert float(checkout["cost_usd"]) == 40
    assert by_team['\'=HYPERLINK("http://x","y")']["instance_name"] == "'@SUM(A1)"

    december = client.get("/api/budgets/export", params={"start": "2023-12-01", "end": "2023-12-31"},
                          headers=acme.headers)  # fmt: skip
    assert [float(r["co2e_kg"]) for r in csv.DictReader(io.StringIO(december.text))] == [999.0]
    assert client.get("/api/budgets/export", params={"start": "2024-01-02"}, headers=acme.headers).status_code == 400
    assert len(list(csv.DictReader(io.StringIO(client.get("/api/budgets/export", headers=globex.headers).text)))) == 0
