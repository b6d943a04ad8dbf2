"""Decisions for an agent (decide / switch-recommendation) and the model registry. Services never commit.

Context of a decision, all from the database: the agent's PRIMARY (where it runs, spot or on-demand), the pools of
the same instance type and product in its region with their newest canonical features (or, before the first
consolidation, the pool's latest reported price), the Spot Advisor bucket, the client's fleet (PRIMARYs per pool,
on-demand count), and the policy: the active engine configuration's policy, overridden by the agent's
`config["policy"]`. An active interruption-risk model replaces the advisor's probability per pool. With the policy's
`similar_instance_types`, pools of other types of the same size (vCPUs, memory within 10 %, CPU architecture, GPUs,
burstable or not; from the fleet catalogue) in the region are candidates too. With a carbon price, each candidate
gets its power and its region's intensity over the decision horizon (see `carbon_inputs`).

Candidates are never in another region: moving a workload between regions (images, subnets, data) is a carbon
migration, planned and executed by the carbon domain; the spot engine moves an instance between pools of its region.

`decide` logs the decision (ml_decisions) and, when the agent has auto-switch on, queues the move as a command
(request id `decision:<id>`, so a retried request cannot queue it twice); `switch-recommendation` only answers.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import asdict, replace
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from spectra.core.audit import record_audit
from spectra.core.errors import Conflict, NotFound, Unprocessable
from spectra.core.events import publish
from spectra.fleet.catalog import service as catalog_service
from spectra.spot.decisions import carbon_inputs, registry
from spectra.spot.decisions import repository as repo
from spectra.spot.decisions.carbon_inputs import CarbonLookups
from spectra.spot.decisions.engine import (
    Action,
    ClientPolicy,
    CostMinimisingEngine,
    Decision,
    DecisionContext,
    FleetState,
    InstanceState,
    PoolCandidate,
)
from spectra.spot.decisions.models import MLDecision, MLModel
from spectra.spot.models import Agent, Pool, SpotInstance
from spectra.spot.pricing import repository as price_repo
from spectra.spot.pricing.formats import PoolKey

ENGINE_KIND = "decision_engine"
RISK_KIND = "interruption_risk"
KINDS = (ENGINE_KIND, RISK_KIND)
DEFAULT_BOOT_SECONDS = 90.0
SIMILAR_MEMORY_TOLERANCE = 0.10  # "same size": memory within 10 % of the instance's own


class Evaluation:
    def __init__(
        self,
        decision: Decision,
        context: DecisionContext,
        pools: dict[str, Pool],
        engine_name: str,
        engine_model_id: str | None,
        risk_model_id: str | None,
        latency_ms: float,
        context_ms: float = 0.0,
        carbon: dict[str, Any] | None = None,
    ) -> None:
        self.decision = decision
        self.context = context
        self.pools = pools
        self.engine_name = engine_name
        self.engine_model_id = engine_model_id
        self.risk_model_id = risk_model_id
        self.latency_ms = latency_ms  # the engine alone
        self.context_ms = context_ms  # reading the context from the database (carbon look-ups included)
        self.carbon = carbon  # the carbon inputs, when the policy prices carbon


class DecisionLookups:
    """What the decisions of one request or one step of the engine sweep share (all made at the same instant, in
    one transaction): the active engine configuration, each region's candidate pools with their features, on-demand
    prices, and each client's fleet counts. A sweep step of agents in the same pools then reads them once, not once
    per agent (the fleet counts alone are a scan of the client's fleet)."""

    def __init__(self, carbon: CarbonLookups | None = None) -> None:
        self.carbon = carbon or CarbonLookups()  # may live longer: a sweep shares one across its steps
        self._engine: tuple[ClientPolicy, str, str | None] | None = None
        self._pools: dict[tuple[str, tuple[str, ...], str, datetime], tuple[list[Pool], list[PoolCandidate]]] = {}
        self._similar: dict[tuple[str, str, str], list[str]] = {}
        self._on_demand: dict[tuple[str, str, str], float | None] = {}
        self._risk: dict[tuple[tuple[str, ...], float], tuple[list[PoolCandidate], str | None]] = {}
        self._fleet: dict[str, tuple[int, int, Counter[str]]] = {}

    def engine(self, session: Session) -> tuple[ClientPolicy, str, str | None]:
        """(base policy, engine name, engine model id) of the active engine configuration."""
        if self._engine is None:
            active = repo.active_model(session, ENGINE_KIND)
            base, engine_name = ClientPolicy(), CostMinimisingEngine.name
            if active is not None and active.config:
                base = registry.policy_from(active.config.get("policy") or {})
                engine_name = active.config.get("engine", engine_name)
            self._engine = (base, engine_name, active.id if active else None)
        return self._engine

    def similar_types(self, session: Session, region: str, instance_type: str, product: str) -> list[str]:
        key = (region, instance_type, product)
        if key not in self._similar:
            self._similar[key] = similar_types(session, region, instance_type, product)
        return self._similar[key]

    def pools(
        self, session: Session, region: str, types: list[str], product: str, now: datetime
    ) -> tuple[list[Pool], list[PoolCandidate]]:
        key = (region, tuple(types), product, now)
        if key not in self._pools:
            pools = repo.candidate_pools(session, region, types, product)
            self._pools[key] = (pools, _candidates(session, pools, now))
        return self._pools[key]

    def on_demand(self, session: Session, region: str, os_name: str, instance_type: str) -> float | None:
        key = (region, os_name, instance_type)
        if key not in self._on_demand:
            listed = price_repo.on_demand_for(session, region, os_name, instance_type)
            self._on_demand[key] = listed.price if listed else None
        return self._on_demand[key]

    def risk(
        self, session: Session, candidates: list[PoolCandidate], on_demand: float
    ) -> tuple[list[PoolCandidate], str | None]:
        key = (tuple(c.pool_id for c in candidates), on_demand)
        if key not in self._risk:
            self._risk[key] = _apply_risk_model(session, candidates, on_demand)
        return self._risk[key]

    def fleet(self, session: Session, client_id: str) -> tuple[int, int, Counter[str]]:
        # The fleet as it stands: a move decided in this step is a queued command until the agent executes it.
        if client_id not in self._fleet:
            self._fleet[client_id] = repo.fleet_counts(session, client_id)
        return self._fleet[client_id]


def _policy(
    session: Session, agent: Agent, lookups: DecisionLookups | None = None
) -> tuple[ClientPolicy, str, str | None]:
    base, engine_name, engine_model_id = (lookups or DecisionLookups()).engine(session)
    overrides = dict((agent.config or {}).get("policy") or {})
    overrides.setdefault("auto_switch", agent.auto_switch_enabled)
    try:
        policy = registry.policy_from(overrides, base)
    except registry.ModelRejected as exc:
        raise Unprocessable("the agent's policy is invalid", errors=exc.errors) from None
    return policy, engine_name, engine_model_id


def policy_for(session: Session, agent: Agent) -> ClientPolicy:
    """The agent's effective policy: the active engine configuration's, overridden by the agent's own."""
    return _policy(session, agent)[0]


def _candidates(session: Session, pools: list[Pool], now: datetime) -> list[PoolCandidate]:
    canonical = price_repo.latest_canonical(session, [p.id for p in pools], now)
    advisor = price_repo.advisor_entries(session, {p.region for p in pools}, {p.instance_type for p in pools})
    out = []
    for pool in pools:
        row = canonical.get(pool.id)
        os_name = PoolKey(pool.region, pool.availability_zone, pool.instance_type, pool.product_description).os
        entry = advisor.get((pool.region, os_name, pool.instance_type))
        probability = entry.probability if entry else None
        if row is not None:
            price, volatility = row.price, row.volatility
            since = row.hours_since_change + max((now - row.bucket_start).total_seconds(), 0.0) / 3600.0
            probability = row.interruption_probability if row.interruption_probability is not None else probability
            live_at, live = pool.latest_price_at, pool.latest_price
            if live_at is not None and live is not None and row.bucket_start <= live_at <= now:
                # The pool's newest report is at least as new as the canonical bucket (consolidation runs every
                # few hours): the live price wins.
                if live != price:
                    since = (now - live_at).total_seconds() / 3600.0
                price = live
        elif pool.latest_price is not None:
            price, volatility, since = pool.latest_price, 0.0, 0.0
        else:
            continue  # no price known yet: not a candidate
        out.append(
            PoolCandidate(
                pool_id=pool.id,
                price=price,
                interruption_probability=probability if probability is not None else 0.0,
                interruption_bucket=entry.bucket if entry else pool.interruption_bucket,
                volatility=volatility,
                hours_since_change=since,
                region=pool.region,
                availability_zone=pool.availability_zone,
                boot_seconds=pool.boot_seconds_p50 or DEFAULT_BOOT_SECONDS,
                instance_type=pool.instance_type,
            )
        )
    return out


def similar_types(session: Session, region: str, instance_type: str, product: str) -> list[str]:
    """Other instance types with pools in the region that could run the same workload as it is: same vCPUs, memory
    within 10 %, same CPU architecture (the same machine image boots), same GPUs, burstable or not alike. Only types
    named with the same size and family letter are looked up (m5.large → m6i.large, m5a.large, …)."""
    own = catalog_service.find_instance_type(session, instance_type)
    if own is None:
        return []
    out = []
    for name in repo.pool_types(session, region, product):
        # Only names of the same size and family letter can match (m5.large, m6i.large; c5.large has less memory):
        # a region can hold hundreds of types, and each catalogue look-up is a query.
        if name == instance_type or not _same_size_name(name, instance_type):
            continue
        other = catalog_service.find_instance_type(session, name)
        if (
            other is not None
            and other.vcpu == own.vcpu
            and abs(other.memory_gib - own.memory_gib) <= SIMILAR_MEMORY_TOLERANCE * own.memory_gib
            and (other.arch or "x86_64") == (own.arch or "x86_64")
            and other.gpus == own.gpus
            and other.burstable == own.burstable
        ):
            out.append(name)
    return out


def _same_size_name(a: str, b: str) -> bool:
    family_a, _, size_a = a.partition(".")
    family_b, _, size_b = b.partition(".")
    return size_a == size_b and family_a[:1] == family_b[:1]


def _apply_risk_model(
    session: Session, candidates: list[PoolCandidate], on_demand: float
) -> tuple[list[PoolCandidate], str | None]:
    active = repo.active_model(session, RISK_KIND, with_artifact=True)
    if active is None or not active.artifact or not candidates:
        return candidates, None
    model = registry.load_risk_model(
        active.framework, active.artifact, active.sha256 or registry.sha256(active.artifact)
    )
    rows = [
        [
            c.price,
            c.volatility,
            c.hours_since_change,
            c.interruption_probability,
            c.price / on_demand if on_demand else 0.0,
        ]
        for c in candidates
    ]
    predicted = model.predict(rows)
    updated = [
        PoolCandidate(**{**asdict(c), "interruption_probability": p})
        for c, p in zip(candidates, predicted, strict=True)
    ]
    return updated, active.id


def evaluate(
    session: Session,
    agent: Agent,
    now: datetime,
    power_watts: float | None = None,
    lookups: DecisionLookups | None = None,
    primary: SpotInstance | None = None,
) -> Evaluation:
    """The decision context and the engine's decision (`primary`: the agent's PRIMARY, when the caller read it)."""
    began = time.perf_counter()
    lookups = lookups or DecisionLookups()
    primary = primary or repo.primary_of(session, agent.id)
    region = (primary.region if primary else None) or agent.region
    instance_type = (primary.instance_type if primary else None) or agent.instance_type
    if not region or not instance_type:
        raise Conflict("the agent has not reported its region and instance type yet", code="agent_not_described")
    policy, engine_name, engine_model_id = _policy(session, agent, lookups)
    types = [instance_type]
    if policy.similar_instance_types:
        types += lookups.similar_types(session, region, instance_type, agent.product_description)
    pools, candidates = lookups.pools(session, region, types, agent.product_description, now)
    by_id = {p.id: p for p in pools}
    on_demand = next((p.on_demand_price for p in pools if p.on_demand_price and p.instance_type == instance_type), None)
    if on_demand is None and primary is not None:
        on_demand = primary.on_demand_price
    if on_demand is None:
        os_name = "Windows" if agent.product_description.lower().startswith("windows") else "Linux"
        on_demand = lookups.on_demand(session, region, os_name, instance_type)
    if on_demand is None:
        raise Conflict(
            f"no on-demand price is known for {instance_type} in {region}; import one or report it",
            code="no_on_demand_price",
        )
    candidates, risk_model_id = lookups.risk(session, candidates, on_demand)
    size, od_count, per_pool = lookups.fleet(session, agent.client_id)
    lifecycle = primary.lifecycle if primary else "spot"
    switched_at = repo.last_switch_at(session, agent.id)  # None: never moved, no dwell time to respect
    stated_power = power_watts if power_watts is not None else (primary.power_watts if primary else None)
    carbon = None
    if policy.carbon_price_usd_per_tonne > 0:
        carbon = carbon_inputs.fill(
            session,
            lookups.carbon,
            client_id=agent.client_id,
            region=region,
            instance_type=instance_type,
            candidates=candidates,
            policy=policy,
            now=now,
            stated_power_watts=stated_power,
        )
        candidates = carbon.candidates
    instance = InstanceState(
        instance_id=primary.id if primary else agent.id,
        lifecycle=lifecycle,
        pool_id=primary.pool_id if primary and lifecycle == "spot" else None,
        hours_since_switch=(now - switched_at).total_seconds() / 3600.0 if switched_at else None,
        replicas=len([r for r in _open_replicas(session, agent.id)]),
        power_watts=carbon.instance_power_watts if carbon else (stated_power or 0.0),
        region=region,
        instance_type=instance_type,
    )
    context = DecisionContext(
        instance=instance,
        candidates=candidates,
        on_demand_price=on_demand,
        policy=policy,
        fleet=FleetState(size=max(size, 1), on_demand=od_count, pool_counts=dict(per_pool)),
        advisor_bucket=next((c.interruption_bucket for c in candidates if c.interruption_bucket is not None), None),
        on_demand_carbon_intensity_g_per_kwh=carbon.on_demand_intensity_g_per_kwh if carbon else None,
    )
    engine = registry.ENGINES.get(engine_name, CostMinimisingEngine)()
    started = time.perf_counter()
    decision = engine.decide(context)
    latency_ms = (time.perf_counter() - started) * 1000.0
    context_ms = (started - began) * 1000.0
    view = None
    if carbon is not None:
        if carbon.notes:
            decision = replace(decision, reason=f"{decision.reason}; {'; '.join(carbon.notes)}")
        view = {
            **carbon.view,
            "cost_per_hour": decision.carbon_cost_per_hour,
            "current_cost_per_hour": decision.current_carbon_cost_per_hour,
        }
    return Evaluation(
        decision, context, by_id, engine.name, engine_model_id, risk_model_id, latency_ms, context_ms, view
    )


def _open_replicas(session: Session, agent_id: str) -> list[Any]:
    from spectra.spot.instances import repository as inst_repo

    replica = inst_repo.open_replica(session, agent_id)
    return [replica] if replica is not None else []


def _pool_view(pool: Pool | None) -> dict[str, Any] | None:
    if pool is None:
        return None
    return {
        "pool_id": pool.id,
        "region": pool.region,
        "availability_zone": pool.availability_zone,
        "instance_type": pool.instance_type,
        "product_description": pool.product_description,
    }


def render(
    evaluation: Evaluation, now: datetime, decision_id: str | None = None, command_id: str | None = None
) -> dict[str, Any]:
    decision, context = evaluation.decision, evaluation.context
    engine = CostMinimisingEngine()
    return {
        "decision_id": decision_id,
        "action": decision.action.value,
        "target_pool_id": decision.target_pool_id,
        "target_pool": _pool_view(evaluation.pools.get(decision.target_pool_id or "")),
        "expected_cost_per_hour": round(decision.expected_cost_per_hour, 6),
        "current_cost_per_hour": round(decision.current_cost_per_hour, 6)
        if decision.current_cost_per_hour is not None
        else None,
        "on_demand_price": context.on_demand_price,
        "risk": decision.risk,
        "reason": decision.reason,
        "engine": evaluation.engine_name,
        "engine_model_id": evaluation.engine_model_id,
        "risk_model_id": evaluation.risk_model_id,
        "latency_ms": round(evaluation.latency_ms, 4),
        "context_ms": round(evaluation.context_ms, 4),
        "decided_at": now,
        "command_id": command_id,
        "carbon": evaluation.carbon,
        "candidates": [
            {
                "pool_id": c.pool_id,
                "instance_type": c.instance_type,
                "availability_zone": c.availability_zone,
                "price": c.price,
                "interruption_probability": c.interruption_probability,
                "interruption_bucket": c.interruption_bucket,
                "volatility": round(c.volatility, 6),
                "hours_since_change": round(c.hours_since_change, 3),
                "expected_cost_per_hour": round(engine.run_cost(context, c), 6),
                "carbon_cost_per_hour": round(engine.carbon_cost(context, c), 6)
                if context.policy.carbon_price_usd_per_tonne > 0
                else None,
                "power_watts": round(c.power_watts, 3) if c.power_watts is not None else None,
                "carbon_intensity_g_per_kwh": round(c.carbon_intensity_g_per_kwh, 3)
                if c.carbon_intensity_g_per_kwh is not None
                else None,
                "fleet_count": context.fleet.pool_counts.get(c.pool_id, 0),
            }
            for c in sorted(context.candidates, key=lambda c: engine.run_cost(context, c))
        ],
        "policy": asdict(context.policy),
    }


def recommend(session: Session, agent: Agent, now: datetime) -> dict[str, Any]:
    """What the engine would do now; nothing is written."""
    return render(evaluate(session, agent, now), now)


def decide(
    session: Session,
    agent: Agent,
    now: datetime,
    power_watts: float | None = None,
    lookups: DecisionLookups | None = None,
    primary: SpotInstance | None = None,
) -> dict[str, Any]:
    """Decide, log the decision, and with auto-switch on queue the move as a command."""
    return record(session, agent, evaluate(session, agent, now, power_watts, lookups, primary), now)


def record(session: Session, agent: Agent, evaluation: Evaluation, now: datetime) -> dict[str, Any]:
    """Log an evaluated decision and, with auto-switch on, queue its move (the writing half of `decide`)."""
    decision = evaluation.decision
    row = MLDecision(
        id=uuid.uuid4().hex,
        client_id=agent.client_id,
        agent_id=agent.id,
        instance_id=evaluation.context.instance.instance_id,
        model_id=evaluation.risk_model_id or evaluation.engine_model_id,
        engine=evaluation.engine_name,
        action=decision.action.value,
        target_pool_id=decision.target_pool_id,
        expected_cost_per_hour=decision.expected_cost_per_hour,
        risk=decision.risk,
        reason=decision.reason,
        inputs={
            "on_demand_price": evaluation.context.on_demand_price,
            "candidates": [asdict(c) for c in evaluation.context.candidates],
            "fleet": {
                "size": evaluation.context.fleet.size,
                "on_demand": evaluation.context.fleet.on_demand,
                "pool_counts": dict(evaluation.context.fleet.pool_counts),
            },
            "instance": asdict(evaluation.context.instance),
            "carbon": evaluation.carbon,
            "context_ms": round(evaluation.context_ms, 4),
        },
        latency_ms=evaluation.latency_ms,
        decided_at=now,
    )
    session.add(row)
    session.flush()
    command_id = None
    movable = decision.action in (Action.SWITCH, Action.RETURN_TO_SPOT, Action.FALLBACK_ON_DEMAND)
    if decision.action == Action.CREATE_REPLICA and agent.auto_switch_enabled:
        command_id = _queue_replica(session, agent, evaluation, row, now)
        row.executed, row.command_id = command_id is not None, command_id
        session.flush()
    elif movable and agent.auto_switch_enabled:
        command_id = _queue_move(session, agent, evaluation, row)
        if command_id is None:
            evaluation.decision = decision = replace(decision, reason=row.reason)
    publish(
        session,
        "spot.decision",
        {
            "decision_id": row.id,
            "agent_id": agent.id,
            "action": decision.action.value,
            "target_pool_id": decision.target_pool_id,
            "expected_cost_per_hour": decision.expected_cost_per_hour,
            "risk": decision.risk,
            "reason": decision.reason,
            "carbon_cost_per_hour": decision.carbon_cost_per_hour,
            "command_id": command_id,
        },
        client_id=agent.client_id,
    )
    return render(evaluation, now, row.id, command_id)


def _queue_move(session: Session, agent: Agent, evaluation: Evaluation, row: MLDecision) -> str | None:
    """Queue the decided move as a switch command; None when the command queue refuses a move to another type."""
    from spectra.spot.commands import service as commands

    decision = evaluation.decision
    target = evaluation.pools.get(decision.target_pool_id or "")
    other_type = target is not None and target.instance_type != evaluation.context.instance.instance_type
    try:
        with session.begin_nested():
            command, _ = commands.request_switch(
                session,
                agent,
                target_pool_id=decision.target_pool_id if decision.action != Action.FALLBACK_ON_DEMAND else None,
                target_mode="on_demand" if decision.action == Action.FALLBACK_ON_DEMAND else "spot",
                reason=f"engine: {decision.reason}",
                issued_by="engine",
                request_id=f"decision:{row.id}",
            )
    except Unprocessable as exc:
        if not other_type:
            raise
        # The switch flow moves an instance within its type (another type is a resize there): the decision stands
        # as a recommendation, logged with the reason it was not queued.
        row.reason = f"{row.reason}; not queued: {exc.detail}"
        session.flush()
        return None
    row.executed, row.command_id = True, command.id
    session.flush()
    return command.id


def _queue_replica(
    session: Session, agent: Agent, evaluation: Evaluation, row: MLDecision, now: datetime
) -> str | None:
    """Queue a policy replica in the decision's pool, unless the agent already has one on the way or ready."""
    from spectra.spot.commands import service as commands
    from spectra.spot.instances import repository as inst_repo
    from spectra.spot.models import Replica

    if inst_repo.open_replica(session, agent.id) is not None:
        return None
    pool = evaluation.pools.get(evaluation.decision.target_pool_id or "")
    replica = Replica(
        client_id=agent.client_id,
        agent_id=agent.id,
        primary_instance_id=evaluation.context.instance.instance_id,
        pool_id=pool.id if pool else None,
        request_id=f"decision-replica:{row.id}",
        kind="policy",
        status="launching",
        requested_at=now,
        hourly_cost=pool.latest_price if pool else None,
    )
    session.add(replica)
    session.flush()
    command, _ = commands.issue(
        session,
        agent,
        "create_replica",
        request_id=f"decision:{row.id}",
        instance_id=evaluation.context.instance.instance_id,
        target_pool_id=pool.id if pool else None,
        target_mode="spot",
        payload={
            "replica_id": replica.id,
            "reason": f"engine: {evaluation.decision.reason}",
            "target": _pool_view(pool),
        },
        issued_by="engine",
        now=now,
    )
    return command.id


# Agents decided per step of the sweep (each step its own transaction, see `spectra.core.jobs`): a sweep of
# thousands of agents would otherwise hold SQLite's only write lock for a minute while heartbeats queue.
SWEEP_STEP_AGENTS = 50


def _sweepable(session: Session, agent_id: str) -> SpotInstance | None:
    """The agent's PRIMARY when the sweep may decide for it: it has one, no notice on it and no move in flight."""
    from spectra.spot.commands import repository as cmd_repo

    primary = repo.primary_of(session, agent_id)
    if primary is None or primary.notice_status != "none" or cmd_repo.open_switch(session, agent_id) is not None:
        return None
    return primary


def _still_sweepable(session: Session, agent: Agent, primary_id: str) -> bool:
    if agent.status != "online" or not agent.auto_switch_enabled:
        return False
    primary = _sweepable(session, agent.id)
    return primary is not None and primary.id == primary_id


def sweep(
    session: Session,
    now: datetime,
    step: int | None = None,
    reading: Callable[[], AbstractContextManager[Session]] | None = None,
) -> Iterator[dict[str, int]]:
    """Decide for every online auto-switch agent that has a PRIMARY, no move in flight and no active notice.

    Yields the counts so far after each `step` agents (default SWEEP_STEP_AGENTS); each agent's decision stands
    alone, so committing between steps splits nothing that belongs together. With `reading` (a read-only unit of
    work), a step reads and evaluates its agents there and writes only the outcomes in `session`, each agent
    checked again first: SQLite's only write lock is then held for the writes, not for the engine's thinking."""
    from spectra.core.errors import SpectraError

    counts = {"agents": 0, "decided": 0, "commands": 0, "skipped": 0, "errors": 0}
    carbon = CarbonLookups()  # every decision of the sweep is made at `now`: one intensity outlook per region
    after: str | None = None
    while True:
        evaluated: list[tuple[str, str, Evaluation]] = []  # (agent id, its PRIMARY's id, evaluation)
        with reading() if reading is not None else nullcontext(session) as source:
            agents = repo.auto_switch_agents(source, after=after, limit=step or SWEEP_STEP_AGENTS)
            # Pools, prices and fleet counts are read once per step; carbon once per sweep.
            lookups = DecisionLookups(carbon)
            for agent in agents:
                counts["agents"] += 1
                primary = _sweepable(source, agent.id)
                if primary is None:
                    counts["skipped"] += 1
                    continue
                try:
                    evaluated.append(
                        (agent.id, primary.id, evaluate(source, agent, now, lookups=lookups, primary=primary))
                    )
                except SpectraError:
                    counts["errors"] += 1
        for agent_id, primary_id, evaluation in evaluated:
            current = session.get(Agent, agent_id)  # from the identity map when the step read in `session`
            # Read in another transaction, whatever changed since (a command, a notice, a switch) wins.
            if current is None or (reading is not None and not _still_sweepable(session, current, primary_id)):
                counts["skipped"] += 1
                continue
            try:
                with session.begin_nested():
                    out = record(session, current, evaluation, now)
            except SpectraError:
                counts["errors"] += 1
                continue
            counts["decided"] += 1
            counts["commands"] += int(out["command_id"] is not None)
        if agents:
            after = agents[-1].id
        yield dict(counts)
        if len(agents) < (step or SWEEP_STEP_AGENTS):
            return


# --------------------------------------------------------------------------- registry


def model_state(model: MLModel) -> dict[str, Any]:
    return {
        "id": model.id,
        "name": model.name,
        "version": model.model_version,
        "kind": model.kind,
        "framework": model.framework,
        "status": model.status,
        "session_id": model.session_id,
        "sha256": model.sha256,
        "size_bytes": model.size_bytes,
        "config": model.config,
        "validation": model.validation,
        "uploaded_by": model.uploaded_by,
        "uploaded_at": model.created_at,
        "activated_at": model.activated_at,
        "previous_model_id": model.previous_model_id,
        "notes": model.notes,
    }


def _audit_view(model: MLModel) -> dict[str, Any]:
    return {
        "id": model.id,
        "name": model.name,
        "version": model.model_version,
        "kind": model.kind,
        "status": model.status,
    }


def _ensure_new(session: Session, kind: str, name: str, version: str) -> None:
    if repo.model_by_name(session, kind, name, version) is not None:
        raise Conflict(f"{kind} {name!r} version {version!r} already exists", code="model_exists")


def upload_engine(
    session: Session, name: str, version: str, config: dict[str, Any], actor: str | None, notes: str | None
) -> MLModel:
    _ensure_new(session, ENGINE_KIND, name, version)
    try:
        validation = registry.validate_engine_config(config)
    except registry.ModelRejected as exc:
        raise Unprocessable(str(exc), errors=exc.errors) from None
    model = MLModel(
        name=name,
        model_version=version,
        kind=ENGINE_KIND,
        framework="builtin",
        status="uploaded",
        session_id=uuid.uuid4().hex,
        config={"engine": validation["engine"], "policy": config.get("policy") or {}},
        validation=validation,
        uploaded_by=actor,
        notes=notes,
    )
    session.add(model)
    session.flush()
    record_audit(session, "ml_model.upload", "ml_model", model.id, None, _audit_view(model))
    return model


def upload_model(
    session: Session,
    *,
    name: str,
    version: str,
    framework: str,
    data: bytes,
    actor: str | None,
    notes: str | None = None,
    session_id: str | None = None,
) -> MLModel:
    _ensure_new(session, RISK_KIND, name, version)
    try:
        validation = registry.validate_risk_model(framework, data)
    except registry.ModelRejected as exc:
        raise Unprocessable(str(exc), errors=exc.errors) from None
    model = MLModel(
        name=name,
        model_version=version,
        kind=RISK_KIND,
        framework=framework,
        status="uploaded",
        session_id=session_id or uuid.uuid4().hex,
        artifact=data,
        sha256=registry.sha256(data),
        size_bytes=len(data),
        validation=validation,
        uploaded_by=actor,
        notes=notes,
    )
    session.add(model)
    session.flush()
    record_audit(session, "ml_model.upload", "ml_model", model.id, None, _audit_view(model))
    return model


def activate(session: Session, model_id: str, now: datetime) -> MLModel:
    """Make a model the active one of its kind; the one it replaces is remembered for fallback."""
    model = repo.get_model(session, model_id)
    if model is None:
        raise NotFound(f"no model {model_id}")
    if model.status == "active":
        return model
    current = repo.active_model(session, model.kind)
    pre = model_state(current) if current else None
    if current is not None:
        current.status = "inactive"
    model.status, model.activated_at = "active", now
    model.previous_model_id = current.id if current else None
    session.flush()
    record_audit(session, "ml_model.activate", "ml_model", model.id, pre, _audit_view(model))
    return model


def fallback(session: Session, kind: str, now: datetime) -> dict[str, Any]:
    """Deactivate the active model of a kind and re-activate the one it replaced (or the built-in default)."""
    if kind not in KINDS:
        raise Unprocessable("unknown kind", [{"field": "kind", "msg": " | ".join(KINDS)}])
    current = repo.active_model(session, kind)
    if current is None:
        raise Conflict(f"no active {kind} to fall back from", code="nothing_active")
    current.status = "inactive"
    previous = repo.get_model(session, current.previous_model_id) if current.previous_model_id else None
    if previous is not None:
        previous.status, previous.activated_at = "active", now
    session.flush()
    record_audit(
        session,
        "ml_model.fallback",
        "ml_model",
        current.id,
        _audit_view(current),
        _audit_view(previous) if previous else {"using": "built-in default"},
    )
    return {
        "kind": kind,
        "deactivated": model_state(current),
        "active": model_state(previous) if previous else None,
        "using": previous.name if previous else "built-in default",
    }


def sessions(session: Session) -> list[dict[str, Any]]:
    """Upload sessions, newest first, each with its models and how many decisions they made."""
    grouped: dict[str, list[MLModel]] = {}
    for model in repo.list_models(session):
        grouped.setdefault(model.session_id, []).append(model)
    out: list[dict[str, Any]] = []
    for session_id, models in grouped.items():
        out.append(
            {
                "session_id": session_id,
                "uploaded_at": min(m.created_at for m in models),
                "active": any(m.status == "active" for m in models),
                "models": [{**model_state(m), "decisions": repo.decision_count(session, m.id)} for m in models],
            }
        )
    out.sort(key=lambda s: s["uploaded_at"], reverse=True)
    return out
