"""Instance rules: role changes through the state machine, promotion, and what a client can see of an instance."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from spectra.core.auth import Caller
from spectra.core.clock import clock
from spectra.core.errors import Conflict, NotFound
from spectra.spot import activity
from spectra.spot.instances import repository
from spectra.spot.instances.state_machine import Role, check_transition
from spectra.spot.models import Agent, Pool, Replica, SpotInstance
from spectra.spot.numbers import percentile, volatility

# Interruption bucket of Spot Instance Advisor (0: <5 %, 1: 5-10 %, 2: 10-15 %, 3: 15-20 %, 4: >20 % a month),
# as a probability: the middle of each range. Unknown pools count as the middle bucket.
BUCKET_MONTHLY_PROBABILITY = {0: 0.025, 1: 0.075, 2: 0.125, 3: 0.175, 4: 0.25}
UNKNOWN_BUCKET = 2
# Boot time assumed for a pool nobody has booted in yet (a typical EC2 Linux boot to a running agent).
DEFAULT_BOOT_SECONDS = 90.0


def instance_state(inst: SpotInstance) -> dict[str, Any]:
    return {
        "role": inst.role,
        "lifecycle": inst.lifecycle,
        "pool_id": inst.pool_id,
        "cloud_instance_id": inst.cloud_instance_id,
        "version": inst.version,
    }


def get_agent(session: Session, agent_id: str, caller: Caller | None = None) -> Agent:
    agent = repository.get_agent(session, agent_id)
    if agent is None:
        raise NotFound("agent not found")
    if caller is not None:
        caller.ensure_tenant(agent.client_id, "agent")
    return agent


def get_instance(session: Session, instance_id: str, caller: Caller | None = None) -> SpotInstance:
    inst = repository.get_instance(session, instance_id)
    if inst is None:
        raise NotFound("instance not found")
    if caller is not None:
        caller.ensure_tenant(inst.client_id, "instance")
    return inst


def get_pool(session: Session, pool_id: str) -> Pool:
    pool = repository.get_pool(session, pool_id)
    if pool is None:
        raise NotFound(f"pool {pool_id} not found")
    return pool


def _flush_role_change(session: Session, inst: SpotInstance, target: Role) -> None:
    try:
        session.flush()
    except IntegrityError as exc:
        # Only the one-PRIMARY-per-agent index can refuse a role write: someone else promoted first.
        raise Conflict(
            f"agent {inst.agent_id} already has a PRIMARY; {target.value} refused",
            code="primary_exists",
            from_state=inst.role,
            to_state=target.value,
        ) from exc


def set_role(session: Session, inst: SpotInstance, target: Role, *, reason: str, now: datetime | None = None) -> None:
    """Move an instance to `target` if the table allows it (409 naming both states otherwise)."""
    now = now or clock.now()
    name = check_transition(inst.role, target)
    pre = instance_state(inst)
    if inst.role == Role.PRIMARY:
        inst.primary_until = now
    inst.role, inst.role_changed_at = target.value, now
    if target == Role.PRIMARY:
        inst.primary_since, inst.primary_until = now, None
    if target == Role.TERMINATED:
        inst.terminated_at = now
        inst.notice_status = "none"
    _flush_role_change(session, inst, target)
    activity.record(
        session,
        f"instance.{name}",
        f"{inst.cloud_instance_id}: {pre['role']} → {target.value} ({reason})",
        client_id=inst.client_id,
        agent_id=inst.agent_id,
        instance_id=inst.id,
        data={"from_state": pre["role"], "to_state": target.value, "reason": reason},
        topic="spot.instance.role_changed",
        audit=("spot_instance", inst.id, pre, instance_state(inst)),
    )


def create_instance(
    session: Session,
    agent: Agent,
    cloud_instance_id: str,
    role: Role,
    *,
    pool: Pool | None,
    lifecycle: str = "spot",
    spot_price: float | None = None,
    reason: str,
    now: datetime | None = None,
) -> SpotInstance:
    now = now or clock.now()
    name = check_transition(None, role)
    inst = SpotInstance(
        client_id=agent.client_id,
        agent_id=agent.id,
        cloud_instance_id=cloud_instance_id,
        role=role.value,
        lifecycle=lifecycle,
        pool_id=pool.id if pool else None,
        region=pool.region if pool else agent.region,
        availability_zone=pool.availability_zone if pool else agent.availability_zone,
        instance_type=pool.instance_type if pool else agent.instance_type,
        launched_at=now,
        role_changed_at=now,
        primary_since=now if role == Role.PRIMARY else None,
        spot_price=spot_price if lifecycle == "spot" else None,
        on_demand_price=pool.on_demand_price if pool else None,
    )
    session.add(inst)
    _flush_role_change(session, inst, role)
    activity.record(
        session,
        f"instance.{name}",
        f"{cloud_instance_id}: new {role.value} ({reason})",
        client_id=agent.client_id,
        agent_id=agent.id,
        instance_id=inst.id,
        data={"from_state": None, "to_state": role.value, "reason": reason},
        topic="spot.instance.created",
        audit=("spot_instance", inst.id, None, instance_state(inst)),
    )
    return inst


def promote(
    session: Session, agent: Agent, new_primary: SpotInstance, *, reason: str, now: datetime | None = None
) -> SpotInstance | None:
    """REPLICA → PRIMARY; the old PRIMARY (if any) becomes a ZOMBIE first. Returns the old PRIMARY."""
    now = now or clock.now()
    check_transition(new_primary.role, Role.PRIMARY)
    old = repository.primary_of(session, agent.id)
    if old is not None and old.id != new_primary.id:
        set_role(session, old, Role.ZOMBIE, reason=reason, now=now)
    set_role(session, new_primary, Role.PRIMARY, reason=reason, now=now)
    return old


def hourly_price(inst: SpotInstance) -> float | None:
    if inst.lifecycle == "on_demand":
        return inst.on_demand_price
    return inst.spot_price


def bucket_of(pool: Pool | None) -> int:
    return pool.interruption_bucket if pool and pool.interruption_bucket is not None else UNKNOWN_BUCKET


def boot_seconds(pool: Pool | None) -> float:
    return pool.boot_seconds_p50 if pool and pool.boot_seconds_p50 else DEFAULT_BOOT_SECONDS


def emergency_pool_order(pool: Pool) -> tuple[float, int, float]:
    """Emergency replicas go where they boot fastest, then where interruption is least likely, then cheapest."""
    return (boot_seconds(pool), bucket_of(pool), pool.latest_price if pool.latest_price is not None else 1e9)


def pick_emergency_pool(
    session: Session, agent: Agent, exclude_pool_id: str | None, also_exclude: Collection[str | None] = ()
) -> Pool | None:
    """Same instance type and product in the agent's region, another pool than the one being reclaimed (and than
    `also_exclude`: the PRIMARY's pool, where other standbys stand); pools in the two riskiest buckets only when
    nothing else exists."""
    if not agent.instance_type or not agent.region:
        return None
    excluded = {exclude_pool_id, *also_exclude}
    candidates = [
        p
        for p in repository.pools(
            session, region=agent.region, instance_type=agent.instance_type, product=agent.product_description
        )
        if p.id not in excluded
    ]
    safe = [p for p in candidates if bucket_of(p) <= UNKNOWN_BUCKET]
    ranked = sorted(safe or candidates, key=emergency_pool_order)
    return ranked[0] if ranked else None


# --------------------------------------------------------------------------- client views of an instance


def pricing(session: Session, inst: SpotInstance) -> dict[str, Any]:
    pool = repository.get_pool(session, inst.pool_id) if inst.pool_id else None
    current = pool.latest_price if pool and pool.latest_price is not None else inst.spot_price
    on_demand = inst.on_demand_price or (pool.on_demand_price if pool else None)
    paying = on_demand if inst.lifecycle == "on_demand" else current
    savings_pct = (1 - paying / on_demand) * 100 if paying is not None and on_demand else None
    return {
        "instance_id": inst.id,
        "cloud_instance_id": inst.cloud_instance_id,
        "lifecycle": inst.lifecycle,
        "pool_id": inst.pool_id,
        "instance_type": inst.instance_type,
        "availability_zone": inst.availability_zone,
        "current_spot_price": current,
        "price_at": pool.latest_price_at if pool else None,
        "on_demand_price": on_demand,
        "price_per_hour": paying,
        "savings_pct": round(savings_pct, 2) if savings_pct is not None else None,
        "interruption_bucket": pool.interruption_bucket if pool else None,
        "unit": "USD per instance-hour",
    }


def metrics(session: Session, inst: SpotInstance, now: datetime) -> dict[str, Any]:
    end = inst.terminated_at or now
    hours = max(0.0, ((end - inst.launched_at).total_seconds() if inst.launched_at else 0.0) / 3600)
    price = hourly_price(inst)
    cost = hours * price if price is not None else None
    serving = 0.0
    if inst.primary_since is not None:
        serving = max(0.0, ((inst.primary_until or end) - inst.primary_since).total_seconds() / 3600)
    baseline = serving * inst.on_demand_price if inst.on_demand_price is not None else None
    from spectra.spot.analytics.repository import switch_events  # analytics reads switches; import late

    switches = [
        e
        for e in switch_events(session, inst.client_id, agent_id=inst.agent_id)
        if inst.cloud_instance_id in (e.old_instance_id, e.new_instance_id)
    ]
    downtimes = [e.downtime_seconds for e in switches if e.downtime_seconds is not None]
    return {
        "instance_id": inst.id,
        "role": inst.role,
        "uptime_hours": round(hours, 4),
        "hours_as_primary": round(serving, 4),
        "cost_usd": round(cost, 4) if cost is not None else None,
        "on_demand_baseline_usd": round(baseline, 4) if baseline is not None else None,
        "savings_usd": round(baseline - cost, 4) if baseline is not None and cost is not None else None,
        "switch_count": len(switches),
        "avg_downtime_seconds": round(sum(downtimes) / len(downtimes), 3) if downtimes else None,
        "notice_status": inst.notice_status,
        "notice_deadline": inst.notice_deadline,
    }


def price_history(session: Session, inst: SpotInstance, now: datetime, days: int) -> dict[str, Any]:
    if inst.pool_id is None:
        return {"instance_id": inst.id, "pool_id": None, "points": []}
    points = repository.price_points(session, inst.pool_id, now - timedelta(days=days))
    return {
        "instance_id": inst.id,
        "pool_id": inst.pool_id,
        "on_demand_price": inst.on_demand_price,
        "points": [{"at": at, "price": price} for at, price in points],
    }


def pool_summary(session: Session, pool: Pool, since: datetime) -> dict[str, Any]:
    prices = [p for _, p in repository.price_points(session, pool.id, since)]
    vol = volatility(prices)
    return {
        "pool_id": pool.id,
        "region": pool.region,
        "availability_zone": pool.availability_zone,
        "instance_type": pool.instance_type,
        "product_description": pool.product_description,
        "latest_price": pool.latest_price,
        "on_demand_price": pool.on_demand_price,
        "savings_pct": round((1 - pool.latest_price / pool.on_demand_price) * 100, 2)
        if pool.latest_price is not None and pool.on_demand_price
        else None,
        "interruption_bucket": pool.interruption_bucket,
        "boot_seconds": boot_seconds(pool),
        "observations": len(prices),
        "min_price": min(prices) if prices else None,
        "max_price": max(prices) if prices else None,
        "mean_price": round(sum(prices) / len(prices), 6) if prices else None,
        "volatility": round(vol, 6) if vol is not None else None,
    }


def available_options(session: Session, inst: SpotInstance, now: datetime, days: int = 7) -> list[dict[str, Any]]:
    """Every pool of the instance's type and region, cheapest first, with its risk and volatility."""
    if not inst.instance_type or not inst.region:
        return []
    agent = get_agent(session, inst.agent_id)
    since = now - timedelta(days=days)
    out = []
    for pool in repository.pools(
        session, region=inst.region, instance_type=inst.instance_type, product=agent.product_description
    ):
        item = pool_summary(session, pool, since)
        item["is_current"] = pool.id == inst.pool_id
        out.append(item)
    out.sort(key=lambda o: (o["latest_price"] is None, o["latest_price"] or 0.0))
    return out


