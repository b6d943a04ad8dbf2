"""Demo data for the optimisation features: the modelled latency table and a recommend-only automation
policy per client (so the dashboard shows what automation would do before anyone lets it act)."""

from __future__ import annotations

import random
from typing import Any

from sqlalchemy.orm import Session

from spectra.carbon.automation import repository, service
from spectra.carbon.automation.schemas import PolicyUpdate
from spectra.carbon.optimizer import service as optimizer
from spectra.carbon.optimizer.platform_inputs import PlatformInputs
from spectra.fleet import service as fleet_service


def seed(session: Session, rng: random.Random) -> dict[str, Any]:
    latency = optimizer.fetch_latencies(session, PlatformInputs(), use_radar=False)  # no network in a seed
    policies = 0
    for client in fleet_service.list_clients(session):
        if repository.policy_for(session, client.id) is None:
            service.put_policy(
                session,
                client.id,
                PolicyUpdate(
                    mode="recommend", auto_rightsize=True, auto_migrate=True, stop_idle=True,
                    maintenance_window={"days": [5, 6], "start": "02:00", "hours": 4},
                ),
            )  # fmt: skip
            policies += 1
    return {"latency_pairs": latency["pairs"], "automation_policies": policies}
