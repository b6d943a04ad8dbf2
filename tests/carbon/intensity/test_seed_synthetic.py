"""Without any intensity CSV the demo seed generates labelled synthetic history with a daily shape."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import numpy as np
from sqlalchemy.orm import Session

from spectra.carbon.intensity import repository, seed


def test_synthetic_history_when_no_csv(db: Session) -> None:
    now = datetime(2026, 6, 10, 12, 30, tzinfo=UTC)
    summary = seed.synthetic(db, random.Random(1), now)
    assert summary["synthetic"] is True and "FR" in summary["zones"] and "US-CAL-CISO" in summary["zones"]
    start = now.replace(minute=0) - timedelta(days=30)
    rows = repository.hours(db, "US-CAL-CISO", start, start + timedelta(days=33))
    assert len(rows) == 33 * 24
    assert all(r.estimated and r.imported_from == "synthetic" for r in rows)
    values = np.array([r.direct_g_per_kwh for r in rows])
    by_utc_hour = {h: np.mean([r.direct_g_per_kwh for r in rows if r.hour.hour == h]) for h in range(24)}
    # California is UTC-8: local noon is 20:00 UTC, the 19:00 evening peak 03:00 UTC.
    assert by_utc_hour[20] < by_utc_hour[3], "a solar grid dips at midday and peaks in the evening"
    fr = [r.direct_g_per_kwh for r in repository.hours(db, "FR", now - timedelta(days=1), now)]
    assert np.mean(fr) < np.mean(values), "zones keep their own level"


def test_seed_falls_back_to_synthetic(db: Session, settings_env, tmp_path) -> None:
    settings_env(CSV_DIR=str(tmp_path / "none"), SHARED_DATA_DIR=str(tmp_path))
    assert seed.seed(db, random.Random(2))["synthetic"] is True
