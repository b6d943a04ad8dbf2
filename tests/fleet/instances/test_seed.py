"""The demo seed: about fifty instances, owned by their client's teams, on catalogued types and regions."""

from __future__ import annotations

import random

from sqlalchemy.orm import Session

from spectra.fleet import seed as fleet_seed
from spectra.fleet import service as fleet_service
from spectra.fleet.instances import service
from spectra.fleet.reference import INSTANCE_TYPES_BY_NAME, REGIONS_BY_CODE


def test_demo_seed_creates_a_plausible_fleet(db: Session) -> None:
    summary = fleet_seed.seed(db, random.Random(42))
    assert summary["instances"] == {"Acme Retail": 27, "Globex Research": 23}
    rows, total = service.list_instances(db, None, limit=1000)
    assert total == 50
    teams = {t.id: t for t in fleet_service.list_teams(db, None)}
    for instance in rows:
        team = teams[instance.team_id]  # every instance has a team, of its own client
        assert team.client_id == instance.client_id
        assert instance.instance_type in INSTANCE_TYPES_BY_NAME and instance.region in REGIONS_BY_CODE
        assert instance.launched_at < instance.created_at
    assert {i.lifecycle for i in rows} == {"on-demand", "spot"}
    assert all(i.lifecycle == "on-demand" for i in rows if teams[i.team_id].name == "checkout")
    assert any(i.state == "stopped" and i.stopped_at is not None for i in rows)
    assert len({i.region for i in rows}) >= 10
