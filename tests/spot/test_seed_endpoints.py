"""Every Spot v5/v6 seed endpoint served here: its path and method, a realistic body, the token it needs,
and (for tenant data) that another client gets 404. Bodies follow the seeds' shapes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.factories import Tenant, make_tenant
from tests.spot.spot_factories import register_agent, report_prices


@dataclass
class World:
    owner: Tenant
    other: Tenant
    agent_id: str
    instance_id: str
    cloud_instance_id: str
    pools: list[str]
    command_id: str
    notification_id: str
    zombie: str

    def fill(self, path: str) -> str:
        return (
            path.replace("{agent}", self.agent_id)
            .replace("{client}", self.owner.id)
            .replace("{instance}", self.instance_id)
            .replace("{command}", self.command_id)
            .replace("{notification}", self.notification_id)
            .replace("{zombie}", self.zombie)
            .replace("{pool_a}", self.pools[0])
        )


@pytest.fixture()
def world(client: TestClient, db: Session) -> World:
    owner, other = make_tenant(db), make_tenant(db)
    a = register_agent(client, owner.headers)
    aid = a["agent_id"]
    pools = report_prices(client, owner.headers, aid, {"us-east-1a": 0.04, "us-east-1b": 0.03})
    # A finished manual switch gives history, a ZOMBIE and a command to acknowledge.
    client.post(
        f"/api/client/instances/{a['instance_id']}/force-switch",
        json={"target_pool_id": pools[1]},
        headers=owner.headers,
    )
    cmd = client.get(f"/api/agents/{aid}/pending-commands", headers=owner.headers).json()[0]
    client.post(
        f"/api/agents/{aid}/switch-report",
        json={
            "command_id": cmd["id"],
            "new_instance_id": "i-0b",
            "new_availability_zone": "us-east-1b",
            "price": 0.03,
            "downtime_seconds": 5,
        },
        headers=owner.headers,
    )
    primary = client.get(f"/api/client/{owner.id}/instances?role=primary", headers=owner.headers).json()[0]
    client.post(f"/api/agents/{aid}/rebalance-notice", json={}, headers=owner.headers)  # → replica + notification
    note = client.get("/api/notifications", headers=owner.headers).json()[0]
    return World(owner, other, aid, primary["id"], "i-0b", pools, cmd["id"], note["id"], a["cloud_instance_id"])


PRICES = {
    "prices": [
        {
            "instance_type": "m5.large",
            "availability_zone": "us-east-1c",
            "region": "us-east-1",
            "price": 0.031,
            "observed_at": "2026-03-02T12:00:00Z",
        }
    ]
}
REGISTER = {
    "installation_id": "new-install",
    "instance_id": "i-0fresh",
    "instance_type": "m5.large",
    "region": "us-east-1",
    "availability_zone": "us-east-1a",
    "spot_price": 0.04,
    "agent_version": "1.2.0",
}

# (method, path, body, who, expected status); who: client (the owner's token) | admin.
CASES: list[tuple[str, str, dict[str, Any] | None, str, int]] = [
    ("GET", "/api/admin/stats", None, "admin", 200),
    ("GET", "/api/admin/clients/growth", None, "admin", 200),
    ("GET", "/api/admin/instances", None, "admin", 200),
    ("GET", "/api/admin/agents", None, "admin", 200),
    ("GET", "/api/admin/activity", None, "admin", 200),
    ("GET", "/api/admin/system-health", None, "admin", 200),
    ("GET", "/api/admin/search?q=i-0b", None, "admin", 200),
    ("GET", "/api/admin/pools/statistics", None, "admin", 200),
    ("GET", "/api/admin/agents/health-summary", None, "admin", 200),
    ("GET", "/api/client/{client}/agents", None, "client", 200),
    ("POST", "/api/agents/register", REGISTER, "client", 200),
    ("POST", "/api/agents/{agent}/heartbeat", {"status": "running", "instance_id": "i-0b"}, "client", 200),
    ("GET", "/api/agents/{agent}/config", None, "client", 200),
    ("GET", "/api/agents/{agent}/instances-to-terminate", None, "client", 200),
    ("POST", "/api/agents/{agent}/termination-report", {"instance_ids": ["{zombie}"]}, "client", 200),
    ("POST", "/api/agents/{agent}/rebalance-recommendation", {"notice_time": "2026-03-02T12:00:00"}, "client", 200),
    ("GET", "/api/agents/{agent}/replica-config", None, "client", 200),
    ("GET", "/api/agents/{agent}/statistics", None, "client", 200),
    ("GET", "/api/agents/{agent}/emergency-status", None, "client", 200),
    ("GET", "/api/client/{client}/instances", None, "client", 200),
    ("GET", "/api/client/instances/{instance}/pricing", None, "client", 200),
    ("GET", "/api/client/instances/{instance}/metrics", None, "client", 200),
    ("GET", "/api/client/instances/{instance}/price-history", None, "client", 200),
    ("GET", "/api/client/instances/{instance}/available-options", None, "client", 200),
    ("GET", "/api/client/instances/{instance}/logs", None, "client", 200),
    ("POST", "/api/client/instances/{instance}/force-switch", {"target_pool_id": "{pool_a}"}, "client", 202),
    ("POST", "/api/agents/{agent}/issue-switch-command", {"target_pool": "{pool_a}"}, "client", 202),
    ("GET", "/api/client/instances/{instance}/pool-volatility", None, "client", 200),
    ("POST", "/api/client/instances/{instance}/simulate-switch", {"target_mode": "on_demand"}, "client", 200),
    ("GET", "/api/client/{client}/replicas", None, "client", 200),
    ("GET", "/api/agents/{agent}/pending-commands", None, "client", 200),
    ("POST", "/api/agents/{agent}/commands/{command}/executed", {"success": True}, "client", 200),
    ("POST", "/api/agents/{agent}/pricing-report", PRICES, "client", 200),
    (
        "POST",
        "/api/agents/{agent}/switch-report",
        {"new_instance_id": "i-0ondemand", "lifecycle": "on_demand", "downtime_seconds": 8.0, "trigger": "termination"},
        "client",
        200,
    ),
    ("POST", "/api/agents/{agent}/termination", {"instance_id": "{zombie}"}, "client", 200),
    (
        "POST",
        "/api/agents/{agent}/cleanup-report",
        {"terminated_instance_ids": ["{zombie}"], "deleted_volumes": ["vol-1"]},
        "client",
        200,
    ),
    ("GET", "/api/client/{client}/savings", None, "client", 200),
    ("GET", "/api/client/{client}/switch-history", None, "client", 200),
    ("GET", "/api/client/{client}/export/savings", None, "client", 200),
    ("GET", "/api/client/{client}/export/switch-history", None, "client", 200),
    ("GET", "/api/admin/export/global-stats", None, "admin", 200),
    ("GET", "/api/client/{client}/stats/charts", None, "client", 200),
    ("GET", "/api/notifications", None, "client", 200),
    ("POST", "/api/notifications/{notification}/mark-read", None, "client", 200),
    ("POST", "/api/notifications/mark-all-read", None, "client", 200),
    ("GET", "/api/client/{client}/analytics/downtime", None, "client", 200),
    (
        "POST",
        "/api/admin/bulk/execute",
        {
            "operations": [
                {"action": "set_agent_config", "agent_id": "{agent}", "config": {"terminate_wait_seconds": 60}}
            ]
        },
        "admin",
        200,
    ),
    (
        "POST",
        "/api/client/{client}/pricing-alerts",
        {"name": "m5 cheap", "instance_type": "m5.large", "direction": "below", "threshold_price": 0.035},
        "client",
        201,
    ),
    ("POST", "/api/agents/{agent}/rebalance-notice", {"notice_time": "2026-03-02T12:00:00Z"}, "client", 200),
    ("POST", "/api/agents/{agent}/termination-notice", {"notice_time": "2026-03-02T12:00:00Z"}, "client", 200),
    ("GET", "/api/admin/metrics/operational", None, "admin", 200),
    ("GET", "/api/admin/emergency-events", None, "admin", 200),
]


def _body(world: World, body: dict[str, Any] | None) -> dict[str, Any] | None:
    if body is None:
        return None
    import json

    return json.loads(world.fill(json.dumps(body)))


@pytest.mark.parametrize(("method", "path", "body", "who", "expected"), CASES, ids=[f"{m} {p}" for m, p, *_ in CASES])
def test_seed_endpoint(client: TestClient, world: World, admin_headers, method, path, body, who, expected) -> None:
    url = world.fill(path)
    payload = _body(world, body)
    assert client.request(method, url, json=payload).status_code == 401
    if who == "admin":
        assert client.request(method, url, json=payload, headers=world.owner.headers).status_code == 403
        response = client.request(method, url, json=payload, headers=admin_headers)
    else:
        foreign = client.request(method, url, json=payload, headers=world.other.headers)
        if "{" in path and not path.startswith("/api/notifications/mark-all"):
            assert foreign.status_code == 404, (url, foreign.status_code, foreign.text)
        response = client.request(method, url, json=payload, headers=world.owner.headers)
    assert response.status_code == expected, response.text


def test_cases_cover_the_seed_list() -> None:
    from pathlib import Path

    seeds = Path(__file__).resolve().parents[2] / ".." / "shared" / "tools" / "seed_paths" / "spot.txt"
    if not seeds.exists():
        pytest.skip("seed path list not beside the repository")
    import re

    def shape(p: str) -> str:
        return re.sub(r"<[^>]+>|\{[^}]+\}", "{}", p.split("?")[0])

    mine = {(m, shape(p)) for m, p, *_ in CASES}
    owned_elsewhere = {"/", "/health", "/api/events/stream", "/api/admin/consolidation-jobs"}
    missing = []
    for line in seeds.read_text().split("\n"):
        if not line.strip():
            continue
        method, path = line.split(None, 1)
        if path in owned_elsewhere or ("/clients" in path and "growth" not in path) or "/api/client/validate" in path:
            continue
        if "ml-models" in path or "decision-engine" in path or path.endswith(("/decide", "/switch-recommendation")):
            continue
        if path == "/api/client/<id>":
            continue
        if (method, shape(path)) not in mine:
            missing.append(line)
    assert not missing, missing
