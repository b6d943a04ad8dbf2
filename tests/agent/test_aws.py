"""The AWS backend against moto (EC2) and a local IMDSv2 server."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal

import boto3
import pytest

from spectra.agent.aws import AwsBackend, launch_source, parse_launch_templates
from spectra.agent.cloud import CloudError
from tests.agent.fake_imds import FakeImds


@pytest.fixture()
def imds() -> Iterator[FakeImds]:
    fake = FakeImds(
        {
            "/latest/meta-data/instance-id": "i-0123456789abcdef0",
            "/latest/meta-data/instance-type": "m5.large",
            "/latest/meta-data/placement/availability-zone": "us-east-1b",
            "/latest/meta-data/placement/region": "us-east-1",
            "/latest/meta-data/instance-life-cycle": "spot",
            "/latest/meta-data/ami-id": "ami-12c6146b",
        }
    )
    yield fake
    fake.close()


def test_identity_from_imdsv2(imds: FakeImds) -> None:
    identity = AwsBackend(imds.url).identity()
    assert identity.instance_id == "i-0123456789abcdef0"
    assert (identity.instance_type, identity.availability_zone, identity.region) == (
        "m5.large",
        "us-east-1b",
        "us-east-1",
    )
    assert identity.lifecycle == "spot"
    assert imds.token_requests == 1  # one token serves every read


def test_expired_token_is_renewed(imds: FakeImds) -> None:
    backend = AwsBackend(imds.url)
    backend.identity()
    imds.expire_tokens()
    assert backend.notice() is None
    assert imds.token_requests == 2


def test_notices(imds: FakeImds) -> None:
    backend = AwsBackend(imds.url)
    assert backend.notice() is None
    imds.set_rebalance("2026-11-22T10:00:00Z")
    assert backend.notice().kind == "rebalance"
    imds.set_termination("2026-11-22T10:02:00Z")
    notice = backend.notice()
    assert notice.kind == "termination"  # termination outranks rebalance
    assert notice.deadline == datetime(2026, 11, 22, 10, 2, tzinfo=UTC)


def test_spot_prices_launch_and_terminate(imds: FakeImds, aws: None) -> None:
    backend = AwsBackend(imds.url)
    prices = backend.spot_prices(["m5.large"])
    assert prices and {p.instance_type for p in prices} == {"m5.large"}
    assert all(isinstance(p.price_usd_per_hour, Decimal) and p.at.tzinfo is not None for p in prices)

    spot_id = backend.launch("m5.large", "us-east-1a", "spot", client_token="req-1")
    again = backend.launch("m5.large", "us-east-1a", "spot", client_token="req-1")
    ec2 = boto3.client("ec2", region_name="us-east-1")
    described = ec2.describe_instances(InstanceIds=[spot_id])["Reservations"][0]["Instances"][0]
    assert described["InstanceLifecycle"] == "spot"
    assert described["Placement"]["AvailabilityZone"] == "us-east-1a"
    assert again == spot_id, "a retried launch with the same client token must not start a second instance"

    on_demand = backend.launch("m5.large", "us-east-1c", "on-demand", client_token="req-2")
    assert "InstanceLifecycle" not in ec2.describe_instances(InstanceIds=[on_demand])["Reservations"][0]["Instances"][0]
    backend.terminate(spot_id)
    state = ec2.describe_instances(InstanceIds=[spot_id])["Reservations"][0]["Instances"][0]["State"]["Name"]
    assert state in ("shutting-down", "terminated")


def test_launch_templates_from_flags_and_file(tmp_path) -> None:
    config = tmp_path / "agent.json"
    config.write_text('{"launch_templates": {"eu-north-1": "lt-0file", "eu-west-1": "ami-0west"}}')
    templates = parse_launch_templates(["eu-north-1=lt-0flag:3"], config)
    assert templates == {"eu-north-1": "lt-0flag:3", "eu-west-1": "ami-0west"}  # the command line wins
    assert launch_source("lt-0flag:3") == {"LaunchTemplate": {"LaunchTemplateId": "lt-0flag", "Version": "3"}}
    assert launch_source("web-servers") == {"LaunchTemplate": {"LaunchTemplateName": "web-servers"}}
    assert launch_source("ami-0west") == {"ImageId": "ami-0west"}
    with pytest.raises(ValueError, match="REGION=lt-"):
        parse_launch_templates(["lt-0abc"])
    config.write_text('{"launch_templates": ["lt-0abc"]}')
    with pytest.raises(ValueError, match="launch_templates"):
        parse_launch_templates([], config)


def test_another_region_needs_a_template_and_uses_it(imds: FakeImds, aws: None) -> None:
    backend = AwsBackend(imds.url)
    with pytest.raises(CloudError, match="no launch template or AMI for eu-north-1"):
        backend.launch("m5.large", None, "on-demand", "move-1", region="eu-north-1")
    north = boto3.client("ec2", region_name="eu-north-1")
    template = north.create_launch_template(
        LaunchTemplateName="web", LaunchTemplateData={"ImageId": "ami-03cf127a", "InstanceType": "t3.micro"}
    )["LaunchTemplate"]["LaunchTemplateId"]
    backend.launch_templates["eu-north-1"] = template
    launched = backend.launch("m5.large", None, "on-demand", "move-1", region="eu-north-1")
    assert backend.launch("m5.large", None, "on-demand", "move-1", region="eu-north-1") == launched
    view = backend.wait_running(launched, "eu-north-1")
    assert (view.region, view.instance_type, view.state) == ("eu-north-1", "m5.large", "running")
    assert view.availability_zone.startswith("eu-north-1")


def test_change_type_in_place_is_idempotent(aws: None) -> None:
    ec2 = boto3.client("ec2", region_name="us-east-1")
    instance_id = ec2.run_instances(ImageId="ami-12c6146b", InstanceType="m5.xlarge", MinCount=1, MaxCount=1)[
        "Instances"
    ][0]["InstanceId"]
    backend = AwsBackend("http://127.0.0.1:9", region="us-east-1", instance_id=instance_id)
    assert backend.identity().instance_type == "m5.xlarge" and backend.notice() is None
    assert not backend.runs_on(instance_id)  # beside it, not on it
    backend.change_type(instance_id, "m5.large")
    view = backend.describe(instance_id)
    assert (view.instance_type, view.state) == ("m5.large", "running")

    # A repeat (after a crash) finds the work done: the instance is not stopped or modified again.
    def refuse(**_: object) -> None:
        raise AssertionError("the instance was changed again")

    backend.client().stop_instances = refuse
    backend.client().modify_instance_attribute = refuse
    backend.change_type(instance_id, "m5.large")

    spot_id = ec2.run_instances(
        ImageId="ami-12c6146b", InstanceType="m5.large", MinCount=1, MaxCount=1,
        InstanceMarketOptions={"MarketType": "spot", "SpotOptions": {"SpotInstanceType": "one-time"}},
    )["Instances"][0]["InstanceId"]  # fmt: skip
    with pytest.raises(CloudError, match="spot instance"):
        backend.change_type(spot_id, "m5.xlarge")


def test_dry_runs_check_before_the_agent_ends_its_own_instance(imds: FakeImds, aws: None) -> None:
    backend = AwsBackend(imds.url)
    assert backend.runs_on("i-0123456789abcdef0") and not backend.runs_on("i-0other")
    ec2 = boto3.client("ec2", region_name="us-east-1")
    instance_id = ec2.run_instances(ImageId="ami-12c6146b", InstanceType="m5.large", MinCount=1, MaxCount=1)[
        "Instances"
    ][0]["InstanceId"]
    backend.check_allowed("terminate", instance_id)
    backend.check_allowed("stop", instance_id)
    state = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]["State"]["Name"]
    assert state == "running"  # a dry run changes nothing


def test_watching_a_replica_from_ec2(imds: FakeImds, aws: None) -> None:
    """A replica runs on another instance: its health comes from EC2 (state, spot request status), not from IMDS."""
    backend = AwsBackend(imds.url)
    replica = backend.launch("m5.large", "us-east-1c", "spot", client_token="replica-1")
    assert backend.watch(replica) is None  # running, its spot request (if any) fulfilled
    ec2 = boto3.client("ec2", region_name="us-east-1")
    requested = ec2.request_spot_instances(
        SpotPrice="0.1", LaunchSpecification={"ImageId": "ami-12c6146b", "InstanceType": "m5.large"}
    )["SpotInstanceRequests"][0]
    from_request = ec2.describe_spot_instance_requests(SpotInstanceRequestIds=[requested["SpotInstanceRequestId"]])
    request_instance = from_request["SpotInstanceRequests"][0]["InstanceId"]
    assert backend.watch(request_instance) is None  # status "fulfilled": not being reclaimed

    backend.terminate(replica)
    notice = backend.watch(replica)
    assert notice is not None and notice.kind == "termination"
    gone = backend.watch("i-0000000000000dead")  # no such instance (any more)
    assert gone is not None and gone.kind == "termination"
