"""Standby replicas through the HTTP API: a replica's loss reported by its agent, the health check before a
promotion, the standby kept at the configured number after a promotion, a loss, a switch or a failed launch, and a
promotion the agent refuses. Outcomes are worked out by hand from the pools' measured boot times."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from spectra.core.models import AuditLog, EventLog
from spectra.spot.models import Agent, Command, Pool, Replica, SpotInstance
from tests.conftest import ADMIN_TOKEN
from tests.factories import Tenant, make_tenant
from tests.spot.spot_factories import register_agent, report_prices

# Measured boot times: a standby goes to the fastest-booting pool that is not excluded (1a is where the PRIMARY
# starts; 1d has never been booted in, so it counts as the default 90 s).
BOOT = {"us-east-1b": 40.0, "us-east-1c": 60.0, "us-east-1e": 120.0}
ZONES = {"us-east-1a": 0.040, "us-east-1b": 0.045, "us-east-1c": 0.042, "us-east-1d": 0.050, "us-east-1e": 0.041}


def _zone_of(db: Session, pool_id: str | None) -> str | None:
    pool = db.get(Pool, pool_id) if pool_id else None
    return pool.availability_zone if pool else None


def _roles(db: Session, agent_id: str) -> dict[str, str]:
    return {
        i.cloud_instance_id: i.role for i in db.scalars(select(SpotInstance).where(SpotInstance.agent_id == agent_id))
    }


def _pending(client: TestClient, t: Tenant, aid: str) -> list[dict[str, Any]]:
    response = client.get(f"/api/agents/{aid}/pending-commands", headers=t.headers)
    assert response.status_code == 200, response.text
    return list(response.json())


def _executed(client: TestClient, t: Tenant, aid: str, cmd: dict[str, Any], **body: Any) -> dict[str, Any]:
    response = client.post(f"/api/agents/{aid}/commands/{cmd['id']}/executed", json=body, headers=t.headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


def _notice(client: TestClient, t: Tenant, aid: str, kind: str = "termination", **body: Any) -> dict[str, Any]:
    response = client.post(f"/api/agents/{aid}/{kind}-notice", json=body, headers=t.headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


def _fleet(client: TestClient, db: Session, *, manual: bool = True, policy: dict[str, Any] | None = None) -> tuple:
    """An m5.large agent in us-east-1a with five priced pools. Manual replica mode queues its standby."""
    t = make_tenant(db)
    a = register_agent(client, t.headers, zone="us-east-1a")
    aid = a["agent_id"]
    report_prices(client, t.headers, aid, ZONES)
    for pool in db.scalars(select(Pool)):
        pool.boot_seconds_p50 = BOOT.get(pool.availability_zone)
    if policy is not None:
        agent = db.get(Agent, aid)
        assert agent is not None
        agent.config = {"policy": policy}
    db.flush()
    if manual:
        version = client.get(f"/api/agents/{aid}", headers=t.headers).json()["version"]
        patched = client.patch(
            f"/api/agents/{aid}/config",
            json={"version": version, "auto_switch_enabled": False, "manual_replica_enabled": True},
            headers=t.headers,
        )
        assert patched.status_code == 200, patched.text
    return t, a, aid


def _standby_ready(client: TestClient, db: Session, t: Tenant, aid: str, cloud_id: str) -> dict[str, Any]:
    (cmd,) = _pending(client, t, aid)
    assert cmd["command_type"] == "create_replica"
    _executed(client, t, aid, cmd, result={"instance_id": cloud_id, "boot_seconds": 42})
    return cmd


def test_a_lost_replica_is_terminated_and_a_new_standby_queued_once(client: TestClient, db: Session) -> None:
    t, a, aid = _fleet(client, db)
    first = _standby_ready(client, db, t, aid, "i-0standby1")
    # The manual standby went to the fastest-booting pool, carrying where it goes (the agent launches there).
    assert first["payload"]["target"]["availability_zone"] == "us-east-1b" == _zone_of(db, first["target_pool_id"])
    assert _roles(db, aid) == {a["cloud_instance_id"]: "PRIMARY", "i-0standby1": "REPLICA"}

    # The agent reports that the cloud is reclaiming its replica: a termination notice naming the replica.
    body = {"instance_id": "i-0standby1", "termination_time": "2026-03-02T12:02:00Z"}
    lost = _notice(client, t, aid, **body)
    assert (lost["kind"], lost["status"]) == ("termination", "replica_lost")
    assert [s["step"] for s in lost["steps"]] == ["notice_received", "replica_terminated", "standby_queued"]
    # Only the replica is affected: the PRIMARY keeps serving, no emergency is open.
    assert _roles(db, aid) == {a["cloud_instance_id"]: "PRIMARY", "i-0standby1": "TERMINATED"}
    status = client.get(f"/api/agents/{aid}/emergency-status", headers=t.headers).json()
    assert status["in_emergency"] is False and status["notice_status"] == "none"
    (again,) = _pending(client, t, aid)
    # Not 1b (being reclaimed), not 1a (the PRIMARY's): the next fastest, 1c.
    assert again["command_type"] == "create_replica" and again["payload"]["target"]["availability_zone"] == "us-east-1c"

    # A repeated report (the agent re-sends until it has an answer) changes nothing.
    assert _notice(client, t, aid, **body)["id"] == lost["id"]
    assert db.query(Command).filter_by(agent_id=aid, command_type="create_replica").count() == 2
    replicas = {r["id"]: r for r in client.get(f"/api/client/{t.id}/replicas", headers=t.headers).json()}
    assert replicas[first["payload"]["replica_id"]]["status"] == "terminated"
    assert replicas[again["payload"]["replica_id"]]["status"] == "launching"
    # Through the one state machine: an audited REPLICA → TERMINATED, and an event for the live views.
    audit = db.scalars(
        select(AuditLog.action).where(AuditLog.client_id == t.id, AuditLog.action == "instance.terminate")
    )
    assert list(audit) == ["instance.terminate"]
    assert "emergency.replica_lost" in set(db.scalars(select(EventLog.topic).where(EventLog.client_id == t.id)))


def test_a_termination_notice_does_not_promote_a_lost_replica(client: TestClient, db: Session) -> None:
    t, a, aid = _fleet(client, db)
    _standby_ready(client, db, t, aid, "i-0standby1")
    _notice(client, t, aid, instance_id="i-0standby1")
    _pending(client, t, aid)  # the new standby's command, taken but not run yet: it is still launching

    event = _notice(client, t, aid, instance_id=a["cloud_instance_id"], termination_time="2026-03-02T12:02:00Z")
    assert event["status"] == "failed_over" and event["replica_id"] is None
    passed = next(s for s in event["steps"] if s["step"] == "replicas_passed_over")
    assert [r["reason"] for r in passed["replicas"]] == ["not ready (launching)"]
    assert [c["command_type"] for c in _pending(client, t, aid)] == ["fallback_on_demand"]
    assert _roles(db, aid)["i-0standby1"] == "TERMINATED"


def test_promotion_re_creates_the_standby_away_from_both_pools(client: TestClient, db: Session) -> None:
    t, a, aid = _fleet(client, db)
    _standby_ready(client, db, t, aid, "i-0standby1")
    event = _notice(client, t, aid)  # an older agent names no instance: the notice is about the PRIMARY
    assert event["status"] == "promoted"
    assert [s["step"] for s in event["steps"]][-2:] == ["replica_promoted", "standby_queued"]
    cmds = _pending(client, t, aid)
    assert [c["command_type"] for c in cmds] == ["promote_replica", "create_replica"]
    assert cmds[0]["priority"] > cmds[1]["priority"]  # the promotion first
    # Not 1a (being reclaimed), not 1b (the new PRIMARY's): 1c.
    assert cmds[1]["payload"]["target"]["availability_zone"] == "us-east-1c"
    assert _roles(db, aid) == {a["cloud_instance_id"]: "ZOMBIE", "i-0standby1": "PRIMARY"}
    # A repeat naming the old PRIMARY (now a ZOMBIE; agents name the instance) returns the event, queues nothing.
    assert _notice(client, t, aid, instance_id=a["cloud_instance_id"])["id"] == event["id"]
    assert db.query(Command).filter_by(agent_id=aid).count() == 3  # create, promote, create: nothing else


def test_a_replica_in_the_pool_being_reclaimed_is_passed_over(client: TestClient, db: Session) -> None:
    t, a, aid = _fleet(client, db)
    _standby_ready(client, db, t, aid, "i-0standby1")  # in 1b
    pool_b = next(p.id for p in db.scalars(select(Pool)) if p.availability_zone == "us-east-1b")
    switched = client.post(
        f"/api/client/instances/{a['instance_id']}/force-switch", json={"target_pool_id": pool_b}, headers=t.headers
    )
    assert switched.status_code == 202, switched.text
    (cmd,) = _pending(client, t, aid)
    _executed(client, t, aid, cmd, result={"new_instance_id": "i-0inb", "new_availability_zone": "us-east-1b"})
    # The PRIMARY now shares 1b with its standby, which a reclaim of 1b would take too: a new standby is queued.
    (standby,) = _pending(client, t, aid)
    assert standby["command_type"] == "create_replica" and standby["payload"]["target"]["availability_zone"] == (
        "us-east-1c"
    )
    event = _notice(client, t, aid, instance_id="i-0inb")
    assert event["status"] == "failed_over"
    passed = next(s for s in event["steps"] if s["step"] == "replicas_passed_over")["replicas"]
    assert {r["reason"] for r in passed} == {"in the pool being reclaimed", "not ready (launching)"}
    assert [c["command_type"] for c in _pending(client, t, aid)] == ["fallback_on_demand"]


def test_the_standby_left_in_the_primarys_pool_is_released_once_the_new_one_is_ready(
    client: TestClient, db: Session
) -> None:
    t, a, aid = _fleet(client, db)
    _standby_ready(client, db, t, aid, "i-0standby1")
    pool_b = next(p.id for p in db.scalars(select(Pool)) if p.availability_zone == "us-east-1b")
    client.post(
        f"/api/client/instances/{a['instance_id']}/force-switch", json={"target_pool_id": pool_b}, headers=t.headers
    )
    (cmd,) = _pending(client, t, aid)
    _executed(client, t, aid, cmd, result={"new_instance_id": "i-0inb", "new_availability_zone": "us-east-1b"})
    _standby_ready(client, db, t, aid, "i-0standby2")
    (release,) = _pending(client, t, aid)
    assert release["command_type"] == "terminate" and release["payload"]["cloud_instance_id"] == "i-0standby1"
    _executed(client, t, aid, release, result={"terminated": ["i-0standby1"]})
    assert _roles(db, aid) == {
        a["cloud_instance_id"]: "ZOMBIE",
        "i-0inb": "PRIMARY",
        "i-0standby1": "TERMINATED",
        "i-0standby2": "REPLICA",
    }
    statuses = sorted(r.status for r in db.scalars(select(Replica).where(Replica.agent_id == aid)))
    assert statuses == ["ready", "terminated"]


def test_the_policy_minimum_is_kept_after_a_promotion(client: TestClient, db: Session) -> None:
    # Auto-switch with min_replicas=1; the replica that takes over came from a rebalance recommendation.
    t, _, aid = _fleet(client, db, manual=False, policy={"min_replicas": 1})
    rebalance = _notice(client, t, aid, kind="rebalance")
    (cmd,) = _pending(client, t, aid)
    assert rebalance["status"] == "replica_queued" and cmd["payload"]["target"]["availability_zone"] == "us-east-1b"
    _executed(client, t, aid, cmd, result={"instance_id": "i-0emergency", "boot_seconds": 38})
    assert _notice(client, t, aid)["status"] == "promoted"
    cmds = _pending(client, t, aid)
    assert [c["command_type"] for c in cmds] == ["promote_replica", "create_replica"]
    replica = db.get(Replica, cmds[1]["payload"]["replica_id"])
    assert replica is not None and replica.kind == "policy" and _zone_of(db, replica.pool_id) == "us-east-1c"


def test_without_a_configured_standby_a_promotion_queues_none(client: TestClient, db: Session) -> None:
    t, _, aid = _fleet(client, db, manual=False)
    _notice(client, t, aid, kind="rebalance")
    (cmd,) = _pending(client, t, aid)
    _executed(client, t, aid, cmd, result={"instance_id": "i-0emergency"})
    assert _notice(client, t, aid)["status"] == "promoted"
    assert [c["command_type"] for c in _pending(client, t, aid)] == ["promote_replica"]


def test_a_promotion_the_agent_refuses_fails_over_at_once(client: TestClient, db: Session) -> None:
    t, a, aid = _fleet(client, db)
    _standby_ready(client, db, t, aid, "i-0standby1")
    event = _notice(client, t, aid)
    promote, standby = _pending(client, t, aid)
    # The agent found the replica gone before it could report it: it refuses the promotion.
    refused = _executed(client, t, aid, promote, success=False, message="replica i-0standby1 is gone")
    assert refused["command"]["status"] == "failed"
    (failover,) = _pending(client, t, aid)
    assert failover["command_type"] == "fallback_on_demand" and failover["priority"] == promote["priority"]
    assert failover["payload"]["from_instance"] == a["cloud_instance_id"]
    assert _roles(db, aid) == {a["cloud_instance_id"]: "ZOMBIE", "i-0standby1": "TERMINATED"}
    status = client.get(f"/api/agents/{aid}/emergency-status", headers=t.headers).json()
    assert status["in_emergency"] is True and status["event"]["status"] == "failed_over"
    assert [s["step"] for s in status["event"]["steps"]][-2:] == ["promotion_failed", "on_demand_failover_queued"]

    # The agent runs the fail-over from the instance still serving; the on-demand instance becomes the PRIMARY.
    result = {"new_instance_id": "i-0ondemand", "old_instance_id": a["cloud_instance_id"], "lifecycle": "on_demand"}
    _executed(client, t, aid, failover, result=result)
    assert _roles(db, aid)["i-0ondemand"] == "PRIMARY"
    status = client.get(f"/api/agents/{aid}/emergency-status", headers=t.headers).json()
    assert status["in_emergency"] is False and status["event"]["id"] == event["id"]
    # The standby queued at the promotion is still on its way: manual mode needs no other.
    assert standby["command_type"] == "create_replica" and not _pending(client, t, aid)


def test_a_failed_standby_launch_is_tried_once_more_elsewhere(client: TestClient, db: Session) -> None:
    t, _, aid = _fleet(client, db)
    (first,) = _pending(client, t, aid)
    _executed(client, t, aid, first, success=False, message="InsufficientInstanceCapacity")
    (retry,) = _pending(client, t, aid)
    assert retry["command_type"] == "create_replica" and retry["payload"]["target"]["availability_zone"] == "us-east-1c"
    _executed(client, t, aid, retry, success=False, message="InsufficientInstanceCapacity")
    assert _pending(client, t, aid) == []  # one retry per failure chain: no launch loop
    statuses = [r.status for r in db.scalars(select(Replica).where(Replica.agent_id == aid))]
    assert statuses == ["failed", "failed"]


def test_a_rebalance_notice_for_a_replica_only_marks_it(client: TestClient, db: Session) -> None:
    t, a, aid = _fleet(client, db)
    _standby_ready(client, db, t, aid, "i-0standby1")
    event = _notice(client, t, aid, kind="rebalance", instance_id="i-0standby1")
    assert (event["kind"], event["status"]) == ("rebalance", "replica_at_risk")
    replica = db.scalar(select(SpotInstance).where(SpotInstance.cloud_instance_id == "i-0standby1"))
    assert replica is not None and (replica.role, replica.notice_status) == ("REPLICA", "rebalance")
    primary = db.scalar(select(SpotInstance).where(SpotInstance.cloud_instance_id == a["cloud_instance_id"]))
    assert primary is not None and primary.notice_status == "none"
    assert _pending(client, t, aid) == []
    # It stands by still: the PRIMARY's termination promotes it (no better replica exists).
    assert _notice(client, t, aid)["status"] == "promoted"


def test_a_promoted_replica_reclaimed_at_once_fails_over_only_once(client: TestClient, db: Session) -> None:
    t, a, aid = _fleet(client, db)
    _standby_ready(client, db, t, aid, "i-0standby1")
    first = _notice(client, t, aid, instance_id=a["cloud_instance_id"])
    assert first["status"] == "promoted"
    promote, _standby = _pending(client, t, aid)
    # The replica's own termination notice reaches the server before the agent refuses the promotion: it is the
    # PRIMARY now, so its emergency fails over (no other replica is ready).
    second = _notice(client, t, aid, instance_id="i-0standby1")
    assert second["id"] != first["id"] and second["status"] == "failed_over"
    (failover,) = _pending(client, t, aid)
    _executed(client, t, aid, promote, success=False, message="replica i-0standby1 is being reclaimed")
    assert _pending(client, t, aid) == []  # no second fail-over
    assert _roles(db, aid)["i-0standby1"] == "TERMINATED"
    # The fail-over the agent runs (from the instance still serving) completes without a PRIMARY to retire.
    result = {"new_instance_id": "i-0ondemand", "old_instance_id": a["cloud_instance_id"], "lifecycle": "on_demand"}
    assert _executed(client, t, aid, failover, result=result)["command"]["status"] == "executed"
    assert _roles(db, aid)["i-0ondemand"] == "PRIMARY"
    status = client.get(f"/api/agents/{aid}/emergency-status", headers=t.headers).json()
    assert status["in_emergency"] is False
    events = client.get("/api/admin/emergency-events", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}).json()
    mine = {e["id"]: e for e in events["events"] if e["agent_id"] == aid}
    assert [s["step"] for s in mine[first["id"]]["steps"]][-2:] == ["promotion_failed", "superseded"]


def test_a_replica_reported_terminated_is_lost_like_a_termination_notice(client: TestClient, db: Session) -> None:
    t, a, aid = _fleet(client, db)
    first = _standby_ready(client, db, t, aid, "i-0standby1")
    # v5 `termination`: the cloud already took the replica (no notice first).
    response = client.post(f"/api/agents/{aid}/termination", json={"instance_id": "i-0standby1"}, headers=t.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["role"] == "TERMINATED" and body["follow_up"]["status"] == "replica_lost"
    assert _roles(db, aid) == {a["cloud_instance_id"]: "PRIMARY", "i-0standby1": "TERMINATED"}
    replicas = {r["id"]: r for r in client.get(f"/api/client/{t.id}/replicas", headers=t.headers).json()}
    assert replicas[first["payload"]["replica_id"]]["status"] == "terminated"
    # The standby is re-created away from the lost one's pool, as after a termination notice.
    (again,) = _pending(client, t, aid)
    assert again["command_type"] == "create_replica" and again["payload"]["target"]["availability_zone"] == "us-east-1c"
    status = client.get(f"/api/agents/{aid}/emergency-status", headers=t.headers).json()
    assert status["in_emergency"] is False


def test_a_primary_reported_terminated_promotes_the_ready_standby(client: TestClient, db: Session) -> None:
    t, a, aid = _fleet(client, db)
    _standby_ready(client, db, t, aid, "i-0standby1")
    response = client.post(
        f"/api/agents/{aid}/termination", json={"instance_id": a["cloud_instance_id"]}, headers=t.headers
    )
    assert response.status_code == 200, response.text
    assert response.json()["role"] == "TERMINATED"
    assert _roles(db, aid)["i-0standby1"] == "PRIMARY"
