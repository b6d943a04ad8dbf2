"""Price file formats → typed records. Pure: text in, records out; no database.

Spot price history, as `aws ec2 describe-spot-price-history` delivers it:
- CSV with a header naming the columns (any order): Timestamp, InstanceType, ProductDescription, SpotPrice,
  AvailabilityZone (or AvailabilityZoneId);
- TSV without a header in the order AvailabilityZone(Id), InstanceType, ProductDescription, SpotPrice, Timestamp
  (the archive layout), or the CLI's `--output text` lines that start with `SPOTPRICEHISTORY`, or TSV with a header;
- JSON `{"SpotPriceHistory": [{"AvailabilityZone", "InstanceType", "ProductDescription", "SpotPrice", "Timestamp"}]}`.
Each row is a price-change event: the price holds from its Timestamp until the next event of the same pool.

Spot Instance Advisor JSON: `ranges` (interruption-frequency buckets) and `spot_advisor[region][os][type] =
{"r": range index, "s": savings %}`.

ec2instances.info CSV export: on-demand price per instance type and OS (`"$0.096 hourly"`, `"unavailable"`).

Errors name the file, the line (or JSON index) and the field, and are collected (up to a limit) so one bad file
reports all its problems at once.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

MAX_ERRORS = 50


@dataclass(frozen=True)
class FormatIssue:
    source: str
    line: int | None  # 1-based line in the file (CSV/TSV)
    index: int | None  # 0-based position in a JSON array / key path
    field: str | None
    msg: str

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"source": self.source, "msg": self.msg}
        if self.line is not None:
            out["line"] = self.line
        if self.index is not None:
            out["row"] = self.index
        if self.field is not None:
            out["field"] = self.field
        return out

    def __str__(self) -> str:
        where = (
            f"line {self.line}" if self.line is not None else f"index {self.index}" if self.index is not None else ""
        )
        parts = [self.source, where, self.field or ""]
        return ": ".join(p for p in parts if p) + f": {self.msg}"


class PriceFormatError(ValueError):
    """A file could not be read; `issues` lists every offending line/index and field."""

    def __init__(self, source: str, issues: list[FormatIssue]) -> None:
        self.source = source
        self.issues = issues
        first = "; ".join(str(issue) for issue in issues[:3])
        more = f" (+{len(issues) - 3} more)" if len(issues) > 3 else ""
        super().__init__(f"{source}: {len(issues)} problem(s): {first}{more}")

    def errors(self) -> list[dict[str, Any]]:
        return [issue.as_dict() for issue in self.issues]


@dataclass(frozen=True, order=True)
class PoolKey:
    """A spot capacity pool. `availability_zone` is a zone name (us-east-1f) or a zone id (use1-az2)."""

    region: str
    availability_zone: str
    instance_type: str
    product_description: str = "Linux/UNIX"

    @property
    def label(self) -> str:
        return f"{self.instance_type}@{self.availability_zone}"

    @property
    def os(self) -> str:
        """The Spot Advisor / on-demand OS family of this product."""
        return "Windows" if self.product_description.lower().startswith("windows") else "Linux"


@dataclass(frozen=True)
class SpotPriceRecord:
    pool: PoolKey
    timestamp: datetime  # tz-aware UTC
    price: float  # USD per instance-hour


@dataclass(frozen=True)
class InterruptionRange:
    index: int
    label: str
    low_pct: float
    high_pct: float | None  # None for the open-ended top range (">20%")

    @property
    def probability(self) -> float:
        """Representative monthly interruption probability of this bucket: the middle of its range; the
        open-ended top range counts as its lower bound plus a quarter (">20%" → 25%), a stated assumption."""
        if self.high_pct is None:
            return self.low_pct * 1.25 / 100.0
        return (self.low_pct + self.high_pct) / 200.0


@dataclass(frozen=True)
class AdvisorEntry:
    region: str
    os: str  # Linux | Windows
    instance_type: str
    bucket: int  # index into AdvisorData.ranges
    savings_pct: int
    label: str
    probability: float  # representative monthly interruption probability


@dataclass
class AdvisorData:
    ranges: list[InterruptionRange]
    entries: dict[tuple[str, str, str], AdvisorEntry]  # (region, os, instance type)
    instance_specs: dict[str, dict[str, Any]] = field(default_factory=dict)  # type → {"cores", "ram_gb", ...}
    global_rate: str | None = None

    def lookup(self, region: str, instance_type: str, os: str = "Linux") -> AdvisorEntry | None:
        return self.entries.get((region, os, instance_type))

    def probability_for_bucket(self, bucket: int) -> float:
        for interruption_range in self.ranges:
            if interruption_range.index == bucket:
                return interruption_range.probability
        raise KeyError(bucket)


# --------------------------------------------------------------------------- zones and regions

_AZ_NAME = re.compile(r"^([a-z]{2}(?:-gov)?-[a-z]+-\d+)([a-z])$")
_AZ_LOCAL_ZONE = re.compile(r"^([a-z]{2}(?:-gov)?-[a-z]+-\d+)-[a-z0-9-]+$")
_AZ_ID = re.compile(r"^([a-z]{2})([a-z]{1,2})(\d+)-az\d+$")
_DIRECTIONS = {
    "e": "east",
    "w": "west",
    "n": "north",
    "s": "south",
    "c": "central",
    "ne": "northeast",
    "nw": "northwest",
    "se": "southeast",
    "sw": "southwest",
}


@functools.lru_cache(maxsize=4096)
def region_of_zone(zone: str) -> str:
    """us-east-1f → us-east-1; a zone id use1-az2 → us-east-1 (area, direction initials, number)."""
    zone = zone.strip().lower()
    match = _AZ_NAME.match(zone) or _AZ_LOCAL_ZONE.match(zone)
    if match:
        return match.group(1)
    match = _AZ_ID.match(zone)
    if match and match.group(2) in _DIRECTIONS:
        return f"{match.group(1)}-{_DIRECTIONS[match.group(2)]}-{match.group(3)}"
    raise ValueError(f"not an availability zone name or id: {zone!r}")


def parse_timestamp(value: str) -> datetime:
    """ISO 8601 with offset or Z (`2023-12-13 23:47:28+00:00`, `2022-05-31T21:35:47Z`); naive values are UTC."""
    text = value.strip()
    if not text:
        raise ValueError("empty timestamp")
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _parse_price(value: Any) -> float:
    price = float(str(value).strip())
    if not math.isfinite(price) or price < 0:
        raise ValueError(f"price must be a finite number ≥ 0, got {value!r}")
    return price


# --------------------------------------------------------------------------- spot price history

_FIELDS = ("Timestamp", "InstanceType", "ProductDescription", "SpotPrice", "AvailabilityZone")
_HEADLESS_TSV = ("AvailabilityZone", "InstanceType", "ProductDescription", "SpotPrice", "Timestamp")
_ZONE_ALIASES = ("AvailabilityZone", "AvailabilityZoneId")


class _Collector:
    def __init__(self, source: str) -> None:
        self.source = source
        self.issues: list[FormatIssue] = []

    def add(self, line: int | None, index: int | None, field_name: str | None, msg: str) -> None:
        if len(self.issues) < MAX_ERRORS:
            self.issues.append(FormatIssue(self.source, line, index, field_name, msg))

    def fail(self, line: int | None, index: int | None, field_name: str | None, msg: str) -> NoReturn:
        self.add(line, index, field_name, msg)
        raise PriceFormatError(self.source, self.issues)

    def raise_if_any(self) -> None:
        if self.issues:
            raise PriceFormatError(self.source, self.issues)


def _record_from_fields(
    values: dict[str, Any], errors: _Collector, line: int | None, index: int | None
) -> SpotPriceRecord | None:
    before = len(errors.issues)
    zone = str(values.get("AvailabilityZone") or values.get("AvailabilityZoneId") or "").strip()
    instance_type = str(values.get("InstanceType") or "").strip()
    product = str(values.get("ProductDescription") or "").strip()
    region = ""
    if not zone:
        errors.add(line, index, "AvailabilityZone", "missing")
    else:
        try:
            region = region_of_zone(zone)
        except ValueError as exc:
            errors.add(line, index, "AvailabilityZone", str(exc))
    if not instance_type:
        errors.add(line, index, "InstanceType", "missing")
    if not product:
        errors.add(line, index, "ProductDescription", "missing")
    price = 0.0
    try:
        price = _parse_price(values.get("SpotPrice", ""))
    except ValueError as exc:
        errors.add(
            line, index, "SpotPrice", str(exc) if "finite" in str(exc) else f"not a number: {values.get('SpotPrice')!r}"
        )
    timestamp = datetime.min.replace(tzinfo=UTC)
    try:
        timestamp = parse_timestamp(str(values.get("Timestamp") or ""))
    except ValueError:
        errors.add(line, index, "Timestamp", f"not an ISO 8601 time: {values.get('Timestamp')!r}")
    if len(errors.issues) > before:
        return None
    return SpotPriceRecord(PoolKey(region, zone.lower(), instance_type, product), timestamp, price)


def _parse_delimited(text: str, source: str, delimiter: str) -> list[SpotPriceRecord]:
    errors = _Collector(source)
    lines = text.splitlines()
    records: list[SpotPriceRecord] = []
    header: list[str] | None = None
    for number, raw_cells in enumerate(csv.reader(lines, delimiter=delimiter), start=1):
        cells = [cell.strip() for cell in raw_cells]
        if not any(cells):
            continue
        if header is None:
            if any(name in cells for name in ("SpotPrice", "Timestamp")):
                header = cells
                missing = [
                    name
                    for name in _FIELDS
                    if name not in cells and not (name == "AvailabilityZone" and "AvailabilityZoneId" in cells)
                ]
                if missing:
                    errors.fail(number, None, ", ".join(missing), "missing column(s) in header")
                continue
            if delimiter == ",":
                errors.fail(number, None, None, "CSV needs a header line naming the columns: " + ",".join(_FIELDS))
            header = list(_HEADLESS_TSV)
        assert header is not None
        if cells and cells[0] == "SPOTPRICEHISTORY":  # aws --output text
            cells = cells[1:]
        if len(cells) != len(header):
            errors.add(number, None, None, f"expected {len(header)} columns, found {len(cells)}")
            continue
        record = _record_from_fields(dict(zip(header, cells, strict=True)), errors, number, None)
        if record is not None:
            records.append(record)
    if header is None:
        errors.fail(None, None, None, "no rows")
    errors.raise_if_any()
    return records


def _parse_json_history(text: str, source: str) -> list[SpotPriceRecord]:
    errors = _Collector(source)
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        errors.fail(exc.lineno, None, None, f"invalid JSON: {exc.msg}")
    rows = document.get("SpotPriceHistory") if isinstance(document, dict) else document
    if not isinstance(rows, list):
        errors.fail(None, None, "SpotPriceHistory", "expected a list of price rows")
    records: list[SpotPriceRecord] = []
    for index, row in enumerate(rows):
        if not isinstance(row, dict):
            errors.add(None, index, None, "expected an object")
            continue
        record = _record_from_fields(row, errors, None, index)
        if record is not None:
            records.append(record)
    errors.raise_if_any()
    return records


def parse_price_history(text: str, source: str = "<input>") -> list[SpotPriceRecord]:
    """Any of the spot price history layouts → records sorted by pool, then time. Format is sniffed."""
    stripped = text.lstrip("\ufeff").lstrip()
    if not stripped:
        raise PriceFormatError(source, [FormatIssue(source, None, None, None, "empty file")])
    if stripped[0] in "{[":
        records = _parse_json_history(stripped, source)
    else:
        first = stripped.splitlines()[0]
        records = _parse_delimited(text.lstrip("\ufeff"), source, "\t" if "\t" in first else ",")
    records.sort(key=lambda r: (r.pool, r.timestamp))
    return records


def read_price_history(path: str | Path) -> list[SpotPriceRecord]:
    path = Path(path)
    return parse_price_history(path.read_text(encoding="utf-8"), source=path.name)


def pools_of(records: Iterable[SpotPriceRecord]) -> list[PoolKey]:
    return sorted({record.pool for record in records})


# --------------------------------------------------------------------------- Spot Instance Advisor

_RANGE_LABEL = re.compile(r"^\s*(?:(<|>)\s*(\d+(?:\.\d+)?)|(\d+(?:\.\d+)?)\s*-\s*(\d+(?:\.\d+)?))\s*%\s*$")


def _parse_range(raw: Any, position: int, errors: _Collector) -> InterruptionRange | None:
    if not isinstance(raw, dict):
        errors.add(None, position, "ranges", "expected an object")
        return None
    label = str(raw.get("label", ""))
    match = _RANGE_LABEL.match(label)
    if not match or not isinstance(raw.get("index"), int):
        errors.add(None, position, "ranges.label" if not match else "ranges.index", f"unreadable range {raw!r}")
        return None
    if match.group(1) == "<":
        low, high = 0.0, float(match.group(2))
    elif match.group(1) == ">":
        low, high = float(match.group(2)), None
    else:
        low, high = float(match.group(3)), float(match.group(4))
    return InterruptionRange(int(raw["index"]), label, low, high)


def parse_spot_advisor(text: str, source: str = "<input>") -> AdvisorData:
    errors = _Collector(source)
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        errors.fail(exc.lineno, None, None, f"invalid JSON: {exc.msg}")
    if not isinstance(document, dict):
        errors.fail(None, None, None, "expected an object with ranges and spot_advisor")
    raw_ranges = document.get("ranges")
    if not isinstance(raw_ranges, list) or not raw_ranges:
        errors.fail(None, None, "ranges", "missing or empty")
    ranges = [r for i, raw in enumerate(raw_ranges) if (r := _parse_range(raw, i, errors)) is not None]
    by_index = {r.index: r for r in ranges}
    advisor = document.get("spot_advisor")
    if not isinstance(advisor, dict):
        errors.fail(None, None, "spot_advisor", "missing or not an object")
    entries: dict[tuple[str, str, str], AdvisorEntry] = {}
    for region, by_os in advisor.items():
        if not isinstance(by_os, dict):
            errors.add(None, None, f"spot_advisor.{region}", "expected an object keyed by OS")
            continue
        for os_name, by_type in by_os.items():
            if not isinstance(by_type, dict):
                errors.add(None, None, f"spot_advisor.{region}.{os_name}", "expected an object keyed by type")
                continue
            for instance_type, value in by_type.items():
                path = f"spot_advisor.{region}.{os_name}.{instance_type}"
                if not isinstance(value, dict):
                    errors.add(None, None, path, "expected {r, s}")
                    continue
                bucket, savings = value.get("r"), value.get("s")
                if not isinstance(bucket, int) or bucket not in by_index:
                    errors.add(None, None, path + ".r", f"not a range index: {bucket!r}")
                    continue
                if not isinstance(savings, int | float):
                    errors.add(None, None, path + ".s", f"not a number: {savings!r}")
                    continue
                interruption_range = by_index[bucket]
                entries[(region, os_name, instance_type)] = AdvisorEntry(
                    region,
                    os_name,
                    instance_type,
                    bucket,
                    int(savings),
                    interruption_range.label,
                    interruption_range.probability,
                )
    errors.raise_if_any()
    specs = document.get("instance_types")
    global_rate = document.get("global_rate")
    return AdvisorData(
        ranges=sorted(ranges, key=lambda r: r.index),
        entries=entries,
        instance_specs=specs if isinstance(specs, dict) else {},
        global_rate=str(global_rate) if global_rate is not None else None,
    )


def read_spot_advisor(path: str | Path) -> AdvisorData:
    path = Path(path)
    return parse_spot_advisor(path.read_text(encoding="utf-8"), source=path.name)


# --------------------------------------------------------------------------- on-demand prices

_OD_COLUMNS = {"Linux": "Linux On Demand cost", "Windows": "Windows On Demand cost"}
_DOLLARS = re.compile(r"^\$?\s*(\d+(?:\.\d+)?)\s*(?:hourly)?$")


def parse_on_demand_csv(text: str, source: str = "<input>") -> dict[tuple[str, str], float]:
    """ec2instances.info export → {(instance type, OS): USD/h}. Types without a price ("unavailable") are left out."""
    errors = _Collector(source)
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = reader.fieldnames or []
    if "API Name" not in header or not any(col in header for col in _OD_COLUMNS.values()):
        errors.fail(1, None, "API Name" if "API Name" not in header else "Linux On Demand cost", "missing column")
    prices: dict[tuple[str, str], float] = {}
    for number, row in enumerate(reader, start=2):
        instance_type = (row.get("API Name") or "").strip()
        if not instance_type:
            errors.add(number, None, "API Name", "missing")
            continue
        for os_name, column in _OD_COLUMNS.items():
            raw = (row.get(column) or "").strip()
            if not raw or raw.lower() in ("unavailable", "n/a", "na"):
                continue
            match = _DOLLARS.match(raw)
            if not match:
                errors.add(number, None, column, f"not a price: {raw!r}")
                continue
            prices[(instance_type, os_name)] = float(match.group(1))
    errors.raise_if_any()
    return prices


def read_on_demand_csv(path: str | Path) -> dict[tuple[str, str], float]:
    path = Path(path)
    return parse_on_demand_csv(path.read_text(encoding="utf-8"), source=path.name)
