"""The carbon-action executor on the server: which agent gets a carbon request, why none does, how the agent's
report (or its silence) reaches the carbon domain — through the HTTP API and the real event bus."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from spectra.capacity import service as capacity_service
from spectra.carbon.migrations import service as migrations
from spectra.core.clock import clock
from spectra.core.models import EventLog
from spectra.spot.agents.models import SpotActivity
from spectra.spot.carbon_actions import service
from spectra.spot.carbon_actions import tasks as carbon_action_tasks
from spectra.spot.instances import repository as inst_repo
from spectra.spot.instances import service as spot_instances
from spectra.spot.instances.state_machine import Role
from spectra.spot.models import Agent, Command
from tests.factories import Tenant, make_tenant
from tests.fleet.factories import make_instance
from tests.spot.spot_factories import register_agent

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def executor(app) -> None:
    carbon_action_tasks.register()  # the app's start-up does this; be explicit about what these tests rely on
    clock.set_override(T0)


def _setup(client: TestClient, db: Session, *, agent: bool = True) -> tuple[Tenant, dict[str, Any], str]:
    tenant = make_tenant(db)
    db.commit()
    registered = register_agent(client, tenant.headers) if agent else {"cloud_instance_id": "i-0nobody000000001"}
    fleet = make_instance(db, tenant, provider_id=registered["cloud_instance_id"], source="aws", zone="us-east-1a")
    db.commit()
    return tenant, registered, fleet.id


def _migrate(client: TestClient, tenant: Tenant, fleet_id: str, request_id: str = "m-1") -> dict[str, Any]:
    response = client.post(
        "/api/migrations/execute",
        json={"instance_id": fleet_id, "to_region": "eu-north-1", "request_id": request_id},
        headers=tenant.headers,
    )
    assert response.status_code in (200, 201), response.text
    return dict(response.json())


def _migration(client: TestClient, tenant: Tenant, migration_id: str) -> dict[str, Any]:
    return dict(client.get(f"/api/migrations/{migration_id}", headers=tenant.headers).json())


def _commands(db: Session, agent_id: str) -> list[Command]:
    db.expire_all()
    return list(db.scalars(select(Command).where(Command.agent_id == agent_id)))


def _report(client: TestClient, tenant: Tenant, agent_id: str, command_id: str, **body: Any) -> dict[str, Any]:
    response = client.post(f"/api/agents/{agent_id}/commands/{command_id}/executed", json=body, headers=tenant.headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_a_migration_becomes_one_command_for_the_primarys_agent(client, db: Session) -> None:
    tenant, agent, fleet_id = _setup(client, db)
    migration = _migrate(client, tenant, fleet_id)
    assert migration["status"] == "executing"
    [cmd] = _commands(db, agent["agent_id"])
    assert (cmd.command_type, cmd.issued_by, cmd.status) == ("migrate", "carbon", "pending")
    payload = cmd.payload or {}
    assert payload["cloud_instance_id"] == agent["cloud_instance_id"] and payload["target_region"] == "eu-north-1"
    assert payload["region"] == "us-east-1" and payload["carbon"]["migration_id"] == migration["id"]
    assert cmd.expires_at is not None and cmd.expires_at - T0 == service.COMMAND_TTL

    # The same event handled again (redelivery, the sweep) queues nothing more.
    event = db.scalars(select(EventLog).where(EventLog.topic == "carbon.migration.requested")).one()
    request = service.request_from_event(event.topic, event.client_id, event.payload)
    assert request is not None
    assert service.handle(db, request, T0)["outcome"] == "queued_before"
    assert len(_commands(db, agent["agent_id"])) == 1
    # The agent hears about it on its long-poll.
    pending = client.get(f"/api/agents/{agent['agent_id']}/pending-commands", headers=tenant.headers).json()
    assert [c["command_type"] for c in pending] == ["migrate"]


def test_the_agents_failure_fails_the_migration_with_its_message(client, db: Session) -> None:
    tenant, agent, fleet_id = _setup(client, db)
    migration = _migrate(client, tenant, fleet_id)
    [cmd] = _commands(db, agent["agent_id"])
    ack = _report(client, tenant, agent["agent_id"], cmd.id, success=False, message="InsufficientInstanceCapacity")
    assert ack["command"]["status"] == "failed"
    failed = _migration(client, tenant, migration["id"])
    assert failed["status"] == "failed" and failed["error"] == "InsufficientInstanceCapacity"
    # A repeated report changes nothing, here or in carbon.
    assert _report(client, tenant, agent["agent_id"], cmd.id, success=False, message="again")["changed"] is False
    assert _migration(client, tenant, migration["id"])["error"] == "InsufficientInstanceCapacity"


def test_a_success_without_the_new_instance_is_not_taken_as_one(client, db: Session) -> None:
    tenant, agent, fleet_id = _setup(client, db)
    migration = _migrate(client, tenant, fleet_id)
    [cmd] = _commands(db, agent["agent_id"])
    _report(client, tenant, agent["agent_id"], cmd.id, success=True, result={})
    failed = _migration(client, tenant, migration["id"])
    assert failed["status"] == "failed" and "without the new instance id" in failed["error"]


def test_a_reported_migration_moves_the_fleet_and_the_agent(client, db: Session) -> None:
    tenant, agent, fleet_id = _setup(client, db)
    migration = _migrate(client, tenant, fleet_id)
    [cmd] = _commands(db, agent["agent_id"])
    result = {"new_instance_id": "i-0north0000000001", "old_instance_id": agent["cloud_instance_id"],
              "region": "eu-north-1", "new_availability_zone": "eu-north-1b", "new_instance_type": "m5.large",
              "lifecycle": "on_demand", "old_instance_terminated": True}  # fmt: skip
    _report(client, tenant, agent["agent_id"], cmd.id, success=True, result=result)
    done = _migration(client, tenant, migration["id"])
    assert done["status"] == "completed" and done["plan"]["executed"]["zone"] == "eu-north-1b"
    rows = {r["provider_id"]: r for r in client.get("/api/instances", headers=tenant.headers).json()["items"]}
    assert rows["i-0north0000000001"]["region"] == "eu-north-1" and rows["i-0north0000000001"]["state"] == "running"
    assert rows[agent["cloud_instance_id"]]["state"] == "terminated"
    db.expire_all()
    spot_agent = db.get(Agent, agent["agent_id"])
    assert spot_agent is not None and spot_agent.region == "eu-north-1"
    primary = inst_repo.primary_of(db, agent["agent_id"])
    assert primary is not None and (primary.cloud_instance_id, primary.region) == ("i-0north0000000001", "eu-north-1")
    old = inst_repo.instance_by_cloud_id(db, agent["agent_id"], agent["cloud_instance_id"])
    assert old is not None and old.role == "TERMINATED"


@pytest.mark.parametrize(
    ("situation", "reason"),
    [
        ("no_agent", "no spot agent manages instance i-0nobody000000001"),
        ("offline", "is offline; last heartbeat"),
        ("replica", "is a REPLICA of agent"),
    ],
)
def test_without_an_agent_that_can_act_the_migration_fails_at_once(
    client, db: Session, situation: str, reason: str
) -> None:
    tenant, agent, fleet_id = _setup(client, db, agent=situation != "no_agent")
    if situation == "offline":
        row = db.get(Agent, agent["agent_id"])
        assert row is not None
        row.status = "offline"
        db.commit()
    if situation == "replica":
        # The fleet instance is a standby of another agent, not what that agent runs.
        other = register_agent(client, tenant.headers)
        row = db.get(Agent, other["agent_id"])
        assert row is not None
        replica_of = make_instance(db, tenant, provider_id="i-0replica00000001", source="aws")
        spot_instances.create_instance(db, row, "i-0replica00000001", Role.REPLICA, pool=None, reason="test")
        db.commit()
        fleet_id = replica_of.id
    migration = _migrate(client, tenant, fleet_id)
    failed = _migration(client, tenant, migration["id"])
    assert failed["status"] == "failed" and reason in failed["error"], failed
    assert db.scalars(select(Command).where(Command.client_id == tenant.id)).all() == []
    db.expire_all()
    note = db.scalars(select(SpotActivity).where(SpotActivity.event_type == "carbon.migration.refused")).one()
    assert reason in note.message and note.client_id == tenant.id


def test_tenants_never_share_commands_or_agents(client, db: Session) -> None:
    tenant, agent, fleet_id = _setup(client, db)
    other, other_agent, other_fleet = _setup(client, db)
    _migrate(client, tenant, fleet_id, request_id="same")
    _migrate(client, other, other_fleet, request_id="same")
    assert [c.client_id for c in _commands(db, agent["agent_id"])] == [tenant.id]
    assert [c.client_id for c in _commands(db, other_agent["agent_id"])] == [other.id]
    # One tenant's instance id known to another tenant's agent gives that agent nothing.
    third = make_tenant(db)
    intruder = make_instance(db, third, provider_id=agent["cloud_instance_id"], source="aws")
    db.commit()
    migration = _migrate(client, third, intruder.id)
    assert _migration(client, third, migration["id"])["status"] == "failed"
    assert len(_commands(db, agent["agent_id"])) == 1


def test_lapsed_commands_are_reported_and_a_late_report_still_counts(client, db: Session) -> None:
    tenant, agent, fleet_id = _setup(client, db)
    never_taken = _migrate(client, tenant, fleet_id, request_id="a")
    [first] = _commands(db, agent["agent_id"])

    # Nobody takes the command within its TTL: it expires and carbon hears it failed.
    later = T0 + service.COMMAND_TTL + timedelta(minutes=1)
    first.status = "expired"
    db.commit()
    assert service.sweep(db, later)["lapsed_reported"] == 1
    failed = _migration(client, tenant, never_taken["id"])
    assert failed["status"] == "failed" and "did not take the migrate command" in failed["error"]
    assert service.sweep(db, later)["lapsed_reported"] == 0  # said once

    # Taken, then expired: the agent may still report within the grace period, and its report counts.
    taken = _migrate(client, tenant, fleet_id, request_id="b")
    second = next(c for c in _commands(db, agent["agent_id"]) if c.id != first.id)
    second.status, second.delivered_at = "expired", T0
    db.commit()
    assert service.sweep(db, later)["lapsed_reported"] == 0
    result = {"new_instance_id": "i-0late00000000001", "region": "eu-north-1", "new_availability_zone": "eu-north-1a",
              "new_instance_type": "m5.large", "lifecycle": "on_demand"}  # fmt: skip
    assert _report(client, tenant, agent["agent_id"], second.id, success=True, result=result)["changed"] is True
    assert _migration(client, tenant, taken["id"])["status"] == "completed"


def test_a_report_carbon_no_longer_waits_for_is_recorded_not_refused(client, db: Session) -> None:
    tenant, agent, fleet_id = _setup(client, db)
    migration = _migrate(client, tenant, fleet_id)
    [cmd] = _commands(db, agent["agent_id"])
    assert migrations.fail_stalled(db, T0 + timedelta(hours=7)) == 1  # carbon gave up
    db.commit()
    result = {"new_instance_id": "i-0after0000000001", "region": "eu-north-1", "new_availability_zone": "eu-north-1a",
              "new_instance_type": "m5.large", "lifecycle": "on_demand"}  # fmt: skip
    ack = _report(client, tenant, agent["agent_id"], cmd.id, success=True, result=result)
    assert ack["command"]["status"] == "executed"
    assert _migration(client, tenant, migration["id"])["status"] == "failed"
    db.expire_all()
    refused = db.scalars(select(SpotActivity).where(SpotActivity.event_type == "carbon.outcome_refused")).one()
    assert "migration is failed" in refused.message


def test_requests_other_clouds_or_malformed_are_not_queued(client, db: Session) -> None:
    tenant = make_tenant(db)
    manual = service.request_from_event(
        "carbon.instance.stop_requested", tenant.id, {"instance_id": "x", "cloud": "manual", "request_id": "r"}
    )
    assert manual is not None and manual.command_type == "stop"
    assert service.request_from_event("carbon.migration.requested", tenant.id, {"request_id": "r"}) is None
    assert service.request_from_event("carbon.migration.requested", None, {"request_id": "r"}) is None
    long_id = service.command_request_id(
        service.CarbonRequest("rightsizing", "resize", tenant.id, "r" * 160, None, "aws", {})
    )
    assert len(long_id) <= 128 and long_id.startswith(f"carbon:rightsizing:{tenant.id}:")


def test_an_accepted_rightsizing_nobody_can_apply_fails_at_once(client, db: Session) -> None:
    tenant, _, fleet_id = _setup(client, db, agent=False)
    rows = []
    for k in range(288):  # a day at ~10 % CPU: oversized
        ts = (T0 - timedelta(minutes=5 * k)).isoformat()
        rows += [{"resource_id": "i-0nobody000000001", "metric": "cpu", "ts": ts, "value": 9.0},
                 {"resource_id": "i-0nobody000000001", "metric": "memory", "ts": ts, "value": 20.0}]  # fmt: skip
    capacity_service.ingest(db, tenant.id, rows)
    db.commit()
    rec = client.post(f"/api/instances/{fleet_id}/optimize", json={"window_hours": 24}, headers=tenant.headers)
    assert rec.status_code == 200 and rec.json()["recommendation"]["action"] == "downsize", rec.text
    rec_id = rec.json()["recommendation"]["id"]
    accepted = client.post(f"/api/instances/recommendations/{rec_id}/accept", json={}, headers=tenant.headers)
    assert accepted.status_code == 200 and accepted.json()["applied"] is False
    [action] = client.get("/api/optimizer/actions", params={"kind": "rightsizing"}, headers=tenant.headers).json()
    assert action["status"] == "failed" and action["effective_from"] is None
    assert "no spot agent manages instance i-0nobody000000001" in action["details"]["error"]
    fleet = client.get(f"/api/instances/{fleet_id}", headers=tenant.headers).json()
    assert fleet["instance_type"] == "m5.large"  # unchanged
