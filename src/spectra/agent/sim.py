"""Simulated backend: the agent drives a SimCloud instance exactly as it would drive EC2.

The simulated cloud has launches and terminations only: a migration or a resize is a replacement (launch in the
target region or with the new type, then terminate the old one); stopping an instance it cannot do.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from spectra.agent.cloud import CloudError, InstanceIdentity, InstanceView, Notice, PricePoint
from spectra.sim.cloud import SimCloud, SimInstance
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

    def launch(
        self,
        instance_type: str,
        availability_zone: str | None,
        lifecycle: str,
        client_token: str,
        region: str | None = None,
    ) -> str:
        current = self.cloud.get(self.instance_id).pool
        region = region or current.region
        if availability_zone is None:
            # Anywhere in the region: the first zone the cloud has this type in, else the region's first zone.
            pools = self.cloud.pools_in(region, [instance_type])
            same = current.availability_zone if region == current.region else None
            availability_zone = same or (pools[0].availability_zone if pools else f"{region}a")
        pool = PoolKey(region, availability_zone, instance_type, current.product_description)
        try:
            return self.cloud.launch(pool, "spot" if lifecycle == "spot" else "on-demand", client_token).id
        except KeyError as exc:
            raise CloudError(f"cannot launch {instance_type} in {availability_zone}: {exc.args[0]}") from exc

    def _get(self, instance_id: str) -> SimInstance:
        try:
            return self.cloud.get(instance_id)
        except KeyError as exc:
            raise CloudError(f"instance {instance_id} not found in the simulated cloud") from exc

    def describe(self, instance_id: str, region: str | None = None) -> InstanceView:
        inst = self._get(instance_id)
        if not inst.running(self.cloud.now):
            state = "terminated"
        else:
            state = "pending" if self.cloud.now < inst.ready_at else "running"
        return InstanceView(
            inst.id, inst.pool.instance_type, inst.pool.availability_zone, inst.pool.region, inst.lifecycle, state
        )

    def wait_running(self, instance_id: str, region: str | None = None) -> InstanceView:
        # Simulated time only moves when the driver says so: a booting instance counts as started.
        view = self.describe(instance_id, region)
        if view.state == "terminated":
            raise CloudError(f"{instance_id} was terminated before it ran")
        return view

    def terminate(self, instance_id: str, region: str | None = None) -> None:
        self.cloud.terminate(instance_id)

    def stop(self, instance_id: str, region: str | None = None, wait: bool = True) -> None:
        raise CloudError("the simulated cloud cannot stop instances (only launch and terminate them)")

    def change_type(self, instance_id: str, instance_type: str, region: str | None = None) -> None:
        raise CloudError("the simulated cloud changes an instance's type only by replacing it")

    def check_allowed(self, action: str, instance_id: str, region: str | None = None) -> None:
        self._get(instance_id)
        if action == "stop":
            self.stop(instance_id, region)  # refuses: the simulated cloud cannot stop instances

    def runs_on(self, instance_id: str) -> bool:
        return instance_id == self.instance_id

    def follow(self, instance_id: str, region: str | None = None) -> None:
        self.instance_id = instance_id

    def notice(self) -> Notice | None:
        return self.cloud.notice(self.instance_id)

    def watch(self, instance_id: str, region: str | None = None) -> Notice | None:
        try:
            inst = self.cloud.get(instance_id)
        except KeyError:
            return Notice("termination", None)
        if not inst.running(self.cloud.now):
            return Notice("termination", inst.terminated_at)
        notice = self.cloud.notice(instance_id)
        return notice if notice is not None and notice.kind == "termination" else None
