"""Simulated backend: the agent drives a SimCloud instance exactly as it would drive EC2."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from spectra.agent.cloud import InstanceIdentity, Notice, PricePoint
from spectra.sim.cloud import SimCloud
from spectra.spot.pricing.formats import PoolKey


class SimBackend:
    def __init__(self, cloud: SimCloud, instance_id: str) -> None:
        self.cloud = cloud
        self.instance_id = instance_id  # the instance this agent runs on; moves with switches

    def identity(self) -> InstanceIdentity:
        inst = self.cloud.get(self.instance_id)
        return InstanceIdentity(
            instance_id=inst.id,
            instance_type=inst.pool.instance_type,
            availability_zone=inst.pool.availability_zone,
            region=inst.pool.region,
            lifecycle=inst.lifecycle,
        )

    def spot_prices(self, instance_types: list[str], since: datetime | None = None) -> list[PricePoint]:
        region = self.cloud.get(self.instance_id).pool.region
        points = []
        for pool in self.cloud.pools_in(region, instance_types):
            path = self.cloud.paths[pool]
            start = since or self.cloud.now - timedelta(hours=1)
            moments = [t for t in path.times if start < t <= self.cloud.now] or [self.cloud.now]
            for moment in moments:
                points.append(
                    PricePoint(
                        pool.instance_type,
                        pool.availability_zone,
                        pool.product_description,
                        Decimal(str(path.price_at(moment))),
                        moment,
                    )
                )
        return points

    def launch(self, instance_type: str, availability_zone: str, lifecycle: str, client_token: str) -> str:
        current = self.cloud.get(self.instance_id).pool
        pool = PoolKey(current.region, availability_zone, instance_type, current.product_description)
        return self.cloud.launch(pool, "spot" if lifecycle == "spot" else "on-demand", client_token).id

    def terminate(self, instance_id: str) -> None:
        self.cloud.terminate(instance_id)

    def notice(self) -> Notice | None:
        return self.cloud.notice(self.instance_id)
