"""Parse grid carbon-intensity files into validated hourly records, all or nothing.

Two formats are accepted, recognised from the header:

- Electricity Maps exports exactly as the portal writes them, in both header generations:
  ``Datetime (UTC),Country,Zone Name,Zone Id,Carbon Intensity gCO₂eq/kWh (direct),
  Carbon Intensity gCO₂eq/kWh (LCA),Low Carbon Percentage,Renewable Percentage,Data Source,
  Data Estimated,Data Estimation Method`` and the newer ``… (Life cycle), Carbon-free energy
  percentage (CFE%), Renewable energy percentage (RE%) …``. A file may hold several zones and years.
- A plain series ``Time,Carbon Intensity`` (gCO2e/kWh), for which the caller names the zone.
  Times without an offset are taken as UTC.

Rows finer than an hour (15- or 30-minute series) are averaged into the hour that contains them.
Every problem is collected with its file, line and column, and the whole file is rejected at once
by raising :class:`ParseError`, so an import never stores half a file.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

MAX_REPORTED_ERRORS = 50
# The dirtiest grids run at ~1,200 gCO2e/kWh; anything far beyond is a unit or column mistake.
MAX_INTENSITY_G_PER_KWH = 5000.0

TRUE_WORDS = {"true", "1", "yes", "y", "t"}
FALSE_WORDS = {"false", "0", "no", "n", "f", ""}


@dataclass(frozen=True)
class IntensityRecord:
    """Grid carbon intensity of one zone over one UTC hour (``hour`` is the start of the hour)."""

    zone: str
    hour: datetime
    direct_g_per_kwh: float  # operational (combustion) emissions
    lifecycle_g_per_kwh: float | None = None  # including the plants' life-cycle emissions
    low_carbon_pct: float | None = None  # carbon-free energy share, 0-100
    renewable_pct: float | None = None  # 0-100
    estimated: bool = False
    estimation_method: str | None = None
    source: str | None = None  # who published the underlying data, e.g. "entsoe.eu"
    samples: int = 1  # rows averaged into this hour


class ParseError(ValueError):
    """A file could not be imported; ``errors`` lists ``{"file", "line", "column", "msg"}``."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        self.errors = errors
        first = errors[0] if errors else {"file": "?", "line": None, "column": None, "msg": "unknown error"}
        more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
        where = f"{first['file']}:{first['line']}" if first.get("line") is not None else str(first["file"])
        column = f" [{first['column']}]" if first.get("column") else ""
        super().__init__(f"{where}{column}: {first['msg']}{more}")


@dataclass
class _Collector:
    file: str
    errors: list[dict[str, Any]] = field(default_factory=list)
    dropped: int = 0

    def add(self, line: int | None, column: str | None, msg: str) -> None:
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append({"file": self.file, "line": line, "column": column, "msg": msg})
        else:
            self.dropped += 1

    def raise_if_any(self) -> None:
        if not self.errors:
            return
        if self.dropped:
            self.errors.append(
                {"file": self.file, "line": None, "column": None, "msg": f"{self.dropped} further errors not listed"}
            )
        raise ParseError(self.errors)


# Column roles, recognised from normalised header names (both Electricity Maps generations).
_EM_ROLES: dict[str, tuple[str, ...]] = {
    "time": ("datetime (utc)", "datetime"),
    "country": ("country",),
    "zone_name": ("zone name",),
    "zone": ("zone id",),
    "direct": ("carbon intensity gco₂eq/kwh (direct)", "carbon intensity gco2eq/kwh (direct)"),
    "lifecycle": (
        "carbon intensity gco₂eq/kwh (lca)",
        "carbon intensity gco2eq/kwh (lca)",
        "carbon intensity gco₂eq/kwh (life cycle)",
        "carbon intensity gco2eq/kwh (life cycle)",
    ),
    "low_carbon": ("low carbon percentage", "carbon-free energy percentage (cfe%)"),
    "renewable": ("renewable percentage", "renewable energy percentage (re%)"),
    "source": ("data source",),
    "estimated": ("data estimated",),
    "method": ("data estimation method",),
}
_EM_REQUIRED = ("time", "zone", "direct")
_SERIES_ROLES: dict[str, tuple[str, ...]] = {
    "time": ("time", "datetime", "timestamp"),
    "direct": ("carbon intensity", "carbon_intensity", "carbon intensity gco2eq/kwh"),
}


def _normalise(name: str) -> str:
    return " ".join(name.strip().strip("\ufeff").lower().split())


def _map_columns(header: Sequence[str], roles: dict[str, tuple[str, ...]]) -> dict[str, int]:
    names = [_normalise(h) for h in header]
    found: dict[str, int] = {}
    for role, aliases in roles.items():
        for i, name in enumerate(names):
            if name in aliases:
                found[role] = i
                break
    return found


