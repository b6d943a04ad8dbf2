"""Stored intensity: all-or-nothing import with upsert, region view, forecast from stored hours, back-test, routes."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from spectra.carbon.intensity import service
from spectra.carbon.intensity.models import CarbonIntensityHour
from spectra.carbon.intensity.service import SourceFile
from spectra.core.clock import clock
from spectra.core.errors import NotFound, Unprocessable
from tests.factories import make_tenant

DATA = Path(__file__).resolve().parents[3] / ".." / "shared" / "data" / "carbon_intensity"
EM_HEADER = (
    "Datetime (UTC),Country,Zone Name,Zone Id,Carbon Intensity gCO₂eq/kWh (direct),"
    "Carbon Intensity gCO₂eq/kWh (LCA),Low Carbon Percentage,Renewable Percentage,Data Source,"
    "Data Estimated,Data Estimation Method"
)
START = datetime(2023, 1, 1, tzinfo=UTC)


def em_export(zone: str, values: list[float], start: datetime = START) -> bytes:
    lines = [EM_HEADER]
    for i, v in enumerate(values):
        stamp = (start + timedelta(hours=i)).strftime("%Y-%m-%d %H:%M:%S")
        lines.append(f"{stamp},X,X,{zone},{v},{v * 1.3:.2f},50,40,entsoe.eu,false,")
    return ("\r\n".join(lines) + "\r\n").encode()


def pattern(hours: int) -> list[float]:
    t = np.arange(hours)
    return [round(float(v), 3) for v in 300 + 100 * np.sin(2 * np.pi * t / 24)]


def count(db: Session) -> int:
    return int(db.scalar(select(func.count(CarbonIntensityHour.id))) or 0)


def test_import_upserts_and_reports_zones(db: Session) -> None:
    summary = service.import_files(db, [SourceFile("de.csv", em_export("DE", [100.0, 110.0, 120.0]))])
    assert summary["rows"] == 3
    assert summary["zones"]["DE"] == {
        "hours": 3,
        "first": "2023-01-01T00:00:00+00:00",
        "last": "2023-01-01T02:00:00+00:00",
    }
    # A corrected re-export replaces the overlapping hours and adds the new one.
    service.import_files(
        db, [SourceFile("de2.csv", em_export("DE", [101.0, 111.0, 121.0, 131.0], START + timedelta(hours=0)))]
    )
    assert count(db) == 4
    rows = db.scalars(select(CarbonIntensityHour).order_by(CarbonIntensityHour.hour)).all()
    assert [r.direct_g_per_kwh for r in rows] == [101.0, 111.0, 121.0, 131.0]
    first = rows[0]
    assert (first.lifecycle_g_per_kwh, first.low_carbon_pct, first.data_source, first.imported_from) == (
        131.3,
        50.0,
        "entsoe.eu",
        "de2.csv",
    )
    assert first.hour == START


def test_import_is_all_or_nothing_across_files(db: Session) -> None:
    good = SourceFile("good.csv", em_export("FR", [30.0, 31.0]))
    bad = SourceFile("bad.csv", b"Time,Carbon Intensity\n2020-01-01 00:00:00,abc\n")
    with pytest.raises(Unprocessable) as caught:
        service.import_files(db, [good, bad], zone="DE")
    (error,) = caught.value.extra["errors"]
    assert (error["file"], error["line"], error["column"]) == ("bad.csv", 2, "Carbon Intensity")
    assert count(db) == 0
    with pytest.raises(Unprocessable, match="no file"):
        service.import_files(db, [])


def test_region_carbon_uses_the_regions_zone_and_range(db: Session) -> None:
    service.import_files(db, [SourceFile("de.csv", em_export("DE", [100.0, 200.0, 300.0, 400.0]))])
    view = service.region_carbon(db, "eu-central-1", START + timedelta(hours=1), START + timedelta(hours=3))
    assert view["zone"] == "DE" and [r.direct_g_per_kwh for r in view["hours"]] == [200.0, 300.0]
    assert view["summary"]["mean_g_per_kwh"] == 250.0
    assert view["summary"]["mean_effective_g_per_kwh"] == pytest.approx(250.0 * 1.135)
    empty = service.region_carbon(db, "eu-west-3", START, START + timedelta(hours=3))
    assert empty["hours"] == [] and empty["summary"] is None
    with pytest.raises(Unprocessable, match="after start"):
        service.region_carbon(db, "eu-central-1", START, START)
    with pytest.raises(NotFound):
        service.region_carbon(db, "nowhere-1", START, START + timedelta(hours=1))


def test_forecast_uses_only_hours_that_ended_before_now(db: Session) -> None:
    hours = 40 * 24
    values = pattern(hours)
    values[-24:] = [3000.0] * 24  # the "future" relative to the clock below: must not be read
    service.import_files(db, [SourceFile("de.csv", em_export("DE", values))])
    now = START + timedelta(hours=hours - 24, minutes=30)
    out = service.forecast_zone(db, "DE", 24, now=now)
    assert out["points"][0]["hour"] == START + timedelta(hours=hours - 24)
    assert out["last_observed_hour"] == START + timedelta(hours=hours - 25)
    assert out["method"] == "seasonal-ridge"
    expected = pattern(hours)[-24:]
    assert np.allclose([p["mean_g_per_kwh"] for p in out["points"]], expected, atol=2.0)
    with pytest.raises(NotFound):
        service.forecast_zone(db, "FR", 24, now=now)


def test_backtest_reports_error_against_seasonal_naive(db: Session) -> None:
    rng = np.random.default_rng(5)
    values = [v + float(rng.normal(0, 5)) for v in pattern(60 * 24)]
    service.import_files(db, [SourceFile("es.csv", em_export("ES", values))])
    out = service.backtest_zone(db, "ES", START + timedelta(days=40), START + timedelta(days=60), 24, 24)
    assert out["forecasts"] == 20 and out["points"] == 20 * 24  # origins on days 40 … 59
    assert out["ratio"] == pytest.approx(out["mae"] / out["seasonal_naive_mae"])
    assert out["ratio"] < 1.0  # noise around a fixed daily shape: averaging days beats yesterday alone
    with pytest.raises(Unprocessable):
        service.backtest_zone(db, "ZZ", START, START + timedelta(days=3))


def test_routes(client, db: Session, admin_headers: dict[str, str], tmp_path: Path) -> None:
    tenant = make_tenant(db)
    db.commit()
    files = [
        ("file", ("de.csv", io.BytesIO(em_export("DE", pattern(30 * 24))), "text/csv")),
        ("file", ("fr.csv", io.BytesIO(em_export("FR", [30.0] * 48)), "text/csv")),
    ]
    assert client.post("/api/admin/import", files=files, headers=tenant.headers).status_code == 403
    files = [("file", ("de.csv", io.BytesIO(em_export("DE", pattern(30 * 24))), "text/csv"))]
    response = client.post("/api/admin/import", files=files, headers=admin_headers)
    assert response.status_code == 200, response.text
    assert response.json()["kind"] == "intensity" and response.json()["rows"] == 720

    bad = [("file", ("s.csv", io.BytesIO(b"Time,Carbon Intensity\n2023-03-01 00:00:00,-1\n"), "text/csv"))]
    rejected = client.post("/api/admin/import", files=bad, data={"zone": "DE"}, headers=admin_headers)
    assert rejected.status_code == 422
    assert rejected.headers["content-type"].startswith("application/problem+json")
    assert rejected.json()["errors"][0]["line"] == 2

    series = tmp_path / "fr_ci.csv"
    series.write_text("Time,Carbon Intensity\n2023-01-01 00:00:00,40\n2023-01-01 00:30:00,60\n")
    by_path = client.post("/api/admin/import", json={"path": str(series), "zone": "FR"}, headers=admin_headers)
    assert by_path.status_code == 200, by_path.text
    assert by_path.json()["zones"]["FR"]["hours"] == 1
    missing = client.post("/api/admin/import", json={"path": str(tmp_path / "nope.csv")}, headers=admin_headers)
    assert missing.status_code == 422

    carbon = client.get(
        "/api/regions/eu-central-1/carbon",
        params={"start": "2023-01-01T00:00:00Z", "end": "2023-01-01T06:00:00Z"},
        headers=tenant.headers,
    )
    assert carbon.status_code == 200, carbon.text
    assert len(carbon.json()["hours"]) == 6 and carbon.json()["zone"] == "DE"

    clock.set_override(START + timedelta(days=30))
    forecast = client.get(
        "/api/scheduler/forecast", params={"region": "eu-central-1", "hours": 24}, headers=tenant.headers
    )
    assert forecast.status_code == 200, forecast.text
    assert len(forecast.json()["points"]) == 24 and forecast.json()["zone"] == "DE"
    assert client.get("/api/scheduler/forecast", params={"hours": 24}, headers=tenant.headers).status_code == 422
    assert client.get("/api/scheduler/forecast", params={"zone": "XX"}, headers=tenant.headers).status_code == 404

    backtest = client.get(
        "/api/carbon/intensity/backtest",
        params={"zone": "DE", "start": "2023-01-20T00:00:00Z", "end": "2023-01-31T00:00:00Z"},
        headers=tenant.headers,
    )
    assert backtest.status_code == 200, backtest.text
    assert backtest.json()["forecasts"] == 11  # origins Jan 20 … Jan 30, each with a full day of actuals
    zones = client.get("/api/carbon/intensity/zones", headers=tenant.headers).json()
    assert {z["zone"] for z in zones} == {"DE", "FR"}


def test_instance_type_export_is_routed_to_the_catalogue(client, db: Session, admin_headers: dict[str, str]) -> None:
    export = (
        '"Name","API Name","Memory","vCPUs","Availability Zones","Linux On Demand cost"\n'
        '"M5 L","m5.large","8 GiB","2 vCPUs","use1-az1","$0.096 hourly"\n'
    )
    files = [("file", ("ec2.csv", io.BytesIO(export.encode()), "text/csv"))]
    response = client.post("/api/admin/import", files=files, headers=admin_headers)
    assert response.status_code == 200, response.text
    assert response.json()["kind"] == "instance-types"
    assert response.json()["instance_types"]["region"] == "us-east-1"


@pytest.mark.skipif(not (DATA / "electricitymaps" / "FR_2023_hourly.csv").exists(), reason="shared data absent")
def test_real_export_round_trip(db: Session) -> None:
    summary = service.import_path(db, DATA / "electricitymaps" / "FR_2023_hourly.csv")
    assert summary["zones"]["FR"]["hours"] == 8760
    out = service.forecast_zone(db, "FR", 48, now=datetime(2023, 7, 1, 12, 10, tzinfo=UTC))
    assert len(out["points"]) == 48 and all(p["mean_g_per_kwh"] >= 0 for p in out["points"])


def test_outlook_mixes_stored_past_and_forecast_future(db: Session) -> None:
    service.import_files(db, [SourceFile("de.csv", em_export("DE", [200.0] * (40 * 24)))])
    now = START + timedelta(days=35)  # enough history for the regression
    past = service.outlook(db, "DE", START + timedelta(days=1), START + timedelta(days=2), now=now)
    assert past == service.Outlook(mean=200.0, std=None, method="stored", hours=24)
    mixed = service.outlook(db, "DE", now - timedelta(hours=6), now + timedelta(hours=6), now=now)
    assert mixed is not None and mixed.hours == 12 and mixed.method == "stored+seasonal-ridge"
    assert mixed.mean == pytest.approx(200.0, abs=1.0)
    ahead = service.outlook(db, "DE", now + timedelta(hours=3), now + timedelta(hours=5), now=now)
    assert ahead is not None and ahead.hours == 2 and ahead.method == "seasonal-ridge"
    assert service.outlook(db, "XX", START, START + timedelta(days=1), now=now) is None


def test_demo_seed_imports_and_replays_whole_weeks_to_the_clock(db: Session, tmp_path: Path) -> None:
    from spectra.carbon.intensity import seed as intensity_seed

    values = [float(100 + (i % 168)) for i in range(60 * 24)]  # hour-of-week pattern
    path = tmp_path / "DE.csv"
    path.write_bytes(em_export("DE", values))
    now = START + timedelta(days=200, hours=5, minutes=20)
    clock.set_override(now)
    result = intensity_seed.seed(db, sources=[path])
    assert result["imported"] == {"files": ["DE.csv"], "rows": 60 * 24}
    (replay,) = result["replayed"]
    weeks = replay["weeks"]
    last = START + timedelta(hours=60 * 24 - 1)
    assert last + timedelta(weeks=weeks) >= now + timedelta(days=3) > last + timedelta(weeks=weeks - 1)
    # Whole weeks: the replayed hour-of-week pattern continues where the real data had it.
    hour = service.floor_hour(now)
    stored = service.history(db, "DE", hour, hour + timedelta(hours=1)).values[0]
    assert stored == 100 + int((hour - START) / timedelta(hours=1)) % 168
    assert service.forecast_zone(db, "DE", 24, now=now)["points"]
    assert intensity_seed.replay_to(db, "DE", now) is None  # already covered
    assert intensity_seed.seed(db, sources=[])["synthetic"] is True  # no CSV at all: labelled synthetic history
