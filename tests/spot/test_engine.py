"""Decision engine and oracle on hand-worked cases."""

from __future__ import annotations

import itertools
import math
import random

import pytest

from spectra.spot.decisions.engine import (
    Action,
    ClientPolicy,
    CostMinimisingEngine,
    DecisionContext,
    FleetState,
    InstanceState,
    PoolCandidate,
    carbon_cost_per_hour,
    hourly_rate,
    oracle_path,
)

ENGINE = CostMinimisingEngine()
# amortised switching cost = 0.12 / 12 h = 0.01 USD/h; margin = 5 % of the current cost
POLICY = ClientPolicy(
    switch_cost_usd=0.12,
    interruption_cost_usd=0.0,
    amortisation_hours=12.0,
    hysteresis_pct=0.05,
    min_saving_usd_per_hour=0.0,
    min_dwell_hours=2.0,
)


def context(
    *candidates: PoolCandidate,
    current: str | None = "A",
    lifecycle: str = "spot",
    policy: ClientPolicy = POLICY,
    fleet: FleetState | None = None,
    on_demand_price: float = 0.30,
    hours_since_switch: float | None = None,
    replicas: int = 0,
    power_watts: float = 0.0,
) -> DecisionContext:
    counts = {current: 1} if current and lifecycle == "spot" else {}
    return DecisionContext(
        instance=InstanceState("i-1", lifecycle, current, hours_since_switch, replicas, power_watts),
        candidates=candidates,
        on_demand_price=on_demand_price,
        policy=policy,
        fleet=fleet or FleetState(size=1, on_demand=int(lifecycle == "on_demand"), pool_counts=counts),
    )


def pool(pool_id: str, price: float, risk: float = 0.0, **extra: object) -> PoolCandidate:
    return PoolCandidate(pool_id=pool_id, price=price, interruption_probability=risk, **extra)  # type: ignore[arg-type]


def test_switches_when_saving_after_amortised_cost_beats_the_hysteresis_margin() -> None:
    # B: 0.080 + 0.010 amortised = 0.090 → saves 0.010 USD/h > margin 0.005
    decision = ENGINE.decide(context(pool("A", 0.100), pool("B", 0.080)))
    assert decision.action == Action.SWITCH
    assert decision.target_pool_id == "B"
    assert decision.expected_cost_per_hour == pytest.approx(0.080)
    assert decision.current_cost_per_hour == pytest.approx(0.100)


def test_hysteresis_keeps_the_instance_when_the_saving_is_too_small() -> None:
    # B: 0.086 + 0.010 = 0.096 → saves 0.004 < margin 0.005: cheaper, but not by enough to move
    decision = ENGINE.decide(context(pool("A", 0.100), pool("B", 0.086)))
    assert decision.action == Action.STAY
    assert decision.target_pool_id == "A"
    assert "hysteresis" in decision.reason
    # B: 0.094 + 0.010 = 0.104: not even cheaper once the move is paid
    assert ENGINE.decide(context(pool("A", 0.100), pool("B", 0.094))).action == Action.STAY


def test_minimum_dwell_time_blocks_a_quick_second_move() -> None:
    decision = ENGINE.decide(context(pool("A", 0.100), pool("B", 0.080), hours_since_switch=0.5))
    assert decision.action == Action.STAY
    assert "dwell" in decision.reason
    later = ENGINE.decide(context(pool("A", 0.100), pool("B", 0.080), hours_since_switch=2.5))
    assert later.action == Action.SWITCH


def test_interruption_risk_is_priced_in() -> None:
    policy = ClientPolicy(**{**POLICY.__dict__, "interruption_cost_usd": 30.0, "max_interruption_probability": 0.6})
    # B: λ = −ln(1 − 0.5)/730 = 0.000950/h → 0.0285 USD/h of expected interruption cost: 0.080 + 0.0285 > 0.100
    rate = -math.log(0.5) / 730
    assert hourly_rate(0.5) == pytest.approx(rate)
    decision = ENGINE.decide(context(pool("A", 0.100), pool("B", 0.080, risk=0.5), policy=policy))
    assert decision.action == Action.STAY
    safe = ENGINE.decide(context(pool("A", 0.100), pool("B", 0.080, risk=0.01), policy=policy))
    assert safe.action == Action.SWITCH
    assert safe.expected_cost_per_hour == pytest.approx(0.080 + hourly_rate(0.01) * 30.0)
    assert safe.risk == 0.01


