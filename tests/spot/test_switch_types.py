"""Switches to a pool of another instance type: only of the same size class, and only when the agent's policy allows
similar types; anything else is refused with a 422 naming the field, and changes nothing."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from spectra.spot.models import Agent, Command, Pool, SpotInstance
from tests.factories import Tenant, make_tenant
from tests.spot.spot_factories import register_agent

# m5.large and m6i.large: 2 vCPUs, 8 GiB, x86_64 each. m5.xlarge is twice the size.
PRICES = [
    ("us-east-1", "m5.large", "us-east-1a", 0.040),
    ("us-east-1", "m6i.large", "us-east-1b", 0.035),
    ("us-east-1", "m5.xlarge", "us-east-1c", 0.060),
    ("us-west-2", "m6i.large", "us-west-2a", 0.030),
]


def _fleet(client: TestClient, db: Session) -> tuple[Tenant, dict[str, Any], dict[tuple[str, str], str]]:
    t = make_tenant(db)
    a = register_agent(client, t.headers, zone="us-east-1a", instance_type="m5.large")
    body = {
        "prices": [
            {"instance_type": it, "availability_zone": z, "region": r, "price": p, "on_demand_price": 0.096}
            for r, it, z, p in PRICES
        ]
    }
    response = client.post(f"/api/agents/{a['agent_id']}/pricing-report", json=body, headers=t.headers)
    assert response.status_code == 200, response.text
    pools = {(p.instance_type, p.availability_zone): p.id for p in db.scalars(select(Pool))}
    return t, a, pools


def _policy(db: Session, agent_id: str, policy: dict[str, Any]) -> None:
    agent = db.get(Agent, agent_id)
    assert agent is not None
    agent.config = {"policy": policy}
    db.flush()


def _switch(client: TestClient, t: Tenant, a: dict[str, Any], pool_id: str) -> Any:
    return client.post(
        f"/api/client/instances/{a['instance_id']}/force-switch", json={"target_pool_id": pool_id}, headers=t.headers
    )


def _refused(response: Any, words: str) -> None:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert [e["field"] for e in body["errors"]] == ["target_pool_id"] and words in body["detail"]


def test_another_type_needs_the_policy(client: TestClient, db: Session) -> None:
    t, a, pools = _fleet(client, db)
    _refused(_switch(client, t, a, pools[("m6i.large", "us-east-1b")]), "does not allow similar instance types")
    assert db.query(Command).filter_by(agent_id=a["agent_id"]).count() == 0


def test_with_the_policy_only_the_same_size_in_the_region(client: TestClient, db: Session) -> None:
    t, a, pools = _fleet(client, db)
    _policy(db, a["agent_id"], {"similar_instance_types": True})
    _refused(_switch(client, t, a, pools[("m5.xlarge", "us-east-1c")]), "not the same size")
    _refused(_switch(client, t, a, pools[("m6i.large", "us-west-2a")]), "a migration")
    assert db.query(Command).filter_by(agent_id=a["agent_id"]).count() == 0

    accepted = _switch(client, t, a, pools[("m6i.large", "us-east-1b")])
    assert accepted.status_code == 202, accepted.text
    cmd = accepted.json()
    assert cmd["command_type"] == "switch" and cmd["payload"]["target"]["instance_type"] == "m6i.large"
    # The agent launched that type and reports it: the new PRIMARY is an m6i.large, and so is the agent now.
    result = {"new_instance_id": "i-0m6i", "instance_type": "m6i.large", "availability_zone": "us-east-1b"}
    done = client.post(
        f"/api/agents/{a['agent_id']}/commands/{cmd['id']}/executed", json={"result": result}, headers=t.headers
    )
    assert done.status_code == 200, done.text
    primary = db.scalar(
        select(SpotInstance).where(SpotInstance.agent_id == a["agent_id"], SpotInstance.role == "PRIMARY")
    )
    assert primary is not None and (primary.cloud_instance_id, primary.instance_type) == ("i-0m6i", "m6i.large")
    assert primary.pool_id == pools[("m6i.large", "us-east-1b")]
    assert client.get(f"/api/agents/{a['agent_id']}", headers=t.headers).json()["instance_type"] == "m6i.large"
