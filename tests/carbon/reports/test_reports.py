"""Reports: hand-worked scope totals, pro-rata Scope 1, monthly history, CSV and a parsed PDF."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime

import pytest
from pypdf import PdfReader
from sqlalchemy.orm import Session

from spectra.carbon.reports import service
from spectra.core.clock import clock
from spectra.fleet.settings import service as settings_service
from spectra.fleet.settings.schemas import ClientSettingsIn
from tests.carbon.factories import emission_row, store
from tests.factories import make_tenant
from tests.fleet.factories import make_instance

NOW = datetime(2024, 3, 15, 12, tzinfo=UTC)


def _fleet(db: Session):
    acme = make_tenant(db, teams=())
    web = make_instance(db, acme, region="eu-west-1", tags={"team": "web"})
    ml = make_instance(db, acme, region="us-east-1", tags={"team": "ml"})
    store(
        db,
        [
            # web, 5 Jan: 24 h, 10 kWh, 3 kg location, 1 kg market, 0.5 kg embodied, 2 USD (billed), measured CPU
            emission_row(web, date(2024, 1, 5), instance_hours=24, measured_hours=24, kwh=10, co2e_location_g=3000,
                         co2e_market_g=1000, embodied_g=500, cost_usd=2, billed_cost_usd=2),
            # ml, 6 Jan and 2 Feb: 24 h each, default CPU, list-price cost
            emission_row(ml, date(2024, 1, 6), instance_hours=24, kwh=40, co2e_location_g=16000,
                         co2e_market_g=16000, embodied_g=1500, cost_usd=6),
            emission_row(ml, date(2024, 2, 2), instance_hours=24, kwh=40, co2e_location_g=15000,
                         co2e_market_g=15000, embodied_g=1500, cost_usd=6),
        ],
    )  # fmt: skip
    db.commit()
    return acme, web, ml


def test_summary_hand_worked(client, db: Session) -> None:
    acme, _, _ = _fleet(db)
    settings_service._apply(db, acme.id, ClientSettingsIn(scope1_co2e_kg_per_month=31), acme.id)
    db.commit()
    response = client.get("/api/reports/summary", params={"start": "2024-01-01", "end": "2024-01-15"},
                          headers=acme.headers)  # fmt: skip
    assert response.status_code == 200, response.text
    r = response.json()
    assert (r["start"], r["end"], r["days"]) == ("2024-01-01", "2024-01-15", 15)
    assert r["scope1"]["co2e_kg"] == pytest.approx(15.0)  # 31 kg/month × 15/31
    assert r["scope2"] == {"location_based_kg": 19.0, "market_based_kg": 17.0, "kwh": 50.0}
    assert r["scope3"] == {"embodied_kg": 2.0, "category_1_location_kg": 21.0, "category_1_market_kg": 19.0}
    assert r["total_location_based_kg"] == pytest.approx(36.0)  # 15 + 19 + 2
    assert r["total_market_based_kg"] == pytest.approx(34.0)
    assert r["cost_usd"] == 8
    assert [(t["name"], t["total_kg"]) for t in r["by_team"]] == [("ml", 17.5), ("web", 3.5)]
    assert [(g["key"], g["location_based_kg"]) for g in r["by_region"]] == [("us-east-1", 16.0), ("eu-west-1", 3.0)]
    inputs = r["inputs"]
    assert (inputs["instances"], inputs["instance_hours"]) == (2, 48)
    assert inputs["measured_utilisation_share"] == 0.5 and inputs["billed_cost_share"] == 0.25
    assert inputs["regions"] == ["eu-west-1", "us-east-1"]
    assert "0.000392" in r["method"]["energy"] and "Scope 2" in r["method"]["scopes"]


def test_scope1_prorates_each_month_by_its_own_length() -> None:
    # 20-31 Jan: 12/31 of January; 1-10 Feb 2024: 10/29 of February.
    assert service.prorate_monthly(31.0, date(2024, 1, 20), date(2024, 2, 10)) == pytest.approx(12 + 31 * 10 / 29)


def test_reports_are_tenant_scoped(client, db: Session, admin_headers) -> None:
    acme, _, _ = _fleet(db)
    globex = make_tenant(db)
    other = make_instance(db, globex)
    store(db, [emission_row(other, date(2024, 1, 7), co2e_location_g=100_000)])
    db.commit()
    params = {"start": "2024-01-01", "end": "2024-01-31"}
    mine = client.get("/api/reports/summary", params=params, headers=acme.headers).json()
    assert mine["scope2"]["location_based_kg"] == 19.0
    theirs = client.get("/api/reports/summary", params=params, headers=globex.headers).json()
    assert theirs["scope2"]["location_based_kg"] == 100.0
    assert client.get("/api/reports/summary", params={**params, "client_id": acme.id},
                      headers=globex.headers).status_code == 404  # fmt: skip
    assert client.get("/api/reports/history", params={"client_id": acme.id}, headers=globex.headers).status_code == 404
    everyone = client.get("/api/reports/summary", params=params, headers=admin_headers).json()
    assert everyone["scope2"]["location_based_kg"] >= 119.0


def test_history_is_monthly_and_marks_the_current_month(client, db: Session) -> None:
    acme, _, _ = _fleet(db)
    clock.set_override(NOW)
    body = client.get("/api/reports/history", params={"months": 3}, headers=acme.headers).json()
    months = body["months"]
    assert [m["month"] for m in months] == ["2024-01", "2024-02", "2024-03"]
    assert [m["scope2_location_kg"] for m in months] == [19.0, 15.0, 0.0]
    assert [m["scope3_embodied_kg"] for m in months] == [2.0, 1.5, 0.0]
    assert [m["complete"] for m in months] == [True, True, False]
    assert client.get("/api/reports/history", params={"months": 0}, headers=acme.headers).status_code == 422


def test_bad_periods_are_refused(client, db: Session) -> None:
    acme, _, _ = _fleet(db)
    backwards = client.get("/api/reports/summary", params={"start": "2024-02-01", "end": "2024-01-01"},
                           headers=acme.headers)  # fmt: skip
    assert backwards.status_code == 422 and backwards.json()["errors"][0]["field"] == "end"
    assert client.get("/api/reports/export", params={"format": "xls"}, headers=acme.headers).status_code == 422
    assert client.get("/api/reports/summary", params={"start": "yesterday"}, headers=acme.headers).status_code == 422


def test_csv_export(client, db: Session) -> None:
    acme, _, _ = _fleet(db)
    response = client.get("/api/reports/export", params={"format": "csv", "start": "2024-01-01", "end": "2024-02-29"},
                          headers=acme.headers)  # fmt: skip
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    rows = [(r["month"], r["team"], r["region"], float(r["total_location_based_kg"]))
            for r in csv.DictReader(io.StringIO(response.text))]  # fmt: skip
    assert rows == [
        ("2024-01", "ml", "us-east-1", 17.5),
        ("2024-01", "web", "eu-west-1", 3.5),
        ("2024-02", "ml", "us-east-1", 16.5),
    ]


def test_pdf_export_is_a_real_pdf_with_tables_and_a_chart(client, db: Session) -> None:
    acme, _, _ = _fleet(db)
    clock.set_override(NOW)
    response = client.get("/api/reports/export", params={"format": "pdf", "start": "2024-01-01", "end": "2024-02-29"},
                          headers=acme.headers)  # fmt: skip
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    reader = PdfReader(io.BytesIO(response.content))
    text = "\n".join(page.extract_text() for page in reader.pages)
    assert "Spectra emissions report" in text and acme.client.name in text
    assert "Period 2024-01-01 to 2024-02-29" in text
    assert "Scope 2 (purchased electricity)" in text and "34.00" in text  # 19 + 15 kg location-based
    assert "ml" in text and "us-east-1" in text
    images = [img for page in reader.pages for img in page.images]
    assert images, "the monthly chart is embedded"


def test_exports_are_tenant_scoped(client, db: Session, admin_headers) -> None:
    acme, _, _ = _fleet(db)
    globex = make_tenant(db)
    db.commit()
    params = {"format": "csv", "start": "2024-01-01", "end": "2024-02-29"}
    assert client.get("/api/reports/export", params=params, headers=globex.headers).text.count("\n") == 1  # header
    assert client.get("/api/reports/export", params={**params, "client_id": acme.id},
                      headers=globex.headers).status_code == 404  # fmt: skip
    as_admin = client.get("/api/reports/export", params={**params, "client_id": acme.id}, headers=admin_headers)
    assert len(list(csv.DictReader(io.StringIO(as_admin.text)))) == 3
