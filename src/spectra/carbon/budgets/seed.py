"""Demo budgets: one per team for the current quarter, sized from the team's running instances so the
demo shows every status: the estimate × 1.6 (on track), × 1.15 (at risk near the end) or × 0.85 (over)."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from spectra.carbon.budgets import service
from spectra.carbon.budgets.schemas import BudgetCreate
from spectra.carbon.emissions import service as emissions
from spectra.core.auth import Caller
from spectra.core.clock import clock
from spectra.fleet import service as fleet_service
from spectra.fleet.instances import service as instance_service

REFERENCE_INTENSITY = 400.0  # gCO2e/kWh, used for a region without stored intensity
HEADROOM = (1.6, 1.15, 0.85)
SEED_CALLER = Caller("admin", None, "seed", "")


def seed(
    session: Session, rng: random.Random, intensity_of: Callable[[str], float | None] | None = None
) -> dict[str, Any]:
    """`intensity_of(region)` gives a region's typical intensity (gCO2e/kWh) when known."""
    now = clock.now()
    quarter = service.Quarter.of(now)
    quarter_hours = (quarter.end - quarter.start).total_seconds() / 3600.0
    created = 0
    for client in fleet_service.list_clients(session):
        rows, _ = instance_service.list_instances(session, client.id, state="running", limit=100_000)
        for index, team in enumerate(fleet_service.list_teams(session, client.id)):
            grams_per_hour = 0.0
            for inst in rows:
                if inst.team_id != team.id:
                    continue
                intensity = (intensity_of(inst.region) if intensity_of else None) or REFERENCE_INTENSITY
                estimate = emissions.estimate_hourly(session, inst.instance_type, inst.provider, inst.region, intensity)
                grams_per_hour += estimate[1] if estimate else 0.0
            if grams_per_hour == 0.0:
                continue
            headroom = HEADROOM[index % len(HEADROOM)] * rng.uniform(0.97, 1.03)
            amount = max(10.0, round(grams_per_hour * quarter_hours / 1000.0 * headroom, -1))
            service.create_budget(
                session,
                BudgetCreate(team_id=team.id, year=quarter.year, quarter=quarter.quarter, budget_co2e_kg=amount),
                SEED_CALLER,
            )
            created += 1
    return {"budgets": created, "year": quarter.year, "quarter": quarter.quarter}
