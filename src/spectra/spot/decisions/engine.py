"""Switching decisions: one interface, the default cost-minimising engine, and the perfect-hindsight oracle.

Pure: every input (prices, risks, fleet counts, carbon intensity) arrives in the DecisionContext as numbers.

Expected cost per hour of running in pool p (USD/h):

    cost(p) = price(p)
            + λ(p) × interruption_cost                     λ = hourly interruption rate from the monthly probability
            + volatility_weight × volatility(p) × price(p)  optional premium for unsteady pools
            + carbon_price × power_kW × intensity(p) / 1e6  carbon price in USD/tCO2e, intensity in gCO2e/kWh
            + switch_cost / amortisation_hours              only when p is not where the instance runs now

power is what one instance draws from the grid (IT power × the data centre's PUE), per pool when pools of several
instance types compete, else the instance's own; intensity is the forecast for the pool's region over the decision
horizon. With a carbon price every decision's reason states the emissions cost per hour of where the instance ends
up (and of where it is, when it moves).

On-demand costs its list price (+ carbon) and has no interruption risk. The instance moves only when the best
candidate is cheaper than where it is by more than max(min_saving_usd_per_hour, hysteresis_pct × current cost)
and it has stayed at least `min_dwell_hours` (hysteresis: no flapping between near-equal pools). A pool holding
its cap share of the client's fleet takes nobody new (diversification). When every pool is riskier than
`max_interruption_probability`, or on-demand is cheaper, the instance falls back to on-demand; it returns to spot
once a pool is at least `return_risk_margin` below the risk limit and cheaper by the hysteresis margin.
A configured minimum share of on-demand capacity and a minimum replica count are held before any saving.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Protocol

HOURS_PER_MONTH = 730.0


class Action(StrEnum):
    STAY = "stay"
    SWITCH = "switch"
    CREATE_REPLICA = "create_replica"
    FALLBACK_ON_DEMAND = "fallback_on_demand"
    RETURN_TO_SPOT = "return_to_spot"


@dataclass(frozen=True)
class PoolCandidate:
    """A pool with its canonical features (see pricing.pipeline.CanonicalFeatures)."""

    pool_id: str
    price: float  # USD/h, current spot price
    interruption_probability: float = 0.0  # per instance-month (Spot Advisor bucket → probability)
    interruption_bucket: int | None = None
    volatility: float = 0.0
    hours_since_change: float = 0.0
    region: str | None = None
    availability_zone: str | None = None
    carbon_intensity_g_per_kwh: float | None = None  # forecast for the region over the decision horizon
    boot_seconds: float | None = None
    available: bool = True  # False: capacity unavailable or an interruption notice is active there
    instance_type: str | None = None
    power_watts: float | None = None  # grid draw of one instance of this pool's type; None: the instance's own


@dataclass(frozen=True)
class InstanceState:
    instance_id: str
    lifecycle: str = "spot"  # spot | on_demand
    pool_id: str | None = None  # the pool it runs in (spot) — or where it would return to
    hours_since_switch: float | None = None  # None: never switched
    replicas: int = 0
    power_watts: float = 0.0  # grid draw (IT power × PUE), for the carbon price
    region: str | None = None
    instance_type: str | None = None


@dataclass(frozen=True)
class FleetState:
    """The client's fleet right now (this instance included)."""

    size: int = 1
    on_demand: int = 0
    pool_counts: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class ClientPolicy:
    auto_switch: bool = True
    # One move (boot overlap + disruption) and one interruption (lost work + recovery). In USD when set;
    # otherwise in hours of the instance's on-demand price, so the defaults scale with the instance's size.
    switch_cost_usd: float | None = None
    interruption_cost_usd: float | None = None
    switch_cost_on_demand_hours: float = 0.1
    interruption_cost_on_demand_hours: float = 1.0
    amortisation_hours: float = 12.0  # a move's cost is spread over this many hours of the new pool
    hysteresis_pct: float = 0.03  # required relative saving before moving
    min_saving_usd_per_hour: float = 0.0005
    min_dwell_hours: float = 2.0
    max_pool_share: float = 1.0  # diversification cap: share of the fleet allowed in one pool
    max_interruption_probability: float = 0.20  # monthly; riskier pools are not eligible
    return_risk_margin: float = 0.025  # return to spot only this far under the risk limit
    volatility_weight: float = 0.0
    min_on_demand_share: float = 0.0
    min_replicas: int = 0
    replica_risk_threshold: float | None = None  # monthly probability above which a replica is kept
    carbon_price_usd_per_tonne: float = 0.0
    # Also consider pools of other instance types of the same size (vCPUs, memory, CPU architecture) in the region;
    # the one place where a carbon price can tell pools of one region apart (their power differs).
    similar_instance_types: bool = False

    def switch_cost(self, on_demand_price: float) -> float:
        if self.switch_cost_usd is not None:
            return self.switch_cost_usd
        return self.switch_cost_on_demand_hours * on_demand_price

    def interruption_cost(self, on_demand_price: float) -> float:
        if self.interruption_cost_usd is not None:
            return self.interruption_cost_usd
        return self.interruption_cost_on_demand_hours * on_demand_price


