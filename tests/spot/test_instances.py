"""Instance views and termination policy with hand-worked numbers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from spectra.core.clock import clock
from tests.factories import make_tenant
from tests.spot.spot_factories import register_agent

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def _report(client, headers, aid: str, zone: str, price: float, at: datetime) -> None:
    body = {
        "prices": [
            {
                "instance_type": "m5.large",
                "availability_zone": zone,
                "region": "us-east-1",
                "price": price,
                "observed_at": at.isoformat(),
            }
        ]
    }
    assert client.post(f"/api/agents/{aid}/pricing-report", json=body, headers=headers).status_code == 200


def test_pricing_volatility_and_simulation(client, db: Session) -> None:
    t = make_tenant(db)
    clock.set_override(T0)
    a = register_agent(client, t.headers, spot_price=0.04, on_demand_price=0.096)
    aid, iid = a["agent_id"], a["instance_id"]
    for i, price in enumerate([0.03, 0.04, 0.05]):
        _report(client, t.headers, aid, "us-east-1b", price, T0 - timedelta(hours=3 - i))
    pricing = client.get(f"/api/client/instances/{iid}/pricing", headers=t.headers).json()
    assert pricing["price_per_hour"] == 0.04 and pricing["savings_pct"] == 58.33
    vol = client.get(f"/api/client/instances/{iid}/pool-volatility", headers=t.headers).json()
    other = next(p for p in vol["pools"] if p["availability_zone"] == "us-east-1b")
    # Sample std of (0.03, 0.04, 0.05) is 0.01; mean 0.04: coefficient of variation 0.25.
    assert other["volatility"] == pytest.approx(0.25) and other["observations"] == 3
    options = client.get(f"/api/client/instances/{iid}/available-options", headers=t.headers).json()
    target = next(o for o in options if o["availability_zone"] == "us-east-1b")
    assert target["latest_price"] == 0.05 and target["is_current"] is False
    sim = client.post(
        f"/api/client/instances/{iid}/simulate-switch", json={"target_pool_id": target["pool_id"]}, headers=t.headers
    ).json()
    assert sim["delta_per_hour"] == pytest.approx(0.01) and sim["delta_per_month"] == pytest.approx(7.3)
    assert sim["expected_downtime_seconds"] == 90.0 and sim["downtime_basis"] == "pool boot time"
    assert sim["interruption_probability_per_month"] == 0.125
    history = client.get(f"/api/client/instances/{iid}/price-history?days=1", headers=t.headers).json()
    assert history["pool_id"] == pricing["pool_id"]
    # Simulation changed nothing.
    assert client.get(f"/api/agents/{aid}/pending-commands", headers=t.headers).json() == []


def test_zombie_is_offered_for_termination_after_the_grace_period(client, db: Session) -> None:
    t = make_tenant(db)
    clock.set_override(T0)
    a = register_agent(client, t.headers)
    aid = a["agent_id"]
    client.post(f"/api/agents/{aid}/switch-report", json={"new_instance_id": "i-0next"}, headers=t.headers)
    wait = client.get(f"/api/agents/{aid}/config", headers=t.headers).json()["terminate_wait_seconds"]
    clock.set_override(T0 + timedelta(seconds=wait - 1))
    assert client.get(f"/api/agents/{aid}/instances-to-terminate", headers=t.headers).json() == []
    clock.set_override(T0 + timedelta(seconds=wait + 1))
    due = client.get(f"/api/agents/{aid}/instances-to-terminate", headers=t.headers).json()
    assert [d["instance_id"] for d in due] == [a["cloud_instance_id"]]
    refused = client.post(
        f"/api/agents/{aid}/termination-report",
        json={"instance_ids": ["i-0next", a["cloud_instance_id"]]},
        headers=t.headers,
    ).json()["results"]
    assert [r["status"] for r in refused] == ["refused", "terminated"]
    assert client.get(f"/api/agents/{aid}/instances-to-terminate", headers=t.headers).json() == []
    logs = client.get(f"/api/client/instances/{a['instance_id']}/logs", headers=t.headers).json()
    assert [entry["event_type"] for entry in logs][:2] == ["instance.terminate", "switch.completed"]


def test_force_switch_refuses_a_non_primary_and_a_bad_target(client, db: Session) -> None:
    t = make_tenant(db)
    a = register_agent(client, t.headers)
    aid = a["agent_id"]
    client.post(f"/api/agents/{aid}/switch-report", json={"new_instance_id": "i-0now"}, headers=t.headers)
    zombie = client.post(
        f"/api/client/instances/{a['instance_id']}/force-switch", json={"target_mode": "on_demand"}, headers=t.headers
    )
    assert zombie.status_code == 409 and zombie.json()["from_state"] == "ZOMBIE"
    primary = client.get(f"/api/client/{t.id}/instances?role=primary", headers=t.headers).json()[0]
    missing_pool = client.post(
        f"/api/client/instances/{primary['id']}/force-switch", json={"target_mode": "spot"}, headers=t.headers
    )
    assert missing_pool.status_code == 422
    unknown = client.post(
        f"/api/client/instances/{primary['id']}/force-switch", json={"target_pool_id": "nope"}, headers=t.headers
    )
    assert unknown.status_code == 404
    assert client.get(f"/api/agents/{aid}/pending-commands", headers=t.headers).json() == []
