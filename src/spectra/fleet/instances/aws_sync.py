"""AWS inventory and cost sync (the full-stack seed's boto3 EC2 + Cost Explorer).

Inventory: `DescribeInstances` in each configured region → the instance upsert (tags → team); an
instance a complete listing no longer shows is marked terminated.
Cost: per-instance daily cost comes from Cost Explorer's `GetCostAndUsageWithResources` grouped by
`RESOURCE_ID` — the only Cost Explorer call that may group by resource (plain `GetCostAndUsage`
refuses that dimension), covering the last 14 days once resource-level data is enabled in the
account. Days without a bill are costed from list prices by the emissions job.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import boto3
from sqlalchemy.orm import Session

from spectra.core.config import get_settings
from spectra.fleet.instances import service
from spectra.fleet.instances.schemas import InstanceSync
from spectra.fleet.settings import service as settings_service

log = logging.getLogger("spectra.fleet.aws_sync")

COST_METRIC = "UnblendedCost"
RESOURCE_DATA_DAYS = 14  # how far back Cost Explorer keeps resource-level data
EC2_COMPUTE = "Amazon Elastic Compute Cloud - Compute"

ClientFactory = Callable[[str, str], Any]  # (service name, region) -> boto3 client


@dataclass(frozen=True)
class AwsConfig:
    client_id: str
    regions: list[str]
    make_client: ClientFactory


def configured(session: Session) -> AwsConfig | str:
    """The sync's configuration, or why it cannot run."""
    client_id = settings_service.global_value(session, "aws_inventory_client_id")
    key_id = settings_service.secret(session, "aws_access_key_id")
    secret_key = settings_service.secret(session, "aws_secret_access_key")
    if not (key_id and secret_key):
        return "no AWS credentials configured"
    if not client_id:
        return "no client owns the AWS account (set aws_inventory_client_id in /api/settings)"
    settings = get_settings()
    regions = list(settings_service.global_value(session, "aws_regions") or []) or [settings.aws_region]

    def make_client(name: str, region: str) -> Any:
        return boto3.client(
            name,  # type: ignore[call-overload]
            region_name=region,
            aws_access_key_id=key_id,
            aws_secret_access_key=secret_key,
            endpoint_url=settings.aws_endpoint_url,
        )

    return AwsConfig(client_id=str(client_id), regions=regions, make_client=make_client)


def _as_sync(raw: dict[str, Any], region: str) -> InstanceSync:
    tags = {t["Key"]: t.get("Value", "") for t in raw.get("Tags", []) if "Key" in t}
    launched = raw.get("LaunchTime")
    if isinstance(launched, datetime):
        launched = launched if launched.tzinfo else launched.replace(tzinfo=UTC)
    return InstanceSync(
        provider="aws",
        source="aws",
        provider_id=raw["InstanceId"],
        name=tags.get("Name"),
        region=region,
        zone=(raw.get("Placement") or {}).get("AvailabilityZone"),
        instance_type=raw["InstanceType"],
        lifecycle="spot" if raw.get("InstanceLifecycle") == "spot" else "on-demand",
        state=(raw.get("State") or {}).get("Name", "running"),
        launched_at=launched or datetime.now(UTC),
        tags={k[:128]: v[:256] for k, v in list(tags.items())[:50]},
    )


def sync_inventory(session: Session, config: AwsConfig) -> dict[str, Any]:
    """Upsert every instance of every configured region; returns counts per region."""
    out: dict[str, Any] = {"created": 0, "updated": 0, "terminated": 0, "regions": {}}
    for region in config.regions:
        ec2 = config.make_client("ec2", region)
        seen: set[str] = set()
        for page in ec2.get_paginator("describe_instances").paginate():
            for reservation in page.get("Reservations", []):
                for raw in reservation.get("Instances", []):
                    _, created = service.upsert_instance(session, config.client_id, _as_sync(raw, region))
                    seen.add(raw["InstanceId"])
                    out["created" if created else "updated"] += 1
        gone = service.mark_missing_terminated(session, config.client_id, "aws", "aws", [region], seen)
        out["terminated"] += gone
        out["regions"][region] = len(seen)
    return out


def sync_costs(session: Session, config: AwsConfig, first_day: date, last_day: date) -> dict[str, Any]:
    """Daily EC2 compute cost per instance for [first_day, last_day] (UTC days), stored as billed cost."""
    ce = config.make_client("ce", "us-east-1")  # Cost Explorer has one endpoint
    request: dict[str, Any] = {
        "TimePeriod": {"Start": first_day.isoformat(), "End": (last_day + timedelta(days=1)).isoformat()},
        "Granularity": "DAILY",
        "Metrics": [COST_METRIC],
        "Filter": {"Dimensions": {"Key": "SERVICE", "Values": [EC2_COMPUTE]}},
        "GroupBy": [{"Type": "DIMENSION", "Key": "RESOURCE_ID"}],
    }
    costs: dict[tuple[str, date], float] = {}
    while True:
        response = ce.get_cost_and_usage_with_resources(**request)
        for period in response.get("ResultsByTime", []):
            day = date.fromisoformat(period["TimePeriod"]["Start"])
            for group in period.get("Groups", []):
                resource = group["Keys"][0]
                amount = float(group["Metrics"][COST_METRIC]["Amount"])
                costs[(resource, day)] = costs.get((resource, day), 0.0) + amount
        token = response.get("NextPageToken")
        if not token:
            break
        request["NextPageToken"] = token
    instances = {
        i.provider_id: i
        for i in service.instances_by_provider_ids(session, "aws", {r for r, _ in costs})
        if i.client_id == config.client_id
    }
    stored = unknown = 0
    for (resource, day), amount in sorted(costs.items()):
        instance = instances.get(resource)
        if instance is None:
            unknown += 1  # a resource we do not track (EBS-only line, another account's instance)
            continue
        service.record_daily_cost(session, instance.id, day, round(amount, 6), "cost_explorer")
        stored += 1
    return {"stored": stored, "unknown_resources": unknown, "first_day": first_day, "last_day": last_day}