def pool_volatility(session: Session, inst: SpotInstance, now: datetime, days: int) -> dict[str, Any]:
    options = available_options(session, inst, now, days)
    return {
        "instance_id": inst.id,
        "window_days": days,
        "method": "coefficient of variation (std ÷ mean) of observed prices in the window",
        "pools": [
            {
                k: o[k]
                for k in (
                    "pool_id",
                    "availability_zone",
                    "volatility",
                    "observations",
                    "min_price",
                    "max_price",
                    "mean_price",
                    "is_current",
                )
            }
            for o in options
        ],
    }


def simulate_switch(
    session: Session, inst: SpotInstance, target_pool_id: str | None, target_mode: str, now: datetime
) -> dict[str, Any]:
    """What-if of a switch: hourly cost before/after, expected downtime, interruption risk; changes nothing."""
    current_price = hourly_price(inst)
    current_pool = repository.get_pool(session, inst.pool_id) if inst.pool_id else None
    if target_mode == "on_demand":
        pool = current_pool
        target_price = inst.on_demand_price or (pool.on_demand_price if pool else None)
        monthly_risk = 0.0
    else:
        if target_pool_id is None:
            raise Conflict("target_pool_id is required for a spot target", code="target_required")
        pool = get_pool(session, target_pool_id)
        target_price = pool.latest_price
        monthly_risk = BUCKET_MONTHLY_PROBABILITY[bucket_of(pool)]
    history = repository.switch_downtimes(session, inst.client_id)
    expected_downtime = percentile(history, 50) if history else boot_seconds(pool)
    delta = target_price - current_price if target_price is not None and current_price is not None else None
    return {
        "instance_id": inst.id,
        "target_pool_id": pool.id if pool and target_mode != "on_demand" else None,
        "target_mode": target_mode,
        "current_price_per_hour": current_price,
        "target_price_per_hour": target_price,
        "delta_per_hour": round(delta, 6) if delta is not None else None,
        "delta_per_month": round(delta * 730, 2) if delta is not None else None,
        "expected_downtime_seconds": round(expected_downtime, 2) if expected_downtime is not None else None,
        "downtime_basis": "median of this client's past switches" if history else "pool boot time",
        "interruption_probability_per_month": monthly_risk,
        "interruption_bucket": bucket_of(pool) if target_mode != "on_demand" else None,
        "simulated_at": now,
    }


def replica_state(replica: Replica) -> dict[str, Any]:
    return {"status": replica.status, "instance_id": replica.instance_id, "version": replica.version}
