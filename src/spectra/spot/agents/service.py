"""Agent protocol: register, heartbeat (+ stale/offline marking with a measured miss rate), config,
pricing / switch / termination / cleanup reports, and what the agent should terminate or keep as a replica."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from spectra.core.auth import Caller
from spectra.core.clock import clock
from spectra.core.config import get_settings
from spectra.core.db import new_id
from spectra.core.errors import BadRequest, Conflict, NotFound, StaleVersion, Unprocessable
from spectra.core.events import publish
from spectra.spot import activity
from spectra.spot.agents import heartbeats
from spectra.spot.agents import repository as agent_repo
from spectra.spot.agents.repository import PendingBeat
from spectra.spot.agents.schemas import (
    AgentConfigUpdate,
    AgentRegister,
    CleanupReport,
    Heartbeat,
    PricingReport,
)
from spectra.spot.commands import repository as cmd_repo
from spectra.spot.instances import repository as inst_repo
from spectra.spot.instances import service as instances
from spectra.spot.instances.state_machine import Role
from spectra.spot.models import Agent, Notification, Pool, Replica, SpotInstance
from spectra.spot.pricing import service as pricing

# An agent silent for this many heartbeat intervals is stale; for this many, offline.
STALE_AFTER_INTERVALS = 3
OFFLINE_AFTER_INTERVALS = 10


def _lifecycle(value: str) -> str:
    return "on_demand" if value in ("on_demand", "on-demand") else "spot"


def config_state(agent: Agent) -> dict[str, Any]:
    return {
        "auto_switch_enabled": agent.auto_switch_enabled,
        "manual_replica_enabled": agent.manual_replica_enabled,
        "auto_terminate_enabled": agent.auto_terminate_enabled,
        "terminate_wait_seconds": agent.terminate_wait_seconds,
        "heartbeat_interval_seconds": agent.heartbeat_interval_seconds,
        "status": agent.status,
        "version": agent.version,
    }


def register(session: Session, caller: Caller, body: AgentRegister, now: datetime) -> tuple[Agent, SpotInstance, bool]:
    client_id = caller.client_id
    if caller.is_admin:
        if not body.client_id:
            raise BadRequest("admins must say which client the agent belongs to (client_id)", code="client_required")
        client_id = body.client_id
    elif body.client_id and body.client_id != caller.client_id:
        raise NotFound("client not found")
    assert client_id is not None
    installation_id = body.installation_id or new_id()
    agent = inst_repo.agent_by_installation(session, client_id, installation_id)
    created = agent is None
    if agent is None:
        agent = Agent(
            client_id=client_id,
            installation_id=installation_id,
            heartbeat_interval_seconds=get_settings().heartbeat_interval_seconds,
        )
        session.add(agent)
    agent.hostname, agent.logical_name = body.hostname, body.logical_name or body.hostname
    agent.agent_version, agent.status = body.agent_version, "online"
    agent.region, agent.availability_zone = body.region, body.availability_zone
    agent.instance_type, agent.product_description = body.instance_type, body.product_description
    agent.last_heartbeat_at = now
    session.flush()
    pool = inst_repo.ensure_pool(
        session, body.region, body.availability_zone, body.instance_type, body.product_description
    )
    if body.on_demand_price is not None and pool.on_demand_price is None:
        pool.on_demand_price = body.on_demand_price
    inst = inst_repo.instance_by_cloud_id(session, agent.id, body.instance_id)
    if inst is None:
        current = inst_repo.primary_of(session, agent.id)
        if current is not None:
            # The agent says it now runs elsewhere (a switch it could not report): believe the field.
            instances.set_role(session, current, Role.ZOMBIE, reason="agent re-registered on another instance", now=now)
        inst = instances.create_instance(
            session,
            agent,
            body.instance_id,
            Role.PRIMARY,
            pool=pool,
            lifecycle=_lifecycle(body.lifecycle),
            spot_price=body.spot_price if body.spot_price is not None else pool.latest_price,
            reason="agent registered",
            now=now,
        )
    if inst.on_demand_price is None:
        inst.on_demand_price = body.on_demand_price or pool.on_demand_price
    if created:
        _retire_previous_installations(session, agent, body.instance_id, now)
    activity.record(
        session,
        "agent.registered" if created else "agent.reregistered",
        f"agent {agent.id} on {body.instance_id} ({body.instance_type}, {body.availability_zone})",
        client_id=client_id,
        agent_id=agent.id,
        instance_id=inst.id,
        topic="spot.agent.registered",
        audit=("spot_agent", agent.id, None, config_state(agent)) if created else None,
    )
    return agent, inst, created


def _retire_previous_installations(session: Session, agent: Agent, cloud_instance_id: str, now: datetime) -> None:
    """A new installation on an instance replaces the agents installed there before: they stop counting."""
    for other, primary in agent_repo.installations_on(session, agent.client_id, cloud_instance_id, agent.id):
        other.status = "replaced"
        instances.set_role(session, primary, Role.TERMINATED, reason=f"agent re-installed as {agent.id}", now=now)


def _with_reference(session: Session, pool: Pool) -> None:
    """A pool first seen from an agent gets its on-demand price and Spot Advisor bucket from the reference data."""
    if pool.on_demand_price is None or pool.interruption_bucket is None:
        pricing.fill_reference(session, pool)


def heartbeat_view(session: Session, agent_id: str, caller: Caller) -> Any:
    """What a heartbeat reads (the agent's liveness, config and open commands: one row), in the caller's tenant."""
    view = agent_repo.heartbeat_view(session, agent_id)
    if view is None:
        raise NotFound("agent not found")
    caller.ensure_tenant(view.client_id, "agent")
    return view


def missed_since_last(agent: Any, now: datetime) -> int:
    """Beats missed before this one (`agent`: the agent or its heartbeat view). A gap of k intervals means k−1
    missed beats; half an interval of slack, so jitter is not a miss. The last beat is the newer of the
    database's and this process's pending one."""
    last = agent.last_heartbeat_at
    pending = heartbeats.buffer.newest(agent.id)
    if pending is not None and (last is None or pending > last):
        last = pending
    if last is None:
        return 0
    gap = (now - last).total_seconds()
    return max(0, math.floor(gap / max(1, agent.heartbeat_interval_seconds) + 0.5) - 1)


def buffer_heartbeat(view: Any, body: Heartbeat, now: datetime) -> tuple[int, int, str] | None:
    """The usual heartbeat, answered from the agent's heartbeat view: counted in memory and written with the
    next flush (see heartbeats.py), which also brings a stale or offline agent back online, with its activity
    record, in the same transaction. (missed beats, open commands, status), or None when this beat must be
    written at once: a new agent version, an agent that was replaced or deleted, or coalescing turned off."""
    if get_settings().heartbeat_flush_seconds <= 0 or view.status not in heartbeats.REVIVABLE:
        return None
    if body.agent_version and body.agent_version != view.agent_version:
        return None
    missed = missed_since_last(view, now)
    heartbeats.record(view.id, now, missed)
    return missed, int(view.open_commands), "online"


def heartbeat(session: Session, agent: Agent, body: Heartbeat, now: datetime) -> tuple[int, int]:
    """A heartbeat written at once, in the caller's transaction: (missed beats, open commands)."""
    missed = missed_since_last(agent, now)
    pre_status = agent.status
    # Set-based like a flush, so counters add up under concurrent beats and the version (the optimistic lock
    # for config edits) does not move every 30 s under a user who is editing the config.
    agent_repo.apply_heartbeats(session, [PendingBeat(agent.id, now, 1, missed)])
    # A replaced installation stays replaced (its answer says so): beating again does not bring it back into the
    # fleet beside the agent that took over its instance.
    changes: dict[str, Any] = {"status": "online"} if pre_status in heartbeats.REVIVABLE else {}
    if body.agent_version:
        changes["agent_version"] = body.agent_version
    if changes:
        session.execute(
            update(Agent).where(Agent.id == agent.id).values(**changes).execution_options(synchronize_session=False)
        )
    session.refresh(agent)
    if pre_status in ("stale", "offline"):
        activity.record(
            session,
            "agent.online",
            f"agent {agent.id} is back after {missed} missed heartbeats",
            client_id=agent.client_id,
            agent_id=agent.id,
            topic="spot.agent.online",
        )
    return missed, cmd_repo.count_open(session, agent.id)


def update_config(session: Session, agent: Agent, body: AgentConfigUpdate) -> Agent:
    if agent.version != body.version:
        raise StaleVersion("agent", agent.version)
    pre = config_state(agent)
    changes = body.model_dump(exclude_unset=True, exclude={"version"})
    auto = changes.get("auto_switch_enabled", agent.auto_switch_enabled)
    manual = changes.get("manual_replica_enabled", agent.manual_replica_enabled)
    if auto and manual:
        # v6: the two modes fight over the same instance; the operator must pick one.
        raise Conflict(
            "auto-switch and manual replica mode are mutually exclusive; turn one off first",
            code="modes_exclusive",
        )
    for field, value in changes.items():
        setattr(agent, field, value)
    session.flush()
    if manual and not pre["manual_replica_enabled"]:
        ensure_manual_replica(session, agent)
    activity.record(
        session,
        "agent.config_changed",
        f"agent {agent.id} configuration changed",
        client_id=agent.client_id,
        agent_id=agent.id,
        topic="spot.agent.config_changed",
        audit=("spot_agent", agent.id, pre, config_state(agent)),
    )
    return agent


def ensure_manual_replica(session: Session, agent: Agent) -> list[Replica]:
    """Manual replica mode keeps one standby: queued like every other standby (fastest-boot, lowest-risk pool away
    from the PRIMARY's), once per time the mode is turned on."""
    from spectra.spot.emergency import service as emergency

    return emergency.ensure_standby(session, agent, clock.now(), cause=f"manual-mode:{agent.id}:{agent.version}")


def mark_silent_agents(session: Session, now: datetime) -> dict[str, Any]:
    """The stale/offline job: an agent silent for 3 intervals is stale, for 10 offline (operators notified).
    Only candidates are loaded; a beat still pending in this process's buffer counts as a sign of life."""
    stale = offline = 0
    for agent in agent_repo.silent_agents(session, now, STALE_AFTER_INTERVALS):
        assert agent.last_heartbeat_at is not None
        pending = heartbeats.buffer.newest(agent.id)
        last = max(agent.last_heartbeat_at, pending) if pending is not None else agent.last_heartbeat_at
        silent = (now - last).total_seconds() / max(1, agent.heartbeat_interval_seconds)
        if silent >= OFFLINE_AFTER_INTERVALS:
            agent.status = "offline"
            offline += 1
            activity.record(
                session,
                "agent.offline",
                f"agent {agent.id} silent for {silent:.0f} heartbeat intervals",
                client_id=agent.client_id,
                agent_id=agent.id,
                severity="warning",
                topic="spot.agent.offline",
            )
            session.add(
                Notification(
                    client_id=agent.client_id,
                    kind="agent_offline",
                    severity="warning",
                    title="Agent offline",
                    message=f"Agent {agent.logical_name or agent.id} has not sent a heartbeat since "
                    f"{last.isoformat()}.",
                    entity_type="spot_agent",
                    entity_id=agent.id,
                )
            )
        elif silent >= STALE_AFTER_INTERVALS and agent.status == "online":
            agent.status = "stale"
            stale += 1
            activity.record(
                session, "agent.stale", f"agent {agent.id} is late", client_id=agent.client_id, agent_id=agent.id
            )
    session.flush()
    from spectra.spot.analytics.repository import heartbeat_totals

    received, missed = heartbeat_totals(session)
    return {
        "marked_stale": stale,
        "marked_offline": offline,
        "heartbeat_miss_rate": round(missed / (received + missed), 6) if received + missed else None,
    }


def pricing_report(session: Session, agent: Agent, body: PricingReport, now: datetime) -> tuple[int, int, int]:
    """Stage the batch set-based (one query for its pools, one INSERT for its rows), keep each pool's latest
    price, evaluate the clients' alert rules. A bad row refuses the whole batch and names the row."""
    reporter = inst_repo.find_instance(session, agent.id, body.instance_id) if body.instance_id else None
    if reporter is None:
        reporter = inst_repo.primary_of(session, agent.id)
    role = reporter.role if reporter is not None and reporter.role in ("PRIMARY", "REPLICA") else "PRIMARY"
    keyed: list[tuple[agent_repo.PoolKey, datetime]] = []
    for i, obs in enumerate(body.prices):
        region = obs.region or agent.region
        if not region:
            raise Unprocessable("region is required", [{"field": f"prices[{i}].region", "msg": "required"}])
        observed = obs.observed_at or now
        if observed.tzinfo is None:
            raise Unprocessable(
                "observed_at needs a UTC offset", [{"field": f"prices[{i}].observed_at", "msg": "naive"}]
            )
        product = obs.product_description or agent.product_description
        keyed.append(((region, obs.availability_zone, obs.instance_type, product), observed))
    pools = agent_repo.ensure_pools(session, {key for key, _ in keyed})
    touched: dict[str, Pool] = {}
    rows = []
    # One flush of the pools' changes at the end, not one before each reference lookup.
    with session.no_autoflush:
        for obs, (key, observed) in zip(body.prices, keyed, strict=True):
            pool = pools[key]
            if obs.on_demand_price is not None:
                pool.on_demand_price = obs.on_demand_price
            if pool.id not in touched:
                _with_reference(session, pool)
                touched[pool.id] = pool
            if pool.latest_price_at is None or observed >= pool.latest_price_at:
                pool.latest_price, pool.latest_price_at = obs.price, observed
            rows.append(
                {
                    "pool_id": pool.id,
                    "observed_at": observed,
                    "price": obs.price,
                    "reporter_role": role,
                    "source": "agent",
                    "agent_id": agent.id,
                    "instance_id": reporter.cloud_instance_id if reporter else None,
                    "received_at": now,
                }
            )
    agent_repo.stage_prices(session, rows)
    session.flush()
    from spectra.spot.notifications.service import evaluate_price_alerts

    alerts = evaluate_price_alerts(session, list(touched.values()), now)
    # One event per report, not per price: live charts refresh when a pool they show is in `pool_ids`
    # (capped, so a 5000-price batch stays a small event; `pools` > len(pool_ids) means "refresh all").
    publish(
        session,
        "spot.pricing.reported",
        {
            "agent_id": agent.id,
            "instance_id": reporter.id if reporter is not None else None,
            "accepted": len(rows),
            "pools": len(touched),
            "pool_ids": sorted(touched)[:50],
            "latest_observed_at": max(obs.observed_at or now for obs in body.prices).isoformat(),
        },
        client_id=agent.client_id,
    )
    return len(rows), len(touched), alerts


def terminated(session: Session, agent: Agent, refs: list[str], reason: str, now: datetime) -> list[dict[str, Any]]:
    """Instances the agent terminated: each becomes TERMINATED (already TERMINATED: unchanged)."""
    out = []
    for ref in refs:
        inst = inst_repo.find_instance(session, agent.id, ref)
        if inst is None:
            out.append({"instance_id": ref, "status": "unknown"})
            continue
        if inst.role == Role.TERMINATED:
            out.append({"instance_id": ref, "status": "already_terminated"})
            continue
        if inst.role == Role.PRIMARY:
            out.append({"instance_id": ref, "status": "refused", "detail": "use the termination report for a PRIMARY"})
            continue
        instances.set_role(session, inst, Role.TERMINATED, reason=reason, now=now)
        replica = inst_repo.replica_by_instance(session, inst.id)
        if replica is not None and replica.status != "promoted":
            replica.status, replica.terminated_at = "terminated", now
        out.append({"instance_id": ref, "status": "terminated"})
    return out


def own_instance_terminated(session: Session, agent: Agent, ref: str, reason: str, now: datetime) -> dict[str, Any]:
    """v5 `termination`: the cloud took one of the agent's instances. Handled as a termination notice due now, by
    the same emergency service: a PRIMARY is replaced by a ready replica or on-demand, a REPLICA is lost and its
    standby re-created elsewhere; then the instance is TERMINATED."""
    from spectra.spot.emergency import service as emergency

    inst = inst_repo.find_instance(session, agent.id, ref)
    if inst is None:
        raise NotFound("instance not found for this agent")
    if inst.role == Role.TERMINATED:
        return {"instance_id": inst.id, "role": inst.role, "changed": False, "follow_up": None}
    follow_up = None
    if inst.role in (Role.PRIMARY, Role.REPLICA):
        event = emergency.termination_notice(session, agent, now, now, now, instance_ref=inst.cloud_instance_id)
        follow_up = {"emergency_event_id": event.id, "status": event.status}
        session.refresh(inst)
    if inst.role != Role.TERMINATED:
        instances.set_role(session, inst, Role.TERMINATED, reason=reason, now=now)
    return {"instance_id": inst.id, "role": inst.role, "changed": True, "follow_up": follow_up}


def cleanup_report(session: Session, agent: Agent, body: CleanupReport, now: datetime) -> dict[str, Any]:
    results = (
        terminated(session, agent, body.terminated_instance_ids, "cleanup", now) if body.terminated_instance_ids else []
    )
    activity.record(
        session,
        "agent.cleanup",
        f"cleanup: {len(body.terminated_instance_ids)} instances, {len(body.deleted_volumes)} volumes, "
        f"{len(body.deleted_snapshots)} snapshots",
        client_id=agent.client_id,
        agent_id=agent.id,
        severity="warning" if body.errors else "info",
        data={"volumes": body.deleted_volumes, "snapshots": body.deleted_snapshots, "errors": body.errors},
        topic="spot.agent.cleanup",
    )
    return {
        "instances": results,
        "volumes_deleted": len(body.deleted_volumes),
        "snapshots_deleted": len(body.deleted_snapshots),
        "errors": body.errors,
    }


def instances_to_terminate(session: Session, agent: Agent, now: datetime) -> list[dict[str, Any]]:
    """ZOMBIEs past the agent's grace period (when auto-terminate is on) and replicas nobody needs any more, each
    with its region (an instance left behind by a migration is not in the agent's own)."""
    out = []
    wait = timedelta(seconds=agent.terminate_wait_seconds)
    for inst in inst_repo.instances(session, agent.client_id, agent_id=agent.id):
        if (
            inst.role == Role.ZOMBIE
            and agent.auto_terminate_enabled
            and inst.role_changed_at
            and inst.role_changed_at + wait <= now
        ):
            out.append(
                {
                    "instance_id": inst.cloud_instance_id,
                    "id": inst.id,
                    "role": inst.role,
                    "reason": "zombie past grace period",
                    "since": inst.role_changed_at,
                    "region": inst.region,
                }
            )
        elif inst.role == Role.REPLICA:
            replica = inst_repo.replica_by_instance(session, inst.id)
            if replica is not None and replica.status == "terminated":
                out.append(
                    {
                        "instance_id": inst.cloud_instance_id,
                        "id": inst.id,
                        "role": inst.role,
                        "reason": "replica released",
                        "since": replica.terminated_at,
                        "region": inst.region,
                    }
                )
    return out


def replica_config(session: Session, agent: Agent) -> dict[str, Any]:
    primary = inst_repo.primary_of(session, agent.id)
    pool = instances.pick_emergency_pool(session, agent, primary.pool_id if primary else None)
    return {
        "agent_id": agent.id,
        "manual_replica_enabled": agent.manual_replica_enabled,
        "auto_switch_enabled": agent.auto_switch_enabled,
        "desired_replicas": 1 if agent.manual_replica_enabled else 0,
        "recommended_pool": instances.pool_summary(session, pool, agent.created_at) if pool else None,
        "replicas": [
            {"id": r.id, "kind": r.kind, "status": r.status, "pool_id": r.pool_id, "instance_id": r.instance_id}
            for r in inst_repo.replicas(session, agent.client_id, agent.id)
            if r.status in ("launching", "syncing", "ready")
        ],
    }


def statistics(session: Session, agent: Agent, now: datetime) -> dict[str, Any]:
    from spectra.spot.analytics import repository as analytics_repo
    from spectra.spot.numbers import percentile

    switches = analytics_repo.switch_events(session, agent.client_id, agent_id=agent.id)
    downtimes = [s.downtime_seconds for s in switches if s.downtime_seconds is not None]
    insts = inst_repo.instances(session, agent.client_id, agent_id=agent.id)
    roles: dict[str, int] = {}
    for inst in insts:
        roles[inst.role] = roles.get(inst.role, 0) + 1
    total = agent.heartbeats_received + agent.heartbeats_missed
    savings = sum(
        (m["savings_usd"] or 0.0)
        for m in (instances.metrics(session, i, now) for i in insts)
        if m["savings_usd"] is not None
    )
    return {
        "agent_id": agent.id,
        "status": agent.status,
        "uptime_hours": round((now - agent.created_at).total_seconds() / 3600, 3),
        "heartbeats_received": agent.heartbeats_received,
        "heartbeats_missed": agent.heartbeats_missed,
        "heartbeat_miss_rate": round(agent.heartbeats_missed / total, 6) if total else None,
        "instances_by_role": roles,
        "switches": len(switches),
        "successful_switches": sum(1 for s in switches if s.success),
        "downtime_p95_seconds": percentile(downtimes, 95),
        "savings_usd": round(savings, 4),
        "open_commands": cmd_repo.count_open(session, agent.id),
        "last_switch_at": switches[0].started_at if switches else None,
    }
