"""The spot strategy bench's loop through a live server and agents, on a hand-made two-pool day."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from spectra.sim.prices import Interruption, PricePath
from spectra.spot.decisions.engine import ClientPolicy
from spectra.spot.pricing.formats import PoolKey
from tests.conftest import ADMIN_TOKEN, SHARED_DATA

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
    # launched the new instance with the command's request id as client token and terminated the old one once the
    # new one ran (within its loop's 5 s of the boot), so the workload was served throughout.
    first_a = next(i for i in cloud.instances.values() if i.client_token == "bench-1-0")
    assert first_a.pool == A and first_a.terminated_at is not None
    moved = [i for i in cloud.instances.values() if not i.client_token.startswith("bench-")]
    assert len(moved) == 1 and moved[0].pool == B and moved[0].lifecycle == "spot"
    assert moved[0].ready_at <= first_a.terminated_at <= moved[0].ready_at + timedelta(seconds=5)
    # No look-ahead: B's drop at 03:00 is reported at the 03:00 step, so the earliest move is the next tick.
    switch_at, retired_at = moved[0].launched_at, first_a.terminated_at
    assert START + timedelta(hours=4) <= switch_at <= START + timedelta(hours=8)
    assert run.switches == 1 and run.interruptions == 0 and run.failed_commands == 0
    assert all(i.terminated_at is None for i in cloud.instances.values() if i is not first_a)
    assert run.decision_latencies_ms and min(run.decision_latencies_ms) >= 0

    # Hand-worked accounting over [01:00, 24:00): the mover pays A until A is retired, B from the switch (both
    # while B boots), plus one switch cost; the other instance sits in B (0.10 until 03:00, 0.04 after).
    hours_in_a = (retired_at - times[0]).total_seconds() / 3600
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


@pytest.mark.parametrize(
    ("mode", "options"),
    [
        ("on_demand", {"rebalance_lead": None}),
        ("standing_replica", {"rebalance_lead": None, "replicas": True}),
        ("emergency_replica", {"rebalance_lead": timedelta(minutes=10)}),
    ],
)
def test_failover_downtime_is_measured_from_the_notice(
    sim_server, tmp_path: Path, mode: str, options: dict[str, object]
) -> None:
    # Flat prices, one instance in A, A reclaimed once at 04:30 (notice 04:28): only the fail-over path is exercised.
    market = _market()
    market.paths[B] = PricePath(B, [START], [0.10])
    step = timedelta(hours=1)
    times = offline.step_times(market, step)[:6]
    reclaim = START + timedelta(hours=4, minutes=30)
    events = {A: [Interruption(reclaim, A)], B: []}
    run = bench.run_through_server(
        sim_server.url,
        market,
        times,
        step,
        fleet=1,
        seed=3,
        policy=ClientPolicy(),
        workdir=tmp_path,
        admin_token=ADMIN_TOKEN,
        name=mode,
        events=events,
        notice_poll_seconds=5.0,
        **options,  # type: ignore[arg-type]
    )
    cloud = run.cloud
    assert cloud is not None and run.failed_commands == 0
    (failover,) = run.failovers
    notice = reclaim - timedelta(minutes=2)
    assert failover.notice_at == notice and failover.terminate_at == reclaim
    assert notice <= failover.detected_at <= notice + timedelta(seconds=5)
    replacement = cloud.get(failover.replacement_id or "")
    old = cloud.get(failover.instance_id)
    assert old.pool == A and old.terminated_at is not None and old.terminated_at <= reclaim
    assert failover.serving_at is not None
    # (an on-demand replacement goes back to spot at a later engine sweep; it served until then)
    assert replacement.terminated_at is None or replacement.terminated_at > failover.serving_at
    switched = failover.detected_at + timedelta(seconds=failover.handled_seconds)
    assert failover.serving_at == max(switched, replacement.ready_at)
    assert run.downtimes_s == [pytest.approx((failover.serving_at - notice).total_seconds())]
    if mode == "on_demand":
        # A fresh on-demand instance: serving once it has booted (tens of seconds). The old one served meanwhile:
        # the agent terminated it once the replacement ran (seen within its 5 s loop), before the reclaim, so
        # nothing was down.
        assert replacement.lifecycle == "on-demand" and replacement.launched_at == failover.detected_at
        assert failover.serving_at == replacement.ready_at
        assert 30 < run.downtimes_s[0] < 120
        assert replacement.ready_at <= old.terminated_at <= replacement.ready_at + timedelta(seconds=5)
        assert not old.interrupted and run.outages_s == [0.0]
    else:
        # A replica in the other pool, booted long before the notice: the promotion is the whole fail-over.
        assert replacement.pool == B and replacement.ready_at < notice
        assert run.downtimes_s[0] < 10 and run.outages_s == [0.0]
        if mode == "emergency_replica":
            # queued on the rebalance recommendation ten minutes before the reclaim
            assert reclaim - timedelta(minutes=10) <= replacement.launched_at < notice
        else:
            assert replacement.launched_at < reclaim - timedelta(hours=1)  # kept by the engine's policy
    assert run.replica_interruptions == 0 and run.interruptions == 1


def test_a_carbon_priced_run_fills_the_carbon_inputs(sim_server, tmp_path: Path) -> None:
    catalog = SHARED_DATA / "ec2_instances" / "ec2instances_info_export_us-east-1_2022-04-15.csv"
    if not catalog.exists():
        pytest.skip("the shared instance-type export is not here")
    grid = tmp_path / "grid.csv"
    rows = [
        f"{(START - timedelta(hours=h)).strftime('%Y-%m-%d %H:%M:%S')},Nowhere,Test grid,TEST-GRID,300.0,,,,,false,"
        for h in range(1, 10 * 24 + 1)
    ]
    header = (
        "Datetime (UTC),Country,Zone Name,Zone Id,Carbon Intensity gCO₂eq/kWh (direct),"
        "Carbon Intensity gCO₂eq/kWh (LCA),Low Carbon Percentage,Renewable Percentage,Data Source,"
        "Data Estimated,Data Estimation Method"
    )
    grid.write_text("\n".join([header, *reversed(rows)]) + "\n")
    assert bench.configure_carbon(sim_server.url, "us-east-1", grid, catalog, ADMIN_TOKEN) == "TEST-GRID"

    market = _market()
    step = timedelta(hours=1)
    times = offline.step_times(market, step)[:3]
    run = bench.run_through_server(
        sim_server.url,
        market,
        times,
        step,
        fleet=2,
        seed=1,
        policy=ClientPolicy(),
        workdir=tmp_path,
        admin_token=ADMIN_TOKEN,
        carbon_price=190.0,
    )
    assert run.carbon_notes == set()  # c5a.2xlarge is in the imported catalogue; the grid has hours before now
    assert len(run.carbon_costs_per_hour) == len(run.decision_latencies_ms) > 0
    # tens of watts × 300 g/kWh × 190 USD/t: a few ten-thousandths of a USD per hour
    assert all(0.0001 < cost < 0.01 for cost in run.carbon_costs_per_hour)
    assert len(run.carbon_lookups_ms) == len(run.decision_total_ms) == len(run.decision_latencies_ms)
