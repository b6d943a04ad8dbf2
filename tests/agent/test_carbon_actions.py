"""Carbon actions on AWS end to end: a live server, the agent program with its AWS backend against moto (EC2) and a
local IMDSv2 server. Rightsizing, migration and idle stop requested in the carbon domain are queued for the
instance's agent, carried out in EC2, and reported back until the carbon records and the fleet show the change."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from moto import mock_aws

from spectra.agent.aws import REQUEST_TAG, AwsBackend
from spectra.agent.runner import Agent
from spectra.agent.state import StateStore
from spectra.agent.transport import ServerClient
from spectra.capacity import service as capacity_service
from spectra.carbon.anomalies import service as anomalies
from spectra.carbon.automation import service as automation
from spectra.carbon.automation.schemas import PolicyUpdate
from spectra.carbon.optimizer.dependencies import get_inputs
from spectra.core.clock import clock
from spectra.core.db import session_scope
from spectra.core.events import Event
from spectra.core.jobs import run_job
from spectra.core.models import EventLog
from spectra.fleet.instances import service as fleet_instances
from spectra.spot.carbon_actions import tasks as carbon_action_tasks
from spectra.spot.models import Command
from tests.agent.fake_imds import FakeImds
from tests.factories import Tenant, make_tenant
from tests.fleet.factories import make_instance

pytestmark = pytest.mark.live

HOME, ZONE, TARGET = "us-east-1", "us-east-1a", "eu-north-1"
HOME_AMI = "ami-12c6146b"


@pytest.fixture()
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": HOME,
    }.items():
        monkeypatch.setenv(key, value)
    with mock_aws():
        yield


def _ec2(region: str = HOME) -> Any:
    return boto3.client("ec2", region_name=region)


def _described(instance_id: str, region: str = HOME) -> dict[str, Any]:
    return dict(_ec2(region).describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0])


def _boot(instance_type: str, spot: bool = False) -> str:
    """The workload's instance, tagged as its team's."""
    params: dict[str, Any] = {
        "ImageId": HOME_AMI,
        "InstanceType": instance_type,
        "MinCount": 1,
        "MaxCount": 1,
        "Placement": {"AvailabilityZone": ZONE},
        "TagSpecifications": [
            {"ResourceType": "instance", "Tags": [{"Key": "team", "Value": "web"}, {"Key": "Name", "Value": "api"}]}
        ],
    }
    if spot:
        params["InstanceMarketOptions"] = {"MarketType": "spot", "SpotOptions": {"SpotInstanceType": "one-time"}}
    return str(_ec2().run_instances(**params)["Instances"][0]["InstanceId"])


def _imds_for(instance_id: str, instance_type: str, spot: bool = False) -> FakeImds:
    return FakeImds(
        {
            "/latest/meta-data/instance-id": instance_id,
            "/latest/meta-data/instance-type": instance_type,
            "/latest/meta-data/placement/availability-zone": ZONE,
            "/latest/meta-data/placement/region": HOME,
            "/latest/meta-data/instance-life-cycle": "spot" if spot else "on-demand",
            "/latest/meta-data/ami-id": HOME_AMI,
        }
    )


@dataclass
class World:
    url: str
    tenant: Tenant
    fleet_id: str
    provider_id: str
    http: httpx.Client

    def agent(self, backend: AwsBackend, state: Path) -> Agent:
        store = StateStore(state)
        return Agent(ServerClient(self.url, self.tenant.token, store, sleep=lambda s: None), backend, store)

    def commands(self) -> list[Command]:
        with session_scope(read_only=True) as session:
            return list(session.query(Command).filter(Command.client_id == self.tenant.id).all())

    def fleet(self, provider_id: str | None = None) -> dict[str, Any]:
        rows = self.http.get("/api/instances", params={"limit": 100}).json()["items"]
        return next(r for r in rows if r["provider_id"] == (provider_id or self.provider_id))

    def action(self, kind: str) -> dict[str, Any]:
        rows = self.http.get("/api/optimizer/actions", params={"kind": kind}).json()
        assert len(rows) == 1, rows
        return dict(rows[0])

    def primary(self) -> dict[str, Any]:
        rows = self.http.get(f"/api/client/{self.tenant.id}/instances").json()
        return next(r for r in rows if r["role"] == "PRIMARY")


def _world(url: str, provider_id: str, instance_type: str, spot: bool = False) -> World:
    with session_scope() as session:
        tenant = make_tenant(session)
        fleet = make_instance(
            session, tenant, provider_id=provider_id, source="aws", region=HOME, zone=ZONE,
            instance_type=instance_type, lifecycle="spot" if spot else "on-demand", tags={"team": "web"},
        )  # fmt: skip
        fleet_id = fleet.id
    return World(url, tenant, fleet_id, provider_id, httpx.Client(base_url=url, headers=tenant.headers, timeout=15))


def _idle_cpu(world: World) -> None:
    """A day of 5-minute samples at ~10 % CPU and 20 % memory: the instance is oversized."""
    now = clock.now()
    rows: list[dict[str, Any]] = []
    for k in range(288):
        ts = (now - timedelta(minutes=5 * k)).isoformat()
        rows += [
            {"resource_id": world.provider_id, "metric": "cpu", "ts": ts, "value": 8.0 + (k % 5)},
            {"resource_id": world.provider_id, "metric": "memory", "ts": ts, "value": 20.0},
        ]
    with session_scope() as session:
        capacity_service.ingest(session, world.tenant.id, rows)


def _accept_downsize(world: World) -> dict[str, Any]:
    _idle_cpu(world)
    evaluated = world.http.post(f"/api/instances/{world.fleet_id}/optimize", json={"window_hours": 24})
    assert evaluated.status_code == 200, evaluated.text
    rec = evaluated.json()["recommendation"]
    assert rec["action"] == "downsize", rec
    accepted = world.http.post(f"/api/instances/recommendations/{rec['id']}/accept", json={})
    assert accepted.status_code == 200 and accepted.json()["applied"] is False, accepted.text
    assert world.action("rightsizing")["status"] == "recommended"  # no credit until the agent did it
    return dict(rec)


def _only_command(agent: Agent, command_type: str) -> dict[str, Any]:
    commands = agent.pending_commands(wait=5)
    assert [c["command_type"] for c in commands] == [command_type], commands
    return commands[0]


def test_rightsizing_resizes_the_on_demand_instance_in_place(live_server, aws, tmp_path: Path) -> None:
    """An agent beside the instance stops it, changes its type and starts it again: same instance, new type."""
    instance_id = _boot("m5.xlarge")
    world = _world(live_server.url, instance_id, "m5.xlarge")
    agent = world.agent(AwsBackend("http://127.0.0.1:9", region=HOME, instance_id=instance_id), tmp_path / "a.json")
    agent.register()
    rec = _accept_downsize(world)

    result = agent.execute(_only_command(agent, "resize"))
    assert result["success"], result
    assert result["result"]["method"] == "modified"
    described = _described(instance_id)
    assert described["InstanceType"] == rec["recommended_type"] and described["State"]["Name"] == "running"

    action = world.action("rightsizing")
    assert action["status"] == "applied" and action["effective_from"] is not None
    fleet = world.fleet()
    assert (fleet["instance_type"], fleet["state"]) == (rec["recommended_type"], "running")
    primary = world.primary()
    assert (primary["cloud_instance_id"], primary["instance_type"]) == (instance_id, rec["recommended_type"])
    assert len(world.commands()) == 1


def test_rightsizing_replaces_a_spot_instance(live_server, aws, tmp_path: Path) -> None:
    """A spot instance cannot be stopped: the agent on it launches the new type, reports, then terminates itself."""
    instance_id = _boot("m5.xlarge", spot=True)
    imds = _imds_for(instance_id, "m5.xlarge", spot=True)
    try:
        world = _world(live_server.url, instance_id, "m5.xlarge", spot=True)
        agent = world.agent(AwsBackend(imds.url), tmp_path / "a.json")
        agent.register()
        rec = _accept_downsize(world)

        result = agent.execute(_only_command(agent, "resize"))
        assert result["success"], result
        new_id = result["result"]["new_instance_id"]
        assert result["result"]["method"] == "replaced"
        assert result["result"]["old_instance_terminated"] == "after_report"
        replacement = _described(new_id)
        assert replacement["InstanceType"] == rec["recommended_type"]
        assert replacement["InstanceLifecycle"] == "spot" and replacement["Placement"]["AvailabilityZone"] == ZONE
        assert {"Key": "team", "Value": "web"} in replacement["Tags"]
        assert _described(instance_id)["State"]["Name"] in ("shutting-down", "terminated")

        assert world.action("rightsizing")["status"] == "applied"
        new_row = world.fleet(new_id)
        assert (new_row["instance_type"], new_row["region"]) == (rec["recommended_type"], HOME)
        assert new_row["state"] == "running" and new_row["tags"].get("team") == "web"
        assert world.fleet(instance_id)["state"] == "terminated"
        assert world.primary()["cloud_instance_id"] == new_id
    finally:
        imds.close()


def test_migration_runs_the_instance_in_the_target_region(live_server, aws, tmp_path: Path) -> None:
    instance_id = _boot("m5.large")
    imds = _imds_for(instance_id, "m5.large")
    target_ami = _ec2(TARGET).describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    try:
        world = _world(live_server.url, instance_id, "m5.large")
        backend = AwsBackend(imds.url, launch_templates={TARGET: target_ami})
        agent = world.agent(backend, tmp_path / "a.json")
        agent.register()
        body = {"instance_id": world.fleet_id, "to_region": TARGET, "request_id": "move-1"}
        started = world.http.post("/api/migrations/execute", json=body)
        assert started.status_code == 201 and started.json()["status"] == "executing", started.text
        migration_id = started.json()["id"]

        result = agent.execute(_only_command(agent, "migrate"))
        assert result["success"], result
        new_id = result["result"]["new_instance_id"]
        moved = _described(new_id, TARGET)
        assert moved["State"]["Name"] == "running" and moved["InstanceType"] == "m5.large"
        assert moved["ImageId"] == target_ami and {"Key": "team", "Value": "web"} in moved["Tags"]
        assert _described(instance_id)["State"]["Name"] in ("shutting-down", "terminated")

        migration = world.http.get(f"/api/migrations/{migration_id}").json()
        assert migration["status"] == "completed", migration
        assert migration["plan"]["executed"]["provider_id"] == new_id
        assert world.fleet(new_id)["region"] == TARGET and world.fleet(instance_id)["state"] == "terminated"
        primary = world.primary()
        assert primary["cloud_instance_id"] == new_id
        assert world.action("migration")["status"] == "applied"

        # The same request again, the same event delivered again, the sweep: one command, one instance.
        again = world.http.post("/api/migrations/execute", json=body)
        assert again.status_code == 200 and again.json()["id"] == migration_id
        with session_scope(read_only=True) as session:
            row = session.query(EventLog).filter(EventLog.topic == "carbon.migration.requested").one()
            event = Event.from_row(row)
        carbon_action_tasks.handle_request(event)
        run = run_job("spot.carbon_actions", "manual")
        assert run is not None and run.status == "succeeded", run.error if run else None
        assert len(world.commands()) == 1
        assert agent.pending_commands(wait=0) == []
        tagged = _ec2(TARGET).describe_instances(Filters=[{"Name": f"tag:{REQUEST_TAG}", "Values": ["*"]}])
        assert sum(len(r["Instances"]) for r in tagged["Reservations"]) == 1
    finally:
        imds.close()


def test_migration_without_a_template_for_the_region_fails_naming_it(live_server, aws, tmp_path: Path) -> None:
    instance_id = _boot("m5.large")
    imds = _imds_for(instance_id, "m5.large")
    try:
        world = _world(live_server.url, instance_id, "m5.large")
        agent = world.agent(AwsBackend(imds.url), tmp_path / "a.json")
        agent.register()
        started = world.http.post("/api/migrations/execute", json={"instance_id": world.fleet_id, "to_region": TARGET})
        result = agent.execute(_only_command(agent, "migrate"))
        assert not result["success"] and f"--launch-template {TARGET}=" in result["message"]
        migration = world.http.get(f"/api/migrations/{started.json()['id']}").json()
        assert migration["status"] == "failed" and "no launch template or AMI for eu-north-1" in migration["error"]
        assert _described(instance_id)["State"]["Name"] == "running"  # nothing was touched
        assert world.fleet()["region"] == HOME
    finally:
        imds.close()


def test_crash_between_executing_and_reporting_changes_the_cloud_once(live_server, aws, tmp_path: Path) -> None:
    instance_id = _boot("m5.large")
    imds = _imds_for(instance_id, "m5.large")
    target_ami = _ec2(TARGET).describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    state = tmp_path / "a.json"
    try:
        world = _world(live_server.url, instance_id, "m5.large")
        agent = world.agent(AwsBackend(imds.url, launch_templates={TARGET: target_ami}), state)
        agent.register()
        started = world.http.post("/api/migrations/execute", json={"instance_id": world.fleet_id, "to_region": TARGET})
        command = _only_command(agent, "migrate")

        # The agent records the command, launches in the target region, and dies before it can report.
        agent.store.state.commands[command["id"]] = "executing:" + json.dumps(command)
        agent.store.save()
        launched = agent._act(command)["new_instance_id"]
        assert world.http.get(f"/api/migrations/{started.json()['id']}").json()["status"] == "executing"

        restarted = world.agent(AwsBackend(imds.url, launch_templates={TARGET: target_ami}), state)
        assert restarted.store.state.agent_id == agent.store.state.agent_id
        restarted.resume()
        in_target = _ec2(TARGET).describe_instances()["Reservations"]
        assert [i["InstanceId"] for r in in_target for i in r["Instances"]] == [launched], "launched twice"
        assert _described(instance_id)["State"]["Name"] in ("shutting-down", "terminated")
        migration = world.http.get(f"/api/migrations/{started.json()['id']}").json()
        assert migration["status"] == "completed" and migration["plan"]["executed"]["provider_id"] == launched
        assert restarted.store.state.after_report == []
        assert len(world.commands()) == 1
    finally:
        imds.close()


def test_idle_stop_stops_the_instance_after_reporting(live_server, aws, tmp_path: Path) -> None:
    instance_id = _boot("m5.large")
    imds = _imds_for(instance_id, "m5.large")
    try:
        world = _world(live_server.url, instance_id, "m5.large")
        agent = world.agent(AwsBackend(imds.url), tmp_path / "a.json")
        agent.register()
        now = clock.now()
        with session_scope() as session:
            anomalies.raise_anomaly(
                session, client_id=world.tenant.id, kind="idle_waste", score=0.8, start=now - timedelta(hours=30),
                end=now, evidence={"hours": 30.0}, co2e_kg=3.0, cost_usd=2.88, instance_id=world.fleet_id,
            )  # fmt: skip
            automation.put_policy(
                session, world.tenant.id,
                PolicyUpdate(mode="apply", stop_idle=True, idle_stop_after_hours=24, idle_notice_hours=0),
            )  # fmt: skip
        with session_scope() as session:
            outcome = automation.run_for_client(session, get_inputs(), world.tenant.id)
        assert [a["kind"] for a in outcome["applied"]] == ["idle_stop"]

        result = agent.execute(_only_command(agent, "stop"))
        assert result["success"] and result["result"]["when"] == "after_report", result
        assert _described(instance_id)["State"]["Name"] == "stopped"
        assert world.action("idle_stop")["status"] == "applied"
        assert world.fleet()["state"] == "stopped"
        assert agent.store.state.after_report == []
    finally:
        imds.close()


def test_without_an_agent_the_migration_fails_at_once(live_server, aws) -> None:
    world = _world(live_server.url, "i-0feedfacecafe0001", "m5.large")
    started = world.http.post("/api/migrations/execute", json={"instance_id": world.fleet_id, "to_region": TARGET})
    assert started.status_code == 201, started.text
    migration = world.http.get(f"/api/migrations/{started.json()['id']}").json()
    assert migration["status"] == "failed"
    assert "no spot agent manages instance i-0feedfacecafe0001" in migration["error"]
    assert world.commands() == []
    with session_scope(read_only=True) as session:
        assert fleet_instances.get_instance(session, world.fleet_id).region == HOME
