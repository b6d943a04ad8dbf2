"""AWS inventory sync against moto's EC2, and the Cost Explorer part against botocore's Stubber
(moto answers only plain GetCostAndUsage, which cannot group by resource)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws
from sqlalchemy.orm import Session

from spectra.core.clock import clock
from spectra.fleet import repository as fleet_repository
from spectra.fleet.instances import aws_sync, service
from spectra.fleet.instances.tasks import aws_inventory
from spectra.fleet.settings import service as settings_service
from spectra.fleet.settings.schemas import GlobalSettingsIn
from tests.factories import make_tenant
from tests.fleet.factories import make_instance

NOW = datetime(2024, 5, 10, 12, tzinfo=UTC)


@pytest.fixture()
def aws() -> Iterator[None]:
    with mock_aws():
        yield


def _configure(db: Session, client_id: str, regions: list[str]) -> aws_sync.AwsConfig:
    settings_service._apply(
        db,
        "global",
        GlobalSettingsIn(
            aws_access_key_id="AKIATESTTESTTEST",
            aws_secret_access_key="secret-secret-secret",
            aws_regions=regions,
            aws_inventory_client_id=client_id,
        ),
        None,
    )
    config = aws_sync.configured(db)
    assert isinstance(config, aws_sync.AwsConfig)
    return config


def _launch(region: str, instance_type: str, tags: dict[str, str], spot: bool = False) -> str:
    ec2 = boto3.client("ec2", region_name=region)
    image = "ami-12c6146b"  # any id: moto does not check images
    extra: dict[str, Any] = {"InstanceMarketOptions": {"MarketType": "spot"}} if spot else {}
    response = ec2.run_instances(
        ImageId=image,
        InstanceType=instance_type,
        MinCount=1,
        MaxCount=1,
        TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}],
        **extra,
    )
    return str(response["Instances"][0]["InstanceId"])


def test_sync_is_skipped_until_configured(db: Session) -> None:
    assert aws_inventory(db, NOW) == {"skipped": "no AWS credentials configured"}
    settings_service._apply(
        db, "global", GlobalSettingsIn(aws_access_key_id="AKIA1", aws_secret_access_key="s3cr3t-s3cr3t"), None
    )
    assert "aws_inventory_client_id" in aws_inventory(db, NOW)["skipped"]


def test_inventory_sync_reads_every_region_and_maps_tags_to_teams(db: Session, aws: None) -> None:
    acme = make_tenant(db, teams=())
    config = _configure(db, acme.id, ["us-east-1", "eu-west-1"])
    web = _launch("us-east-1", "m5.large", {"Name": "web-1", "team": "checkout"})
    batch = _launch("eu-west-1", "c5.xlarge", {"Team": "ml"}, spot=True)

    clock.set_override(NOW)
    result = aws_sync.sync_inventory(db, config)
    assert (result["created"], result["updated"], result["terminated"]) == (2, 0, 0)
    assert result["regions"] == {"us-east-1": 1, "eu-west-1": 1}

    rows, total = service.list_instances(db, acme.id)
    assert total == 2
    by_id = {i.provider_id: i for i in rows}
    checkout = fleet_repository.team_by_name(db, acme.id, "checkout")
    assert checkout is not None and by_id[web].team_id == checkout.id
    assert (by_id[web].name, by_id[web].instance_type, by_id[web].zone) == ("web-1", "m5.large", "us-east-1a")
    assert by_id[web].lifecycle == "on-demand" and by_id[web].state == "running"
    assert by_id[batch].region == "eu-west-1" and by_id[batch].lifecycle == "spot"

    boto3.client("ec2", region_name="us-east-1").terminate_instances(InstanceIds=[web])
    again = aws_sync.sync_inventory(db, config)
    assert again["created"] == 0
    assert by_id[web].state == "terminated" and by_id[web].terminated_at == NOW


def test_an_instance_the_listing_drops_is_terminated(db: Session, aws: None) -> None:
    acme = make_tenant(db)
    config = _configure(db, acme.id, ["us-east-1"])
    vanished = make_instance(db, acme, source="aws", provider_id="i-0000000000000dead")
    clock.set_override(NOW)
    assert aws_sync.sync_inventory(db, config)["terminated"] == 1
    assert vanished.state == "terminated"


def _ce_page(days: dict[str, dict[str, str]], token: str | None = None) -> dict[str, Any]:
    page: dict[str, Any] = {
        "ResultsByTime": [
            {
                "TimePeriod": {"Start": day, "End": day},
                "Total": {},
                "Groups": [
                    {"Keys": [resource], "Metrics": {"UnblendedCost": {"Amount": amount, "Unit": "USD"}}}
                    for resource, amount in groups.items()
                ],
                "Estimated": False,
            }
            for day, groups in days.items()
        ],
    }
    if token:
        page["NextPageToken"] = token
    return page


def test_cost_sync_stores_daily_cost_per_instance_across_pages(db: Session) -> None:
    acme = make_tenant(db)
    tracked = make_instance(db, acme, source="aws", provider_id="i-0aaa")
    ce = boto3.client("ce", region_name="us-east-1", aws_access_key_id="a", aws_secret_access_key="b")
    expected = {
        "TimePeriod": {"Start": "2024-05-01", "End": "2024-05-03"},
        "Granularity": "DAILY",
        "Metrics": ["UnblendedCost"],
        "Filter": {"Dimensions": {"Key": "SERVICE", "Values": [aws_sync.EC2_COMPUTE]}},
        "GroupBy": [{"Type": "DIMENSION", "Key": "RESOURCE_ID"}],
    }
    with Stubber(ce) as stub:
        stub.add_response(
            "get_cost_and_usage_with_resources",
            _ce_page({"2024-05-01": {"i-0aaa": "2.304", "i-0ther": "9.0"}}, token="page-2"),
            expected,
        )
        stub.add_response(
            "get_cost_and_usage_with_resources",
            _ce_page({"2024-05-02": {"i-0aaa": "1.152"}}),
            {**expected, "NextPageToken": "page-2"},
        )
        config = aws_sync.AwsConfig(acme.id, ["us-east-1"], lambda _name, _region: ce)
        result = aws_sync.sync_costs(db, config, date(2024, 5, 1), date(2024, 5, 2))
        stub.assert_no_pending_responses()
    assert (result["stored"], result["unknown_resources"]) == (2, 1)
    assert service.billed_costs(db, [tracked.id], date(2024, 5, 1), date(2024, 5, 2)) == {
        (tracked.id, date(2024, 5, 1)): 2.304,
        (tracked.id, date(2024, 5, 2)): 1.152,
    }
