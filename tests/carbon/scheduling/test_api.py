"""/api/scheduler/jobs end to end on stored intensity: recommendations, state machine, tenancy, validation."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from spectra.carbon.intensity import service as intensity_service
from spectra.carbon.intensity.parsing import IntensityRecord
from spectra.carbon.scheduling import service, tasks
from spectra.carbon.scheduling.tasks import refresh_scheduled_jobs
from spectra.core.clock import clock
from spectra.core.events import Event
from spectra.fleet.catalog import service as catalog_service
from tests.factories import make_tenant

NOW = datetime(2023, 3, 1, 10, tzinfo=UTC)


def de_value(hour: datetime) -> float:
    """A grid that is clean from 03:00 to 06:00 UTC every day and dirty otherwise."""
    return 100.0 if 3 <= hour.hour < 6 else 400.0


def fr_value(hour: datetime) -> float:
    """Clean all day, cleanest from 10:00 to 12:00 UTC."""
    return 40.0 if 10 <= hour.hour < 12 else 60.0


def pue(db: Session, region: str) -> float:
    return catalog_service.get_region(db, region).pue


@pytest.fixture()
def grid(db: Session) -> Iterator[None]:
    """40 days of periodic DE and FR hours, all before NOW; the clock at NOW."""
    hours = [NOW - timedelta(hours=h) for h in range(40 * 24, 0, -1)]
    records = [IntensityRecord("DE", h, de_value(h)) for h in hours] + [
        IntensityRecord("FR", h, fr_value(h)) for h in hours
    ]
    intensity_service.store_records(db, [("synthetic.csv", records)])
    clock.set_override(NOW)
    yield
    clock.set_override(None)


def submit(client: TestClient, headers: dict[str, str], **overrides: object) -> dict:
    body: dict[str, object] = {
        "name": "nightly-etl",
        "duration_minutes": 120,
        "power_kw": 1.0,
        "deadline": (NOW + timedelta(hours=24)).isoformat(),
        "regions": ["eu-central-1"],
    }
    body.update(overrides)
    response = client.post("/api/scheduler/jobs", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_contiguous_job_is_recommended_into_the_clean_window(client: TestClient, db: Session, grid: None) -> None:
    tenant = make_tenant(db)
    job = submit(client, tenant.headers)
    rec = job["recommendation"]
    assert job["status"] == "scheduled"
    assert rec["status"] == "planned"
    assert rec["region"] == "eu-central-1"
    assert at(rec["start"]) == datetime(2023, 3, 2, 3, tzinfo=UTC)
    assert at(rec["end"]) == datetime(2023, 3, 2, 5, tzinfo=UTC)
    # 2 kWh × PUE × 100 g vs 2 kWh × PUE × 400 g running at submission.
    assert rec["energy_kwh"] == pytest.approx(2.0)
    de_pue = pue(db, "eu-central-1")
    assert rec["expected_co2e_kg"] == pytest.approx(2.0 * de_pue * 100 / 1000, rel=0.05)
    assert rec["baseline_co2e_kg"] == pytest.approx(2.0 * de_pue * 400 / 1000, rel=0.02)
    assert rec["savings_pct"] == pytest.approx(75.0, abs=4.0)
    assert any("lowest forecast mean intensity" in line for line in rec["explanation"])
    assert client.get(f"/api/scheduler/jobs/{job['id']}", headers=tenant.headers).json()["recommendation"] == rec


def test_a_cleaner_allowed_region_wins_and_starts_now(client: TestClient, db: Session, grid: None) -> None:
    tenant = make_tenant(db)
    job = submit(client, tenant.headers, regions=["eu-central-1", "eu-west-3"])
    rec = job["recommendation"]
    assert rec["region"] == "eu-west-3"
    assert at(rec["start"]) == NOW  # 10:00-12:00 is FR's cleanest window
    assert rec["baseline_region"] == "eu-central-1"
    assert rec["expected_co2e_kg"] == pytest.approx(2.0 * pue(db, "eu-west-3") * 40 / 1000, rel=0.05)
    assert {r["region"] for r in rec["regions"]} == {"eu-central-1", "eu-west-3"}


def test_interruptible_job_takes_the_clean_hours_in_pieces(client: TestClient, db: Session, grid: None) -> None:
    tenant = make_tenant(db)
    job = submit(client, tenant.headers, duration_minutes=240, interruptible=True)
    pieces = [(at(p["start"]), at(p["end"])) for p in job["recommendation"]["pieces"]]
    assert (datetime(2023, 3, 2, 3, tzinfo=UTC), datetime(2023, 3, 2, 6, tzinfo=UTC)) in pieces
    assert sum((end - start for start, end in pieces), timedelta()) == timedelta(hours=4)
    assert len(pieces) == 2


def test_tick_starts_the_job_when_its_window_comes_and_finishes_it(client: TestClient, db: Session, grid: None) -> None:
    tenant = make_tenant(db)
    job_id = submit(client, tenant.headers)["id"]
    refresh_scheduled_jobs(db, NOW + timedelta(hours=1))
    assert client.get(f"/api/scheduler/jobs/{job_id}", headers=tenant.headers).json()["status"] == "scheduled"
    window = datetime(2023, 3, 2, 3, tzinfo=UTC)
    clock.set_override(window)
    refresh_scheduled_jobs(db, window)
    job = client.get(f"/api/scheduler/jobs/{job_id}", headers=tenant.headers).json()
    assert job["status"] == "running"
    assert at(job["started_at"]) == window
    assert job["run_region"] == "eu-central-1"
    refresh_scheduled_jobs(db, window + timedelta(hours=2))
    job = client.get(f"/api/scheduler/jobs/{job_id}", headers=tenant.headers).json()
    assert job["status"] == "done"
    assert at(job["finished_at"]) == window + timedelta(hours=2)


def test_a_job_that_can_no_longer_meet_its_deadline_is_missed(client: TestClient, db: Session, grid: None) -> None:
    tenant = make_tenant(db)
    job_id = submit(client, tenant.headers, deadline=datetime(2023, 3, 2, 6, tzinfo=UTC).isoformat())["id"]
    late = datetime(2023, 3, 2, 5, tzinfo=UTC)  # the scheduler was down through the window
    clock.set_override(late)
    refresh_scheduled_jobs(db, late)
    job = client.get(f"/api/scheduler/jobs/{job_id}", headers=tenant.headers).json()
    assert job["status"] == "missed"
    assert job["recommendation"]["status"] == "deadline_unreachable"
    assert "cannot be met" in job["recommendation"]["explanation"][0]
    # Moving the deadline revives it.
    revived = client.patch(
        f"/api/scheduler/jobs/{job_id}",
        json={"deadline": datetime(2023, 3, 3, 6, tzinfo=UTC).isoformat()},
        headers=tenant.headers,
    ).json()
    assert revived["status"] == "scheduled"
    # Both 2-hour windows inside 03:00-06:00 are clean (the forecast bridges the hours with no data).
    assert at(revived["recommendation"]["start"]) in (datetime(2023, 3, 3, h, tzinfo=UTC) for h in (3, 4))


def test_run_now_overrides_the_plan_and_says_what_it_costs(client: TestClient, db: Session, grid: None) -> None:
    tenant = make_tenant(db)
    job_id = submit(client, tenant.headers)["id"]
    response = client.post(f"/api/scheduler/jobs/{job_id}/run-now", headers=tenant.headers)
    assert response.status_code == 200, response.text
    job = response.json()
    assert job["status"] == "running"
    assert at(job["started_at"]) == NOW
    expected = 2.0 * pue(db, "eu-central-1") * 400 / 1000
    assert job["recommendation"]["expected_co2e_kg"] == pytest.approx(expected, rel=0.02)
    note = job["recommendation"]["explanation"][0]
    assert note.startswith(f"Started now by request. Expected {expected:.3f} kgCO2e against 0.2")
    assert client.post(f"/api/scheduler/jobs/{job_id}/run-now", headers=tenant.headers).status_code == 409
    assert client.patch(f"/api/scheduler/jobs/{job_id}", json={"name": "x"}, headers=tenant.headers).status_code == 409


def test_interruptible_run_now_is_credited_by_the_tick(client: TestClient, db: Session, grid: None) -> None:
    tenant = make_tenant(db)
    job_id = submit(client, tenant.headers, duration_minutes=90, interruptible=True)["id"]
    client.post(f"/api/scheduler/jobs/{job_id}/run-now", headers=tenant.headers)
    refresh_scheduled_jobs(db, NOW + timedelta(hours=1))
    job = client.get(f"/api/scheduler/jobs/{job_id}", headers=tenant.headers).json()
    assert (job["status"], job["done_minutes"]) == ("running", 60)
    refresh_scheduled_jobs(db, NOW + timedelta(hours=2))
    job = client.get(f"/api/scheduler/jobs/{job_id}", headers=tenant.headers).json()
    assert (job["status"], job["done_minutes"]) == ("done", 90)
    assert at(job["finished_at"]) == NOW + timedelta(minutes=90)
    assert [(at(r["start"]), at(r["end"])) for r in job["runs"]] == [
        (NOW, NOW + timedelta(hours=1)),
        (NOW + timedelta(hours=1), NOW + timedelta(minutes=90)),
    ]


def test_patch_recomputes_and_guards_the_version(client: TestClient, db: Session, grid: None) -> None:
    tenant = make_tenant(db)
    job = submit(client, tenant.headers)
    url = f"/api/scheduler/jobs/{job['id']}"
    changed = client.patch(url, json={"regions": ["eu-west-3"], "version": job["version"]}, headers=tenant.headers)
    assert changed.status_code == 200, changed.text
    assert changed.json()["recommendation"]["region"] == "eu-west-3"
    assert changed.json()["version"] > job["version"]
    stale = client.patch(url, json={"name": "again", "version": job["version"]}, headers=tenant.headers)
    assert stale.status_code == 409
    assert stale.json()["code"] == "stale_version"
    # Power from an instance type, then back to kW: the energy follows.
    typed = client.patch(url, json={"instance_type": "m5.large", "instance_count": 2}, headers=tenant.headers).json()
    assert typed["instance_type"] == "m5.large"
    assert typed["recommendation"]["energy_kwh"] == pytest.approx(typed["power_kw"] * 2.0, abs=1e-6)
    plain = client.patch(url, json={"power_kw": 3.0}, headers=tenant.headers).json()
    assert (plain["power_kw"], plain["instance_type"]) == (3.0, None)
    assert plain["recommendation"]["energy_kwh"] == pytest.approx(6.0)


def test_cancel_keeps_the_job_as_cancelled(client: TestClient, db: Session, grid: None) -> None:
    tenant = make_tenant(db)
    job_id = submit(client, tenant.headers)["id"]
    response = client.delete(f"/api/scheduler/jobs/{job_id}", headers=tenant.headers)
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    assert client.delete(f"/api/scheduler/jobs/{job_id}", headers=tenant.headers).status_code == 409
    refresh_scheduled_jobs(db, datetime(2023, 3, 2, 3, tzinfo=UTC))
    assert client.get(f"/api/scheduler/jobs/{job_id}", headers=tenant.headers).json()["status"] == "cancelled"


def test_jobs_are_tenant_scoped(client: TestClient, db: Session, grid: None, admin_headers: dict[str, str]) -> None:
    mine, other = make_tenant(db), make_tenant(db)
    job_id = submit(client, mine.headers)["id"]
    submit(client, other.headers, name="theirs")
    assert client.get(f"/api/scheduler/jobs/{job_id}", headers=other.headers).status_code == 404
    assert client.delete(f"/api/scheduler/jobs/{job_id}", headers=other.headers).status_code == 404
    assert [j["name"] for j in client.get("/api/scheduler/jobs", headers=mine.headers).json()] == ["nightly-etl"]
    everyone = client.get("/api/scheduler/jobs", headers=admin_headers).json()
    assert {j["name"] for j in everyone} >= {"nightly-etl", "theirs"}
    one = client.get(f"/api/scheduler/jobs?client_id={other.id}", headers=admin_headers).json()
    assert [j["name"] for j in one] == ["theirs"]
    # Admins name the client a job belongs to.
    body = {"name": "a", "duration_minutes": 60, "power_kw": 1, "deadline": (NOW + timedelta(hours=5)).isoformat(),
            "regions": ["eu-central-1"]}  # fmt: skip
    assert client.post("/api/scheduler/jobs", json=body, headers=admin_headers).status_code == 422
    made = client.post("/api/scheduler/jobs", json={**body, "client_id": mine.id}, headers=admin_headers)
    assert made.status_code == 201
    assert made.json()["client_id"] == mine.id


def test_instance_type_power_and_status_filter(client: TestClient, db: Session, grid: None) -> None:
    tenant = make_tenant(db)
    job = submit(client, tenant.headers, power_kw=None, instance_type="m5.large", instance_count=3)
    single = submit(client, tenant.headers, power_kw=None, instance_type="m5.large")
    assert job["power_kw"] == pytest.approx(3 * single["power_kw"])
    assert 0.001 < single["power_kw"] < 0.1  # a two-vCPU instance draws tens of watts
    listed = client.get("/api/scheduler/jobs?status=scheduled", headers=tenant.headers).json()
    assert len(listed) == 2
    assert client.get("/api/scheduler/jobs?status=done", headers=tenant.headers).json() == []


def test_no_stored_intensity_leaves_the_job_pending(client: TestClient, db: Session, grid: None) -> None:
    tenant = make_tenant(db)
    job = submit(client, tenant.headers, regions=["us-west-1"])
    assert job["status"] == "pending"
    assert job["recommendation"]["status"] == "no_data"
    assert "US-CAL-CISO" in job["recommendation"]["explanation"][0]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"power_kw": 1.0, "instance_type": "m5.large"}, "power_kw"),
        ({"power_kw": None}, "power_kw"),
        ({"instance_type": "no.such", "power_kw": None}, "instance_type"),
        ({"regions": ["mars-1"]}, "regions[0]"),
        ({"regions": ["eu-central-1", "eu-central-1"]}, "regions[1]"),
        ({"deadline": (NOW - timedelta(hours=1)).isoformat()}, "deadline"),
        ({"deadline": (NOW + timedelta(hours=1)).isoformat()}, "deadline"),  # shorter than the 2 h job
        ({"team_id": "nope"}, "team_id"),
    ],
)
def test_bad_input_is_rejected_and_stores_nothing(
    client: TestClient, db: Session, grid: None, overrides: dict, field: str
) -> None:
    tenant = make_tenant(db)
    body = {"name": "bad", "duration_minutes": 120, "power_kw": 1.0,
            "deadline": (NOW + timedelta(hours=24)).isoformat(), "regions": ["eu-central-1"], **overrides}  # fmt: skip
    response = client.post("/api/scheduler/jobs", json=body, headers=tenant.headers)
    assert response.status_code == 422, response.text
    assert field in [e.get("field") for e in response.json()["errors"]]
    assert service.list_jobs(db, tenant.id) == []


def test_an_import_replans_waiting_jobs(client: TestClient, db: Session, grid: None) -> None:
    tenant = make_tenant(db)
    job_id = submit(client, tenant.headers, regions=["eu-central-1"])["id"]
    # Corrected history: DE is now cleanest from 12:00 to 14:00 every day.
    hours = [NOW - timedelta(hours=h) for h in range(40 * 24, 0, -1)]
    records = [IntensityRecord("DE", h, 50.0 if 12 <= h.hour < 14 else 400.0) for h in hours]
    intensity_service.store_records(db, [("corrected.csv", records)])
    event = Event(1, tasks.IMPORT_TOPIC, None, NOW, {})
    tasks.replan_after_import(event)  # what the subscriber runs after the import commits
    job = client.get(f"/api/scheduler/jobs/{job_id}", headers=tenant.headers).json()
    assert at(job["recommendation"]["start"]) == datetime(2023, 3, 1, 12, tzinfo=UTC)


def _step(db: Session, now: datetime) -> dict[str, Any]:
    summary = refresh_scheduled_jobs(db, now)
    assert summary is not None
    return summary


def _auto_policy(db: Session, client_id: str, **kw: object) -> None:
    from spectra.carbon.automation import service as automation_service
    from spectra.carbon.automation.schemas import PolicyUpdate

    values: dict[str, object] = {"mode": "apply", "auto_schedule": True} | kw
    automation_service.put_policy(db, client_id, PolicyUpdate(**values))
    db.flush()


def test_auto_schedule_commits_the_job_to_its_window_through_the_tick(
    client: TestClient, db: Session, grid: None, admin_headers: dict[str, str]
) -> None:
    tenant = make_tenant(db)
    _auto_policy(db, tenant.client.id)
    job_id = submit(client, tenant.headers)["id"]
    summary = _step(db, NOW)
    assert summary["auto_scheduled"] == {"committed": 1, "held": 0}
    job = client.get(f"/api/scheduler/jobs/{job_id}", headers=tenant.headers).json()
    assert job["status"] == "scheduled"
    assert job["recommendation"]["committed"]["origin"] == "automatic"
    committed_start = job["recommendation"]["start"]
    assert at(committed_start) == datetime(2023, 3, 2, 3, tzinfo=UTC)
    actions = client.get("/api/optimizer/actions?kind=schedule", headers=tenant.headers)
    assert actions.status_code == 200, actions.text
    assert [a["origin"] for a in actions.json()] == ["automatic"]
    # A committed job is not re-planned, and starts at its committed time.
    refresh_scheduled_jobs(db, NOW + timedelta(hours=3))
    job = client.get(f"/api/scheduler/jobs/{job_id}", headers=tenant.headers).json()
    assert job["recommendation"]["start"] == committed_start
    window = datetime(2023, 3, 2, 3, tzinfo=UTC)
    refresh_scheduled_jobs(db, window)
    assert client.get(f"/api/scheduler/jobs/{job_id}", headers=tenant.headers).json()["status"] == "running"


def test_recommend_only_and_the_budget_leave_jobs_with_a_recommendation(
    client: TestClient, db: Session, grid: None
) -> None:
    tenant = make_tenant(db)
    _auto_policy(db, tenant.client.id, mode="recommend")
    job_id = submit(client, tenant.headers)["id"]
    assert _step(db, NOW)["auto_scheduled"] == {"committed": 0, "held": 1}
    job = client.get(f"/api/scheduler/jobs/{job_id}", headers=tenant.headers).json()
    assert job["recommendation"]["committed"] is None
    assert job["recommendation"]["auto_schedule"]["held_back"] == "recommend-only mode"

    other = make_tenant(db)
    _auto_policy(db, other.client.id, daily_change_budget=1)
    first, second = submit(client, other.headers)["id"], submit(client, other.headers, name="second")["id"]
    assert _step(db, NOW)["auto_scheduled"]["committed"] == 1
    jobs = {j: client.get(f"/api/scheduler/jobs/{j}", headers=other.headers).json() for j in (first, second)}
    held = [j for j in jobs.values() if j["recommendation"]["committed"] is None]
    assert len(held) == 1
    assert "budget" in held[0]["recommendation"]["auto_schedule"]["held_back"]


def test_without_auto_schedule_jobs_only_follow_the_recommendation(client: TestClient, db: Session, grid: None) -> None:
    tenant = make_tenant(db)
    _auto_policy(db, tenant.client.id, auto_schedule=False)
    job_id = submit(client, tenant.headers)["id"]
    assert _step(db, NOW)["auto_scheduled"] == {"committed": 0, "held": 0}
    job = client.get(f"/api/scheduler/jobs/{job_id}", headers=tenant.headers).json()
    assert job["recommendation"]["committed"] is None
    assert client.get("/api/optimizer/actions?kind=schedule", headers=tenant.headers).json() == []


def test_manual_schedule_commits_through_the_same_path(client: TestClient, db: Session, grid: None) -> None:
    tenant = make_tenant(db)
    job_id = submit(client, tenant.headers)["id"]
    response = client.post(f"/api/scheduler/jobs/{job_id}/schedule", headers=tenant.headers)
    assert response.status_code == 200, response.text
    assert response.json()["recommendation"]["committed"]["origin"] == "manual"
    assert [a["origin"] for a in client.get("/api/optimizer/actions?kind=schedule", headers=tenant.headers).json()] == [
        "manual"
    ]
    client.delete(f"/api/scheduler/jobs/{job_id}", headers=tenant.headers)
    again = client.post(f"/api/scheduler/jobs/{job_id}/schedule", headers=tenant.headers)
    assert again.status_code == 409
    assert again.headers["content-type"].startswith("application/problem+json")
