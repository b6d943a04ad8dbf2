"""Demo instances: about fifty, across AWS regions with different grids, owned by the demo clients' teams.

Each team has a workload shape (web tier, search, batch data, ML training, genomics) that decides its
instance types, lifecycle and whether it may be moved; the simulated cloud reports them (source
"simulated"), so migrations and resizes act on them.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from spectra.core.clock import clock
from spectra.fleet import repository as fleet_repository
from spectra.fleet.instances import service
from spectra.fleet.instances.schemas import InstanceSync
from spectra.fleet.reference import INSTANCE_TYPES_BY_NAME, REGIONS_BY_CODE


@dataclass(frozen=True)
class Workload:
    team: str
    count: int
    types: tuple[str, ...]
    regions: tuple[str, ...]
    spot_share: float = 0.0
    flexible: bool = False
    latency_sensitive: bool = False
    users_region: str | None = None


WORKLOADS: dict[str, tuple[Workload, ...]] = {
    "Acme Retail": (
        Workload("checkout", 10, ("m5.large", "c6i.xlarge", "m6i.large"), ("us-east-1", "eu-west-1", "eu-central-1"),
                 latency_sensitive=True, users_region="us-east-1"),
        Workload("search", 8, ("r6g.xlarge", "c7g.xlarge", "m6g.large"), ("us-west-2", "eu-west-1", "ap-southeast-2"),
                 latency_sensitive=True, users_region="eu-west-1"),
        Workload("data-platform", 9, ("r5.2xlarge", "m6i.2xlarge", "m5.xlarge"),
                 ("us-east-2", "eu-north-1", "ca-central-1"), spot_share=0.3, flexible=True),
    ),
    "Globex Research": (
        Workload("ml-training", 12, ("c5.4xlarge", "m5.4xlarge", "c6i.2xlarge"),
                 ("us-east-1", "ap-south-1", "eu-north-1", "eu-west-3"), spot_share=0.5, flexible=True),
        Workload("genomics", 11, ("r6i.2xlarge", "r5.xlarge", "m7g.2xlarge"),
                 ("eu-central-1", "us-west-2", "ap-northeast-1", "eu-west-2"), spot_share=0.4, flexible=True),
    ),
}  # fmt: skip


def seed(session: Session, rng: random.Random, clients: dict[str, str]) -> dict[str, Any]:
    """`clients` maps a demo client's name to its id; returns how many instances each got."""
    now = clock.now()
    counts: dict[str, int] = {}
    for client_name, workloads in WORKLOADS.items():
        client_id = clients.get(client_name)
        if client_id is None:
            continue
        for w in workloads:
            team = fleet_repository.team_by_name(session, client_id, w.team)
            for i in range(w.count):
                type_name = w.types[i % len(w.types)]
                region = w.regions[i % len(w.regions)]
                assert type_name in INSTANCE_TYPES_BY_NAME and region in REGIONS_BY_CODE
                launched = now - timedelta(days=rng.uniform(35, 120), minutes=rng.randint(0, 59))
                # One in twelve has been stopped: it still shows in the inventory, with no new emissions.
                state = "stopped" if rng.random() < 1 / 12 else "running"
                instance, _ = service.upsert_instance(
                    session,
                    client_id,
                    InstanceSync(
                        provider="aws",
                        source="simulated",
                        provider_id=f"i-{rng.getrandbits(68):017x}",
                        name=f"{w.team}-{i + 1:02d}",
                        region=region,
                        zone=f"{region}{'abc'[i % 3]}",
                        instance_type=type_name,
                        lifecycle="spot" if rng.random() < w.spot_share else "on-demand",
                        state=state,
                        launched_at=launched,
                        tags={"team": w.team, "env": "prod" if i % 4 else "staging", "app": w.team},
                        team=team.name if team else w.team,
                        flexible=w.flexible,
                        latency_sensitive=w.latency_sensitive,
                        users_region=w.users_region,
                    ),
                )
                if state == "stopped":  # stopped some days ago, not at seeding time
                    instance.stopped_at = now - timedelta(days=rng.uniform(1, 20))
                counts[client_name] = counts.get(client_name, 0) + 1
    session.flush()
    return {"instances": counts}
