"""Spot price history, Spot Advisor and on-demand price formats: hand-made files, and the real ones when present."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from spectra.spot.pricing.formats import (
    PoolKey,
    PriceFormatError,
    parse_on_demand_csv,
    parse_price_history,
    parse_spot_advisor,
    read_price_history,
    region_of_zone,
)

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"

CSV = (
    "Timestamp,InstanceType,ProductDescription,SpotPrice,AvailabilityZone\r\n"
    "2023-12-13 23:47:28+00:00,c5a.2xlarge,Linux/UNIX,0.153500,us-east-1f\r\n"
    "2023-12-13 21:32:31+00:00,c5a.2xlarge,Linux/UNIX,0.163800,us-east-1d\r\n"
    "2023-12-13 17:47:32+00:00,c5a.2xlarge,Linux/UNIX,0.150000,us-east-1f\r\n"
)


def test_csv_in_descending_order_becomes_sorted_records_per_pool() -> None:
    records = parse_price_history(CSV, source="trace.csv")
    f_pool = PoolKey("us-east-1", "us-east-1f", "c5a.2xlarge", "Linux/UNIX")
    assert [(r.pool.availability_zone, r.price) for r in records] == [
        ("us-east-1d", 0.1638),
        ("us-east-1f", 0.15),
        ("us-east-1f", 0.1535),
    ]
    assert records[1].pool == f_pool
    assert records[1].timestamp == datetime(2023, 12, 13, 17, 47, 32, tzinfo=UTC)


def test_csv_columns_may_come_in_any_order() -> None:
    text = (
        "SpotPrice,AvailabilityZone,InstanceType,Timestamp,ProductDescription\n"
        "0.5,eu-west-1a,m5.large,2024-01-01T00:00:00Z,Windows\n"
    )
    (record,) = parse_price_history(text)
    assert record.pool == PoolKey("eu-west-1", "eu-west-1a", "m5.large", "Windows")
    assert record.pool.os == "Windows"
    assert record.price == 0.5


def test_headerless_tsv_with_zone_ids() -> None:
    text = (
        "use1-az2\tc5.xlarge\tLinux/UNIX\t0.085000\t2022-05-31T21:35:47+00:00\n"
        "apne1-az1\tc1.xlarge\tSUSE Linux\t0.063200\t2022-05-31T20:25:36+00:00\n"
    )
    records = parse_price_history(text)
    assert {(r.pool.region, r.pool.availability_zone, r.price) for r in records} == {
        ("us-east-1", "use1-az2", 0.085),
        ("ap-northeast-1", "apne1-az1", 0.0632),
    }


def test_aws_cli_text_output() -> None:
    text = "SPOTPRICEHISTORY\tus-west-2b\tm5.large\tLinux/UNIX\t0.0400\t2024-03-01T10:00:00+00:00\n"
    (record,) = parse_price_history(text)
    assert record.pool.region == "us-west-2"
    assert record.price == 0.04


def test_aws_json() -> None:
    document = {
        "SpotPriceHistory": [
            {
                "AvailabilityZone": "us-east-1a",
                "InstanceType": "m5.large",
                "ProductDescription": "Linux/UNIX",
                "SpotPrice": "0.035800",
                "Timestamp": "2024-03-01T10:00:00.000Z",
            }
        ]
    }
    (record,) = parse_price_history(json.dumps(document))
    assert record.price == 0.0358
    assert record.timestamp == datetime(2024, 3, 1, 10, tzinfo=UTC)


def test_errors_name_file_line_and_field_and_are_collected() -> None:
    text = (
        "Timestamp,InstanceType,ProductDescription,SpotPrice,AvailabilityZone\n"
        "2023-12-13 23:47:28+00:00,c5a.2xlarge,Linux/UNIX,0.15,us-east-1f\n"
        "2023-12-13 23:47:28+00:00,c5a.2xlarge,Linux/UNIX,cheap,us-east-1f\n"
        "yesterday,c5a.2xlarge,Linux/UNIX,0.15,nowhere\n"
        "2023-12-13 23:47:28+00:00,c5a.2xlarge,Linux/UNIX,-1,us-east-1f\n"
    )
    with pytest.raises(PriceFormatError) as caught:
        parse_price_history(text, source="prices.csv")
    errors = caught.value.errors()
    assert [(e["line"], e["field"]) for e in errors] == [
        (3, "SpotPrice"),
        (4, "AvailabilityZone"),
        (4, "Timestamp"),
        (5, "SpotPrice"),
    ]
    assert all(e["source"] == "prices.csv" for e in errors)
    assert "prices.csv: line 3: SpotPrice" in str(caught.value)


def test_csv_without_a_required_column_is_refused() -> None:
    with pytest.raises(PriceFormatError) as caught:
        parse_price_history("Timestamp,InstanceType,SpotPrice,AvailabilityZone\n")
    assert caught.value.errors()[0]["field"] == "ProductDescription"


def test_json_errors_name_the_index() -> None:
    document = {"SpotPriceHistory": [{"AvailabilityZone": "us-east-1a", "InstanceType": "m5.large"}]}
    with pytest.raises(PriceFormatError) as caught:
        parse_price_history(json.dumps(document), source="h.json")
    fields = {(e["row"], e["field"]) for e in caught.value.errors()}
    assert fields == {(0, "ProductDescription"), (0, "SpotPrice"), (0, "Timestamp")}


@pytest.mark.parametrize(
    ("zone", "region"),
    [
        ("us-east-1f", "us-east-1"),
        ("ap-southeast-2a", "ap-southeast-2"),
        ("us-west-2-lax-1a", "us-west-2"),
        ("use1-az4", "us-east-1"),
        ("euw2-az1", "eu-west-2"),
        ("apse1-az2", "ap-southeast-1"),
        ("cac1-az1", "ca-central-1"),
    ],
)
def test_region_of_zone(zone: str, region: str) -> None:
    assert region_of_zone(zone) == region


def test_region_of_zone_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        region_of_zone("moon-1")


ADVISOR = {
    "global_rate": "<5%",
    "ranges": [
        {"index": 0, "label": "<5%", "dots": 0, "max": 5},
        {"index": 1, "label": "5-10%", "dots": 1, "max": 11},
        {"index": 4, "label": ">20%", "dots": 4, "max": 100},
    ],
    "instance_types": {"m5.large": {"emr": True, "cores": 2, "ram_gb": 8.0}},
    "spot_advisor": {
        "us-east-1": {"Linux": {"m5.large": {"s": 54, "r": 1}}, "Windows": {"m5.large": {"s": 30, "r": 4}}}
    },
}


def test_spot_advisor_buckets_and_probabilities() -> None:
    advisor = parse_spot_advisor(json.dumps(ADVISOR))
    linux = advisor.lookup("us-east-1", "m5.large")
    assert linux is not None
    assert (linux.bucket, linux.label, linux.savings_pct) == (1, "5-10%", 54)
    assert linux.probability == pytest.approx(0.075)
    windows = advisor.lookup("us-east-1", "m5.large", "Windows")
    assert windows is not None and windows.probability == pytest.approx(0.25)  # ">20%" counted as 25 %
    assert advisor.probability_for_bucket(0) == pytest.approx(0.025)
    assert advisor.instance_specs["m5.large"]["cores"] == 2
    assert advisor.lookup("us-east-1", "c5.large") is None


def test_spot_advisor_errors_name_the_entry() -> None:
    broken = json.loads(json.dumps(ADVISOR))
    broken["spot_advisor"]["us-east-1"]["Linux"]["m5.large"]["r"] = 9
    with pytest.raises(PriceFormatError) as caught:
        parse_spot_advisor(json.dumps(broken), source="advisor.json")
    (error,) = caught.value.errors()
    assert error["field"] == "spot_advisor.us-east-1.Linux.m5.large.r"


def test_on_demand_csv_parses_prices_and_skips_unavailable() -> None:
    text = (
        '"Name","API Name","Linux On Demand cost","Windows On Demand cost"\n'
        '"C5A Double Extra Large","c5a.2xlarge","$0.308 hourly","$0.676 hourly"\n'
        '"Old","m1.small","unavailable","$0.1 hourly"\n'
    )
    prices = parse_on_demand_csv(text)
    assert prices == {("c5a.2xlarge", "Linux"): 0.308, ("c5a.2xlarge", "Windows"): 0.676, ("m1.small", "Windows"): 0.1}


def test_on_demand_csv_bad_price_names_line_and_column() -> None:
    text = '"API Name","Linux On Demand cost"\n"m5.large","about a dime"\n'
    with pytest.raises(PriceFormatError) as caught:
        parse_on_demand_csv(text, source="od.csv")
    assert caught.value.errors() == [
        {"source": "od.csv", "line": 2, "field": "Linux On Demand cost", "msg": "not a price: 'about a dime'"}
    ]


@pytest.mark.skipif(not (DATA / "aws_spot").exists(), reason="shared data not present")
def test_real_trace_reads_into_five_us_east_1_pools() -> None:
    path = DATA / "aws_spot" / "spot_price_history" / "c5a.2xlarge_us-east-1_2023-11-11_to_2023-12-13.csv"
    records = read_price_history(path)
    assert len(records) > 100
    assert {r.pool.region for r in records} == {"us-east-1"}
    assert len({r.pool for r in records}) >= 2
    assert all(0 < r.price < 10 for r in records)
