"""AWS backend: EC2 through boto3, identity and interruption notices from the instance metadata service (IMDSv2).

The agent runs on its instance (identity from IMDS), or beside it (`instance_id` given: identity from EC2, no
interruption notices). Launches outside the instance's own region need an image there: a launch template or
an AMI per region (`launch_templates`, e.g. from `--launch-template eu-north-1=lt-0abc…`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
import httpx
from botocore.exceptions import ClientError, WaiterError

from spectra.agent.cloud import CloudError, InstanceIdentity, InstanceView, Notice, PricePoint

DEFAULT_IMDS = "http://169.254.169.254"
TOKEN_TTL_SECONDS = 21600
REQUEST_TAG = "spectra:request-id"
WAIT = {"Delay": 5, "MaxAttempts": 120}  # up to 10 minutes for a start or a stop


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


def parse_launch_templates(values: Iterable[str] = (), config_file: Path | None = None) -> dict[str, str]:
    """`REGION=lt-…` / `REGION=lt-…:VERSION` / `REGION=ami-…` / `REGION=template-name` items, and a JSON file
    `{"launch_templates": {"eu-north-1": "lt-…"}}`; the command line wins over the file."""
    templates: dict[str, str] = {}
    if config_file is not None:
        raw = json.loads(config_file.read_text())
        section = raw.get("launch_templates", {}) if isinstance(raw, dict) else None
        if not isinstance(section, dict) or not all(isinstance(v, str) for v in section.values()):
            raise ValueError(f'{config_file}: expected {{"launch_templates": {{"<region>": "lt-…"}}}}')
        templates.update({str(k): v for k, v in section.items()})
    for item in values:
        region, sep, ref = item.partition("=")
        if not sep or not region.strip() or not ref.strip():
            raise ValueError(f"launch template {item!r}: expected REGION=lt-… or REGION=ami-…")
        templates[region.strip()] = ref.strip()
    return templates


def launch_source(ref: str) -> dict[str, Any]:
    """run_instances parameters for a configured reference: an AMI, a launch template id (optionally
    `:version`) or a launch template name."""
    if ref.startswith("ami-"):
        return {"ImageId": ref}
    name, _, version = ref.partition(":")
    template: dict[str, str] = {"LaunchTemplateId" if name.startswith("lt-") else "LaunchTemplateName": name}
    if version:
        template["Version"] = version
    return {"LaunchTemplate": template}


def _view(instance: dict[str, Any], region: str) -> InstanceView:
    return InstanceView(
        instance_id=str(instance["InstanceId"]),
        instance_type=str(instance["InstanceType"]),
        availability_zone=str(instance.get("Placement", {}).get("AvailabilityZone") or ""),
        region=region,
        lifecycle="spot" if instance.get("InstanceLifecycle") == "spot" else "on-demand",
        state=str(instance["State"]["Name"]),
    )


class AwsBackend:
    def __init__(
        self,
        imds_endpoint: str = DEFAULT_IMDS,
        region: str | None = None,
        endpoint_url: str | None = None,
        product: str = "Linux/UNIX",
        launch_templates: dict[str, str] | None = None,
        instance_id: str | None = None,
    ) -> None:
        self.imds = ImdsClient(imds_endpoint)
        self._region = region
        self._endpoint_url = endpoint_url
        self._product = product
        self.launch_templates = dict(launch_templates or {})
        # Set: the agent runs beside this instance (not on it) and learns about it from EC2.
        self._managed_id = instance_id
        if instance_id is not None and region is None:
            raise ValueError("an agent beside its instance (instance_id) needs the instance's region")
        self._clients: dict[str, Any] = {}
        self._identity: InstanceIdentity | None = None
        self._host_id: str | None = None

    # ------------------------------------------------------------------ clients and identity
    def client(self, region: str | None = None) -> Any:
        name = region or self.identity().region
        if name not in self._clients:
            self._clients[name] = boto3.client("ec2", region_name=name, endpoint_url=self._endpoint_url)
        return self._clients[name]

    @property
    def ec2(self) -> Any:
        return self.client()

    def identity(self) -> InstanceIdentity:
        if self._identity is None:
            if self._managed_id is not None:
                assert self._region is not None
                view = self.describe(self._managed_id, self._region)
                self._identity = InstanceIdentity(
                    view.instance_id, view.instance_type, view.availability_zone, view.region, view.lifecycle
                )
                return self._identity
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

    def runs_on(self, instance_id: str) -> bool:
        if self._managed_id is not None:
            return False
        if self._host_id is None:
            self._host_id = self.imds.get("/latest/meta-data/instance-id") or ""
        return instance_id == self._host_id

    def follow(self, instance_id: str, region: str | None = None) -> None:
        view = self.describe(instance_id, region)
        self._identity = InstanceIdentity(
            view.instance_id, view.instance_type, view.availability_zone, view.region, view.lifecycle
        )

    # ------------------------------------------------------------------ prices
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

    # ------------------------------------------------------------------ instances
    def describe(self, instance_id: str, region: str | None = None) -> InstanceView:
        name = region or self.identity().region
        try:
            reservations = self.client(name).describe_instances(InstanceIds=[instance_id])["Reservations"]
        except ClientError as exc:
            raise CloudError(f"cannot describe {instance_id} in {name}: {exc}") from exc
        for reservation in reservations:
            for instance in reservation["Instances"]:
                return _view(instance, name)
        raise CloudError(f"instance {instance_id} not found in {name}")

    def _raw(self, instance_id: str, region: str) -> dict[str, Any]:
        reservations = self.client(region).describe_instances(InstanceIds=[instance_id])["Reservations"]
        return dict(reservations[0]["Instances"][0])

    def _image(self, region: str) -> dict[str, Any]:
        """Where a launch in `region` takes its image from: the configured template or AMI of that region, else
        (in the agent's own region) the image of the agent's instance."""
        if region in self.launch_templates:
            return launch_source(self.launch_templates[region])
        me = self.identity()
        if region == me.region:
            image = None if self._managed_id else self.imds.get("/latest/meta-data/ami-id")
            image = image or self._raw(me.instance_id, region).get("ImageId")
            if image:
                return {"ImageId": image}
        known = ", ".join(sorted(self.launch_templates)) or "none"
        raise CloudError(
            f"no launch template or AMI for {region} (configured: {known}); start the agent with "
            f"--launch-template {region}=lt-… (or =ami-…)"
        )

    def _user_tags(self) -> list[dict[str, str]]:
        """The agent's instance's own tags (team, Name, …), so inventory and cost reports see the replacement as
        the same workload."""
        me = self.identity()
        try:
            tags = self._raw(me.instance_id, me.region).get("Tags", [])
        except (ClientError, IndexError, KeyError):
            return []
        return [t for t in tags if not str(t.get("Key", "")).startswith(("aws:", "spectra:"))]

    def launch(
        self,
        instance_type: str,
        availability_zone: str | None,
        lifecycle: str,
        client_token: str,
        region: str | None = None,
    ) -> str:
        region = region or self.identity().region
        ec2 = self.client(region)
        # EC2 honours ClientToken, and the request tag lets a restarted agent find what it already launched.
        existing = ec2.describe_instances(
            Filters=[
                {"Name": f"tag:{REQUEST_TAG}", "Values": [client_token]},
                {"Name": "instance-state-name", "Values": ["pending", "running"]},
            ]
        )
        for reservation in existing["Reservations"]:
            for instance in reservation["Instances"]:
                return str(instance["InstanceId"])
        params: dict[str, Any] = {
            **self._image(region),
            "InstanceType": instance_type,
            "MinCount": 1,
            "MaxCount": 1,
            "ClientToken": client_token[:64],
            "TagSpecifications": [
                {"ResourceType": "instance", "Tags": [*self._user_tags(), {"Key": REQUEST_TAG, "Value": client_token}]}
            ],
        }
        if availability_zone:
            params["Placement"] = {"AvailabilityZone": availability_zone}
        if lifecycle == "spot":
            params["InstanceMarketOptions"] = {
                "MarketType": "spot",
                "SpotOptions": {"SpotInstanceType": "one-time", "InstanceInterruptionBehavior": "terminate"},
            }
        try:
            response = ec2.run_instances(**params)
        except ClientError as exc:
            raise CloudError(f"launch of {instance_type} in {region} refused: {exc}") from exc
        return str(response["Instances"][0]["InstanceId"])

    def wait_running(self, instance_id: str, region: str | None = None) -> InstanceView:
        try:
            self.client(region).get_waiter("instance_running").wait(InstanceIds=[instance_id], WaiterConfig=WAIT)
        except WaiterError as exc:
            raise CloudError(f"{instance_id} did not reach running: {exc}") from exc
        return self.describe(instance_id, region)

    def terminate(self, instance_id: str, region: str | None = None) -> None:
        try:
            self.client(region).terminate_instances(InstanceIds=[instance_id])
        except ClientError as exc:
            # EC2 forgets a terminated instance after about an hour: one it no longer knows is gone already.
            if exc.response.get("Error", {}).get("Code") != "InvalidInstanceID.NotFound":
                raise

    def stop(self, instance_id: str, region: str | None = None, wait: bool = True) -> None:
        try:
            self.client(region).stop_instances(InstanceIds=[instance_id])
            if wait:
                self.client(region).get_waiter("instance_stopped").wait(InstanceIds=[instance_id], WaiterConfig=WAIT)
        except (ClientError, WaiterError) as exc:
            raise CloudError(f"cannot stop {instance_id}: {exc}") from exc

    def change_type(self, instance_id: str, instance_type: str, region: str | None = None) -> None:
        view = self.describe(instance_id, region)
        if view.lifecycle == "spot":
            raise CloudError(f"{instance_id} is a spot instance: EC2 cannot stop it to change its type")
        ec2 = self.client(region)
        try:
            if view.instance_type != instance_type:
                if view.state != "stopped":
                    self.stop(instance_id, region, wait=True)
                ec2.modify_instance_attribute(InstanceId=instance_id, InstanceType={"Value": instance_type})
            if self.describe(instance_id, region).state in ("stopped", "stopping"):
                ec2.start_instances(InstanceIds=[instance_id])
        except ClientError as exc:
            raise CloudError(f"cannot change {instance_id} to {instance_type}: {exc}") from exc
        self.wait_running(instance_id, region)

    def check_allowed(self, action: str, instance_id: str, region: str | None = None) -> None:
        call = {"terminate": "terminate_instances", "stop": "stop_instances"}[action]
        try:
            getattr(self.client(region), call)(InstanceIds=[instance_id], DryRun=True)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "DryRunOperation":
                return
            raise CloudError(f"not allowed to {action} {instance_id}: {exc}") from exc

    def notice(self) -> Notice | None:
        if self._managed_id is not None:
            return None  # notices are only visible on the instance itself
        action = self.imds.get("/latest/meta-data/spot/instance-action")
        if action:
            body = json.loads(action)
            return Notice("termination", _parse_time(body.get("time")))
        rebalance = self.imds.get("/latest/meta-data/events/recommendations/rebalance")
        if rebalance:
            return Notice("rebalance", None)
        return None

    def watch(self, instance_id: str, region: str | None = None) -> Notice | None:
        """From EC2 (no metadata service reaches another instance): the instance's state, and for a spot instance
        its spot request's status, which says `marked-for-termination` from the two-minute warning on. An API error
        other than "no such instance" says nothing about the instance: None, asked again on the next loop."""
        ec2 = self.client(region)
        try:
            reservations = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "InvalidInstanceID.NotFound":
                return Notice("termination", None)
            return None
        found = [i for r in reservations for i in r["Instances"]]
        if not found or found[0]["State"]["Name"] in GONE:
            return Notice("termination", None)
        request_id = found[0].get("SpotInstanceRequestId")
        if not request_id:
            return None
        try:
            requests = ec2.describe_spot_instance_requests(SpotInstanceRequestIds=[request_id])
        except ClientError:
            return None
        for request in requests.get("SpotInstanceRequests", []):
            status = request.get("Status", {})
            if status.get("Code") in RECLAIMING:
                since = status.get("UpdateTime")
                if isinstance(since, datetime):
                    since = since.astimezone(UTC) if since.tzinfo else since.replace(tzinfo=UTC)
                    return Notice("termination", since + timedelta(minutes=2))
                return Notice("termination", None)
        return None


# Spot request states of an instance EC2 is reclaiming (the two-minute warning) or has reclaimed.
RECLAIMING = {
    "marked-for-termination",
    "marked-for-stop",
    "instance-terminated-by-price",
    "instance-terminated-no-capacity",
    "instance-terminated-capacity-oversubscribed",
    "instance-terminated-launch-group-constraint",
}
GONE = {"shutting-down", "terminated", "stopping", "stopped"}


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
