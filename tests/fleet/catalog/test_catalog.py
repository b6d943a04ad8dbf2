"""Regions and instance-type catalogue: reference overlay, admin overrides, the export import and prices."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from spectra.core.errors import NotFound, Unprocessable
from spectra.fleet.catalog import service
from spectra.fleet.catalog.models import InstanceType, InstanceTypePrice
from spectra.fleet.catalog.schemas import RegionIn
from spectra.fleet.reference import REGIONS
from tests.factories import make_tenant

EXPORTS = Path(__file__).resolve().parents[3] / ".." / "shared" / "data" / "ec2_instances"
HEADER = '"Name","API Name","Memory","vCPUs","Physical Processor","Arch","Availability Zones","Linux On Demand cost"'


def export(*rows: str) -> str:
    return "\r\n".join([HEADER, *rows]) + "\r\n"


M5 = '"M5 L","m5.large","8.0 GiB","2 vCPUs","Intel Xeon Platinum 8175","64-bit","euc1-az1, euc1-az2","$0.115 hourly"'
X9 = '"X9 L","x9.large","16 GiB","2 vCPUs","Intel Xeon 8375C (Ice Lake)","64-bit","euc1-az1","$0.2 hourly"'
X9_BIG = '"X9 16XL","x9.16xlarge","512 GiB","64 vCPUs","Intel Xeon 8375C (Ice Lake)","64-bit","euc1-az1","$6.4 hourly"'


def test_regions_come_from_reference_and_admin_overrides_win(db: Session) -> None:
    regions = service.list_regions(db)
    assert len(regions) == len(REGIONS)
    assert all(r.source == "reference" for r in regions)
    assert {r.provider for r in service.list_regions(db, "gcp")} == {"gcp"}
    frankfurt = service.get_region(db, "eu-central-1")
    assert (frankfurt.zone, frankfurt.pue, frankfurt.country) == ("DE", 1.135, "DE")
    with pytest.raises(NotFound):
        service.get_region(db, "mars-north-1")

    service.put_region(db, "eu-central-1", RegionIn(name="Frankfurt (own PPA)", provider="aws", zone="DE", pue=1.2))
    service.put_region(db, "onprem-1", RegionIn(name="Our DC", provider="aws", zone="FR", country="FR"))
    updated = service.get_region(db, "eu-central-1")
    assert (updated.name, updated.pue, updated.source) == ("Frankfurt (own PPA)", 1.2, "stored")
    onprem = service.get_region(db, "onprem-1")
    assert onprem.pue == 1.135  # the provider's CCF PUE by default
    assert len(service.list_regions(db)) == len(REGIONS) + 1


def test_import_upserts_types_and_prices_for_the_exports_region(db: Session) -> None:
    catalog = service.parse_catalog(export(M5, X9, X9_BIG), "export.csv", None)
    summary = service.import_catalog(db, catalog, "export.csv")
    assert summary == {
        "file": "export.csv",
        "region": "eu-central-1",
        "types": 3,
        "created": 3,
        "updated": 0,
        "prices": 3,
    }
    assert service.on_demand_price(db, "m5.large", "eu-central-1").on_demand_usd_per_hour == 0.115  # type: ignore[union-attr]
    x9 = service.get_instance_type(db, "x9.large")
    # Unknown family: platform is its largest imported member; x86 with 64 vCPUs → two sockets.
    assert (x9.microarch, x9.platform_vcpu, x9.platform_memory_gib, x9.platform_sockets) == ("Ice Lake", 64, 512, 2)
    m5 = service.get_instance_type(db, "m5.large")
    assert (m5.source, m5.platform_vcpu, m5.platform_sockets) == ("export.csv", 96, 2)  # reference family platform

    again = service.parse_catalog(export(M5.replace("$0.115", "$0.12")), "newer.csv", None)
    summary = service.import_catalog(db, again, "newer.csv")
    assert (summary["created"], summary["updated"]) == (0, 1)
    assert db.scalar(select(func.count(InstanceType.id))) == 3
    assert db.scalar(select(func.count(InstanceTypePrice.id))) == 3
    price = service.on_demand_price(db, "m5.large", "eu-central-1")
    assert price is not None and (price.on_demand_usd_per_hour, price.source) == (0.12, "newer.csv")


def test_prices_fall_back_to_reference_estimates(db: Session) -> None:
    estimate = service.on_demand_price(db, "m5.large", "sa-east-1")
    assert estimate is not None and estimate.source == "estimate"
    assert estimate.on_demand_usd_per_hour == pytest.approx(0.096 * 1.594)
    assert service.on_demand_price(db, "m5.large", "europe-west1") is None  # no multiplier for GCP
    assert service.on_demand_price(db, "zz.large", "us-east-1") is None


def test_bad_export_is_rejected_whole_and_region_is_required(db: Session) -> None:
    bad = M5.replace("8.0 GiB", "eight")
    with pytest.raises(Unprocessable) as caught:
        service.parse_catalog(export(X9, bad), "bad.csv", None)
    assert caught.value.extra["errors"][0] == {
        "file": "bad.csv",
        "line": 3,
        "column": "Memory",
        "msg": "not a memory size: 'eight'",
    }
    no_zone = (
        '"Name","API Name","Memory","vCPUs","Linux On Demand cost"\n"M4","m4.large","8 GiB","2 vCPUs","$0.1 hourly"\n'
    )
    catalog = service.parse_catalog(no_zone, "old.csv", None)
    with pytest.raises(Unprocessable, match="region"):
        service.import_catalog(db, catalog, "old.csv")
    assert db.scalar(select(func.count(InstanceType.id))) == 0


def test_region_routes(client, db: Session, admin_headers: dict[str, str]) -> None:
    tenant = make_tenant(db)
    db.commit()
    listed = client.get("/api/regions", headers=tenant.headers)
    assert listed.status_code == 200
    assert len(listed.json()) == len(REGIONS)
    one = client.get("/api/regions/us-west-1", headers=tenant.headers).json()
    assert (one["zone"], one["provider"], one["pue"], one["source"]) == ("US-CAL-CISO", "aws", 1.135, "reference")
    assert client.get("/api/regions/nowhere-9", headers=tenant.headers).status_code == 404
    assert client.get("/api/regions").status_code == 401
    body = {"name": "Oregon", "provider": "aws", "zone": "US-NW-PACW"}
    assert client.put("/api/regions/us-west-2", json=body, headers=tenant.headers).status_code == 403
    response = client.put("/api/regions/us-west-2", json=body, headers=admin_headers)
    assert response.status_code == 200, response.text
    assert client.get("/api/regions/us-west-2", headers=tenant.headers).json()["zone"] == "US-NW-PACW"
    bad = client.put("/api/regions/us-west-2", json={**body, "provider": "ibm"}, headers=admin_headers)
    assert bad.status_code == 422


def test_instance_type_routes(client, db: Session) -> None:
    tenant = make_tenant(db)
    db.commit()
    m5 = client.get("/api/instance-types/m5.large", params={"region": "eu-west-1"}, headers=tenant.headers).json()
    assert (m5["vcpu"], m5["memory_gib"], m5["microarch"], m5["platform_vcpu"]) == (2, 8.0, "Skylake", 96)
    assert m5["prices"] == [
        {
            "region": "eu-west-1",
            "on_demand_usd_per_hour": pytest.approx(0.096 * 1.115),
            "reserved_usd_per_hour": None,
            "spot_min_usd_per_hour": None,
            "spot_max_usd_per_hour": None,
            "source": "estimate",
        }
    ]
    family = client.get("/api/instance-types", params={"family": "c7g"}, headers=tenant.headers).json()
    assert [t["name"] for t in family] == ["c7g.2xlarge", "c7g.large", "c7g.xlarge"]
    assert client.get("/api/instance-types/zz.large", headers=tenant.headers).status_code == 404


@pytest.mark.skipif(not EXPORTS.is_dir(), reason="shared data absent")
def test_real_export_imports(db: Session) -> None:
    path = sorted(EXPORTS.glob("*us-east-1*.csv"))[0]
    summary = service.import_catalog_file(db, path)
    assert summary["region"] == "us-east-1" and summary["types"] > 400
    assert service.on_demand_price(db, "m5.large", "us-east-1").on_demand_usd_per_hour == 0.096  # type: ignore[union-attr]
    # An import in us-east-1 also lets other AWS regions be estimated from it.
    assert service.on_demand_price(db, "m5.large", "eu-west-3").on_demand_usd_per_hour == pytest.approx(0.096 * 1.167)  # type: ignore[union-attr]
