"""Carbon intensity: import (all or nothing, upsert), region views, forecasts and back-tests.

An hour row ``hour = H`` covers H … H+1 and counts as observed once the platform clock has passed
H+1; forecasts therefore use only hours that ended at or before now and start at the current hour.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from spectra.carbon.intensity import repository
from spectra.carbon.intensity.forecast import BacktestResult, IntensityForecast, backtest, forecast_intensity
from spectra.carbon.intensity.parsing import IntensityRecord, ParseError, parse_intensity_csv
from spectra.core.audit import record_audit
from spectra.core.clock import clock
from spectra.core.errors import NotFound, Unprocessable
from spectra.core.events import publish
from spectra.fleet.catalog import service as catalog_service

HOUR = timedelta(hours=1)
HISTORY_DAYS = 270  # the forecast reads at most ~254 days (240 training days + lags)
MAX_RANGE_DAYS = 366


def floor_hour(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


# --------------------------------------------------------------------------- import


@dataclass(frozen=True)
class SourceFile:
    name: str
    data: bytes


def _to_unprocessable(exc: ParseError, what: str) -> Unprocessable:
    return Unprocessable(f"{what}: {len(exc.errors)} problem(s); nothing was imported", errors=exc.errors)


def parse_sources(files: Sequence[SourceFile], zone: str | None) -> list[tuple[str, list[IntensityRecord]]]:
    """Parse every file; if any has a bad row, raise one 422 listing the problems of all files."""
    parsed: list[tuple[str, list[IntensityRecord]]] = []
    errors: list[dict[str, Any]] = []
    for source in files:
        try:
            parsed.append((source.name, parse_intensity_csv(source.data, file_name=source.name, zone=zone)))
        except ParseError as exc:
            errors.extend(exc.errors)
    if errors:
        raise _to_unprocessable(ParseError(errors), ", ".join(f.name for f in files))
    if not parsed:
        raise Unprocessable("no file to import", errors=[{"field": "file", "msg": "no CSV file given or found"}])
    return parsed


def store_records(session: Session, parsed: Iterable[tuple[str, list[IntensityRecord]]]) -> dict[str, Any]:
    """Upsert parsed records (a later file wins for the same zone-hour); returns what each zone gained."""
    now = clock.now()
    merged: dict[tuple[str, datetime], dict[str, Any]] = {}
    files: list[str] = []
    for name, records in parsed:
        files.append(name)
        for r in records:
            merged[(r.zone, r.hour)] = {
                "zone": r.zone,
                "hour": r.hour,
                "direct_g_per_kwh": r.direct_g_per_kwh,
                "lifecycle_g_per_kwh": r.lifecycle_g_per_kwh,
                "low_carbon_pct": r.low_carbon_pct,
                "renewable_pct": r.renewable_pct,
                "estimated": r.estimated,
                "estimation_method": (r.estimation_method or None) and r.estimation_method[:60],
                "data_source": (r.source or None) and r.source[:120],
                "samples": r.samples,
                "imported_from": name[:120],
                "imported_at": now,
            }
    rows = [merged[key] for key in sorted(merged)]
    repository.upsert_hours(session, rows)
    zones: dict[str, dict[str, Any]] = {}
    for row in rows:
        info = zones.setdefault(row["zone"], {"hours": 0, "first": row["hour"], "last": row["hour"]})
        info["hours"] += 1
        info["last"] = row["hour"]
    summary = {
        "files": files,
        "rows": len(rows),
        "zones": {z: {**v, "first": v["first"].isoformat(), "last": v["last"].isoformat()} for z, v in zones.items()},
    }
    record_audit(session, "carbon_intensity.import", "carbon_intensity", ",".join(sorted(zones)), None, summary)
    publish(session, "carbon.intensity.imported", summary)
    return summary


def import_files(session: Session, files: Sequence[SourceFile], zone: str | None = None) -> dict[str, Any]:
    return store_records(session, parse_sources(files, zone))


def read_sources(paths: Sequence[Path]) -> list[SourceFile]:
    out = []
    for path in paths:
        try:
            out.append(SourceFile(path.name, path.read_bytes()))
        except OSError as exc:
            raise Unprocessable(
                f"cannot read {path}", errors=[{"field": "path", "msg": exc.strerror or str(exc)}]
            ) from None
    return out


def csv_files_in(directory: Path) -> list[Path]:
    if not directory.is_dir():
        raise Unprocessable(
            f"CSV directory {directory} does not exist", errors=[{"field": "path", "msg": "not a directory"}]
        )
    return sorted(p for p in directory.iterdir() if p.is_file() and p.suffix.lower() == ".csv")


def import_path(session: Session, path: Path, zone: str | None = None) -> dict[str, Any]:
    """Import one file, or every *.csv of a directory as one all-or-nothing batch."""
    paths = csv_files_in(path) if path.is_dir() else [path]
    return import_files(session, read_sources(paths), zone)


# --------------------------------------------------------------------------- reads


@dataclass(frozen=True)
class ZoneHistory:
    zone: str
    start: datetime  # first hour of ``values``
    values: np.ndarray  # hourly direct gCO2e/kWh, NaN where nothing is stored


def history(session: Session, zone: str, start: datetime, end: datetime) -> ZoneHistory:
    """Direct intensity of ``zone`` for hours start <= hour < end on a gap-aware grid."""
    start, end = floor_hour(start), floor_hour(end)
    length = max(0, int((end - start) / HOUR))
    values = np.full(length, np.nan)
    for hour, value in repository.direct_values(session, zone, start, end):
        values[int((hour - start) / HOUR)] = value
    return ZoneHistory(zone, start, values)


def zones(session: Session) -> list[dict[str, Any]]:
    return [
        {"zone": z, "hours": n, "first": first, "last": last} for z, n, first, last in repository.zone_coverage(session)
    ]


def _check_range(start: datetime, end: datetime) -> None:
    if end <= start:
        raise Unprocessable("end must be after start", errors=[{"field": "end", "msg": "must be after start"}])
    if end - start > timedelta(days=MAX_RANGE_DAYS):
        raise Unprocessable(
            f"at most {MAX_RANGE_DAYS} days at a time", errors=[{"field": "end", "msg": "range too long"}]
        )


def region_carbon(session: Session, code: str, start: datetime | None, end: datetime | None) -> dict[str, Any]:
    """A region's stored hourly intensity (default: the last 24 h before now) with a summary."""
    region = catalog_service.get_region(session, code)
    end = floor_hour(end or clock.now())
    start = floor_hour(start) if start else end - timedelta(hours=24)
    _check_range(start, end)
    rows = repository.hours(session, region.zone, start, end) if region.zone else []
    direct = np.array([r.direct_g_per_kwh for r in rows]) if rows else np.array([])
    summary = None
    if direct.size:
        summary = {
            "hours": int(direct.size),
            "mean_g_per_kwh": float(direct.mean()),
            "min_g_per_kwh": float(direct.min()),
            "max_g_per_kwh": float(direct.max()),
            "mean_effective_g_per_kwh": float(direct.mean() * region.pue),  # per kWh of IT load
        }
    return {
        "region": region.code,
        "zone": region.zone,
        "pue": region.pue,
        "start": start,
        "end": end,
        "hours": rows,
        "summary": summary,
    }


