"""ec2instances.info export parsing: units inside strings, unavailable prices, both export generations."""

from __future__ import annotations

from pathlib import Path

import pytest

from spectra.fleet.instance_catalog import (
    CatalogParseError,
    parse_instance_catalog,
    parse_instance_catalog_file,
    parse_memory_gib,
    parse_price,
    parse_storage,
    parse_vcpus,
    region_from_availability_zones,
)

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "ec2_instances"

HEADER = (
    '"Name","API Name","Memory","vCPUs","GPUs","Physical Processor","Clock Speed(GHz)","Instance Storage",'
    '"Arch","Network Performance","Availability Zones","Linux On Demand cost","Linux Reserved cost",'
    '"Linux Spot Minimum cost","Windows On Demand cost"'
)


def export(*rows: str, newline: str = "\n") -> str:
    return newline.join([HEADER, *rows]) + newline


M5_ROW = (
    '"M5 General Purpose Large","m5.large","8.0 GiB","2 vCPUs","0","Intel Xeon Platinum 8175 (Skylake)","3.1 GHz",'
    '"EBS only","64-bit","Up to 10 Gigabit","use1-az1, use1-az2","$0.096 hourly","$0.06 hourly","$0.0395 hourly",'
    '"$0.188 hourly"'
)
T3_ROW = (
    '"T3 Micro","t3.micro","1.0 GiB","2 vCPUs    for a    2h 24m    burst","0","Intel Skylake E5 2686 v5","unknown",'
    '"EBS only","64-bit","Up to 5 Gigabit","use1-az4","$0.0104 hourly","unavailable","unavailable","unavailable"'
)
C5D_ROW = (
    '"C5D 9xlarge","c5d.9xlarge","72.0 GiB","36 vCPUs","0","Intel Xeon Platinum 8124M","3.0 Ghz",'
    '"900 GB    (2 * 450 GB NVMe SSD)","64-bit","10 Gigabit","use1-az1","$1.728 hourly","$1.09 hourly",'
    '"$0.6 hourly","$3.384 hourly"'
)


def test_unit_parsers() -> None:
    assert parse_price("$0.192 hourly") == 0.192
    assert parse_price("$70.08 monthly") == pytest.approx(0.096)
    assert parse_price("$2.304 daily") == pytest.approx(0.096)
    assert parse_price("unavailable") is None and parse_price("") is None
    with pytest.raises(ValueError):
        parse_price("cheap")
    with pytest.raises(ValueError):
        parse_price("$1 fortnightly")
    assert parse_memory_gib("8 GiB") == 8.0 and parse_memory_gib("0.5 GiB") == 0.5
    assert parse_memory_gib("512 MiB") == 0.5
    assert parse_vcpus("8 vCPUs") == (8, False)
    assert parse_vcpus("2 vCPUs for a 2h 24m burst") == (2, True)
    with pytest.raises(ValueError):
        parse_vcpus("0 vCPUs")
    assert parse_storage("EBS only") == (None, 0, None)
    assert parse_storage("900 GB (2 * 450 GB NVMe SSD)") == (900.0, 2, "NVMe SSD")
    assert parse_storage("4 TB (4 * 1 TB NVMe SSD)") == (4000.0, 4, "NVMe SSD")
    assert parse_storage("160 GiB SSD") == (160.0, 1, "SSD")
    assert region_from_availability_zones("use1-az1, use1-az2") == "us-east-1"
    assert region_from_availability_zones("euc1-az1") == "eu-central-1"
    assert region_from_availability_zones("use1-az1, euw1-az1") is None


def test_export_rows_are_parsed_with_units_and_region_from_zones() -> None:
    catalog = parse_instance_catalog(export(M5_ROW, T3_ROW, C5D_ROW, newline="\r\n"), file_name="x.csv")
    assert catalog.region == "us-east-1"
    types = catalog.by_name()
    m5 = types["m5.large"]
    assert (m5.vcpu, m5.memory_gib, m5.burstable, m5.microarch, m5.arch) == (2, 8.0, False, "Skylake", "x86_64")
    assert (m5.on_demand_usd_per_hour, m5.reserved_usd_per_hour, m5.spot_min_usd_per_hour) == (0.096, 0.06, 0.0395)
    assert m5.on_demand_by_os == {"linux": 0.096, "windows": 0.188}
    assert m5.region == "us-east-1" and m5.clock_ghz == 3.1
    t3 = types["t3.micro"]
    assert t3.burstable and t3.vcpu == 2 and t3.reserved_usd_per_hour is None and t3.clock_ghz is None
    assert t3.on_demand_by_os == {"linux": 0.0104}
    c5d = types["c5d.9xlarge"]
    assert (c5d.storage_gb, c5d.storage_drives, c5d.storage_kind) == (900.0, 2, "NVMe SSD")


def test_region_given_by_caller_when_export_has_no_zones_and_conflict_detected() -> None:
    header = '"Name","API Name","Memory","vCPUs","Linux On Demand cost"\n'
    catalog = parse_instance_catalog(
        header + '"M4 L","m4.large","8 GiB","2 vCPUs","$0.1 hourly"\n', file_name="old.csv"
    )
    assert catalog.region is None
    catalog = parse_instance_catalog(
        header + '"M4 L","m4.large","8 GiB","2 vCPUs","$0.1 hourly"\n', file_name="old.csv", region="us-east-1"
    )
    assert catalog.types[0].region == "us-east-1" and catalog.types[0].gpus == 0
    with pytest.raises(CatalogParseError, match="not eu-west-1"):
        parse_instance_catalog(export(M5_ROW), file_name="x.csv", region="eu-west-1")


def test_bad_cells_are_all_reported_and_nothing_is_returned() -> None:
    bad_memory = M5_ROW.replace('"8.0 GiB"', '"lots"').replace("m5.large", "m5.xlarge")
    bad_price = M5_ROW.replace('"$0.096 hourly"', '"$0.096 per fortnight"').replace("m5.large", "m5.2xlarge")
    text = export(M5_ROW, bad_memory, bad_price, M5_ROW, '"short","row"')
    with pytest.raises(CatalogParseError) as caught:
        parse_instance_catalog(text, file_name="bad.csv")
    assert [(e["line"], e["column"]) for e in caught.value.errors] == [
        (3, "Memory"),
        (4, "Linux On Demand cost"),
        (5, "API Name"),
        (6, None),
    ]
    assert "duplicate" in caught.value.errors[2]["msg"]
    with pytest.raises(CatalogParseError, match="missing column"):
        parse_instance_catalog('"Name","Memory"\n"x","1 GiB"\n', file_name="wrong.csv")
    with pytest.raises(CatalogParseError, match="no instance rows"):
        parse_instance_catalog(HEADER + "\n", file_name="empty.csv")


@pytest.mark.skipif(not DATA.is_dir(), reason="shared data absent")
def test_both_real_export_generations() -> None:
    files = sorted(DATA.glob("*.csv"))
    assert files
    for path in files:
        catalog = parse_instance_catalog_file(path, region=None)
        types = catalog.by_name()
        assert len(types) > 100, path.name
        m5 = types["m5.large"]
        assert (m5.vcpu, m5.memory_gib, m5.on_demand_usd_per_hour) == (2, 8.0, 0.096)
        assert types["t3.micro"].burstable
        priced = [t for t in catalog.types if t.on_demand_usd_per_hour is not None]
        assert len(priced) >= 0.9 * len(catalog.types)
        known = [t for t in catalog.types if t.microarch is not None]
        assert len(known) >= 0.8 * len(catalog.types)
