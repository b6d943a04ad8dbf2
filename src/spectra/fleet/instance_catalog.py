"""Parse an ec2instances.info "Export CSV" into instance-type records, all or nothing.

The export carries units inside its strings: ``"8.0 GiB"``, ``"2 vCPUs"`` (``"2 vCPUs for a 2h 24m
burst"`` for burstable types), ``"$0.096 hourly"`` (or daily / monthly / annually when the site
was set so), ``"unavailable"`` where a type is not sold, ``"900 GB (2 * 450 GB NVMe SSD)"``.
Columns differ between site generations (2019 exports have no spot or availability-zone
columns), so columns are found by name and only ``API Name``, ``vCPUs`` and ``Memory`` are
required. Prices are for the single region the export was made for: taken from the
``Availability Zones`` column (AZ ids such as ``use1-az1``) when present, else given by the caller.
"""

from __future__ import annotations

import csv
import io
import math
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from spectra.fleet.reference import microarchitecture_of

MAX_REPORTED_ERRORS = 50
HOURS_PER = {"hourly": 1.0, "daily": 24.0, "weekly": 168.0, "monthly": 730.0, "annually": 8760.0, "yearly": 8760.0}
UNAVAILABLE = {"", "unavailable", "n/a", "na", "none", "-", "unknown"}

# AZ-id prefixes (stable across accounts, unlike AZ names) → region codes.
AZ_ID_PREFIX_TO_REGION: dict[str, str] = {
    "use1": "us-east-1",
    "use2": "us-east-2",
    "usw1": "us-west-1",
    "usw2": "us-west-2",
    "cac1": "ca-central-1",
    "euw1": "eu-west-1",
    "euw2": "eu-west-2",
    "euw3": "eu-west-3",
    "euc1": "eu-central-1",
    "euc2": "eu-central-2",
    "eun1": "eu-north-1",
    "eus1": "eu-south-1",
    "eus2": "eu-south-2",
    "aps1": "ap-south-1",
    "aps2": "ap-south-2",
    "apne1": "ap-northeast-1",
    "apne2": "ap-northeast-2",
    "apne3": "ap-northeast-3",
    "apse1": "ap-southeast-1",
    "apse2": "ap-southeast-2",
    "apse3": "ap-southeast-3",
    "ape1": "ap-east-1",
    "sae1": "sa-east-1",
    "afs1": "af-south-1",
    "mes1": "me-south-1",
    "mec1": "me-central-1",
}

# Export column → (operating system, price kind); "On Demand" is the usual one.
_PRICE_COLUMN = re.compile(r"^(?P<os>.+?) (?P<kind>On Demand|Reserved|Spot Minimum|Spot Maximum) cost$", re.IGNORECASE)


