"""Carbon demo data, after the fleet seed made the clients and instances: emissions of the days the
stored intensity covers (the last 30), then team budgets for the current quarter sized from them."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from spectra.carbon.automation import seed as automation_seed
from spectra.carbon.budgets import seed as budget_seed
from spectra.carbon.emissions import service as emissions
from spectra.carbon.intensity import seed as intensity_seed
from spectra.carbon.intensity import service as intensity_service
from spectra.core.clock import clock
from spectra.fleet.catalog import service as catalog_service


def seed(session: Session, rng: random.Random) -> dict[str, Any]:
    now = clock.now()
    intensity = intensity_seed.seed(session, rng)  # before emissions, which need the grid's hours
    computed = emissions.compute_days(session, emissions.days_to_compute(session, now), now)

    def week_mean(region: str) -> float | None:
        view = catalog_service.find_region(session, region)
        if view is None or not view.zone:
            return None
        values = intensity_service.history(session, view.zone, now - timedelta(days=7), now).values
        return float(np.nanmean(values)) if np.isfinite(values).any() else None

    budgets = budget_seed.seed(session, rng, intensity_of=week_mean)
    return {
        "intensity": intensity,
        "emissions": computed,
        "budgets": budgets,
        "automation": automation_seed.seed(session, rng),
    }
