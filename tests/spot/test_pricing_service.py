"""Price imports and the consolidation run against a real database, and their admin endpoints."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from spectra.core import jobs
from spectra.spot.models import Pool, PricingCanonical, PricingConsolidated, SpotPriceSnapshot
from spectra.spot.pricing import service
from spectra.spot.pricing.formats import parse_price_history, parse_spot_advisor
from tests.factories import make_tenant

NOW = datetime(2024, 3, 2, tzinfo=UTC)
T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
CSV = (
    "Timestamp,InstanceType,ProductDescription,SpotPrice,AvailabilityZone\n"
    "2024-03-01 12:20:00+00:00,m5.large,Linux/UNIX,0.120,us-east-1a\n"
    "2024-03-01 12:00:00+00:00,m5.large,Linux/UNIX,0.100,us-east-1a\n"
    "2024-03-01 12:00:00+00:00,m5.large,Linux/UNIX,0.090,us-east-1b\n"
)
ADVISOR = {
    "ranges": [{"index": 0, "label": "<5%"}, {"index": 2, "label": "10-15%"}],
    "spot_advisor": {"us-east-1": {"Linux": {"m5.large": {"r": 2, "s": 55}}}},
}


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def _pool(db: Session, zone: str) -> Pool:
    return db.scalars(select(Pool).where(Pool.availability_zone == zone)).one()


def _consolidated(db: Session, pool: Pool) -> list[tuple[datetime, float, str, bool]]:
    rows = db.scalars(
        select(PricingConsolidated)
        .where(PricingConsolidated.pool_id == pool.id)
        .order_by(PricingConsolidated.bucket_start)
    )
    return [(r.bucket_start, round(r.price, 6), r.source_role, r.interpolated) for r in rows]


def test_import_is_idempotent_and_creates_pools(db: Session) -> None:
    records = parse_price_history(CSV, "prices.csv")
    first = service.import_price_history(db, records, NOW)
    assert first.as_dict() == {
        "rows_read": 3,
        "rows_staged": 3,
        "duplicates_skipped": 0,
        "pools_created": 2,
        "pools_touched": 2,
    }
    again = service.import_price_history(db, records, NOW)
    assert (again.rows_staged, again.duplicates_skipped, again.pools_created) == (0, 3, 0)
    pool_a = _pool(db, "us-east-1a")
    assert (pool_a.latest_price, pool_a.latest_price_at) == (0.12, at(20))
    assert db.query(SpotPriceSnapshot).filter_by(reporter_role="IMPORT").count() == 3


def test_consolidation_fills_tiers_with_reference_data(db: Session) -> None:
    service.import_spot_advisor(db, parse_spot_advisor(json.dumps(ADVISOR)), NOW)
    service.import_on_demand(db, {("m5.large", "Linux"): 0.20}, "us-east-1", NOW)
    service.import_price_history(db, parse_price_history(CSV), NOW)
    job = service.run_consolidation(db, NOW)
    assert job.status == "succeeded", job.error
    pool_a = _pool(db, "us-east-1a")
    # Imported change events: the 12:00 price holds until 12:20 (carried forward, flagged).
    assert _consolidated(db, pool_a) == [
        (at(0), 0.10, "IMPORT", False),
        (at(5), 0.10, "INTERPOLATED", True),
        (at(10), 0.10, "INTERPOLATED", True),
        (at(15), 0.10, "INTERPOLATED", True),
        (at(20), 0.12, "IMPORT", False),
    ]
    canonical = db.scalars(
        select(PricingCanonical).where(PricingCanonical.pool_id == pool_a.id).order_by(PricingCanonical.bucket_start)
    ).all()
    assert [c.price for c in canonical] == [0.10, 0.10, 0.10, 0.10, 0.12]
    last = canonical[-1]
    assert (last.interruption_bucket, last.interruption_probability) == (2, pytest.approx(0.125))
    assert last.on_demand_ratio == pytest.approx(0.6)
    assert canonical[3].hours_since_change == pytest.approx(0.25)
    assert (pool_a.on_demand_price, pool_a.interruption_bucket, pool_a.savings_pct) == (0.20, 2, 55)
    assert (job.pools, job.rows_staged, job.rows_consolidated, job.rows_interpolated) == (2, 3, 6, 3)


def test_primary_reports_win_in_the_database_too(db: Session) -> None:
    service.import_price_history(db, parse_price_history(CSV), NOW)
    pool_b = _pool(db, "us-east-1b")
    db.add_all(
        [
            SpotPriceSnapshot(
                pool_id=pool_b.id, observed_at=at(31), price=0.095, reporter_role="PRIMARY", source="agent"
            ),
            SpotPriceSnapshot(
                pool_id=pool_b.id, observed_at=at(33), price=0.099, reporter_role="REPLICA", source="agent"
            ),
        ]
    )
    db.flush()
    job = service.run_consolidation(db, NOW)
    assert job.replica_overridden == 1
    assert _consolidated(db, pool_b)[-1] == (at(30), 0.095, "PRIMARY", False)


def test_a_second_run_only_touches_new_rows_and_late_rows_repair_the_gap(db: Session) -> None:
    service.import_price_history(db, parse_price_history(CSV), NOW)
    service.run_consolidation(db, NOW)
    quiet = service.run_consolidation(db, NOW + timedelta(hours=1))
    assert (quiet.status, quiet.pools, quiet.rows_consolidated) == ("succeeded", 0, 0)

    pool_a = _pool(db, "us-east-1a")
    late = SpotPriceSnapshot(
        pool_id=pool_a.id,
        observed_at=at(10),
        price=0.150,
        reporter_role="PRIMARY",
        source="agent",
        received_at=NOW + timedelta(hours=2),
    )
    db.add(late)
    db.flush()
    repaired = service.run_consolidation(db, NOW + timedelta(hours=3))
    assert repaired.pools == 1
    assert _consolidated(db, pool_a) == [
        (at(0), 0.10, "IMPORT", False),
        (at(5), 0.10, "INTERPOLATED", True),
        (at(10), 0.15, "PRIMARY", False),
        (at(15), 0.135, "INTERPOLATED", True),  # linear after an agent report: halfway to 0.12
        (at(20), 0.12, "IMPORT", False),
    ]


def test_the_consolidation_job_is_registered_and_reports_counts(db: Session) -> None:
    from spectra import registry

    registry.load_tasks()
    spec = jobs.get_job("spot.pricing_consolidation")
    assert spec.interval() == timedelta(hours=12)
    service.import_price_history(db, parse_price_history(CSV), NOW)
    result = spec.func(db, NOW)
    assert result is not None
    assert (result["status"], result["pools"], result["rows_consolidated"]) == ("succeeded", 2, 6)


# --------------------------------------------------------------------------- endpoints


def test_consolidation_jobs_endpoint_is_admin_only_and_newest_first(
    client: TestClient, db: Session, admin_headers: dict[str, str]
) -> None:
    tenant = make_tenant(db)
    assert client.get("/api/admin/consolidation-jobs", headers=tenant.headers).status_code == 403
    assert client.get("/api/admin/consolidation-jobs").status_code == 401
    first = client.post("/api/admin/consolidation-jobs", headers=admin_headers)
    assert first.status_code == 201, first.text
    assert first.json()["status"] == "succeeded"
    listed = client.get("/api/admin/consolidation-jobs", headers=admin_headers, params={"status": "succeeded"})
    assert listed.status_code == 200
    assert listed.json()[0]["id"] == first.json()["id"]
    assert (
        client.get("/api/admin/consolidation-jobs", headers=admin_headers, params={"status": "bogus"}).status_code
        == 422
    )


def test_import_endpoint_stages_and_consolidates(
    client: TestClient, db: Session, admin_headers: dict[str, str]
) -> None:
    response = client.post(
        "/api/admin/pricing/import",
        headers=admin_headers,
        files={"file": ("prices.csv", CSV.encode(), "text/csv")},
        data={"kind": "price-history"},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["counts"]["rows_staged"] == 3
    assert body["consolidation"]["rows_consolidated"] == 6
    advisor = client.post(
        "/api/admin/pricing/import",
        headers=admin_headers,
        files={"file": ("advisor.json", json.dumps(ADVISOR).encode(), "application/json")},
        data={"kind": "spot-advisor"},
    )
    assert advisor.status_code == 201
    assert advisor.json()["counts"] == {"entries_created": 1, "entries_updated": 0, "pools_updated": 2}


def test_import_endpoint_rejects_bad_rows_and_stores_nothing(
    client: TestClient, db: Session, admin_headers: dict[str, str]
) -> None:
    bad = CSV + "2024-03-01 12:25:00+00:00,m5.large,Linux/UNIX,free,us-east-1a\n"
    response = client.post(
        "/api/admin/pricing/import",
        headers=admin_headers,
        files={"file": ("bad.csv", bad.encode(), "text/csv")},
        data={"kind": "price-history"},
    )
    assert response.status_code == 422
    problem = response.json()
    assert problem["errors"] == [{"source": "bad.csv", "line": 5, "field": "SpotPrice", "msg": "not a number: 'free'"}]
    assert db.query(SpotPriceSnapshot).count() == 0
    missing_region = client.post(
        "/api/admin/pricing/import",
        headers=admin_headers,
        files={"file": ("od.csv", b'"API Name","Linux On Demand cost"\n"m5.large","$0.096 hourly"\n', "text/csv")},
        data={"kind": "on-demand"},
    )
    assert missing_region.status_code == 422
    assert missing_region.json()["errors"][0]["field"] == "region"


def test_a_pool_outside_the_reference_tables_is_not_looked_up_on_every_report(
    db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    from spectra.spot.pricing import repository

    lookups: list[str] = []
    for name in ("on_demand_for", "advisor_for"):
        real = getattr(repository, name)
        monkeypatch.setattr(repository, name, lambda *a, _real=real, _name=name: lookups.append(_name) or _real(*a))
    service.import_price_history(db, parse_price_history(CSV), NOW)
    service._reference_misses.clear()
    lookups.clear()
    pool = _pool(db, "us-east-1a")
    pool.on_demand_price = pool.interruption_bucket = None
    service.fill_reference(db, pool)
    service.fill_reference(db, pool)  # the next report: both misses remembered
    assert lookups == ["on_demand_for", "advisor_for"]
    assert pool.on_demand_price is None and pool.interruption_bucket is None
    # An import makes the reference count again at once.
    service.import_on_demand(db, {("m5.large", "Linux"): 0.096}, "us-east-1", NOW)
    pool.on_demand_price = None
    service.fill_reference(db, pool)
    assert pool.on_demand_price == 0.096 and lookups[2:] == ["on_demand_for", "advisor_for"]