def parse_timestamp(text: str) -> datetime:
    """ISO 8601 / ``YYYY-MM-DD HH:MM[:SS]`` to an aware UTC datetime (no offset = UTC)."""
    value = text.strip()
    if not value:
        raise ValueError("empty timestamp")
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00") if value.endswith("Z") else value)
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _number(text: str, *, lo: float, hi: float) -> float:
    value = float(text.strip())
    if not math.isfinite(value):
        raise ValueError("not a finite number")
    if value < lo or value > hi:
        raise ValueError(f"{value:g} outside {lo:g}…{hi:g}")
    return value


@dataclass
class _HourAccumulator:
    zone: str
    hour: datetime
    first_line: int
    direct: list[float] = field(default_factory=list)
    lifecycle: list[float] = field(default_factory=list)
    low_carbon: list[float] = field(default_factory=list)
    renewable: list[float] = field(default_factory=list)
    estimated: bool = False
    method: str | None = None
    source: str | None = None

    def record(self) -> IntensityRecord:
        def mean(values: list[float]) -> float | None:
            return float(sum(values) / len(values)) if values else None

        return IntensityRecord(
            zone=self.zone,
            hour=self.hour,
            direct_g_per_kwh=float(sum(self.direct) / len(self.direct)),
            lifecycle_g_per_kwh=mean(self.lifecycle),
            low_carbon_pct=mean(self.low_carbon),
            renewable_pct=mean(self.renewable),
            estimated=self.estimated,
            estimation_method=self.method,
            source=self.source,
            samples=len(self.direct),
        )


def decode(data: bytes | str, file_name: str) -> str:
    """Bytes to text: UTF-8 (with or without BOM); a file that is not UTF-8 is rejected."""
    if isinstance(data, str):
        return data.lstrip("\ufeff")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ParseError(
            [{"file": file_name, "line": None, "column": None, "msg": f"not UTF-8 text ({exc.reason})"}]
        ) from exc


def parse_intensity_csv(data: bytes | str, *, file_name: str, zone: str | None = None) -> list[IntensityRecord]:
    """Parse one file's content; returns hourly records sorted by zone then hour, or raises ParseError.

    ``zone`` names the zone of a ``Time,Carbon Intensity`` series (required there). For an
    Electricity Maps export the zone comes from its ``Zone Id`` column; a given ``zone`` then only
    fills rows whose zone id is empty (so one zone can be given for a mixed batch of files).
    """
    text = decode(data, file_name)
    errors = _Collector(file_name)
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        errors.add(1, None, "empty file")
        errors.raise_if_any()
        return []
    em_columns = _map_columns(header, _EM_ROLES)
    series_columns = _map_columns(header, _SERIES_ROLES)
    if all(role in em_columns for role in _EM_REQUIRED):
        columns, kind = em_columns, "electricitymaps"
    elif "time" in series_columns and "direct" in series_columns:
        columns, kind = series_columns, "series"
        if not zone:
            errors.add(1, None, "a 'Time,Carbon Intensity' series names no zone: give the zone it belongs to")
            errors.raise_if_any()
    else:
        missing = [role for role in _EM_REQUIRED if role not in em_columns]
        errors.add(
            1,
            None,
            "unrecognised header: expected an Electricity Maps export (missing "
            + ", ".join(_EM_ROLES[m][0] for m in missing)
            + ") or a 'Time,Carbon Intensity' series",
        )
        errors.raise_if_any()
        return []
    names = [h.strip().strip("\ufeff") for h in header]
    width = len(header)

    hours: dict[tuple[str, datetime], _HourAccumulator] = {}
    seen_times: dict[tuple[str, datetime], int] = {}
    for row in reader:
        line = reader.line_num
        if not row or all(not cell.strip() for cell in row):
            continue
        if len(row) != width:
            errors.add(line, None, f"expected {width} fields, found {len(row)}")
            continue

        def cell(role: str, row: list[str] = row) -> str:
            index = columns.get(role)
            return row[index].strip() if index is not None else ""

        row_ok = True
        try:
            when = parse_timestamp(cell("time"))
        except ValueError as exc:
            errors.add(line, names[columns["time"]], f"invalid timestamp {cell('time')!r}: {exc}")
            row_ok = False
            when = None
        # A zone named in the file wins; the given zone fills series files and empty zone ids.
        row_zone = (cell("zone") if kind == "electricitymaps" else "") or (zone or "")
        if not row_zone:
            errors.add(line, names[columns["zone"]] if "zone" in columns else None, "missing zone id")
            row_ok = False
        values: dict[str, float | None] = {}
        for role, lo, hi, required in (
            ("direct", 0.0, MAX_INTENSITY_G_PER_KWH, True),
            ("lifecycle", 0.0, MAX_INTENSITY_G_PER_KWH, False),
            ("low_carbon", 0.0, 100.0, False),
            ("renewable", 0.0, 100.0, False),
        ):
            raw = cell(role)
            if not raw:
                if required:
                    errors.add(line, names[columns[role]], "missing value")
                    row_ok = False
                values[role] = None
                continue
            try:
                values[role] = _number(raw, lo=lo, hi=hi)
            except ValueError as exc:
                errors.add(line, names[columns[role]], f"invalid number {raw!r}: {exc}")
                row_ok = False
        estimated_raw = cell("estimated").lower()
        if estimated_raw not in TRUE_WORDS | FALSE_WORDS:
            errors.add(line, names[columns["estimated"]], f"expected true/false, found {estimated_raw!r}")
            row_ok = False
        if not row_ok or when is None:
            continue

        key_exact = (row_zone, when)
        if key_exact in seen_times:
            errors.add(
                line, names[columns["time"]], f"duplicate time {when.isoformat()} (line {seen_times[key_exact]})"
            )
            continue
        seen_times[key_exact] = line
        hour = when.replace(minute=0, second=0, microsecond=0)
        acc = hours.get((row_zone, hour))
        if acc is None:
            acc = hours[(row_zone, hour)] = _HourAccumulator(zone=row_zone, hour=hour, first_line=line)
        direct = values["direct"]
        assert direct is not None  # required above
        acc.direct.append(direct)
        for role, bucket in (
            ("lifecycle", acc.lifecycle),
            ("low_carbon", acc.low_carbon),
            ("renewable", acc.renewable),
        ):
            value = values[role]
            if value is not None:
                bucket.append(value)
        acc.estimated = acc.estimated or estimated_raw in TRUE_WORDS
        acc.method = acc.method or (cell("method") or None)
        acc.source = acc.source or (cell("source") or None)

    if not hours and not errors.errors:
        errors.add(None, None, "no data rows")
    errors.raise_if_any()
    return [hours[key].record() for key in sorted(hours)]


