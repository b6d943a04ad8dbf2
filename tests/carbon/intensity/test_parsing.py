"""Carbon-intensity file parsing: both Electricity Maps header generations, plain series, all-or-nothing errors."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from spectra.carbon.intensity.parsing import (
    ParseError,
    hourly_series,
    parse_intensity_csv,
    parse_intensity_file,
    parse_intensity_files,
)

DATA = Path(__file__).resolve().parents[3] / ".." / "shared" / "data" / "carbon_intensity"

EM_HEADER = (
    "Datetime (UTC),Country,Zone Name,Zone Id,Carbon Intensity gCO₂eq/kWh (direct),"
    "Carbon Intensity gCO₂eq/kWh (LCA),Low Carbon Percentage,Renewable Percentage,Data Source,"
    "Data Estimated,Data Estimation Method"
)
EM_NEW_HEADER = (
    "Datetime (UTC),Country,Zone name,Zone id,Carbon intensity gCO₂eq/kWh (direct),"
    "Carbon intensity gCO₂eq/kWh (Life cycle),Carbon-free energy percentage (CFE%),"
    "Renewable energy percentage (RE%),Data source,Data estimated,Data estimation method"
)


def em_text(rows: list[str], newline: str = "\n", header: str = EM_HEADER) -> str:
    return newline.join([header, *rows]) + newline


def test_electricitymaps_export_crlf_reads_every_column() -> None:
    text = em_text(
        [
            "2023-01-01 00:00:00,Germany,Germany,DE,152.03,199.59,82.97,77.71,entsoe.eu,false,",
            "2023-01-01 01:00:00,Germany,Germany,DE,151.04,198.38,83.24,78.35,entsoe.eu,true,"
            "ESTIMATED_TIME_SLICER_AVERAGE",
        ],
        newline="\r\n",
    )
    records = parse_intensity_csv(text.encode("utf-8"), file_name="DE.csv")
    assert len(records) == 2
    first, second = records
    assert first.zone == "DE"
    assert first.hour == datetime(2023, 1, 1, 0, tzinfo=UTC)
    assert first.direct_g_per_kwh == pytest.approx(152.03)
    assert first.lifecycle_g_per_kwh == pytest.approx(199.59)
    assert first.low_carbon_pct == pytest.approx(82.97)
    assert first.renewable_pct == pytest.approx(77.71)
    assert first.source == "entsoe.eu"
    assert first.estimated is False and first.estimation_method is None
    assert second.estimated is True and second.estimation_method == "ESTIMATED_TIME_SLICER_AVERAGE"


def test_newer_header_generation_and_bom_and_empty_optionals() -> None:
    text = "\ufeff" + em_text(["2024-06-01T12:00:00Z,Brazil,Brazil,BR,42.5,,,,,,"], header=EM_NEW_HEADER)
    (record,) = parse_intensity_csv(text.encode("utf-8"), file_name="BR.csv")
    assert record.zone == "BR"
    assert record.hour == datetime(2024, 6, 1, 12, tzinfo=UTC)
    assert record.direct_g_per_kwh == 42.5
    assert record.lifecycle_g_per_kwh is None and record.low_carbon_pct is None and record.source is None


def test_several_zones_in_one_file_are_sorted_by_zone_then_hour() -> None:
    text = em_text(
        [
            "2023-01-01 01:00:00,Spain,Spain,ES,100,,,,,false,",
            "2023-01-01 00:00:00,France,France,FR,30,,,,,false,",
            "2023-01-01 00:00:00,Spain,Spain,ES,90,,,,,false,",
        ]
    )
    records = parse_intensity_csv(text, file_name="mixed.csv")
    assert [(r.zone, r.hour.hour, r.direct_g_per_kwh) for r in records] == [
        ("ES", 0, 90.0),
        ("ES", 1, 100.0),
        ("FR", 0, 30.0),
    ]
    with pytest.raises(ValueError, match="several zones"):
        hourly_series(records)
    assert hourly_series(records, "ES").values.tolist() == [90.0, 100.0]


def test_sub_hourly_series_is_averaged_to_the_hour_with_given_zone() -> None:
    text = "Time,Carbon Intensity\n2020-01-01 00:00:00,100\n2020-01-01 00:15:00,110\n2020-01-01 00:30:00,120\n"
    text += "2020-01-01 00:45:00,130\n2020-01-01 01:00:00,50\n2020-01-01 01:30:00,70\n"
    records = parse_intensity_csv(text, file_name="ger_ci.csv", zone="DE")
    assert [(r.hour.hour, r.direct_g_per_kwh, r.samples) for r in records] == [(0, 115.0, 4), (1, 60.0, 2)]
    assert all(r.zone == "DE" for r in records)


def test_series_with_offset_is_converted_to_utc() -> None:
    text = "Time,Carbon Intensity\r\n2020-01-01T02:00:00+02:00,80\r\n"
    (record,) = parse_intensity_csv(text, file_name="s.csv", zone="FR")
    assert record.hour == datetime(2020, 1, 1, 0, tzinfo=UTC)


def test_series_without_zone_is_rejected() -> None:
    with pytest.raises(ParseError) as caught:
        parse_intensity_csv("Time,Carbon Intensity\n2020-01-01 00:00:00,1\n", file_name="s.csv")
    assert caught.value.errors[0]["line"] == 1
    assert "zone" in caught.value.errors[0]["msg"]


def test_bad_rows_are_all_reported_with_file_line_and_column() -> None:
    text = em_text(
        [
            "2023-01-01 00:00:00,Germany,Germany,DE,152.03,199.59,82.97,77.71,entsoe.eu,false,",
            "2023-01-01 01:00:00,Germany,Germany,DE,abc,198.38,83.24,78.35,entsoe.eu,false,",
            "2023-13-01 02:00:00,Germany,Germany,DE,150,198.38,83.24,78.35,entsoe.eu,false,",
            "2023-01-01 03:00:00,Germany,Germany,DE,150,198.38,183.24,78.35,entsoe.eu,maybe,",
            "2023-01-01 04:00:00,Germany,Germany,DE,,198.38,83.24,78.35,entsoe.eu,false,",
            "2023-01-01 05:00:00,Germany,Germany,DE,150",
        ],
        newline="\r\n",
    )
    with pytest.raises(ParseError) as caught:
        parse_intensity_csv(text, file_name="DE_2023.csv")
    errors = caught.value.errors
    located = [(e["line"], e["column"]) for e in errors]
    assert located == [
        (3, "Carbon Intensity gCO₂eq/kWh (direct)"),
        (4, "Datetime (UTC)"),
        (5, "Low Carbon Percentage"),
        (5, "Data Estimated"),
        (6, "Carbon Intensity gCO₂eq/kWh (direct)"),
        (7, None),
    ]
    assert all(e["file"] == "DE_2023.csv" for e in errors)
    assert "DE_2023.csv:3" in str(caught.value)


def test_negative_intensity_and_duplicate_times_are_errors() -> None:
    text = "Time,Carbon Intensity\n2020-01-01 00:00:00,-5\n2020-01-01 01:00:00,5\n2020-01-01 01:00:00,6\n"
    with pytest.raises(ParseError) as caught:
        parse_intensity_csv(text, file_name="s.csv", zone="DE")
    assert [(e["line"], e["column"]) for e in caught.value.errors] == [(2, "Carbon Intensity"), (4, "Time")]
    assert "duplicate" in caught.value.errors[1]["msg"]


def test_given_zone_only_fills_files_without_one_and_unknown_header_and_empty_file() -> None:
    text = em_text(["2023-01-01 00:00:00,Germany,Germany,DE,1,,,,,false,", "2023-01-01 01:00:00,?,?,,2,,,,,false,"])
    records = parse_intensity_csv(text, file_name="a.csv", zone="FR")
    assert [(r.zone, r.direct_g_per_kwh) for r in records] == [("DE", 1.0), ("FR", 2.0)]
    with pytest.raises(ParseError, match="missing zone id"):
        parse_intensity_csv(text, file_name="a.csv")
    with pytest.raises(ParseError, match="unrecognised header"):
        parse_intensity_csv("a,b\n1,2\n", file_name="b.csv")
    with pytest.raises(ParseError, match="empty file"):
        parse_intensity_csv("", file_name="c.csv")
    with pytest.raises(ParseError, match="no data rows"):
        parse_intensity_csv(EM_HEADER + "\n", file_name="d.csv")
    with pytest.raises(ParseError, match="UTF-8"):
        parse_intensity_csv(b"Time,Carbon Intensity\n\xff\xfe,1\n", file_name="e.csv", zone="DE")


def test_batch_reports_errors_of_every_file_and_later_file_wins(tmp_path: Path) -> None:
    good = tmp_path / "good.csv"
    good.write_text("Time,Carbon Intensity\n2020-01-01 00:00:00,10\n")
    newer = tmp_path / "newer.csv"
    newer.write_text("Time,Carbon Intensity\n2020-01-01 00:00:00,12\n2020-01-01 01:00:00,11\n")
    bad1 = tmp_path / "bad1.csv"
    bad1.write_text("Time,Carbon Intensity\nnope,10\n")
    bad2 = tmp_path / "bad2.csv"
    bad2.write_text("Time,Carbon Intensity\n2020-01-01 00:00:00,x\n")
    merged = parse_intensity_files([good, newer], zone="DE")
    assert [r.direct_g_per_kwh for r in merged] == [12.0, 11.0]
    with pytest.raises(ParseError) as caught:
        parse_intensity_files([good, bad1, bad2], zone="DE")
    assert [e["file"] for e in caught.value.errors] == ["bad1.csv", "bad2.csv"]
    with pytest.raises(ParseError, match="cannot read"):
        parse_intensity_file(tmp_path / "missing.csv", zone="DE")


def test_hourly_series_marks_gaps_with_nan() -> None:
    text = "Time,Carbon Intensity\n2020-01-01 00:00:00,10\n2020-01-01 03:00:00,40\n"
    series = hourly_series(parse_intensity_csv(text, file_name="s.csv", zone="DE"))
    assert series.start == datetime(2020, 1, 1, tzinfo=UTC)
    assert np.isnan(series.values[1:3]).all()
    assert series.values[[0, 3]].tolist() == [10.0, 40.0]
    assert series.hour_at(3) == datetime(2020, 1, 1, 3, tzinfo=UTC)


@pytest.mark.skipif(not DATA.is_dir(), reason="shared data folder not present")
def test_real_exports_parse_to_full_years() -> None:
    # One LF (cozybench) and one CRLF (umassos) export keep the test quick.
    exports = sorted((DATA / "electricitymaps").glob("*.csv"))
    for path in [p for p in exports if p.name.startswith(("BR_2021", "DE_"))] or exports[:1]:
        records = parse_intensity_file(path)
        series = hourly_series(records)
        assert len(records) in (8760, 8784), path.name
        assert not np.isnan(series.values).any()
        assert records[0].hour.hour == 0 and records[0].hour.month == 1
    quarter_hourly = DATA / "lets_wait_awhile_2020" / "ger_ci.csv"
    if quarter_hourly.exists():
        records = parse_intensity_file(quarter_hourly, zone="DE")
        assert records[0].samples == 4
