"""Agent protocol, switch, emergency and command flows through the HTTP API, checked against hand-worked outcomes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from spectra.core.clock import clock
from spectra.core.models import AuditLog, EventLog
from spectra.spot.models import SpotInstance, SwitchEvent
from tests.factories import make_tenant
from tests.spot.spot_factories import register_agent, report_prices

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def _roles(db: Session, agent_id: str) -> dict[str, str]:
    rows = db.scalars(select(SpotInstance).where(SpotInstance.agent_id == agent_id))
    return {i.cloud_instance_id: i.role for i in rows}


def test_register_same_installation_same_agent_new_installation_new_agent(client, db: Session) -> None:
    t = make_tenant(db)
    first = register_agent(client, t.headers, installation_id="install-A")
    again = client.post(
        "/api/agents/register",
        json={
            "installation_id": "install-A",
            "instance_id": first["cloud_instance_id"],
            "instance_type": "m5.large",
            "region": "us-east-1",
            "availability_zone": "us-east-1a",
        },
        headers=t.headers,
    ).json()
    assert again["agent_id"] == first["agent_id"] and again["created"] is False
    reinstalled = client.post(
        "/api/agents/register",
        json={
            "installation_id": "install-B",
            "instance_id": first["cloud_instance_id"],
            "instance_type": "m5.large",
            "region": "us-east-1",
            "availability_zone": "us-east-1a",
        },
        headers=t.headers,
    ).json()
    assert reinstalled["agent_id"] != first["agent_id"] and reinstalled["role"] == "PRIMARY"
    old = client.get(f"/api/agents/{first['agent_id']}", headers=t.headers).json()
    assert old["status"] == "replaced"
    # The replaced installation still beating (its process was not stopped) is told so and stays replaced.
    beat = client.post(f"/api/agents/{first['agent_id']}/heartbeat", json={}, headers=t.headers)
    assert beat.status_code == 200 and beat.json()["status"] == "replaced"
    old = client.get(f"/api/agents/{first['agent_id']}", headers=t.headers).json()
    assert old["status"] == "replaced"
    assert client.get(f"/api/agents/{reinstalled['agent_id']}", headers=t.headers).json()["status"] == "online"


def test_heartbeat_counts_missed_beats_and_returns_config(client, db: Session) -> None:
    t = make_tenant(db)
    clock.set_override(T0)
    a = register_agent(client, t.headers)  # registration counts as the last sign of life at T0
    aid = a["agent_id"]
    interval = a["config"]["heartbeat_interval_seconds"]
    clock.set_override(T0 + timedelta(seconds=interval))
    body = client.post(f"/api/agents/{aid}/heartbeat", json={}, headers=t.headers).json()
    assert body["missed_since_last"] == 0 and body["config"]["auto_switch_enabled"] is True
    # Four intervals of silence: three beats were missed.
    clock.set_override(T0 + timedelta(seconds=5 * interval))
    body = client.post(f"/api/agents/{aid}/heartbeat", json={}, headers=t.headers).json()
    assert body["missed_since_last"] == 3
    stats = client.get(f"/api/agents/{aid}/statistics", headers=t.headers).json()
    assert stats["heartbeats_received"] == 2 and stats["heartbeats_missed"] == 3
    assert stats["heartbeat_miss_rate"] == 0.6


def test_silent_agent_goes_stale_then_offline(client, db: Session, admin_headers) -> None:
    from spectra.spot.agents.service import mark_silent_agents

    t = make_tenant(db)
    clock.set_override(T0)
    a = register_agent(client, t.headers)
    interval = a["config"]["heartbeat_interval_seconds"]
    assert mark_silent_agents(db, T0 + timedelta(seconds=3 * interval))["marked_stale"] == 1
    assert mark_silent_agents(db, T0 + timedelta(seconds=10 * interval))["marked_offline"] == 1
    db.commit()
    assert client.get(f"/api/agents/{a['agent_id']}", headers=t.headers).json()["status"] == "offline"
    kinds = [n["kind"] for n in client.get("/api/notifications", headers=t.headers).json()]
    assert "agent_offline" in kinds


def test_auto_switch_and_manual_replica_are_exclusive(client, db: Session) -> None:
    t = make_tenant(db)
    a = register_agent(client, t.headers)
    agent = client.get(f"/api/agents/{a['agent_id']}", headers=t.headers).json()
    refused = client.patch(
        f"/api/agents/{a['agent_id']}/config",
        json={"version": agent["version"], "manual_replica_enabled": True},
        headers=t.headers,
    )
    assert refused.status_code == 409 and refused.json()["code"] == "modes_exclusive"
    stale = client.patch(
        f"/api/agents/{a['agent_id']}/config", json={"version": 999, "auto_switch_enabled": False}, headers=t.headers
    )
    assert stale.status_code == 409 and stale.json()["code"] == "stale_version"


def test_force_switch_round_trip(client, db: Session) -> None:
    t = make_tenant(db)
    a = register_agent(client, t.headers, spot_price=0.04)
    aid = a["agent_id"]
    pools = report_prices(client, t.headers, aid, {"us-east-1a": 0.04, "us-east-1b": 0.03})
    switch = client.post(
        f"/api/client/instances/{a['instance_id']}/force-switch", json={"target_pool_id": pools[1]}, headers=t.headers
    )
    assert switch.status_code == 202
    second = client.post(
        f"/api/client/instances/{a['instance_id']}/force-switch", json={"target_mode": "on_demand"}, headers=t.headers
    )
    assert second.status_code == 409 and second.json()["code"] == "switch_in_progress"
    cmds = client.get(f"/api/agents/{aid}/pending-commands", headers=t.headers).json()
    assert [c["command_type"] for c in cmds] == ["switch"]
    assert cmds[0]["payload"]["target"]["availability_zone"] == "us-east-1b"
    # Delivered commands are not handed out again at once.
    assert client.get(f"/api/agents/{aid}/pending-commands", headers=t.headers).json() == []
    report = {
        "command_id": cmds[0]["id"],
        "old_instance_id": a["cloud_instance_id"],
        "new_instance_id": "i-0new",
        "new_availability_zone": "us-east-1b",
        "price": 0.03,
        "downtime_seconds": 6.5,
    }
    event = client.post(f"/api/agents/{aid}/switch-report", json=report, headers=t.headers).json()
    assert event["savings_per_hour"] == 0.01 and event["downtime_seconds"] == 6.5
    repeat = client.post(f"/api/agents/{aid}/switch-report", json=report, headers=t.headers).json()
    assert repeat["id"] == event["id"]
    acked = client.post(
        f"/api/agents/{aid}/commands/{cmds[0]['id']}/executed", json={"success": True}, headers=t.headers
    ).json()
    assert acked["changed"] is False and acked["command"]["status"] == "executed"
    assert _roles(db, aid) == {a["cloud_instance_id"]: "ZOMBIE", "i-0new": "PRIMARY"}
    assert db.scalar(select(SwitchEvent.id).where(SwitchEvent.agent_id == aid)) == event["id"]
    audit = db.scalars(select(AuditLog.action).where(AuditLog.client_id == t.id)).all()
    assert "instance.demote" in audit and "instance.promote" in audit


def test_command_executed_twice_happens_once(client, db: Session) -> None:
    t = make_tenant(db)
    a = register_agent(client, t.headers)
    aid = a["agent_id"]
    pools = report_prices(client, t.headers, aid, {"us-east-1a": 0.04, "us-east-1b": 0.03})
    client.post(
        f"/api/client/instances/{a['instance_id']}/force-switch", json={"target_pool_id": pools[1]}, headers=t.headers
    )
    cmd = client.get(f"/api/agents/{aid}/pending-commands", headers=t.headers).json()[0]
    result = {
        "success": True,
        "result": {"new_instance_id": "i-0b", "new_availability_zone": "us-east-1b", "downtime_seconds": 3},
    }
    first = client.post(f"/api/agents/{aid}/commands/{cmd['id']}/executed", json=result, headers=t.headers).json()
    second = client.post(f"/api/agents/{aid}/commands/{cmd['id']}/executed", json=result, headers=t.headers).json()
    assert first["changed"] is True and second["changed"] is False
    assert len(db.scalars(select(SwitchEvent).where(SwitchEvent.agent_id == aid)).all()) == 1
    assert list(_roles(db, aid).values()).count("PRIMARY") == 1


def test_rebalance_then_termination_promotes_the_ready_replica(client, db: Session) -> None:
    t = make_tenant(db)
    a = register_agent(client, t.headers, zone="us-east-1a")
    aid = a["agent_id"]
    report_prices(client, t.headers, aid, {"us-east-1a": 0.04, "us-east-1b": 0.05, "us-east-1c": 0.03})
    # Measured boot times: 1b boots fastest, so the emergency replica goes there although 1c is cheaper.
    from spectra.spot.models import Pool

    for pool in db.scalars(select(Pool)):
        pool.boot_seconds_p50 = {"us-east-1b": 40.0, "us-east-1c": 120.0}.get(pool.availability_zone)
    db.flush()
    notice_time = "2026-03-02T12:00:00Z"
    event = client.post(
        f"/api/agents/{aid}/rebalance-notice", json={"notice_time": notice_time}, headers=t.headers
    ).json()
    assert event["status"] == "replica_queued" and event["notice_deadline"].startswith("2026-03-02T12:02:00")
    cmd = client.get(f"/api/agents/{aid}/pending-commands", headers=t.headers).json()[0]
    assert cmd["command_type"] == "create_replica" and cmd["priority"] == 100
    assert cmd["payload"]["target"]["availability_zone"] == "us-east-1b"
    client.post(
        f"/api/agents/{aid}/commands/{cmd['id']}/executed",
        json={"result": {"instance_id": "i-0replica", "boot_seconds": 41}},
        headers=t.headers,
    )
    assert _roles(db, aid)["i-0replica"] == "REPLICA"
    done = client.post(f"/api/agents/{aid}/termination-notice", json={}, headers=t.headers).json()
    assert done["status"] == "promoted" and done["promotion_seconds"] is not None
    assert _roles(db, aid) == {a["cloud_instance_id"]: "ZOMBIE", "i-0replica": "PRIMARY"}
    promote = client.get(f"/api/agents/{aid}/pending-commands", headers=t.headers).json()
    assert [c["command_type"] for c in promote] == ["promote_replica"]
    assert promote[0]["payload"]["new_primary"] == "i-0replica"
    status = client.get(f"/api/agents/{aid}/emergency-status", headers=t.headers).json()
    assert status["primary_instance_id"] == "i-0replica" and status["event"]["status"] == "promoted"
    topics = set(db.scalars(select(EventLog.topic).where(EventLog.client_id == t.id)))
    assert {
        "emergency.rebalance",
        "emergency.replica_queued",
        "emergency.replica_ready",
        "emergency.termination",
        "emergency.promoted",
    } <= topics


def test_termination_without_replica_fails_over_to_on_demand(client, db: Session) -> None:
    t = make_tenant(db)
    a = register_agent(client, t.headers)
    aid = a["agent_id"]
    event = client.post(
        f"/api/agents/{aid}/termination-notice", json={"termination_time": "2026-03-02T12:02:00Z"}, headers=t.headers
    ).json()
    assert event["status"] == "failed_over" and event["notice_deadline"].startswith("2026-03-02T12:02:00")
    cmds = client.get(f"/api/agents/{aid}/pending-commands", headers=t.headers).json()
    assert [c["command_type"] for c in cmds] == ["fallback_on_demand"]
    # The repeated notice changes nothing.
    again = client.post(f"/api/agents/{aid}/termination-notice", json={}, headers=t.headers).json()
    assert again["id"] == event["id"]


def test_another_tenant_cannot_touch_an_agent(client, db: Session) -> None:
    owner, other = make_tenant(db), make_tenant(db)
    a = register_agent(client, owner.headers)
    aid = a["agent_id"]
    for method, path in [
        ("post", f"/api/agents/{aid}/heartbeat"),
        ("get", f"/api/agents/{aid}/config"),
        ("get", f"/api/agents/{aid}/pending-commands"),
        ("post", f"/api/agents/{aid}/termination-notice"),
        ("get", f"/api/client/instances/{a['instance_id']}/pricing"),
        ("post", f"/api/client/instances/{a['instance_id']}/force-switch"),
        ("get", f"/api/client/{owner.id}/instances"),
    ]:
        response = client.request(method, path, json={}, headers=other.headers)
        assert response.status_code == 404, (method, path, response.status_code)


def test_heartbeats_do_not_make_a_config_edit_stale(client, db: Session) -> None:
    t = make_tenant(db)
    a = register_agent(client, t.headers)
    aid = a["agent_id"]
    version = client.get(f"/api/agents/{aid}", headers=t.headers).json()["version"]
    for _ in range(3):
        client.post(f"/api/agents/{aid}/heartbeat", json={}, headers=t.headers)
    edited = client.patch(
        f"/api/agents/{aid}/config", json={"version": version, "terminate_wait_seconds": 120}, headers=t.headers
    )
    assert edited.status_code == 200 and edited.json()["version"] == version + 1
    assert edited.json()["heartbeats_received"] == 3
