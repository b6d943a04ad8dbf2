"""Spot test helpers: agents registered through the real API."""

from __future__ import annotations

import itertools
from typing import Any

from fastapi.testclient import TestClient

_seq = itertools.count(1)


def register_agent(
    client: TestClient,
    headers: dict[str, str],
    *,
    zone: str = "us-east-1a",
    instance_type: str = "m5.large",
    spot_price: float = 0.04,
    on_demand_price: float = 0.096,
    installation_id: str | None = None,
) -> dict[str, Any]:
    n = next(_seq)
    body = {
        "installation_id": installation_id or f"inst-{n}",
        "instance_id": f"i-{n:017x}",
        "instance_type": instance_type,
        "region": "us-east-1",
        "availability_zone": zone,
        "spot_price": spot_price,
        "on_demand_price": on_demand_price,
        "hostname": f"web-{n}",
        "agent_version": "1.0.0",
    }
    response = client.post("/api/agents/register", json=body, headers=headers)
    assert response.status_code == 200, response.text
    return {**response.json(), "cloud_instance_id": body["instance_id"]}


def report_prices(client: TestClient, headers: dict[str, str], agent_id: str, prices: dict[str, float]) -> list[str]:
    """Report one price per zone (m5.large, us-east-1); returns the pool ids in zone order."""
    body = {
        "prices": [
            {
                "instance_type": "m5.large",
                "availability_zone": z,
                "region": "us-east-1",
                "price": p,
                "on_demand_price": 0.096,
            }
            for z, p in prices.items()
        ]
    }
    response = client.post(f"/api/agents/{agent_id}/pricing-report", json=body, headers=headers)
    assert response.status_code == 200, response.text
    return pool_ids(client, headers, agent_id)


def pool_ids(client: TestClient, headers: dict[str, str], agent_id: str) -> list[str]:
    instances = client.get(
        f"/api/client/{_client_of(client, headers)}/instances?agent_id={agent_id}&role=primary", headers=headers
    ).json()
    options = client.get(f"/api/client/instances/{instances[0]['id']}/available-options", headers=headers).json()
    return [o["pool_id"] for o in sorted(options, key=lambda o: o["availability_zone"])]


def _client_of(client: TestClient, headers: dict[str, str]) -> str:
    return client.get("/api/whoami", headers=headers).json()["client_id"]
