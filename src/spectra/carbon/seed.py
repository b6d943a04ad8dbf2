"""Carbon demo data: team budgets for the current quarter (after the fleet seed made the instances)."""

from __future__ import annotations

import random
from typing import Any

from sqlalchemy.orm import Session

from spectra.carbon.budgets import seed as budget_seed


def seed(session: Session, rng: random.Random) -> dict[str, Any]:
    return {"budgets": budget_seed.seed(session, rng)}