@dataclass(frozen=True)
class DecisionContext:
    instance: InstanceState
    candidates: Sequence[PoolCandidate]  # the pools it could run in (the current one included)
    on_demand_price: float
    policy: ClientPolicy = ClientPolicy()
    fleet: FleetState = FleetState()
    advisor_bucket: int | None = None  # Spot Advisor bucket of the instance's type in its region
    on_demand_carbon_intensity_g_per_kwh: float | None = None

    @property
    def current_pool(self) -> PoolCandidate | None:
        if self.instance.lifecycle != "spot" or self.instance.pool_id is None:
            return None
        for candidate in self.candidates:
            if candidate.pool_id == self.instance.pool_id:
                return candidate
        return None


@dataclass(frozen=True)
class Decision:
    action: Action
    target_pool_id: str | None
    expected_cost_per_hour: float  # of the state the instance ends up in (USD/h, before switching cost)
    risk: float  # monthly interruption probability of that state
    reason: str
    current_cost_per_hour: float | None = None
    carbon_cost_per_hour: float | None = None  # emissions cost of the end state, when carbon is priced
    current_carbon_cost_per_hour: float | None = None


class DecisionEngine(Protocol):
    name: str

    def decide(self, context: DecisionContext) -> Decision: ...


def hourly_rate(monthly_probability: float) -> float:
    """Interruptions per hour from the probability of at least one in a month (Poisson)."""
    p = min(max(monthly_probability, 0.0), 0.999999)
    return -math.log1p(-p) / HOURS_PER_MONTH


def carbon_cost_per_hour(power_watts: float, intensity_g_per_kwh: float | None, price_usd_per_tonne: float) -> float:
    if not price_usd_per_tonne or intensity_g_per_kwh is None or power_watts <= 0:
        return 0.0
    grams_per_hour = power_watts / 1000.0 * intensity_g_per_kwh
    return grams_per_hour / 1e6 * price_usd_per_tonne


@dataclass(frozen=True)
class _Scored:
    pool: PoolCandidate
    run_cost: float  # USD/h, without the move
    total_cost: float  # with the amortised move when it is not the current pool