def parse_intensity_file(path: str | Path, *, zone: str | None = None) -> list[IntensityRecord]:
    """Read and parse one file (see :func:`parse_intensity_csv`)."""
    file_path = Path(path)
    try:
        data = file_path.read_bytes()
    except OSError as exc:
        raise ParseError(
            [{"file": str(file_path), "line": None, "column": None, "msg": f"cannot read: {exc.strerror}"}]
        ) from exc
    return parse_intensity_csv(data, file_name=file_path.name, zone=zone)


def parse_intensity_files(paths: Iterable[str | Path], *, zone: str | None = None) -> list[IntensityRecord]:
    """Parse several files as one batch: every file's errors are reported, nothing is returned if any failed.

    Where files overlap, the later file's value for a zone-hour wins (a re-export corrects an earlier one).
    """
    merged: dict[tuple[str, datetime], IntensityRecord] = {}
    errors: list[dict[str, Any]] = []
    for path in paths:
        try:
            for record in parse_intensity_file(path, zone=zone):
                merged[(record.zone, record.hour)] = record
        except ParseError as exc:
            errors.extend(exc.errors)
    if errors:
        raise ParseError(errors)
    return [merged[key] for key in sorted(merged)]


@dataclass(frozen=True)
class HourlySeries:
    """One zone's direct intensity on a regular hourly grid (NaN where an hour is missing)."""

    zone: str
    start: datetime
    values: NDArray[np.float64]

    def hour_at(self, index: int) -> datetime:
        return self.start + timedelta(hours=index)


def hourly_series(records: Iterable[IntensityRecord], zone: str | None = None) -> HourlySeries:
    """Lay records of one zone out on a gap-aware hourly grid (``zone`` picks one zone from a mixed list)."""
    chosen = [r for r in records if zone is None or r.zone == zone]
    if not chosen:
        raise ValueError(f"no records for zone {zone!r}" if zone else "no records")
    zones = {r.zone for r in chosen}
    if len(zones) > 1:
        raise ValueError(f"records hold several zones ({', '.join(sorted(zones))}); name one")
    start = min(r.hour for r in chosen)
    end = max(r.hour for r in chosen)
    length = int((end - start).total_seconds() // 3600) + 1
    values = np.full(length, np.nan)
    for r in chosen:
        values[int((r.hour - start).total_seconds() // 3600)] = r.direct_g_per_kwh
    return HourlySeries(zone=chosen[0].zone, start=start, values=values)
