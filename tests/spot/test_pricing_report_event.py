"""A pricing report publishes one compact, tenant-scoped event (`spot.pricing.reported`) that live price
charts refresh from; a rejected report publishes nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from spectra.core.db import session_scope
from spectra.core.models import EventLog
from tests.conftest import ADMIN_TOKEN
from tests.core.test_events import read_sse
from tests.factories import make_tenant
from tests.spot.spot_factories import pool_ids, register_agent

TOPIC = "spot.pricing.reported"
T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def _price(zone: str, price: float, at: datetime, instance_type: str = "m5.large") -> dict:
    return {
        "instance_type": instance_type,
        "availability_zone": zone,
        "region": "us-east-1",
        "price": price,
        "observed_at": at.isoformat(),
    }


def _events(db: Session, client_id: str) -> list[EventLog]:
    query = select(EventLog).where(EventLog.topic == TOPIC, EventLog.client_id == client_id).order_by(EventLog.id)
    return list(db.scalars(query))


def test_one_event_per_report_names_the_pools_it_touched(client, db: Session) -> None:
    t = make_tenant(db)
    a = register_agent(client, t.headers)
    body = {
        "instance_id": a["cloud_instance_id"],
        "prices": [
            _price("us-east-1a", 0.031, T0 - timedelta(minutes=10)),
            _price("us-east-1b", 0.029, T0 - timedelta(minutes=10)),
            _price("us-east-1a", 0.033, T0),
        ],
    }
    response = client.post(f"/api/agents/{a['agent_id']}/pricing-report", json=body, headers=t.headers)
    assert response.status_code == 200, response.text
    events = _events(db, t.id)
    assert len(events) == 1, "one event per report, not one per price"
    event = events[0]
    assert event.client_id == t.id
    ids = pool_ids(client, t.headers, a["agent_id"])[:2]  # us-east-1a, us-east-1b
    assert event.payload == {
        "agent_id": a["agent_id"],
        "instance_id": a["instance_id"],
        "accepted": 3,
        "pools": 2,
        "pool_ids": sorted(ids),
        "latest_observed_at": T0.isoformat(),
    }


def test_a_large_report_keeps_the_event_small(client, db: Session) -> None:
    t = make_tenant(db)
    a = register_agent(client, t.headers)
    # 60 pools: one zone, 60 instance types.
    prices = [_price("us-east-1a", 0.01 + i / 1000, T0, instance_type=f"x{i}.large") for i in range(60)]
    response = client.post(f"/api/agents/{a['agent_id']}/pricing-report", json={"prices": prices}, headers=t.headers)
    assert response.status_code == 200, response.text
    (event,) = _events(db, t.id)
    assert event.payload["accepted"] == 60 and event.payload["pools"] == 60
    assert len(event.payload["pool_ids"]) == 50  # the UI refreshes every chart when pools > len(pool_ids)


def test_a_rejected_report_publishes_nothing(client, db: Session) -> None:
    t = make_tenant(db)
    a = register_agent(client, t.headers)
    before = db.scalar(select(func.count()).select_from(EventLog).where(EventLog.client_id == t.id))
    naive = _price("us-east-1b", 0.02, T0)
    naive["observed_at"] = "2026-03-02T12:00:00"  # no UTC offset: the whole batch is refused
    body = {"prices": [_price("us-east-1a", 0.03, T0), naive]}
    response = client.post(f"/api/agents/{a['agent_id']}/pricing-report", json=body, headers=t.headers)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "prices[1].observed_at" in response.text
    assert _events(db, t.id) == []
    assert db.scalar(select(func.count()).select_from(EventLog).where(EventLog.client_id == t.id)) == before


def test_the_event_reaches_its_tenant_only(live_server) -> None:
    with session_scope() as session:
        owner, other = make_tenant(session), make_tenant(session)
    with httpx.Client(base_url=live_server.url, timeout=10) as http:
        agent = http.post("/api/agents/register", json=_registration(), headers=owner.headers).json()
        marker = http.post(
            f"/api/agents/{agent['agent_id']}/pricing-report",
            json={"prices": [_price("us-east-1c", 0.0277, datetime.now(UTC))]},
            headers=owner.headers,
        )
        assert marker.status_code == 200, marker.text
    with session_scope() as session:
        event_id = session.scalar(
            select(func.max(EventLog.id)).where(EventLog.topic == TOPIC, EventLog.client_id == owner.id)
        )
    assert event_id is not None
    since = f"{live_server.url}/api/events/stream?topics=spot.pricing.&since={event_id - 1}"
    mine = read_sse(since, owner.headers, want=1, timeout=3)
    assert [e["payload"]["agent_id"] for e in mine] == [agent["agent_id"]]
    assert read_sse(since, other.headers, want=1, timeout=2) == []
    admin = read_sse(since, {"Authorization": f"Bearer {ADMIN_TOKEN}"}, want=1, timeout=3)
    assert [e["id"] for e in admin] == [event_id]


def _registration() -> dict:
    return {
        "installation_id": "price-event-install",
        "instance_id": "i-0000000000000pe01",
        "instance_type": "m5.large",
        "region": "us-east-1",
        "availability_zone": "us-east-1a",
        "spot_price": 0.03,
        "on_demand_price": 0.096,
        "hostname": "price-event",
        "agent_version": "1.0.0",
    }