class CostMinimisingEngine:
    """The default engine (see the module docstring for the formula and rules)."""

    name = "cost-minimising-v1"

    def carbon_cost(self, context: DecisionContext, pool: PoolCandidate) -> float:
        power = pool.power_watts if pool.power_watts is not None else context.instance.power_watts
        return carbon_cost_per_hour(power, pool.carbon_intensity_g_per_kwh, context.policy.carbon_price_usd_per_tonne)

    def on_demand_carbon_cost(self, context: DecisionContext) -> float:
        return carbon_cost_per_hour(
            context.instance.power_watts,
            context.on_demand_carbon_intensity_g_per_kwh,
            context.policy.carbon_price_usd_per_tonne,
        )

    def run_cost(self, context: DecisionContext, pool: PoolCandidate) -> float:
        policy = context.policy
        return (
            pool.price
            + hourly_rate(pool.interruption_probability) * policy.interruption_cost(context.on_demand_price)
            + policy.volatility_weight * pool.volatility * pool.price
            + self.carbon_cost(context, pool)
        )

    def on_demand_cost(self, context: DecisionContext) -> float:
        return context.on_demand_price + self.on_demand_carbon_cost(context)

    def _cap(self, context: DecisionContext) -> int:
        share = min(max(context.policy.max_pool_share, 0.0), 1.0)
        return max(1, math.floor(share * max(context.fleet.size, 1) + 1e-9))

    def _eligible(self, context: DecisionContext, current_id: str | None) -> list[_Scored]:
        policy = context.policy
        cap = self._cap(context)
        amortised = policy.switch_cost(context.on_demand_price) / max(policy.amortisation_hours, 1e-9)
        out = []
        for pool in context.candidates:
            if not pool.available or pool.interruption_probability > policy.max_interruption_probability:
                continue
            occupants = context.fleet.pool_counts.get(pool.pool_id, 0)
            if pool.pool_id == current_id:
                if occupants > cap:  # over the cap already: this instance should leave
                    continue
            elif occupants + 1 > cap:
                continue
            run = self.run_cost(context, pool)
            out.append(_Scored(pool, run, run + (0.0 if pool.pool_id == current_id else amortised)))
        out.sort(key=lambda s: (s.total_cost, s.pool.pool_id))
        return out

    def _margin(self, policy: ClientPolicy, cost: float) -> float:
        return max(policy.min_saving_usd_per_hour, policy.hysteresis_pct * cost)

    def decide(self, context: DecisionContext) -> Decision:
        decision = self._decide(context)
        if context.policy.carbon_price_usd_per_tonne <= 0:
            return decision
        return self._with_carbon(context, decision)

    def _state_carbon(self, context: DecisionContext, pool_id: str | None, on_demand: bool) -> float | None:
        if on_demand:
            return self.on_demand_carbon_cost(context)
        pool = next((c for c in context.candidates if c.pool_id == pool_id), None)
        return self.carbon_cost(context, pool) if pool is not None else None

    def _with_carbon(self, context: DecisionContext, decision: Decision) -> Decision:
        """The emissions cost per hour of where the instance ends up (and of where it is, when it moves)."""
        instance = context.instance
        on_demand_now = instance.lifecycle != "spot"
        current = self._state_carbon(context, instance.pool_id, on_demand_now)
        if decision.action == Action.FALLBACK_ON_DEMAND:
            end = self._state_carbon(context, None, True)
        elif decision.action in (Action.SWITCH, Action.RETURN_TO_SPOT):
            end = self._state_carbon(context, decision.target_pool_id, False)
        else:  # stays where it is (a replica does not move the instance)
            end = current
        price = context.policy.carbon_price_usd_per_tonne
        moves = decision.action in (Action.SWITCH, Action.RETURN_TO_SPOT, Action.FALLBACK_ON_DEMAND)
        note = f"emissions cost {end:.4f} USD/h" if end is not None else "emissions cost unknown"
        if moves and current is not None:
            note += f" (now {current:.4f} USD/h)"
        note += f" at {price:g} USD/tCO2e"
        return replace(
            decision,
            reason=f"{decision.reason}; {note}",
            carbon_cost_per_hour=end,
            current_carbon_cost_per_hour=current,
        )

    def _decide(self, context: DecisionContext) -> Decision:
        policy = context.policy
        instance = context.instance
        od_cost = self.on_demand_cost(context)
        required_od = math.ceil(policy.min_on_demand_share * context.fleet.size - 1e-9)
        on_spot = instance.lifecycle == "spot"
        current = context.current_pool
        current_cost = self.run_cost(context, current) if current is not None else (od_cost if not on_spot else None)

        if on_spot and context.fleet.on_demand < required_od:
            return Decision(
                Action.FALLBACK_ON_DEMAND,
                None,
                od_cost,
                0.0,
                f"minimum on-demand capacity: {context.fleet.on_demand} of {required_od} required",
                current_cost,
            )

        if not context.candidates:
            return Decision(Action.STAY, instance.pool_id, current_cost or od_cost, 0.0, "no price data", current_cost)

        replica = self._replica_decision(context, current, current_cost)

        if not on_spot:
            return self._decide_on_demand(context, od_cost, required_od)

        eligible = self._eligible(context, instance.pool_id)
        if not eligible or eligible[0].total_cost >= od_cost:
            why = "every pool is over the risk limit or full" if not eligible else "on-demand is cheaper than spot"
            if current is not None and current.available and not eligible:
                why = (
                    f"every pool is over the risk limit ({policy.max_interruption_probability:.0%}/month) or at its cap"
                )
            return Decision(Action.FALLBACK_ON_DEMAND, None, od_cost, 0.0, why, current_cost)

        best = eligible[0]
        current_scored = next((s for s in eligible if s.pool.pool_id == instance.pool_id), None)
        if current is None or current_scored is None:
            reason = "current pool unavailable" if current is None or not current.available else ""
            if current is not None and current.available:
                reason = (
                    "current pool over the risk limit"
                    if current.interruption_probability > policy.max_interruption_probability
                    else "diversification cap: current pool holds more than its share"
                )
            return Decision(
                Action.SWITCH,
                best.pool.pool_id,
                best.run_cost,
                best.pool.interruption_probability,
                f"{reason}; moving to {best.pool.pool_id} at {best.run_cost:.4f} USD/h",
                current_cost,
            )

        if not policy.auto_switch:
            return replica or self._stay(current_scored, "auto-switch is off")
        if best.pool.pool_id == current_scored.pool.pool_id:
            return replica or self._stay(current_scored, "already in the cheapest eligible pool")
        margin = self._margin(policy, current_scored.run_cost)
        saving = current_scored.run_cost - best.total_cost
        if saving <= margin:
            return replica or self._stay(
                current_scored,
                f"best alternative {best.pool.pool_id} saves {saving:.4f} USD/h after switching cost,"
                f" under the {margin:.4f} USD/h hysteresis margin",
            )
        if instance.hours_since_switch is not None and instance.hours_since_switch < policy.min_dwell_hours:
            return replica or self._stay(
                current_scored,
                f"switched {instance.hours_since_switch:.2f} h ago (minimum dwell {policy.min_dwell_hours} h)",
            )
        return Decision(
            Action.SWITCH,
            best.pool.pool_id,
            best.run_cost,
            best.pool.interruption_probability,
            f"{best.pool.pool_id} saves {saving:.4f} USD/h after amortised switching cost"
            f" (current {current_scored.run_cost:.4f}, margin {margin:.4f})",
            current_scored.run_cost,
        )

    def _stay(self, scored: _Scored, reason: str) -> Decision:
        return Decision(
            Action.STAY,
            scored.pool.pool_id,
            scored.run_cost,
            scored.pool.interruption_probability,
            reason,
            scored.run_cost,
        )

    def _replica_decision(
        self, context: DecisionContext, current: PoolCandidate | None, current_cost: float | None
    ) -> Decision | None:
        policy = context.policy
        instance = context.instance
        if instance.lifecycle != "spot" or current is None:
            return None
        risk = current.interruption_probability
        wanted = policy.min_replicas
        if policy.replica_risk_threshold is not None and risk >= policy.replica_risk_threshold:
            wanted = max(wanted, 1)
        if instance.replicas >= wanted:
            return None
        why = (
            f"minimum of {policy.min_replicas} replica(s)"
            if instance.replicas < policy.min_replicas
            else f"pool risk {risk:.1%}/month is at or above the replica threshold"
        )
        # A replica in the primary's own pool would be reclaimed with it: prefer the best other eligible pool, of the
        # instance's own type (a standby must be able to take over as it is).
        others = [
            s
            for s in self._eligible(context, None)
            if s.pool.pool_id != current.pool_id
            and (instance.instance_type is None or s.pool.instance_type in (None, instance.instance_type))
        ]
        target = others[0].pool.pool_id if others else current.pool_id
        return Decision(Action.CREATE_REPLICA, target, current_cost or 0.0, risk, why, current_cost)

    def _decide_on_demand(self, context: DecisionContext, od_cost: float, required_od: int) -> Decision:
        policy = context.policy
        if context.fleet.on_demand <= required_od and required_od > 0:
            return Decision(
                Action.STAY, None, od_cost, 0.0, f"holding the minimum on-demand capacity ({required_od})", od_cost
            )
        limit = policy.max_interruption_probability - policy.return_risk_margin
        safe = [s for s in self._eligible(context, None) if s.pool.interruption_probability <= limit]
        if not safe:
            return Decision(Action.STAY, None, od_cost, 0.0, "no spot pool is safely under the risk limit", od_cost)
        best = safe[0]
        margin = self._margin(policy, od_cost)
        saving = od_cost - best.total_cost
        if saving <= margin or not policy.auto_switch:
            return Decision(
                Action.STAY,
                None,
                od_cost,
                0.0,
                f"spot saves {saving:.4f} USD/h, under the {margin:.4f} margin",
                od_cost,
            )
        return Decision(
            Action.RETURN_TO_SPOT,
            best.pool.pool_id,
            best.run_cost,
            best.pool.interruption_probability,
            f"risk back to {best.pool.interruption_probability:.1%}/month;"
            f" {best.pool.pool_id} saves {saving:.4f} USD/h",
            od_cost,
        )


