"""What the agent needs from a cloud, as one interface with an AWS and a simulated implementation."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Protocol


@dataclass(frozen=True)
class InstanceIdentity:
    instance_id: str
    instance_type: str
    availability_zone: str
    region: str
    lifecycle: str  # "spot" | "on-demand"


@dataclass(frozen=True)
class InstanceView:
    """An instance as the cloud describes it now."""

    instance_id: str
    instance_type: str
    availability_zone: str
    region: str
    lifecycle: str  # "spot" | "on-demand"
    state: str  # pending | running | stopping | stopped | shutting-down | terminated


@dataclass(frozen=True)
class PricePoint:
    instance_type: str
    availability_zone: str
    product: str
    price_usd_per_hour: Decimal
    at: datetime


@dataclass(frozen=True)
class Notice:
    kind: str  # "rebalance" | "termination"
    deadline: datetime | None  # termination: when the instance is reclaimed


class CloudError(RuntimeError):
    """The cloud cannot do what a command asks (no image for a region, an operation it does not offer); the
    message is what the command's failure report says."""


class CloudBackend(Protocol):
    def identity(self) -> InstanceIdentity: ...

    def spot_prices(self, instance_types: list[str], since: datetime | None = None) -> list[PricePoint]: ...

    def launch(
        self,
        instance_type: str,
        availability_zone: str | None,
        lifecycle: str,
        client_token: str,
        region: str | None = None,
    ) -> str:
        """Start an instance (in `region`, default the agent's; anywhere in it when no zone is given);
        `client_token` makes a retried launch return the same instance."""
        ...

    def terminate(self, instance_id: str, region: str | None = None) -> None: ...

    def notice(self) -> Notice | None: ...

    def watch(self, instance_id: str, region: str | None = None) -> Notice | None:
        """The health of another instance this agent manages (a replica it launched): a termination notice when
        the cloud is reclaiming it or it is gone (deadline, when known), else None."""
        ...

    def describe(self, instance_id: str, region: str | None = None) -> InstanceView: ...

    def wait_running(self, instance_id: str, region: str | None = None) -> InstanceView: ...

    def stop(self, instance_id: str, region: str | None = None, wait: bool = True) -> None: ...

    def change_type(self, instance_id: str, instance_type: str, region: str | None = None) -> None:
        """Stop → change the type → start, on the same instance; a step already done is skipped, so a repeat
        after a crash changes nothing more. CloudError where the cloud cannot do it (spot instances)."""
        ...

    def check_allowed(self, action: str, instance_id: str, region: str | None = None) -> None:
        """Raise CloudError unless `action` ("terminate" | "stop") on the instance would be allowed (a dry run)."""
        ...

    def runs_on(self, instance_id: str) -> bool:
        """Whether this agent runs on that instance (stopping or terminating it ends the agent too)."""
        ...

    def follow(self, instance_id: str, region: str | None = None) -> None:
        """From now on the agent's instance is this one (its workload moved there)."""
        ...
