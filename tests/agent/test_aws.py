"""The AWS backend against moto (EC2) and a local IMDSv2 server."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal

import boto3
import pytest
from moto import mock_aws

from spectra.agent.aws import AwsBackend
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


@pytest.fixture()
def aws(monkeypatch) -> Iterator[None]:
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(key, value)
    with mock_aws():
        yield


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