def test_diversification_cap_skips_full_pools() -> None:
    policy = ClientPolicy(**{**POLICY.__dict__, "max_pool_share": 0.3})  # fleet of 10 → at most 3 per pool
    fleet = FleetState(size=10, pool_counts={"A": 2, "B": 3, "C": 1})
    decision = ENGINE.decide(context(pool("A", 0.100), pool("B", 0.060), pool("C", 0.070), policy=policy, fleet=fleet))
    assert decision.action == Action.SWITCH
    assert decision.target_pool_id == "C"  # B is cheaper but holds its 3


def test_an_instance_in_an_over_full_pool_moves_out() -> None:
    policy = ClientPolicy(**{**POLICY.__dict__, "max_pool_share": 0.3})
    fleet = FleetState(size=10, pool_counts={"A": 5, "B": 1})
    decision = ENGINE.decide(context(pool("A", 0.090), pool("B", 0.100), policy=policy, fleet=fleet))
    assert decision.action == Action.SWITCH
    assert decision.target_pool_id == "B"
    assert "diversification" in decision.reason


def test_falls_back_to_on_demand_when_every_pool_is_risky_and_returns_when_risk_drops() -> None:
    risky = context(pool("A", 0.100, risk=0.25), pool("B", 0.090, risk=0.30))
    fallback = ENGINE.decide(risky)
    assert fallback.action == Action.FALLBACK_ON_DEMAND
    assert fallback.expected_cost_per_hour == 0.30
    assert fallback.risk == 0.0

    # On on-demand, limit 0.20 − margin 0.025 = 0.175: 0.19 is not safe enough yet, 0.15 is.
    not_yet = ENGINE.decide(context(pool("A", 0.100, risk=0.19), current="A", lifecycle="on_demand"))
    assert not_yet.action == Action.STAY
    back = ENGINE.decide(context(pool("A", 0.100, risk=0.15), current="A", lifecycle="on_demand"))
    assert back.action == Action.RETURN_TO_SPOT
    assert back.target_pool_id == "A"
    assert back.expected_cost_per_hour == pytest.approx(0.100)


def test_falls_back_when_on_demand_is_cheaper_than_any_spot_pool() -> None:
    decision = ENGINE.decide(context(pool("A", 0.32), pool("B", 0.35), on_demand_price=0.30))
    assert decision.action == Action.FALLBACK_ON_DEMAND
    assert "cheaper" in decision.reason


def test_keeps_the_minimum_on_demand_capacity() -> None:
    policy = ClientPolicy(**{**POLICY.__dict__, "min_on_demand_share": 0.2})  # 2 of a fleet of 10
    short = FleetState(size=10, on_demand=1, pool_counts={"A": 9})
    decision = ENGINE.decide(context(pool("A", 0.05), policy=policy, fleet=short))
    assert decision.action == Action.FALLBACK_ON_DEMAND
    assert "minimum on-demand" in decision.reason

    held = FleetState(size=10, on_demand=2, pool_counts={"A": 8})
    on_od = ENGINE.decide(context(pool("A", 0.05), current=None, lifecycle="on_demand", policy=policy, fleet=held))
    assert on_od.action == Action.STAY  # returning would break the minimum, however cheap spot is

    spare = FleetState(size=10, on_demand=3, pool_counts={"A": 7})
    freed = ENGINE.decide(context(pool("A", 0.05), current=None, lifecycle="on_demand", policy=policy, fleet=spare))
    assert freed.action == Action.RETURN_TO_SPOT


def test_carbon_price_can_move_an_instance_to_a_cleaner_region() -> None:
    policy = ClientPolicy(**{**POLICY.__dict__, "switch_cost_usd": 0.0, "hysteresis_pct": 0.02})
    dirty = pool("A", 0.100, carbon_intensity_g_per_kwh=600.0, region="eu-central-1")
    clean = pool("B", 0.104, carbon_intensity_g_per_kwh=50.0, region="eu-north-1")
    without = ENGINE.decide(context(dirty, clean, policy=policy, power_watts=500.0))
    assert without.action == Action.STAY

    priced = ClientPolicy(**{**policy.__dict__, "carbon_price_usd_per_tonne": 100.0})
    # A: 0.5 kW × 600 g/kWh = 300 g/h = 3e-4 t/h × 100 USD/t = 0.030 USD/h; B: 25 g/h → 0.0025 USD/h
    assert carbon_cost_per_hour(500.0, 600.0, 100.0) == pytest.approx(0.030)
    decision = ENGINE.decide(context(dirty, clean, policy=priced, power_watts=500.0))
    assert decision.action == Action.SWITCH
    assert decision.target_pool_id == "B"
    assert decision.expected_cost_per_hour == pytest.approx(0.104 + 0.0025)
    assert decision.current_cost_per_hour == pytest.approx(0.130)


