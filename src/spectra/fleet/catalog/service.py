"""Regions and the instance-type catalogue: stored rows over built-in reference facts, and the import.

Reads merge two layers: a stored row (an admin's region, an imported instance type or price) wins;
otherwise the built-in reference table answers. Prices: the imported price for the region, else an
estimate (the reference us-east-1 list price × the region's multiplier), each labelled with its source.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from spectra.core.audit import record_audit
from spectra.core.clock import clock
from spectra.core.errors import NotFound, Unprocessable
from spectra.core.events import publish
from spectra.fleet.catalog import repository
from spectra.fleet.catalog.models import InstanceType, InstanceTypePrice, Region
from spectra.fleet.catalog.schemas import RegionIn
from spectra.fleet.instance_catalog import (
    CatalogInstanceType,
    CatalogParseError,
    InstanceCatalog,
    parse_instance_catalog,
)
from spectra.fleet.reference import (
    INSTANCE_TYPES,
    INSTANCE_TYPES_BY_NAME,
    PROVIDER_PUE,
    REGIONS,
    REGIONS_BY_CODE,
    InstanceTypeRef,
    RegionRef,
)

# Burstable families are costed on the platform of their closest fixed-performance family (CCF).
BURSTABLE_PLATFORM_FAMILY = {"t2": "m4", "t3": "m5", "t3a": "m5a", "t4g": "m6g"}


@dataclass(frozen=True)
class RegionView:
    code: str
    name: str
    provider: str
    latitude: float | None
    longitude: float | None
    country: str | None
    zone: str | None
    pue: float
    price_multiplier: float | None
    source: str  # reference | stored


@dataclass(frozen=True)
class InstanceTypeView:
    name: str
    provider: str
    family: str
    vcpu: int
    memory_gib: float
    microarch: str | None
    physical_processor: str | None
    arch: str | None
    burstable: bool
    gpus: int
    storage_drives: int
    storage_kind: str | None
    # The server the family runs on (largest size): embodied share and CCF memory baseline need it.
    platform_vcpu: int | None
    platform_memory_gib: float | None
    platform_sockets: int | None
    source: str


@dataclass(frozen=True)
class PriceView:
    region: str
    on_demand_usd_per_hour: float | None
    reserved_usd_per_hour: float | None
    spot_min_usd_per_hour: float | None
    spot_max_usd_per_hour: float | None
    source: str  # imported file name | estimate


# --------------------------------------------------------------------------- regions


def _region_from_ref(ref: RegionRef) -> RegionView:
    return RegionView(
        ref.code,
        ref.name,
        ref.provider,
        ref.latitude,
        ref.longitude,
        ref.country,
        ref.zone,
        ref.pue,
        ref.price_multiplier,
        "reference",
    )


def _region_from_row(row: Region) -> RegionView:
    return RegionView(
        row.code,
        row.name,
        row.provider,
        row.latitude,
        row.longitude,
        row.country,
        row.zone,
        row.pue,
        row.price_multiplier,
        "stored",
    )


def list_regions(session: Session, provider: str | None = None) -> list[RegionView]:
    stored = {r.code: _region_from_row(r) for r in repository.list_regions(session)}
    merged = {ref.code: stored.pop(ref.code) if ref.code in stored else _region_from_ref(ref) for ref in REGIONS}
    merged.update(stored)  # regions only an admin added
    views = sorted(merged.values(), key=lambda v: (v.provider, v.code))
    return [v for v in views if provider is None or v.provider == provider]


def find_region(session: Session, code: str) -> RegionView | None:
    row = repository.get_region(session, code)
    if row is not None:
        return _region_from_row(row)
    ref = REGIONS_BY_CODE.get(code)
    return _region_from_ref(ref) if ref else None


def get_region(session: Session, code: str) -> RegionView:
    view = find_region(session, code)
    if view is None:
        raise NotFound(f"region {code!r} not found", code="region_not_found")
    return view


def put_region(session: Session, code: str, data: RegionIn) -> RegionView:
    """Add a region or override a built-in one (e.g. map it to another grid zone)."""
    row = repository.get_region(session, code)
    pre = None if row is None else _region_from_row(row).__dict__
    values: dict[str, Any] = data.model_dump()
    if values["pue"] is None:
        values["pue"] = PROVIDER_PUE[data.provider]
    if row is None:
        row = Region(code=code, **values)
        session.add(row)
    else:
        for key, value in values.items():
            setattr(row, key, value)
    session.flush()
    view = _region_from_row(row)
    record_audit(session, "region.put", "region", code, pre, view.__dict__)
    return view


# --------------------------------------------------------------------------- instance types


def _family_of(name: str) -> str:
    return name.split(".", 1)[0]


def _sockets_guess(arch: str | None, platform_vcpu: int) -> int:
    # Graviton servers are single-socket; large x86 hosts (metal of 64+ vCPUs) are two-socket.
    return 1 if arch == "arm64" or platform_vcpu < 64 else 2


def _view_from_ref(ref: InstanceTypeRef) -> InstanceTypeView:
    return InstanceTypeView(
        name=ref.name,
        provider="aws",
        family=ref.family,
        vcpu=ref.vcpu,
        memory_gib=ref.memory_gib,
        microarch=ref.microarch,
        physical_processor=None,
        arch=ref.arch,
        burstable=ref.burstable,
        gpus=ref.platform.gpus,
        storage_drives=ref.platform.ssd_drives,
        storage_kind=None,
        platform_vcpu=ref.platform.vcpu,
        platform_memory_gib=ref.platform.memory_gib,
        platform_sockets=ref.platform.sockets,
        source="reference",
    )


def _platform(session: Session, row: InstanceType) -> tuple[int | None, float | None, int | None]:
    family = BURSTABLE_PLATFORM_FAMILY.get(row.family, row.family) if row.burstable else row.family
    reference = next((t.platform for t in INSTANCE_TYPES if t.family == family), None)
    if reference is not None:
        return reference.vcpu, reference.memory_gib, reference.sockets
    members = [t for t in repository.list_instance_types(session) if t.family == family]
    if not members:
        return None, None, None
    largest = max(members, key=lambda t: (t.vcpu, t.memory_gib))
    return largest.vcpu, largest.memory_gib, _sockets_guess(largest.arch, largest.vcpu)


def _view_from_row(session: Session, row: InstanceType) -> InstanceTypeView:
    platform_vcpu, platform_memory, sockets = _platform(session, row)
    return InstanceTypeView(
        name=row.name,
        provider=row.provider,
        family=row.family,
        vcpu=row.vcpu,
        memory_gib=row.memory_gib,
        microarch=row.microarch,
        physical_processor=row.physical_processor,
        arch=row.arch,
        burstable=row.burstable,
        gpus=row.gpus,
        storage_drives=row.storage_drives,
        storage_kind=row.storage_kind,
        platform_vcpu=platform_vcpu,
        platform_memory_gib=platform_memory,
        platform_sockets=sockets,
        source=row.source,
    )


def find_instance_type(session: Session, name: str) -> InstanceTypeView | None:
    row = repository.get_instance_type(session, name)
    if row is not None:
        return _view_from_row(session, row)
    ref = INSTANCE_TYPES_BY_NAME.get(name)
    return _view_from_ref(ref) if ref else None


def get_instance_type(session: Session, name: str) -> InstanceTypeView:
    view = find_instance_type(session, name)
    if view is None:
        raise NotFound(f"instance type {name!r} not found", code="instance_type_not_found")
    return view


def list_instance_types(session: Session) -> list[InstanceTypeView]:
    stored = {r.name: _view_from_row(session, r) for r in repository.list_instance_types(session)}
    merged = {ref.name: stored.pop(ref.name) if ref.name in stored else _view_from_ref(ref) for ref in INSTANCE_TYPES}
    merged.update(stored)
    return sorted(merged.values(), key=lambda v: v.name)


def _price_from_row(row: InstanceTypePrice) -> PriceView:
    return PriceView(
        row.region,
        row.on_demand_usd_per_hour,
        row.reserved_usd_per_hour,
        row.spot_min_usd_per_hour,
        row.spot_max_usd_per_hour,
        row.source,
    )


def on_demand_price(session: Session, name: str, region: str) -> PriceView | None:
    """Imported price of a type in a region, else an estimate from a us-east-1 price, else None."""
    region_view = find_region(session, region)
    multiplier = region_view.price_multiplier if region_view is not None else None
    row = repository.get_instance_type(session, name)
    if row is not None:
        stored = repository.price(session, row.id, region)
        if stored is not None and stored.on_demand_usd_per_hour is not None:
            return _price_from_row(stored)
        base = repository.price(session, row.id, "us-east-1")
        if base is not None and base.on_demand_usd_per_hour is not None and multiplier is not None:
            return PriceView(region, round(base.on_demand_usd_per_hour * multiplier, 6), None, None, None, "estimate")
    ref = INSTANCE_TYPES_BY_NAME.get(name)
    if ref is not None and multiplier is not None:
        return PriceView(region, round(ref.price_usd_per_hour * multiplier, 6), None, None, None, "estimate")
    return None


def prices_of(session: Session, name: str) -> list[PriceView]:
    row = repository.get_instance_type(session, name)
    if row is None:
        return []
    return [_price_from_row(p) for p in repository.prices_of_type(session, row.id)]


# --------------------------------------------------------------------------- import


def import_catalog(session: Session, catalog: InstanceCatalog, source: str) -> dict[str, Any]:
    """Upsert every type of an ec2instances.info export and its prices for the export's region."""
    if catalog.region is None:
        raise Unprocessable(
            "the export does not say which region its prices are for; give the region",
            errors=[{"field": "region", "msg": "required for this export (no Availability Zones column)"}],
        )
    now = clock.now()
    existing = repository.instance_types_by_name(session, [t.name for t in catalog.types])
    created = updated = priced = 0
    for entry in catalog.types:
        row = existing.get(entry.name)
        values = _type_values(entry, source)
        if row is None:
            row = InstanceType(**values)
            session.add(row)
            created += 1
        else:
            for key, value in values.items():
                setattr(row, key, value)
            updated += 1
        session.flush()
        if entry.on_demand_usd_per_hour is None and entry.spot_min_usd_per_hour is None:
            continue
        price = repository.price(session, row.id, catalog.region)
        price_values = {
            "on_demand_usd_per_hour": entry.on_demand_usd_per_hour,
            "reserved_usd_per_hour": entry.reserved_usd_per_hour,
            "spot_min_usd_per_hour": entry.spot_min_usd_per_hour,
            "spot_max_usd_per_hour": entry.spot_max_usd_per_hour,
            "source": source,
            "updated_at": now,
        }
        if price is None:
            session.add(InstanceTypePrice(instance_type_id=row.id, region=catalog.region, **price_values))
        else:
            for key, value in price_values.items():
                setattr(price, key, value)
        priced += 1
    session.flush()
    summary = {
        "file": source,
        "region": catalog.region,
        "types": len(catalog.types),
        "created": created,
        "updated": updated,
        "prices": priced,
    }
    record_audit(session, "instance_types.import", "instance_types", catalog.region, None, summary)
    publish(session, "fleet.instance_types.imported", summary)
    return summary


