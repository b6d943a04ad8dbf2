"""A simulated cloud: instances in spot pools whose prices replay real traces (or synthetic paths), with boot
times, Spot-Advisor-driven interruptions announced two minutes ahead, and exact cost accounting.

Time is whatever the driver says (`advance_to`): the demo follows the platform's simulated clock, the
benchmarks step through a trace. Nothing here talks to the server; agents do, over HTTP.
"""

from __future__ import annotations

import bisect
import itertools
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from spectra.agent.cloud import Notice
from spectra.sim.prices import BootTimeModel, Interruption, PricePath
from spectra.spot.pricing.formats import PoolKey

# AWS sends a rebalance recommendation before many interruptions; the simulator gives one this early.
REBALANCE_LEAD = timedelta(minutes=10)


@dataclass
class SimInstance:
    id: str
    pool: PoolKey
    lifecycle: str  # spot | on-demand
    launched_at: datetime
    ready_at: datetime
    client_token: str
    terminated_at: datetime | None = None
    interrupted: bool = False

    def running(self, at: datetime) -> bool:
        return self.terminated_at is None or at < self.terminated_at


@dataclass
class SimCloud:
    paths: Mapping[PoolKey, PricePath]
    on_demand_price: Callable[[PoolKey], float]
    interruptions: Mapping[PoolKey, list[Interruption]]
    boot: BootTimeModel
    now: datetime
    # How long before a reclaim the rebalance recommendation comes; None: never (AWS does not always send one).
    rebalance_lead: timedelta | None = REBALANCE_LEAD
    instances: dict[str, SimInstance] = field(default_factory=dict)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _lock: threading.RLock = field(default_factory=threading.RLock)

    # ------------------------------------------------------------------ time
    def advance_to(self, moment: datetime) -> list[SimInstance]:
        """Move time forward; spot instances whose pool is reclaimed are terminated. Returns those."""
        with self._lock:
            reclaimed = []
            for inst in self.instances.values():
                if inst.lifecycle != "spot" or inst.terminated_at is not None:
                    continue
                event = self.reclaim_of(inst)
                if event is not None and event.terminate_at <= moment:
                    inst.terminated_at, inst.interrupted = event.terminate_at, True
                    reclaimed.append(inst)
            self.now = max(self.now, moment)
            return reclaimed

    def reclaim_of(self, inst: SimInstance) -> Interruption | None:
        """The first reclaim of the instance's pool after it was launched (whether it still runs then or not)."""
        events = self.interruptions.get(inst.pool, [])
        times = [e.terminate_at for e in events]
        position = bisect.bisect_right(times, inst.launched_at)
        return events[position] if position < len(events) else None

    # ------------------------------------------------------------------ instances
    def launch(self, pool: PoolKey, lifecycle: str, client_token: str) -> SimInstance:
        with self._lock:
            for inst in self.instances.values():
                if inst.client_token == client_token:
                    return inst  # a retried launch returns what the first one started
            if lifecycle == "spot" and pool not in self.paths:
                raise KeyError(f"no spot capacity pool {pool.label}")
            boot = self.boot.sample(pool)
            inst = SimInstance(
                id=f"i-sim{next(self._ids):012d}",
                pool=pool,
                lifecycle=lifecycle,
                launched_at=self.now,
                ready_at=self.now + timedelta(seconds=boot),
                client_token=client_token,
            )
            self.instances[inst.id] = inst
            return inst

    def terminate(self, instance_id: str) -> None:
        with self._lock:
            inst = self.instances[instance_id]
            if inst.terminated_at is None:
                inst.terminated_at = self.now

    def get(self, instance_id: str) -> SimInstance:
        return self.instances[instance_id]

    def notice(self, instance_id: str) -> Notice | None:
        inst = self.instances[instance_id]
        if inst.lifecycle != "spot" or not inst.running(self.now):
            return None
        event = self.reclaim_of(inst)
        if event is None:
            return None
        if event.notice_at <= self.now < event.terminate_at:
            return Notice("termination", event.terminate_at)
        if self.rebalance_lead is not None and event.terminate_at - self.rebalance_lead <= self.now < event.notice_at:
            return Notice("rebalance", None)
        return None

    # ------------------------------------------------------------------ prices and cost
    def price(self, pool: PoolKey, lifecycle: str = "spot", at: datetime | None = None) -> float:
        if lifecycle != "spot":
            return self.on_demand_price(pool)
        return self.paths[pool].price_at(at or self.now)

    def pools_in(self, region: str, instance_types: list[str] | None = None) -> list[PoolKey]:
        return sorted(
            p for p in self.paths if p.region == region and (not instance_types or p.instance_type in instance_types)
        )

    def cost(self, instance_id: str, until: datetime | None = None) -> float:
        inst = self.instances[instance_id]
        end = min(x for x in (until or self.now, inst.terminated_at or self.now))
        if inst.lifecycle == "spot":
            return self.paths[inst.pool].cost(inst.launched_at, end)
        return self.on_demand_price(inst.pool) * max((end - inst.launched_at).total_seconds(), 0) / 3600.0
