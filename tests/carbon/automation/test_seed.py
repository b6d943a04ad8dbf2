"""The optimisation demo seed."""

from __future__ import annotations

import random

from sqlalchemy.orm import Session

from spectra.carbon.automation import seed, service
from spectra.carbon.optimizer import service as optimizer
from spectra.fleet.reference import REGIONS
from tests.factories import make_tenant


def test_seed_is_repeatable(db: Session) -> None:
    tenant = make_tenant(db)
    first = seed.seed(db, random.Random(1))
    assert first["latency_pairs"] == len(REGIONS) ** 2 and first["automation_policies"] >= 1
    policy = service.get_policy(db, tenant.id)
    assert policy.mode == "recommend" and policy.auto_rightsize and policy.version == 1
    again = seed.seed(db, random.Random(1))
    assert again["automation_policies"] == 0
    rows = optimizer.list_latencies(db, REGIONS[0].code, None, 1000)
    assert len(rows) == len(REGIONS) and {r.source for r in rows} == {"modelled"}
