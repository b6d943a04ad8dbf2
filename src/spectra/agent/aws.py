"""AWS backend: EC2 through boto3, identity and interruption notices from the instance metadata service (IMDSv2)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import boto3
import httpx

from spectra.agent.cloud import InstanceIdentity, Notice, PricePoint

DEFAULT_IMDS = "http://169.254.169.254"
TOKEN_TTL_SECONDS = 21600
REQUEST_TAG = "spectra:request-id"


class ImdsClient:
    """IMDSv2: a session token from PUT /latest/api/token, sent with every GET."""

    def __init__(self, endpoint: str = DEFAULT_IMDS, timeout: float = 2.0) -> None:
        self._http = httpx.Client(base_url=endpoint, timeout=timeout)
        self._token: str | None = None

    def _ensure_token(self) -> str:
        if self._token is None:
            response = self._http.put(
                "/latest/api/token", headers={"X-aws-ec2-metadata-token-ttl-seconds": str(TOKEN_TTL_SECONDS)}
            )
            response.raise_for_status()
            self._token = response.text
        return self._token

    def get(self, path: str) -> str | None:
        """The value at `path`, or None when the service answers 404 (e.g. no pending notice)."""
        for _attempt in range(2):
            response = self._http.get(path, headers={"X-aws-ec2-metadata-token": self._ensure_token()})
            if response.status_code == 401:  # token expired: fetch a new one once
                self._token = None
                continue
            if response.status_code == 404:
                return None
            response.raise_for_status()
            return response.text
        raise RuntimeError("instance metadata service refused two fresh tokens")


class AwsBackend:
    def __init__(
        self,
        imds_endpoint: str = DEFAULT_IMDS,
        region: str | None = None,
        endpoint_url: str | None = None,
        product: str = "Linux/UNIX",
    ) -> None:
        self.imds = ImdsClient(imds_endpoint)
        self._region = region
        self._endpoint_url = endpoint_url
        self._product = product
        self._ec2: Any = None
        self._identity: InstanceIdentity | None = None

    @property
    def ec2(self) -> Any:
        if self._ec2 is None:
            self._ec2 = boto3.client("ec2", region_name=self.identity().region, endpoint_url=self._endpoint_url)
        return self._ec2

    def identity(self) -> InstanceIdentity:
        if self._identity is None:
            az = self.imds.get("/latest/meta-data/placement/availability-zone") or ""
            region = self._region or self.imds.get("/latest/meta-data/placement/region") or az[:-1]
            lifecycle = self.imds.get("/latest/meta-data/instance-life-cycle") or "on-demand"
            self._identity = InstanceIdentity(
                instance_id=self.imds.get("/latest/meta-data/instance-id") or "",
                instance_type=self.imds.get("/latest/meta-data/instance-type") or "",
                availability_zone=az,
                region=region,
                lifecycle="spot" if lifecycle == "spot" else "on-demand",
            )
        return self._identity

    def spot_prices(self, instance_types: list[str], since: datetime | None = None) -> list[PricePoint]:
        params: dict[str, Any] = {"InstanceTypes": instance_types, "ProductDescriptions": [self._product]}
        if since is not None:
            params["StartTime"] = since
        points = []
        for page in self.ec2.get_paginator("describe_spot_price_history").paginate(**params):
            for row in page["SpotPriceHistory"]:
                at = row["Timestamp"]
                points.append(
                    PricePoint(
                        instance_type=row["InstanceType"],
                        availability_zone=row["AvailabilityZone"],
                        product=row["ProductDescription"],
                        price_usd_per_hour=Decimal(row["SpotPrice"]),
                        at=at.astimezone(UTC) if at.tzinfo else at.replace(tzinfo=UTC),
                    )
                )
        return points

    def launch(self, instance_type: str, availability_zone: str, lifecycle: str, client_token: str) -> str:
        # EC2 honours ClientToken, and the request tag lets a restarted agent find what it already launched.
        existing = self.ec2.describe_instances(
            Filters=[
                {"Name": f"tag:{REQUEST_TAG}", "Values": [client_token]},
                {"Name": "instance-state-name", "Values": ["pending", "running"]},
            ]
        )
        for reservation in existing["Reservations"]:
            for instance in reservation["Instances"]:
                return str(instance["InstanceId"])
        image_id = self.imds.get("/latest/meta-data/ami-id") or ""
        params: dict[str, Any] = {
            "ImageId": image_id,
            "InstanceType": instance_type,
            "MinCount": 1,
            "MaxCount": 1,
            "Placement": {"AvailabilityZone": availability_zone},
            "ClientToken": client_token[:64],
            "TagSpecifications": [{"ResourceType": "instance", "Tags": [{"Key": REQUEST_TAG, "Value": client_token}]}],
        }
        if lifecycle == "spot":
            params["InstanceMarketOptions"] = {
                "MarketType": "spot",
                "SpotOptions": {"SpotInstanceType": "one-time", "InstanceInterruptionBehavior": "terminate"},
            }
        response = self.ec2.run_instances(**params)
        return str(response["Instances"][0]["InstanceId"])

    def terminate(self, instance_id: str) -> None:
        self.ec2.terminate_instances(InstanceIds=[instance_id])

    def notice(self) -> Notice | None:
        action = self.imds.get("/latest/meta-data/spot/instance-action")
        if action:
            body = json.loads(action)
            return Notice("termination", _parse_time(body.get("time")))
        rebalance = self.imds.get("/latest/meta-data/events/recommendations/rebalance")
        if rebalance:
            return Notice("rebalance", None)
        return None


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