class CatalogParseError(ValueError):
    """The export could not be imported; ``errors`` lists ``{"file", "line", "column", "msg"}``."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        self.errors = errors
        first = errors[0]
        more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
        where = f"{first['file']}:{first['line']}" if first.get("line") is not None else str(first["file"])
        column = f" [{first['column']}]" if first.get("column") else ""
        super().__init__(f"{where}{column}: {first['msg']}{more}")


@dataclass(frozen=True)
class CatalogInstanceType:
    """One instance type of the export (prices in USD per hour, for ``region``)."""

    name: str
    display_name: str | None
    vcpu: int
    memory_gib: float
    burstable: bool
    gpus: int
    physical_processor: str | None
    microarch: str | None
    arch: str | None  # x86_64 | arm64 | None when the export does not say
    clock_ghz: float | None
    storage_gb: float | None  # local instance storage, None = EBS only
    storage_drives: int
    storage_kind: str | None  # e.g. "NVMe SSD", "SSD", "HDD"
    network_performance: str | None
    region: str | None
    on_demand_usd_per_hour: float | None  # Linux on-demand
    reserved_usd_per_hour: float | None = None
    spot_min_usd_per_hour: float | None = None
    spot_max_usd_per_hour: float | None = None
    on_demand_by_os: dict[str, float] = field(default_factory=dict)  # "linux", "windows", "rhel", ...


@dataclass(frozen=True)
class InstanceCatalog:
    region: str | None
    types: list[CatalogInstanceType]

    def by_name(self) -> dict[str, CatalogInstanceType]:
        return {t.name: t for t in self.types}


def parse_price(text: str) -> float | None:
    """``"$0.096 hourly"`` → 0.096 per hour; ``"unavailable"`` → None; other periods converted to hours."""
    value = " ".join(text.replace(",", "").split()).lower()
    if value in UNAVAILABLE:
        return None
    match = re.fullmatch(r"\$?\s*(\d+(?:\.\d+)?)\s*(?:usd)?\s*(?:per\s+)?(\w+)?", value)
    if not match:
        raise ValueError(f"not a price: {text!r}")
    amount = float(match.group(1))
    period = match.group(2) or "hourly"
    if period in ("hour", "hr", "h"):
        period = "hourly"
    if period not in HOURS_PER:
        raise ValueError(f"unknown price period {period!r}")
    return amount / HOURS_PER[period]


def parse_memory_gib(text: str) -> float:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*(GiB|GB|MiB|MB|TiB|TB)?", text.strip(), re.IGNORECASE)
    if not match:
        raise ValueError(f"not a memory size: {text!r}")
    amount = float(match.group(1))
    unit = (match.group(2) or "GiB").lower()
    factor = {"gib": 1.0, "gb": 1.0, "mib": 1 / 1024, "mb": 1 / 1024, "tib": 1024.0, "tb": 1024.0}[unit]
    return amount * factor


def parse_vcpus(text: str) -> tuple[int, bool]:
    """``"2 vCPUs"`` → (2, False); ``"2 vCPUs for a 2h 24m burst"`` → (2, True)."""
    value = " ".join(text.split())
    match = re.match(r"^(\d+)\s*(?:vCPUs?)?", value, re.IGNORECASE)
    if not match or int(match.group(1)) <= 0:
        raise ValueError(f"not a vCPU count: {text!r}")
    return int(match.group(1)), "burst" in value.lower()


def parse_storage(text: str) -> tuple[float | None, int, str | None]:
    """``"900 GB (2 * 450 GB NVMe SSD)"`` → (900, 2, "NVMe SSD"); ``"EBS only"`` → (None, 0, None)."""
    value = " ".join(text.split())
    if not value or value.lower().startswith("ebs"):
        return None, 0, None
    total = re.match(r"^(\d+(?:\.\d+)?)\s*(GiB|GB|TiB|TB)", value, re.IGNORECASE)
    if not total:
        raise ValueError(f"not a storage size: {text!r}")
    scale = {"gib": 1.0, "gb": 1.0, "tib": 1024.0, "tb": 1000.0}[total.group(2).lower()]
    drives_match = re.search(r"\((\d+)\s*\*", value)
    drives = int(drives_match.group(1)) if drives_match else 1
    kind_match = re.search(r"(NVMe SSD|SSD|HDD)", value, re.IGNORECASE)
    return float(total.group(1)) * scale, drives, kind_match.group(1) if kind_match else None


def parse_clock(text: str) -> float | None:
    match = re.search(r"(\d+(?:\.\d+)?)\s*ghz", text, re.IGNORECASE)
    return float(match.group(1)) if match else None


def region_from_availability_zones(text: str) -> str | None:
    prefixes = {zone.strip().split("-az")[0] for zone in text.split(",") if "-az" in zone}
    regions = {AZ_ID_PREFIX_TO_REGION.get(p) for p in prefixes}
    return regions.pop() if len(regions) == 1 else None


def _arch(arch_text: str, processor: str | None, microarch: str | None) -> str | None:
    text = arch_text.lower()
    if "arm" in text or (microarch or "").startswith("Graviton") or "apple" in (processor or "").lower():
        return "arm64"
    if "64" in text or "x86" in text:
        return "x86_64"
    return None


def parse_instance_catalog(data: bytes | str, *, file_name: str, region: str | None = None) -> InstanceCatalog:
    """Parse an export; raises CatalogParseError listing every bad cell (file, line, column)."""
    errors: list[dict[str, Any]] = []

    def fail(line: int | None, column: str | None, msg: str) -> None:
        if len(errors) < MAX_REPORTED_ERRORS:
            errors.append({"file": file_name, "line": line, "column": column, "msg": msg})

    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise CatalogParseError(
                [{"file": file_name, "line": None, "column": None, "msg": f"not UTF-8 text ({exc.reason})"}]
            ) from exc
    else:
        text = data.lstrip("\ufeff")
    reader = csv.reader(io.StringIO(text, newline=""))
    header = [h.strip() for h in next(reader, [])]
    index = {name: i for i, name in enumerate(header)}
    missing = [c for c in ("API Name", "vCPUs", "Memory") if c not in index]
    if missing:
        raise CatalogParseError(
            [
                {
                    "file": file_name,
                    "line": 1,
                    "column": None,
                    "msg": "not an ec2instances.info export: missing column(s) " + ", ".join(missing),
                }
            ]
        )
    price_columns = {name: m for name in header if (m := _PRICE_COLUMN.match(name))}

    types: list[CatalogInstanceType] = []
    seen: dict[str, int] = {}
    zones_seen: set[str] = set()
    for row in reader:
        line = reader.line_num
        if not row or all(not c.strip() for c in row):
            continue
        if len(row) != len(header):
            fail(line, None, f"expected {len(header)} fields, found {len(row)}")
            continue

        def cell(name: str, row: list[str] = row) -> str:
            i = index.get(name)
            return row[i].strip() if i is not None else ""

        name = cell("API Name")
        if not re.fullmatch(r"[a-z0-9][a-z0-9-]*\.[a-z0-9-]+", name):
            fail(line, "API Name", f"not an instance type name: {name!r}")
            continue
        if name in seen:
            fail(line, "API Name", f"duplicate instance type {name} (line {seen[name]})")
            continue
        seen[name] = line
        ok = True
        try:
            vcpu, burstable = parse_vcpus(cell("vCPUs"))
        except ValueError as exc:
            fail(line, "vCPUs", str(exc))
            ok = False
        try:
            memory = parse_memory_gib(cell("Memory"))
        except ValueError as exc:
            fail(line, "Memory", str(exc))
            ok = False
        gpus_text = cell("GPUs") or "0"
        try:
            gpus = int(float(gpus_text))
        except ValueError:
            fail(line, "GPUs", f"not a GPU count: {gpus_text!r}")
            ok = False
        try:
            storage_gb, drives, storage_kind = parse_storage(cell("Instance Storage"))
        except ValueError as exc:
            fail(line, "Instance Storage", str(exc))
            ok = False
        prices: dict[tuple[str, str], float] = {}
        for column, match in price_columns.items():
            try:
                price = parse_price(cell(column))
            except ValueError as exc:
                fail(line, column, str(exc))
                ok = False
                continue
            if price is not None and math.isfinite(price):
                prices[(match.group("os").strip().lower(), match.group("kind").lower())] = price
        if not ok:
            continue
        if cell("Availability Zones"):
            zones_seen.add(cell("Availability Zones"))
        processor = cell("Physical Processor") or None
        microarch = microarchitecture_of(processor)
        types.append(
            CatalogInstanceType(
                name=name,
                display_name=cell("Name") or None,
                vcpu=vcpu,
                memory_gib=memory,
                burstable=burstable,
                gpus=gpus,
                physical_processor=processor,
                microarch=microarch,
                arch=_arch(cell("Arch"), processor, microarch),
                clock_ghz=parse_clock(cell("Clock Speed(GHz)")),
                storage_gb=storage_gb,
                storage_drives=drives,
                storage_kind=storage_kind,
                network_performance=cell("Network Performance") or None,
                region=None,  # filled below once the file's region is known
                on_demand_usd_per_hour=prices.get(("linux", "on demand")),
                reserved_usd_per_hour=prices.get(("linux", "reserved")),
                spot_min_usd_per_hour=prices.get(("linux", "spot minimum")),
                spot_max_usd_per_hour=prices.get(("linux", "spot maximum")),
                on_demand_by_os={os: p for (os, kind), p in prices.items() if kind == "on demand"},
            )
        )
    if not types and not errors:
        fail(None, None, "no instance rows")
    if errors:
        raise CatalogParseError(errors)

    file_region = None
    regions_found = {region_from_availability_zones(z) for z in zones_seen} - {None}
    if len(regions_found) == 1:
        file_region = regions_found.pop()
    if region and file_region and region != file_region:
        raise CatalogParseError(
            [
                {
                    "file": file_name,
                    "line": None,
                    "column": "Availability Zones",
                    "msg": f"the export's zones are in {file_region}, not {region}",
                }
            ]
        )
    chosen = region or file_region
    return InstanceCatalog(
        region=chosen,
        types=[replace(t, region=chosen) for t in types],
    )


def parse_instance_catalog_file(path: str | Path, *, region: str | None = None) -> InstanceCatalog:
    file_path = Path(path)
    try:
        data = file_path.read_bytes()
    except OSError as exc:
        raise CatalogParseError(
            [{"file": str(file_path), "line": None, "column": None, "msg": f"cannot read: {exc.strerror}"}]
        ) from exc
    return parse_instance_catalog(data, file_name=file_path.name, region=region)
