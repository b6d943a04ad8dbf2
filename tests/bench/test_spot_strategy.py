"""The spot strategy bench's loop through a live server and agents, on a hand-made two-pool day."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from spectra.sim.prices import PricePath
from spectra.spot.decisions.engine import ClientPolicy
from spectra.spot.pricing.formats import PoolKey
from tests.conftest import ADMIN_TOKEN

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

import spot_strategy as bench  # noqa: E402
import spot_strategy_offline as offline  # noqa: E402

START = datetime(2024, 3, 4, tzinfo=UTC)
A = PoolKey("us-east-1", "us-east-1a", "c5a.2xlarge")
B = PoolKey("us-east-1", "us-east-1b", "c5a.2xlarge")
ON_DEMAND = 0.2


def _market() -> offline.Market:
    # A stays at 0.10 USD/h; B starts level with it and drops to 0.04 at 03:00, so moving to B pays for itself.
    paths = {
        A: PricePath(A, [START], [0.10]),
        B: PricePath(B, [START, START + timedelta(hours=3)], [0.10, 0.04]),
    }
    return offline.Market(
        pools=[A, B],
        paths=paths,
        on_demand_price=ON_DEMAND,
        probability={A: 0.0, B: 0.0},  # no interruptions: the day's cost is prices and moves only
        bucket=None,
        start=START,
        end=START + timedelta(days=1),
        synthetic=True,
    )


@pytest.fixture()
def sim_server(live_server, settings_env):
    settings_env(SIM_CLOCK_ENABLED="true", SIM_CLOCK_SPEED="0")
    return live_server


def test_server_switch_is_executed_and_costed(sim_server, tmp_path: Path) -> None:
    market = _market()
    step = timedelta(hours=1)
    times = offline.step_times(market, step)
    assert times[0] == START + step and times[-1] == START + timedelta(hours=23)
    policy = ClientPolicy()
    run = bench.run_through_server(
        sim_server.url, market, times, step, fleet=2, seed=1, policy=policy, workdir=tmp_path, admin_token=ADMIN_TOKEN
    )
    cloud = run.cloud
    assert cloud is not None
    end = times[-1] + step

    # The instance that started in A was moved to B by a command the server's engine sweep issued: the agent
    # launched the new instance with the command's request id as client token and terminated the old one.
    first_a = next(i for i in cloud.instances.values() if i.client_token == "bench-1-0")
    assert first_a.pool == A and first_a.terminated_at is not None
    moved = [i for i in cloud.instances.values() if not i.client_token.startswith("bench-")]
    assert len(moved) == 1 and moved[0].pool == B and moved[0].lifecycle == "spot"
    assert moved[0].launched_at == first_a.terminated_at
    # No look-ahead: B's drop at 03:00 is reported at the 03:00 step, so the earliest move is the next tick.
    switch_at = first_a.terminated_at
    assert START + timedelta(hours=4) <= switch_at <= START + timedelta(hours=8)
    assert run.switches == 1 and run.interruptions == 0 and run.failed_commands == 0
    assert all(i.terminated_at is None for i in cloud.instances.values() if i is not first_a)
    assert run.decision_latencies_ms and min(run.decision_latencies_ms) >= 0

    # Hand-worked accounting over [01:00, 24:00): the mover pays A until the switch, then B, plus one switch cost;
    # the other instance sits in B (0.10 until 03:00, 0.04 after).
    hours_in_a = (switch_at - times[0]).total_seconds() / 3600
    hours_in_b = (end - switch_at).total_seconds() / 3600
    mover = 0.10 * hours_in_a + 0.04 * hours_in_b + policy.switch_cost(ON_DEMAND)
    sitter = 0.10 * 2 + 0.04 * 21
    assert run.cost >= 0
    assert run.cost == pytest.approx(mover + sitter, abs=1e-9)
    assert run.running_cost == pytest.approx(mover + sitter - 0.1 * ON_DEMAND, abs=1e-9)
    assert run.cumulative[-1] == pytest.approx(run.cost, abs=1e-9)

    # The same day's offline "stay" baseline (A and B kept) costs more: the server's move saved money.
    market.step_costs = offline.step_cost_table(market, times, step)
    hits = offline.interrupted_in_step(market, times, step, seed=1)
    stay = offline.simulate(
        "stay", market, times, step, hits, 2, offline.stay_strategy(market), policy.switch_cost(ON_DEMAND), 0.0
    )
    assert stay.cost == pytest.approx(0.10 * 23 + sitter, abs=1e-9)
    assert run.cost < stay.cost
