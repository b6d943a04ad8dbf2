"""Demo intensity: import the CSV folder, then replay each zone's newest year up to the platform clock.

The CSVs (SPECTRA_CSV_DIR, else the public datasets beside the repository) are imported as they are.
Because those exports end in the past while the demo's clock runs today, the newest 52 weeks of every
zone are also stored again shifted forward by a whole number of weeks (so weekdays and hours of the
day line up) until they cover the clock's last year and next few days. Replayed rows are labelled
``replay:+<weeks>w:<file>`` in ``imported_from`` and ``estimated`` = true; real imports overwrite them.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from spectra.carbon.intensity import repository, service
from spectra.core.clock import clock
from spectra.core.config import get_settings

WEEK = timedelta(weeks=1)
REPLAY_WEEKS = 52
AHEAD = timedelta(days=3)  # replay a little past now so "future" windows have actual hours too


def default_sources() -> list[Path]:
    settings = get_settings()
    if settings.csv_dir.is_dir():
        files = service.csv_files_in(settings.csv_dir)
        if files:
            return files
    shared = settings.shared_data_dir or Path(__file__).resolve().parents[4] / ".." / "shared" / "data"
    folder = shared / "carbon_intensity" / "electricitymaps"
    return sorted(folder.glob("*.csv")) if folder.is_dir() else []


def replay_to(session: Session, zone: str, now: datetime) -> dict[str, Any] | None:
    """Store the zone's newest 52 weeks again, shifted by whole weeks to end just after ``now``."""
    coverage = {z: (n, first, last) for z, n, first, last in repository.zone_coverage(session)}
    if zone not in coverage:
        return None
    _, _, last = coverage[zone]
    target_end = service.floor_hour(now) + AHEAD
    if last >= target_end:
        return None
    weeks = -(-(target_end - last) // WEEK)  # ceil: whole weeks keep weekday and hour aligned
    source_start = last - WEEK * REPLAY_WEEKS + timedelta(hours=1)
    rows = repository.hours(session, zone, source_start, last + timedelta(hours=1))
    if not rows:
        return None
    shift = WEEK * weeks
    now_stamp = clock.now()
    repository.upsert_hours(
        session,
        [
            {
                "zone": zone,
                "hour": r.hour + shift,
                "direct_g_per_kwh": r.direct_g_per_kwh,
                "lifecycle_g_per_kwh": r.lifecycle_g_per_kwh,
                "low_carbon_pct": r.low_carbon_pct,
                "renewable_pct": r.renewable_pct,
                "estimated": True,
                "estimation_method": "REPLAY",
                "data_source": r.data_source,
                "samples": r.samples,
                "imported_from": f"replay:+{weeks}w:{r.imported_from}"[:120],
                "imported_at": now_stamp,
            }
            for r in rows
        ],
    )
    return {"zone": zone, "weeks": int(weeks), "hours": len(rows), "from": (rows[0].hour + shift).isoformat()}


# Typical mean and daily swing (gCO2e/kWh) of the demo regions' grids, public orders of magnitude only:
# (mean, share lost to midday solar, evening-peak share, UTC offset of local time).
SYNTHETIC_GRIDS = {
    "US-MIDA-PJM": (380.0, 0.05, 0.08, -5),
    "US-CAL-CISO": (220.0, 0.35, 0.15, -8),
    "US-NW-BPAT": (120.0, 0.05, 0.08, -8),
    "IE": (300.0, 0.05, 0.10, 0),
    "DE": (380.0, 0.25, 0.12, 1),
    "FR": (55.0, 0.05, 0.15, 1),
    "GB": (200.0, 0.15, 0.12, 0),
    "SE-SE3": (30.0, 0.02, 0.05, 1),
    "ES": (140.0, 0.35, 0.10, 1),
    "JP-TK": (470.0, 0.12, 0.06, 9),
    "AU-NSW": (650.0, 0.25, 0.06, 10),
    "IN-WE": (690.0, 0.10, 0.04, 5),
    "BR": (100.0, 0.10, 0.10, -3),
    "SG": (470.0, 0.03, 0.03, 8),
    "CA-QC": (30.0, 0.02, 0.03, -5),
}


def synthetic(
    session: Session, rng: random.Random, now: datetime, days: int = 30, skip: set[str] | None = None
) -> dict[str, Any]:
    """No CSV anywhere (a fresh clone without the public datasets): generate 30 days (+3 ahead) per zone with a
    daily shape (solar dip at midday, evening peak, weekend dip) and noise, labelled synthetic and estimated."""
    import math

    from spectra.carbon.intensity.parsing import IntensityRecord

    start = floor_to_hour(now) - timedelta(days=days)
    records = []
    for zone, (mean, solar, evening, utc_offset) in SYNTHETIC_GRIDS.items():
        if skip and zone in skip:
            continue
        level = mean
        for h in range(int((days * 24) + AHEAD.total_seconds() // 3600)):
            hour = start + timedelta(hours=h)
            local = (hour.hour + utc_offset) % 24
            daylight = max(0.0, math.sin(math.pi * (local - 6) / 12)) if 6 <= local <= 18 else 0.0
            peak = math.exp(-(((local - 19) / 2.5) ** 2))
            weekend = 0.93 if hour.weekday() >= 5 else 1.0
            level = 0.8 * level + 0.2 * mean * rng.uniform(0.85, 1.15)  # slow weather-like drift
            value = level * (1 - solar * daylight + evening * peak) * weekend
            records.append(
                IntensityRecord(
                    zone=zone,
                    hour=hour,
                    direct_g_per_kwh=round(max(value, 5.0), 1),
                    estimated=True,
                    estimation_method="synthetic",
                    source="synthetic",
                )
            )
    summary = service.store_records(session, [("synthetic", records)])
    return {"synthetic": True, "rows": summary["rows"], "zones": sorted(summary["zones"])}


def floor_to_hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def seed(session: Session, rng: random.Random | None = None, sources: list[Path] | None = None) -> dict[str, Any]:
    """Import the demo CSVs (all or nothing) and replay every zone to the platform clock; without any CSV,
    generate labelled synthetic history instead, so the demo never fails for lack of data files."""
    files = default_sources() if sources is None else sources
    if not files:
        return synthetic(session, rng or random.Random(0), clock.now())
    summary = service.import_files(session, service.read_sources(files))
    now = clock.now()
    replayed = [r for zone in sorted(summary["zones"]) if (r := replay_to(session, zone, now)) is not None]
    # Zones of the demo's regions that no file covers get labelled synthetic history, so every region has data.
    filled = synthetic(session, rng or random.Random(0), now, skip=set(summary["zones"]))
    return {
        "imported": {"files": summary["files"], "rows": summary["rows"]},
        "replayed": replayed,
        "synthetic_zones": filled["zones"],
    }
