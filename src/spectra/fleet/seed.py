"""Demo tenants: two clients with teams. Their tokens are printed once, like any new client's."""

from __future__ import annotations

import random
from typing import Any

from sqlalchemy.orm import Session

from spectra.fleet import service
from spectra.fleet.instances import seed as instance_seed
from spectra.fleet.schemas import ClientCreate

DEMO_CLIENTS = {
    "Acme Retail": ["checkout", "search", "data-platform"],
    "Globex Research": ["ml-training", "genomics"],
}


def seed(session: Session, rng: random.Random) -> dict[str, Any]:
    tokens = {}
    for name, teams in DEMO_CLIENTS.items():
        client, token = service.create_client(session, ClientCreate(name=name, teams=teams))
        tokens[name] = {"client_id": client.id, "token": token}
    instances = instance_seed.seed(session, rng, {name: t["client_id"] for name, t in tokens.items()})
    return {"clients": tokens, **instances}