# --------------------------------------------------------------------------- forecast and back-test


def forecast_zone(session: Session, zone: str, hours: int, now: datetime | None = None) -> dict[str, Any]:
    """Forecast ``hours`` hours from the current hour on, from the hours that ended by ``now``."""
    now = now or clock.now()
    first = floor_hour(now)  # the current (unfinished) hour is the first forecast hour
    past = history(session, zone, first - timedelta(days=HISTORY_DAYS), first)
    observed = np.flatnonzero(np.isfinite(past.values))
    if observed.size == 0:
        raise NotFound(f"no stored carbon intensity for zone {zone!r} before {first.isoformat()}", code="no_intensity")
    values = past.values[observed[0] :]
    try:
        result: IntensityForecast = forecast_intensity(values, hours)
    except ValueError as exc:
        raise Unprocessable(str(exc), errors=[{"field": "hours", "msg": str(exc)}]) from None
    return {
        "zone": zone,
        "generated_at": now,
        "method": result.method,
        "history_hours": int(np.isfinite(values).sum()),
        "last_observed_hour": past.start + HOUR * int(observed[-1]),
        "points": [
            {"hour": first + HOUR * i, "mean_g_per_kwh": float(m), "std_g_per_kwh": float(s)}
            for i, (m, s) in enumerate(zip(result.mean, result.std, strict=True))
        ],
    }