def _type_values(entry: CatalogInstanceType, source: str) -> dict[str, Any]:
    return {
        "name": entry.name,
        "provider": "aws",
        "family": _family_of(entry.name),
        "vcpu": entry.vcpu,
        "memory_gib": entry.memory_gib,
        "microarch": entry.microarch,
        "physical_processor": (entry.physical_processor or "")[:120] or None,
        "arch": entry.arch,
        "burstable": entry.burstable,
        "gpus": entry.gpus,
        "storage_gb": entry.storage_gb,
        "storage_drives": entry.storage_drives,
        "storage_kind": entry.storage_kind,
        "source": source[:80],
    }


def parse_catalog(data: bytes | str, file_name: str, region: str | None) -> InstanceCatalog:
    """Parse an export, turning its cell errors into one 422 that lists them all."""
    try:
        return parse_instance_catalog(data, file_name=file_name, region=region)
    except CatalogParseError as exc:
        raise Unprocessable(
            f"{file_name}: {len(exc.errors)} problem(s); nothing was imported", errors=exc.errors
        ) from None


def import_catalog_file(session: Session, path: Path, region: str | None = None) -> dict[str, Any]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise Unprocessable(
            f"cannot read {path}", errors=[{"field": "path", "msg": exc.strerror or str(exc)}]
        ) from None
    return import_catalog(session, parse_catalog(data, path.name, region), path.name)


def looks_like_catalog(header_line: str) -> bool:
    """True for an ec2instances.info export header (used to route an upload to the right importer)."""
    return '"API Name"' in header_line or ",API Name," in header_line
