"""The agent's cleanup (`instances-to-terminate`) against a live server: EC2 through moto, where the listed
instance is in another region, already gone, or the one the agent runs on; and a replaced instance still
serving while its replacement boots."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import httpx
import pytest

from spectra.agent.aws import AwsBackend
from spectra.agent.runner import Agent
from spectra.agent.state import StateStore
from spectra.agent.transport import ServerClient
from tests.agent.fake_imds import FakeImds
from tests.agent.test_runner import A, B, _agent, _cloud

AMI = "ami-12c6146b"


@pytest.fixture()
def imds() -> Iterator[FakeImds]:
    fake = FakeImds({})
    yield fake
    fake.close()


def _run(region: str) -> str:
    ec2 = boto3.client("ec2", region_name=region)
    return str(
        ec2.run_instances(ImageId=AMI, InstanceType="m5.large", MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    )


def _state(region: str, instance_id: str) -> str:
    ec2 = boto3.client("ec2", region_name=region)
    return str(ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]["State"]["Name"])


def _on(imds: FakeImds, instance_id: str, region: str) -> None:
    """The metadata the agent sees: it runs on `instance_id` in `region`."""
    imds.metadata.update(
        {
            "/latest/meta-data/instance-id": instance_id,
            "/latest/meta-data/instance-type": "m5.large",
            "/latest/meta-data/placement/availability-zone": f"{region}a",
            "/latest/meta-data/placement/region": region,
            "/latest/meta-data/instance-life-cycle": "on-demand",
        }
    )


def _aws_agent(url: str, token: str, imds: FakeImds, state: Path) -> Agent:
    store = StateStore(state)
    return Agent(ServerClient(url, token, store, sleep=lambda s: None), AwsBackend(imds.url), store)


def _no_grace(http: httpx.Client, agent_id: str) -> None:
    version = http.get(f"/api/agents/{agent_id}").json()["version"]
    patched = http.patch(f"/api/agents/{agent_id}/config", json={"version": version, "terminate_wait_seconds": 0})
    assert patched.status_code == 200, patched.text


def _roles(http: httpx.Client, client_id: str) -> dict[str, str]:
    return {i["cloud_instance_id"]: i["role"] for i in http.get(f"/api/client/{client_id}/instances").json()}


def test_a_zombie_in_another_region_is_terminated_there(
    live_server, tenant, tmp_path: Path, aws: None, imds: FakeImds
) -> None:
    old, new = _run("eu-west-1"), _run("us-east-1")
    http = httpx.Client(base_url=live_server.url, headers=tenant.headers, timeout=10)
    _on(imds, old, "eu-west-1")
    first = _aws_agent(live_server.url, tenant.token, imds, tmp_path / "state.json")
    first.register()
    _no_grace(http, first.agent_id)
    # The installation moved to an instance in us-east-1 (a migration): the one it left is a ZOMBIE in eu-west-1.
    _on(imds, new, "us-east-1")
    moved = _aws_agent(live_server.url, tenant.token, imds, tmp_path / "state.json")
    assert moved.register()["agent_id"] == first.agent_id
    (listed,) = http.get(f"/api/agents/{moved.agent_id}/instances-to-terminate").json()
    assert (listed["instance_id"], listed["region"]) == (old, "eu-west-1")

    assert moved.clean_up() == 1
    assert _state("eu-west-1", old) == "terminated" and _state("us-east-1", new) == "running"
    assert _roles(http, tenant.id) == {old: "TERMINATED", new: "PRIMARY"}
    assert moved.store.state.outbox == []


def test_a_listed_instance_ec2_no_longer_knows_is_reported(
    live_server, tenant, tmp_path: Path, aws: None, imds: FakeImds
) -> None:
    """EC2 forgets a terminated instance after about an hour: terminating it is done, not an error to retry."""
    gone, new = "i-0000000000000dead", _run("us-east-1")
    http = httpx.Client(base_url=live_server.url, headers=tenant.headers, timeout=10)
    _on(imds, gone, "us-east-1")
    first = _aws_agent(live_server.url, tenant.token, imds, tmp_path / "state.json")
    first.register()
    _no_grace(http, first.agent_id)
    _on(imds, new, "us-east-1")
    moved = _aws_agent(live_server.url, tenant.token, imds, tmp_path / "state.json")
    moved.register()

    assert moved.clean_up() == 1
    assert _roles(http, tenant.id) == {gone: "TERMINATED", new: "PRIMARY"}
    assert http.get(f"/api/agents/{moved.agent_id}/instances-to-terminate").json() == []
    # Terminating a terminated instance is harmless too (a crash between terminating and reporting).
    other = _run("us-east-1")
    moved.backend.terminate(other)
    moved.backend.terminate(other)
    assert _state("us-east-1", other) == "terminated"


def test_the_instance_the_agent_runs_on_is_never_terminated(
    live_server, tenant, tmp_path: Path, aws: None, imds: FakeImds
) -> None:
    """After a switch the agent acts for the new instance but still runs on the old one (a ZOMBIE now): the old one
    goes by the switch's own step (once the new one runs), or by the new instance's agent — not by this cleanup."""
    host, new = _run("us-east-1"), _run("us-east-1")
    http = httpx.Client(base_url=live_server.url, headers=tenant.headers, timeout=10)
    _on(imds, host, "us-east-1")
    agent = _aws_agent(live_server.url, tenant.token, imds, tmp_path / "state.json")
    agent.register()
    _no_grace(http, agent.agent_id)
    agent.backend.follow(new, "us-east-1")
    agent.register()  # the server now has `new` as PRIMARY and the host as a ZOMBIE
    assert [i["instance_id"] for i in http.get(f"/api/agents/{agent.agent_id}/instances-to-terminate").json()] == [host]

    assert agent.clean_up() == 0
    assert _state("us-east-1", host) == "running"
    assert _roles(http, tenant.id) == {host: "ZOMBIE", new: "PRIMARY"}


def test_a_replaced_instance_waits_for_its_replacement_not_for_the_cleanup(live_server, tenant, tmp_path: Path) -> None:
    cloud = _cloud()
    old_instance, new_instance = cloud.launch(A, "spot", "boot-1"), cloud.launch(B, "spot", "boot-2")
    state = tmp_path / "state.json"
    agent = _agent(live_server.url, tenant.token, cloud, old_instance.id, state)
    agent.register()
    http = httpx.Client(base_url=live_server.url, headers=tenant.headers, timeout=10)
    _no_grace(http, agent.agent_id)
    moved = _agent(live_server.url, tenant.token, cloud, new_instance.id, state)
    moved.register()
    # A switch owes the old instance's termination once its replacement runs (make-before-break).
    moved.store.state.after_report.append(
        {
            "command_id": "c-1",
            "action": "terminate",
            "instance_id": old_instance.id,
            "after_running": "i-not-yet",
            "not_after": (datetime.now(UTC) + timedelta(minutes=10)).isoformat(),
        }
    )
    moved.store.save()

    assert moved.clean_up() == 0
    assert cloud.get(old_instance.id).terminated_at is None
