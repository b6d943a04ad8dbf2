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


def seed(session: Session, rng: random.Random | None = None, sources: list[Path] | None = None) -> dict[str, Any]:
    """Import the demo CSVs (all or nothing) and replay every zone to the platform clock."""
    files = default_sources() if sources is None else sources
    if not files:
        return {"imported": None, "replayed": [], "note": "no intensity CSV found (SPECTRA_CSV_DIR)"}
    summary = service.import_files(session, service.read_sources(files))
    now = clock.now()
    replayed = [r for zone in sorted(summary["zones"]) if (r := replay_to(session, zone, now)) is not None]
    return {"imported": {"files": summary["files"], "rows": summary["rows"]}, "replayed": replayed}
