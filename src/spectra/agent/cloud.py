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


class CloudBackend(Protocol):
    def identity(self) -> InstanceIdentity: ...

    def spot_prices(self, instance_types: list[str], since: datetime | None = None) -> list[PricePoint]: ...

    def launch(self, instance_type: str, availability_zone: str, lifecycle: str, client_token: str) -> str:
        """Start an instance; `client_token` makes a retried launch return the same instance."""
        ...

    def terminate(self, instance_id: str) -> None: ...

    def notice(self) -> Notice | None: ...