def zone_for(session: Session, zone: str | None, region: str | None) -> str:
    """The zone named, or the zone of a region; one of them is required."""
    if zone:
        return zone
    if region:
        view = catalog_service.get_region(session, region)
        if not view.zone:
            raise Unprocessable(f"region {region} has no grid zone", errors=[{"field": "region", "msg": "no zone"}])
        return view.zone
    raise Unprocessable("give a zone or a region", errors=[{"field": "zone", "msg": "zone or region required"}])


def backtest_zone(
    session: Session,
    zone: str,
    start: datetime,
    end: datetime,
    horizon: int = 24,
    step_hours: int = 24,
) -> dict[str, Any]:
    """Forecasts made at past times (every ``step_hours`` in start … end) against what happened."""
    start, end = floor_hour(start), floor_hour(end)
    _check_range(start, end)
    # Earlier history feeds the first forecasts; actuals come from the stored hours up to ``end``.
    past = history(session, zone, start - timedelta(days=HISTORY_DAYS), end)
    offset = int((start - past.start) / HOUR)
    origins = list(range(offset, past.values.size - horizon + 1, step_hours))
    try:
        result: BacktestResult = backtest(past.values, horizon, origins=origins, min_history_hours=48)
    except ValueError as exc:
        raise Unprocessable(
            f"not enough stored intensity for zone {zone!r} to back-test this range",
            errors=[{"field": "start", "msg": str(exc)}],
        ) from None
    return {
        "zone": zone,
        "start": start,
        "end": end,
        "horizon_hours": horizon,
        "step_hours": step_hours,
        "forecasts": result.n_forecasts,
        "points": result.n_points,
        "mae": result.mae,
        "mape": result.mape,
        "seasonal_naive_mae": result.seasonal_naive_mae,
        "ratio": result.ratio,
        "mae_by_horizon": [float(v) for v in result.mae_by_horizon],
        "seasonal_naive_mae_by_horizon": [float(v) for v in result.naive_mae_by_horizon],
    }


@dataclass(frozen=True)
class Outlook:
    """A zone's mean intensity over a window: stored actuals for the hours before now, forecast after."""

    mean: float
    std: float | None  # spread of the forecast part (None when the window is all in the past)
    method: str  # "stored", the forecast method, or "stored+<method>"
    hours: int


def outlook(session: Session, zone: str, start: datetime, end: datetime, now: datetime | None = None) -> Outlook | None:
    """Mean direct intensity of ``zone`` over start … end (None when nothing is stored for the zone)."""
    now = now or clock.now()
    start, end = floor_hour(start), max(floor_hour(end), floor_hour(start) + HOUR)
    split = min(max(floor_hour(now), start), end)
    past = history(session, zone, start, split).values if split > start else np.array([])
    observed = past[np.isfinite(past)]
    future_hours = int((end - split) / HOUR)
    forecast_mean = np.array([])
    std: float | None = None
    method = "stored"
    if future_hours:
        try:
            made = forecast_zone(session, zone, min(future_hours + int((split - floor_hour(now)) / HOUR), 336), now)
        except NotFound:
            made = None
        if made is not None:
            offset = int((split - floor_hour(now)) / HOUR)
            points = made["points"][offset : offset + future_hours]
            forecast_mean = np.array([p["mean_g_per_kwh"] for p in points])
            spreads = np.array([p["std_g_per_kwh"] for p in points])
            std = float(np.sqrt(np.mean(spreads**2))) if spreads.size else None
            method = made["method"] if observed.size == 0 else f"stored+{made['method']}"
    values = np.concatenate([observed, forecast_mean])
    if values.size == 0:
        return None
    return Outlook(mean=float(values.mean()), std=std, method=method, hours=int(values.size))
