"""Demo budgets are sized from the stored projection, else from an estimate of the running instances."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest
from sqlalchemy.orm import Session

from spectra.carbon.budgets import seed as budget_seed
from spectra.carbon.budgets import service
from spectra.core.clock import clock
from tests.factories import make_tenant
from tests.fleet.factories import make_instance


def test_budget_is_the_quarter_estimate_with_headroom(db: Session) -> None:
    clock.set_override(datetime(2024, 2, 10, tzinfo=UTC))
    acme = make_tenant(db, teams=("alpha",))
    for _ in range(3):
        make_instance(db, acme, tags={"team": "alpha"})  # m5.large, us-east-1: 4.00758 g per hour at 400 g/kWh
    make_instance(db, acme, tags={"team": "alpha"}, state="stopped")  # not counted
    summary = budget_seed.seed(db, random.Random(1), intensity_of=lambda _region: 400.0)
    assert summary == {"budgets": 1, "year": 2024, "quarter": 1}
    [budget] = service.list_budgets(db, acme.id)
    estimate_kg = 3 * 4.0075791 * 91 * 24 / 1000  # 26.26 kg over the 91-day quarter
    assert budget.budget_co2e_kg == pytest.approx(estimate_kg * 1.5, rel=0.011)  # nothing stored: the estimate
    assert budget.team_name == "alpha"