def with_policy(context: DecisionContext, **changes: object) -> DecisionContext:
    return replace(context, policy=replace(context.policy, **changes))  # type: ignore[arg-type]


# --------------------------------------------------------------------------- oracle


@dataclass(frozen=True)
class OraclePath:
    states: list[int]  # chosen state per step (index into the state list)
    cost: float  # total USD, including switching and interruption costs
    switches: int


def oracle_path(
    step_costs: Sequence[Sequence[float]],
    switch_cost: float | Sequence[float],
    start_state: int | None = None,
    free_move_after: Sequence[Sequence[bool]] | None = None,
) -> OraclePath:
    """Perfect-hindsight cheapest path by dynamic programming.

    step_costs[t][s]: USD of spending step t in state s (price × duration, plus any interruption cost that lands
    there). switch_cost: USD of moving into a state (one number, or one per target state). start_state: where the
    instance is before step 0 (None: free choice). free_move_after[t][s]: leaving s after step t is free (the
    instance was interrupted there and relaunches anyway). O(T × S²)."""
    steps = len(step_costs)
    if steps == 0:
        return OraclePath([], 0.0, 0)
    states = len(step_costs[0])
    move = [float(switch_cost)] * states if isinstance(switch_cost, int | float) else [float(c) for c in switch_cost]
    best = [step_costs[0][s] + (0.0 if start_state is None or s == start_state else move[s]) for s in range(states)]
    back: list[list[int]] = []
    for t in range(1, steps):
        free = free_move_after[t - 1] if free_move_after is not None else None
        cheapest_prev = min(range(states), key=lambda s: best[s])
        new = [0.0] * states
        choice = [0] * states
        for s in range(states):
            stay_cost = best[s]
            origin = s
            # moving from the cheapest predecessor (or any predecessor that may move for free)
            candidate = best[cheapest_prev] + (0.0 if cheapest_prev == s else move[s])
            if candidate < stay_cost:
                stay_cost, origin = candidate, cheapest_prev
            if free is not None:
                for p in range(states):
                    if free[p] and best[p] < stay_cost:
                        stay_cost, origin = best[p], p
            new[s] = stay_cost + step_costs[t][s]
            choice[s] = origin
        back.append(choice)
        best = new
    end = min(range(states), key=lambda s: best[s])
    path = [end]
    for choice in reversed(back):
        path.append(choice[path[-1]])
    path.reverse()
    switches = sum(1 for a, b in itertools.pairwise(path) if a != b)
    if start_state is not None and path[0] != start_state:
        switches += 1
    return OraclePath(path, best[end], switches)