def test_creates_a_replica_when_the_policy_wants_one() -> None:
    policy = ClientPolicy(**{**POLICY.__dict__, "min_replicas": 1})
    decision = ENGINE.decide(context(pool("A", 0.100), policy=policy))
    assert decision.action == Action.CREATE_REPLICA
    assert decision.target_pool_id == "A"
    assert ENGINE.decide(context(pool("A", 0.100), policy=policy, replicas=1)).action == Action.STAY
    # with another pool available the replica goes there: one reclaim must not take both
    elsewhere = ENGINE.decide(context(pool("A", 0.100), pool("B", 0.150), pool("C", 0.120), policy=policy))
    assert (elsewhere.action, elsewhere.target_pool_id) == (Action.CREATE_REPLICA, "C")

    risky = ClientPolicy(**{**POLICY.__dict__, "replica_risk_threshold": 0.10})
    assert ENGINE.decide(context(pool("A", 0.100, risk=0.125), policy=risky)).action == Action.CREATE_REPLICA
    assert ENGINE.decide(context(pool("A", 0.100, risk=0.05), policy=risky)).action == Action.STAY


def test_an_unavailable_current_pool_is_left_at_once() -> None:
    decision = ENGINE.decide(
        context(pool("A", 0.080, available=False), pool("B", 0.100), hours_since_switch=0.1)  # dwell ignored
    )
    assert decision.action == Action.SWITCH
    assert decision.target_pool_id == "B"


def test_auto_switch_off_never_moves_for_price() -> None:
    policy = ClientPolicy(**{**POLICY.__dict__, "auto_switch": False})
    assert ENGINE.decide(context(pool("A", 0.100), pool("B", 0.050), policy=policy)).action == Action.STAY


def test_no_price_data_means_stay() -> None:
    decision = ENGINE.decide(context())
    assert decision.action == Action.STAY
    assert decision.reason == "no price data"


# --------------------------------------------------------------------------- oracle


def test_oracle_hand_worked() -> None:
    costs = [[1.0, 2.0], [5.0, 1.0], [1.0, 3.0]]
    # stay in 0: 7; 0→1→0: 1 + (1 + 1) + (1 + 1) = 5; 0→1→1: 1 + 2 + 3 = 6
    path = oracle_path(costs, switch_cost=1.0, start_state=0)
    assert path.states == [0, 1, 0]
    assert path.cost == pytest.approx(5.0)
    assert path.switches == 2
    # switching costs 3: staying put (7) beats 1 + 4 + 4 = 9
    assert oracle_path(costs, switch_cost=3.0, start_state=0).states == [0, 0, 0]


def test_oracle_free_move_after_an_interruption() -> None:
    costs = [[1.0, 2.0], [5.0, 1.0], [1.0, 3.0]]
    free = [[False, False], [False, True], [False, False]]  # interrupted in state 1 during step 1
    path = oracle_path(costs, switch_cost=1.0, start_state=0, free_move_after=free)
    assert path.states == [0, 1, 0]
    assert path.cost == pytest.approx(4.0)


def _brute_force(costs: list[list[float]], move: float, start: int) -> float:
    best = math.inf
    for states in itertools.product(range(len(costs[0])), repeat=len(costs)):
        total, previous = 0.0, start
        for t, s in enumerate(states):
            total += costs[t][s] + (move if s != previous else 0.0)
            previous = s
        best = min(best, total)
    return best


def test_oracle_matches_brute_force() -> None:
    rng = random.Random(11)
    for _ in range(30):
        costs = [[rng.uniform(0, 3) for _ in range(3)] for _ in range(5)]
        move = rng.uniform(0, 2)
        start = rng.randrange(3)
        assert oracle_path(costs, move, start_state=start).cost == pytest.approx(_brute_force(costs, move, start))


def test_default_costs_scale_with_the_on_demand_price() -> None:
    policy = ClientPolicy(hysteresis_pct=0.0, min_saving_usd_per_hour=0.0)
    assert policy.switch_cost(3.0) == pytest.approx(0.3)  # 0.1 h of on-demand
    assert policy.interruption_cost(3.0) == pytest.approx(3.0)  # 1 h of on-demand
    # A 0.3 USD move over 12 h = 0.025 USD/h: a 0.02 USD/h saving on a big instance does not pay for it …
    big = context(pool("A", 1.00), pool("B", 0.98), policy=policy, on_demand_price=3.0)
    assert ENGINE.decide(big).action == Action.STAY
    # … while the same relative saving with a cheap instance's cheap move (0.01 USD → 0.00083 USD/h) does.
    small = context(pool("A", 0.10), pool("B", 0.098), policy=policy, on_demand_price=0.1)
    assert ENGINE.decide(small).action == Action.SWITCH
