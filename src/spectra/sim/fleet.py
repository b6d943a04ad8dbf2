"""Many simulated agents in one process: the demo fleet and the benchmarks' fleet.

The market comes from real `describe-spot-price-history` rows when a file is given, otherwise from synthetic
paths (labelled synthetic). Time follows the server's platform clock (read from `/api/health`), so ticking the
simulated clock moves the fleet too.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import httpx

from spectra.agent.runner import Agent
from spectra.agent.sim import SimBackend
from spectra.agent.state import StateStore
from spectra.agent.transport import ServerClient
from spectra.sim.cloud import SimCloud
from spectra.sim.prices import BootTimeModel, PricePath, interruption_events, replay, synthetic_paths
from spectra.spot.pricing.formats import PoolKey, pools_of, read_price_history

log = logging.getLogger("spectra.sim")

DEMO_TYPES = ("m5.large", "c5.xlarge")
DEMO_ZONES = ("us-east-1a", "us-east-1b", "us-east-1c", "us-east-1d")
# Public list prices (us-east-1, Linux, USD/h) of the demo's instance types, for on-demand fail-over.
DEMO_ON_DEMAND = {"m5.large": 0.096, "c5.xlarge": 0.17, "c5a.2xlarge": 0.308}
# Monthly interruption probability used when no Spot Advisor data is given (the "5-10%" bucket's midpoint).
DEFAULT_MONTHLY_INTERRUPTION = 0.075


@dataclass
class Market:
    cloud: SimCloud
    synthetic: bool
    pools: list[PoolKey] = field(default_factory=list)


def build_market(
    start: datetime,
    days: float = 30.0,
    prices: Path | None = None,
    seed: int = 42,
    align: bool = True,
    monthly_interruption: float = DEFAULT_MONTHLY_INTERRUPTION,
    on_demand: dict[str, float] | None = None,
) -> Market:
    od = {**DEMO_ON_DEMAND, **(on_demand or {})}
    end = start + timedelta(days=days)
    if prices is not None:
        records = read_price_history(prices)
        pools = pools_of(records)
        paths = replay(records, pools)
        first = min(p.start for p in paths.values())
        if align:
            # Replay the trace as if it began now (the demo): same prices and spacing, shifted in time.
            offset = start - first
            paths = {k: PricePath(k, [t + offset for t in p.times], p.prices) for k, p in paths.items()}
        else:
            start = first
        end = start + timedelta(days=days)
        synthetic = False
    else:
        pools = [PoolKey("us-east-1", zone, itype) for itype in DEMO_TYPES for zone in DEMO_ZONES]
        from spectra.sim.prices import SyntheticMarket

        markets = {p: SyntheticMarket(on_demand_price=od.get(p.instance_type, 0.1)) for p in pools}
        paths = synthetic_paths(pools, start - timedelta(days=2), end, seed=seed, market=markets)
        synthetic = True
    interruptions = interruption_events(
        {p: monthly_interruption for p in pools}, start, end + timedelta(days=365), seed=seed
    )
    cloud = SimCloud(
        paths, lambda pool: od.get(pool.instance_type, 0.1), interruptions, BootTimeModel(seed=seed), start
    )
    return Market(cloud, synthetic, pools)


def _follower(backend: SimBackend) -> Callable[[str], None]:
    """After a switch the agent lives on the new instance."""

    def follow(new_instance_id: str) -> None:
        backend.instance_id = new_instance_id

    return follow


class SimFleet:
    """N agents, one per simulated instance, each in its own thread, all against one server."""

    def __init__(
        self,
        server_url: str,
        tokens: list[str],
        market: Market,
        state_dir: Path,
        agents: int,
        seed: int = 42,
        price_interval: float = 60.0,
    ) -> None:
        self.server_url = server_url.rstrip("/")
        self.market = market
        self.stop = threading.Event()
        self.threads: list[threading.Thread] = []
        self.agents: list[Agent] = []
        self.price_interval = price_interval
        rng = random.Random(seed)
        for n in range(agents):
            pool = market.pools[n % len(market.pools)] if market.pools else rng.choice(list(market.cloud.paths))
            inst = market.cloud.launch(pool, "spot", client_token=f"fleet-{seed}-{n}")
            backend = SimBackend(market.cloud, inst.id)
            store = StateStore(state_dir / f"agent-{n}.json")
            server = ServerClient(self.server_url, tokens[n % len(tokens)], store)
            candidates = sorted({p.instance_type for p in market.pools if p.instance_type == pool.instance_type})
            agent = Agent(
                server,
                backend,
                store,
                candidate_types=candidates,
                logical_name=f"sim-{n:03d}",
                on_switch=_follower(backend),
                clock=lambda: market.cloud.now,
            )
            self.agents.append(agent)

    def sync_clock(self) -> datetime | None:
        """Move the simulated cloud to the platform clock's now."""
        try:
            body = httpx.get(f"{self.server_url}/api/health", timeout=5).json()
        except (httpx.HTTPError, ValueError):
            return None
        now = datetime.fromisoformat(body["clock"])
        self.market.cloud.advance_to(now)
        return now

    def start(self) -> None:
        self.sync_clock()
        for agent in self.agents:
            thread = threading.Thread(target=agent.run, args=(self.stop, self.price_interval), daemon=True)
            thread.start()
            self.threads.append(thread)
        ticker = threading.Thread(target=self._follow_clock, daemon=True)
        ticker.start()
        self.threads.append(ticker)

    def _follow_clock(self) -> None:
        while not self.stop.wait(1.0):
            self.sync_clock()

    def shutdown(self) -> None:
        self.stop.set()
        for agent, thread in zip(self.agents, self.threads, strict=False):
            agent.wait_stopped(thread)
        for thread in self.threads[len(self.agents) :]:
            thread.join(timeout=30)
