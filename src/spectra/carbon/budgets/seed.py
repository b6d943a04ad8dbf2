"""Demo budgets: one per team for the current quarter, sized so the demo shows each status.

Teams take turns: on track (the quarter's projection × 1.5), at risk (projection × 0.93) and over
(95% of what the team has already emitted). The projection comes from the stored emissions when
there are any, else from a CCF estimate of the team's running instances over the quarter.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from spectra.carbon.budgets import service
from spectra.carbon.budgets.models import TeamBudget
from spectra.carbon.budgets.schemas import BudgetCreate
from spectra.carbon.emissions import service as emissions
from spectra.core.auth import Caller
from spectra.core.clock import clock
from spectra.fleet import service as fleet_service
from spectra.fleet.instances import service as instance_service

REFERENCE_INTENSITY = 400.0  # gCO2e/kWh, used for a region without stored intensity
SEED_CALLER = Caller("admin", None, "seed", "")


def _estimate_kg(
    session: Session, rows: list[Any], team_id: str, hours: float, intensity_of: Callable[[str], float | None] | None
) -> float:
    grams_per_hour = 0.0
    for inst in rows:
        if inst.team_id != team_id:
            continue
        intensity = (intensity_of(inst.region) if intensity_of else None) or REFERENCE_INTENSITY
        estimate = emissions.estimate_hourly(session, inst.instance_type, inst.provider, inst.region, intensity)
        grams_per_hour += estimate[1] if estimate else 0.0
    return grams_per_hour * hours / 1000.0


def seed(
    session: Session, rng: random.Random, intensity_of: Callable[[str], float | None] | None = None
) -> dict[str, Any]:
    """`intensity_of(region)` gives a region's typical intensity (gCO2e/kWh) when known."""
    now = clock.now()
    quarter = service.Quarter.of(now)
    quarter_hours = (quarter.end - quarter.start).total_seconds() / 3600.0
    created = 0
    turn = 0
    for client in fleet_service.list_clients(session):
        rows, _ = instance_service.list_instances(session, client.id, state="running", limit=100_000)
        for team in fleet_service.list_teams(session, client.id):
            probe = TeamBudget(
                client_id=client.id, team_id=team.id, year=quarter.year, quarter=quarter.quarter,
                budget_co2e_kg=1.0, basis="location", include_embodied=True,
            )  # fmt: skip
            use = service.usage(session, probe, now)
            projected, consumed = use.projected_kg, use.consumed_kg
            if projected <= 0.0:
                projected = _estimate_kg(session, rows, team.id, quarter_hours, intensity_of)
            if projected <= 0.0:
                continue
            kind = turn % 3
            turn += 1
            if kind == 2 and consumed > 0:
                amount = consumed * 0.95
            elif kind == 1:
                amount = projected * 0.93
            else:
                amount = projected * 1.5
            amount = round(max(1.0, amount * rng.uniform(0.99, 1.01)), 1)
            service.create_budget(
                session,
                BudgetCreate(team_id=team.id, year=quarter.year, quarter=quarter.quarter, budget_co2e_kg=amount),
                SEED_CALLER,
            )
            created += 1
    return {"budgets": created, "year": quarter.year, "quarter": quarter.quarter}
