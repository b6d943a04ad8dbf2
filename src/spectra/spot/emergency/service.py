"""v6 emergency flows. A rebalance notice (the cloud may reclaim the instance soon; AWS gives about two
minutes of useful warning) queues a replica in the fastest-boot, lowest-risk pool; a termination notice
promotes a replica that is alive and ready at once, or fails over to on-demand. Every step is an event, an audit
row and a step in the emergency event's timeline.

A notice about one of the agent's replicas (the agent watches the replicas it launched: their interruption
notices, and whether the cloud still runs them) is a lost standby: the replica becomes TERMINATED through the
state machine and is never promoted. Standbys are kept at the configured number (manual replica mode: one; with
auto-switch, the policy's `min_replicas` while the PRIMARY runs on spot): after a promotion, a lost replica or a
switch, a `create_replica` is queued in the fastest-boot, lowest-risk pool other than the PRIMARY's and the one
being reclaimed, idempotent by the request id of what caused it."""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from spectra.core.errors import Conflict, SpectraError
from spectra.spot import activity
from spectra.spot.commands import repository as cmd_repo
from spectra.spot.commands import service as commands
from spectra.spot.emergency import repository
from spectra.spot.emergency.models import EmergencyEvent
from spectra.spot.instances import repository as inst_repo
from spectra.spot.instances import service as instances
from spectra.spot.instances.state_machine import Role
from spectra.spot.models import Agent, Command, Notification, Pool, Replica, SpotInstance
from spectra.spot.numbers import percentile

NOTICE_WINDOW = timedelta(minutes=2)


def event_state(event: EmergencyEvent) -> dict[str, Any]:
    return {"kind": event.kind, "status": event.status, "replica_id": event.replica_id, "version": event.version}


def _step(event: EmergencyEvent, now: datetime, step: str, **detail: Any) -> None:
    # Reassign (not append) so the JSON column is seen as changed.
    event.steps = [*event.steps, {"at": now.isoformat(), "step": step, **detail}]


def _emit(
    session: Session,
    event: EmergencyEvent,
    topic: str,
    message: str,
    pre: dict[str, Any] | None,
    severity: str | None = None,
    **data: Any,
) -> None:
    activity.record(
        session,
        topic,
        message,
        client_id=event.client_id,
        agent_id=event.agent_id,
        instance_id=event.instance_id,
        severity=severity or ("critical" if event.kind == "termination" else "warning"),
        data={"emergency_event_id": event.id, "notice_deadline": event.notice_deadline.isoformat(), **data},
        topic=topic,
        audit=("spot_emergency_event", event.id, pre, event_state(event)),
    )


def _primary(session: Session, agent: Agent) -> SpotInstance:
    primary = inst_repo.primary_of(session, agent.id)
    if primary is None:
        raise Conflict(f"agent {agent.id} has no PRIMARY instance", code="no_primary")
    return primary


def _notice_about(session: Session, agent: Agent, ref: str | None) -> SpotInstance | None:
    """The agent's instance a notice names when that is not its PRIMARY (a replica, or one already retired);
    None: the notice is about the PRIMARY (named, or not named as older agents do, or unknown here)."""
    if not ref:
        return None
    inst = inst_repo.find_instance(session, agent.id, ref)
    return inst if inst is not None and inst.role != Role.PRIMARY else None


def _retired_notice(session: Session, agent: Agent, inst: SpotInstance, kind: str) -> EmergencyEvent:
    """A notice about an instance that no longer serves or stands by (ZOMBIE, TERMINATED): changes nothing."""
    event = repository.for_instance(session, agent.id, inst.id, kind) or repository.latest_for(session, agent.id)
    if event is None:
        raise Conflict(
            f"{inst.cloud_instance_id} is {inst.role}: nothing to fail over",
            code="instance_retired",
            from_state=inst.role,
        )
    return event


def rebalance_notice(
    session: Session, agent: Agent, notice_time: datetime | None, now: datetime, instance_ref: str | None = None
) -> EmergencyEvent:
    about = _notice_about(session, agent, instance_ref)
    if about is not None:
        if about.role == Role.REPLICA:
            return replica_notice(session, agent, about, "rebalance", notice_time, None, now)
        return _retired_notice(session, agent, about, "rebalance")
    primary = _primary(session, agent)
    active = repository.active_for(session, agent.id)
    if active is not None:
        return active  # a repeated notice (agents re-send until acknowledged) changes nothing
    notice_time = notice_time or now
    event = EmergencyEvent(
        client_id=agent.client_id,
        agent_id=agent.id,
        instance_id=primary.id,
        kind="rebalance",
        status="open",
        notice_time=notice_time,
        notice_deadline=notice_time + NOTICE_WINDOW,
        received_at=now,
        steps=[],
    )
    session.add(event)
    session.flush()
    primary.notice_status, primary.notice_received_at, primary.notice_deadline = "rebalance", now, event.notice_deadline
    _step(event, now, "notice_received", kind="rebalance")
    _emit(session, event, "emergency.rebalance", f"rebalance notice for {primary.cloud_instance_id}", None)
    _queue_replica(session, agent, primary, event, now)
    _notify(
        session, event, "Rebalance notice", f"{primary.cloud_instance_id} may be reclaimed; a replica is on its way."
    )
    return event


def _queue_replica(session: Session, agent: Agent, primary: SpotInstance, event: EmergencyEvent, now: datetime) -> None:
    pre = event_state(event)
    existing = next((r for r, inst in inst_repo.open_replicas(session, agent.id) if _standby(r, inst, primary)), None)
    if existing is not None:
        event.replica_id, event.pool_id, event.status = existing.id, existing.pool_id, "replica_queued"
        _step(event, now, "replica_reused", replica_id=existing.id, replica_status=existing.status)
        _emit(
            session,
            event,
            "emergency.replica_queued",
            "an existing replica will take over",
            pre,
            replica_id=existing.id,
        )
        return
    pool = instances.pick_emergency_pool(session, agent, primary.pool_id)
    primary.fastest_boot_pool_id = pool.id if pool else None
    replica = Replica(
        client_id=agent.client_id,
        agent_id=agent.id,
        primary_instance_id=primary.id,
        pool_id=pool.id if pool else None,
        request_id=f"emergency-replica:{event.id}",
        kind="emergency",
        status="launching",
        requested_at=now,
        hourly_cost=pool.latest_price if pool else None,
    )
    session.add(replica)
    session.flush()
    cmd, _ = commands.issue(
        session,
        agent,
        "create_replica",
        request_id=f"emergency-replica-cmd:{event.id}",
        instance_id=primary.id,
        target_pool_id=pool.id if pool else None,
        target_mode="spot",
        payload={
            "replica_id": replica.id,
            "reason": "rebalance notice",
            "notice_deadline": event.notice_deadline.isoformat(),
            "target": {
                "pool_id": pool.id,
                "availability_zone": pool.availability_zone,
                "instance_type": pool.instance_type,
                "region": pool.region,
            }
            if pool
            else None,
        },
        priority=commands.EMERGENCY_PRIORITY,
        issued_by="emergency",
        now=now,
    )
    event.replica_id, event.pool_id, event.command_id, event.status = (
        replica.id,
        replica.pool_id,
        cmd.id,
        "replica_queued",
    )
    _step(event, now, "replica_queued", replica_id=replica.id, pool_id=replica.pool_id, command_id=cmd.id)
    _emit(
        session,
        event,
        "emergency.replica_queued",
        f"emergency replica queued in pool {replica.pool_id or 'same type, any pool'}",
        pre,
        replica_id=replica.id,
        pool_id=replica.pool_id,
    )


def termination_notice(
    session: Session,
    agent: Agent,
    notice_time: datetime | None,
    termination_time: datetime | None,
    now: datetime,
    instance_ref: str | None = None,
) -> EmergencyEvent:
    about = _notice_about(session, agent, instance_ref)
    if about is not None:
        if about.role == Role.REPLICA:
            return replica_notice(session, agent, about, "termination", notice_time, termination_time, now)
        return _retired_notice(session, agent, about, "termination")
    primary = _primary(session, agent)
    notice_time = notice_time or now
    deadline = termination_time or notice_time + NOTICE_WINDOW
    event = repository.active_for(session, agent.id)
    if event is not None and event.kind == "termination":
        return event
    pre = event_state(event) if event else None
    if event is None:
        event = EmergencyEvent(
            client_id=agent.client_id,
            agent_id=agent.id,
            instance_id=primary.id,
            kind="termination",
            status="open",
            notice_time=notice_time,
            notice_deadline=deadline,
            received_at=now,
            steps=[],
        )
        session.add(event)
        session.flush()
    else:
        event.kind, event.notice_deadline = "termination", deadline  # a rebalance that turned into the real thing
    primary.notice_status, primary.notice_received_at, primary.notice_deadline = "termination", now, deadline
    _step(event, now, "termination_notice", deadline=deadline.isoformat())
    _emit(session, event, "emergency.termination", f"termination notice for {primary.cloud_instance_id}", pre)
    candidate, passed_over = _promotable(session, agent, primary)
    if passed_over:
        _step(event, now, "replicas_passed_over", replicas=passed_over)
    if candidate is not None:
        replica, new_primary = candidate
        _promote(session, agent, primary, replica, new_primary, event, now)
        # The standby just became the PRIMARY: queue the next one, away from the pool being reclaimed.
        ensure_standby(session, agent, now, cause=f"promoted:{replica.id}", avoid=(primary.pool_id,), event=event)
    else:
        # The standby (if any) comes back once the fail-over has happened (`after_switch`).
        _fail_over(session, agent, primary, event, now)
    return event


def _standby(replica: Replica, inst: SpotInstance | None, primary: SpotInstance | None) -> bool:
    """Whether a replica on the way or standing could take over from `primary`: not lost, not under a termination
    notice, and not in the PRIMARY's own pool (a reclaim of the pool takes both)."""
    if inst is not None and (inst.role != Role.REPLICA or inst.notice_status == "termination"):
        return False
    pool_id = inst.pool_id if inst is not None else replica.pool_id
    return primary is None or primary.pool_id is None or pool_id != primary.pool_id


def _promotable(
    session: Session, agent: Agent, primary: SpotInstance
) -> tuple[tuple[Replica, SpotInstance] | None, list[dict[str, Any]]]:
    """The health check before a promotion: the first replica that is ready, still a REPLICA (its loss not
    reported), under no notice of its own (one under a rebalance recommendation only when no other is), and not
    in the pool being reclaimed. Also the replicas passed over, and why."""
    ready: list[tuple[Replica, SpotInstance]] = []
    passed: list[dict[str, Any]] = []
    for replica, inst in inst_repo.open_replicas(session, agent.id):
        why = None
        if replica.status != "ready" or inst is None:
            why = f"not ready ({replica.status})"
        elif inst.role != Role.REPLICA:
            why = f"instance is {inst.role}"
        elif inst.notice_status == "termination":
            why = "under a termination notice"
        elif primary.pool_id is not None and inst.pool_id == primary.pool_id:
            why = "in the pool being reclaimed"
        if why is not None:
            passed.append({"replica_id": replica.id, "reason": why})
        else:
            assert inst is not None
            ready.append((replica, inst))
    ready.sort(key=lambda pair: pair[1].notice_status != "none")
    return (ready[0] if ready else None), passed


def _promote(
    session: Session,
    agent: Agent,
    primary: SpotInstance,
    replica: Replica,
    new_primary: SpotInstance,
    event: EmergencyEvent,
    now: datetime,
) -> None:
    pre = event_state(event)
    instances.promote(session, agent, new_primary, reason=f"{event.kind} notice", now=now)
    replica.status, replica.promoted_at = "promoted", now
    cmd, _ = commands.issue(
        session,
        agent,
        "promote_replica",
        request_id=f"emergency-promote:{event.id}",
        instance_id=new_primary.id,
        payload={
            "new_primary": new_primary.cloud_instance_id,
            "old_primary": primary.cloud_instance_id,
            "replica_id": replica.id,
            "notice_deadline": event.notice_deadline.isoformat(),
        },
        priority=commands.EMERGENCY_PRIORITY,
        issued_by="emergency",
        now=now,
    )
    event.status, event.promoted_at, event.replica_id, event.command_id = "promoted", now, replica.id, cmd.id
    event.promotion_seconds = (now - event.received_at).total_seconds()
    event.resolved_at = now
    _step(event, now, "replica_promoted", new_primary=new_primary.cloud_instance_id, command_id=cmd.id)
    _emit(
        session,
        event,
        "emergency.promoted",
        f"{new_primary.cloud_instance_id} promoted to PRIMARY",
        pre,
        new_primary=new_primary.cloud_instance_id,
        old_primary=primary.cloud_instance_id,
        promotion_seconds=event.promotion_seconds,
        command_id=cmd.id,
    )
    _notify(
        session,
        event,
        "Replica promoted",
        f"{new_primary.cloud_instance_id} took over from {primary.cloud_instance_id}.",
    )


def _fail_over(session: Session, agent: Agent, primary: SpotInstance, event: EmergencyEvent, now: datetime) -> None:
    pre = event_state(event)
    for open_cmd in [cmd_repo.open_switch(session, agent.id)]:
        if open_cmd is not None:  # an emergency outranks a user's switch
            open_cmd.status, open_cmd.result = "cancelled", {"reason": "superseded by emergency fail-over"}
    cmd, _ = commands.issue(
        session,
        agent,
        "fallback_on_demand",
        request_id=f"emergency-failover:{event.id}",
        instance_id=primary.id,
        target_mode="on_demand",
        payload={
            "reason": "termination notice without a ready replica",
            "from_instance": primary.cloud_instance_id,
            "notice_deadline": event.notice_deadline.isoformat(),
        },
        priority=commands.EMERGENCY_PRIORITY,
        issued_by="emergency",
        now=now,
    )
    event.status, event.command_id = "failed_over", cmd.id
    _step(event, now, "on_demand_failover_queued", command_id=cmd.id)
    _emit(session, event, "emergency.failover", "no ready replica: on-demand fail-over queued", pre, command_id=cmd.id)
    _notify(
        session, event, "On-demand fail-over", f"{primary.cloud_instance_id} is being reclaimed; moving to on-demand."
    )


def replica_ready(
    session: Session, agent: Agent, cmd: Command, cloud_instance_id: str, boot: Any, now: datetime
) -> Replica | None:
    """A create_replica command finished: the replica exists as a REPLICA instance and is ready."""
    replica_id = (cmd.payload or {}).get("replica_id")
    replica = session.get(Replica, replica_id) if replica_id else None
    if replica is None or replica.status not in ("launching", "syncing"):
        return replica
    pool = inst_repo.get_pool(session, replica.pool_id) if replica.pool_id else None
    inst = inst_repo.instance_by_cloud_id(session, agent.id, cloud_instance_id) or instances.create_instance(
        session,
        agent,
        cloud_instance_id,
        Role.REPLICA,
        pool=pool,
        spot_price=replica.hourly_cost,
        reason=f"{replica.kind} replica",
        now=now,
    )
    boot_seconds = float(boot) if boot is not None else (now - replica.requested_at).total_seconds()
    replica.instance_id, replica.status, replica.ready_at, replica.boot_seconds = inst.id, "ready", now, boot_seconds
    if pool is not None:
        # A running estimate of the pool's boot time, so the next emergency picks by measurement.
        pool.boot_seconds_p50 = (
            boot_seconds if pool.boot_seconds_p50 is None else 0.8 * pool.boot_seconds_p50 + 0.2 * boot_seconds
        )
    event = repository.by_replica(session, replica.id)
    if event is not None and event.status in repository.ACTIVE:
        pre = event_state(event)
        _step(event, now, "replica_ready", instance=cloud_instance_id, boot_seconds=boot_seconds)
        _emit(
            session,
            event,
            "emergency.replica_ready",
            f"replica {cloud_instance_id} ready",
            pre,
            boot_seconds=boot_seconds,
        )
    _release_surplus(session, agent, now)
    return replica


def replica_failed(session: Session, agent: Agent, cmd: Command, message: str | None, now: datetime) -> None:
    """A create_replica command failed (no capacity, launch refused): the replica will not come. A standby is
    tried once more in another pool; a failed retry waits for the next promotion, loss, switch or engine sweep."""
    replica_id = (cmd.payload or {}).get("replica_id")
    replica = session.get(Replica, replica_id) if replica_id else None
    if replica is None or replica.status not in ("launching", "syncing"):
        return
    pre = instances.replica_state(replica)
    replica.status = "failed"
    activity.record(
        session,
        "replica.failed",
        f"replica {replica.id} could not be launched: {message or 'no reason given'}",
        client_id=agent.client_id,
        agent_id=agent.id,
        severity="warning",
        data={"replica_id": replica.id, "pool_id": replica.pool_id, "command_id": cmd.id},
        topic="spot.replica.failed",
        audit=("spot_replica", replica.id, pre, instances.replica_state(replica)),
    )
    if replica.kind != "emergency" and not (replica.request_id or "").startswith("standby:retry:"):
        ensure_standby(session, agent, now, cause=f"retry:{replica.id}", avoid=(replica.pool_id,))


def replica_notice(
    session: Session,
    agent: Agent,
    inst: SpotInstance,
    kind: str,
    notice_time: datetime | None,
    termination_time: datetime | None,
    now: datetime,
) -> EmergencyEvent:
    """A notice about one of the agent's replicas, reported by its agent (the cloud's notice for that instance, or
    the agent found it gone). A termination: the replica is lost — TERMINATED through the state machine, never
    promoted — and the standby is re-created in another pool. A rebalance recommendation: the replica stands, but
    a promotion prefers one without a notice. Repeats return the first record."""
    existing = repository.for_instance(session, agent.id, inst.id, kind)
    if existing is not None:
        return existing
    replica = inst_repo.replica_by_instance(session, inst.id)
    notice_time = notice_time or now
    event = EmergencyEvent(
        client_id=agent.client_id,
        agent_id=agent.id,
        instance_id=inst.id,
        kind=kind,
        status="replica_lost" if kind == "termination" else "replica_at_risk",
        notice_time=notice_time,
        notice_deadline=termination_time or notice_time + NOTICE_WINDOW,
        received_at=now,
        replica_id=replica.id if replica else None,
        pool_id=inst.pool_id,
        resolved_at=now,
        steps=[],
    )
    session.add(event)
    session.flush()
    _step(event, now, "notice_received", kind=kind, replica=inst.cloud_instance_id)
    if kind == "rebalance":
        inst.notice_status, inst.notice_received_at, inst.notice_deadline = "rebalance", now, event.notice_deadline
        _emit(
            session,
            event,
            "emergency.replica_at_risk",
            f"rebalance recommendation for replica {inst.cloud_instance_id}",
            None,
            severity="info",
        )
        return event
    instances.set_role(session, inst, Role.TERMINATED, reason="replica reclaimed by the cloud", now=now)
    if replica is not None and replica.status != "promoted":
        replica.status, replica.terminated_at = "terminated", now
    _step(event, now, "replica_terminated", replica=inst.cloud_instance_id)
    _emit(
        session,
        event,
        "emergency.replica_lost",
        f"replica {inst.cloud_instance_id} is being reclaimed; it will not be promoted",
        None,
        severity="warning",
        replica_id=event.replica_id,
    )
    active = repository.active_for(session, agent.id)
    if active is not None and replica is not None and active.replica_id == replica.id:
        # The replica an open emergency was waiting for: its termination notice now fails over to on-demand.
        _step(active, now, "replica_lost", replica=inst.cloud_instance_id, emergency_event_id=event.id)
    queued = ensure_standby(session, agent, now, cause=f"lost:{event.id}", avoid=(inst.pool_id,), event=event)
    _notify(
        session,
        event,
        "Standby replica lost",
        f"Replica {inst.cloud_instance_id} is being reclaimed by the cloud"
        + ("; a new standby is on its way." if queued else "."),
        severity="warning",
    )
    return event


def promotion_failed(session: Session, agent: Agent, cmd: Command, message: str | None, now: datetime) -> None:
    """The agent could not move to the promoted replica (it found it gone before its loss was reported): the
    replica is TERMINATED and the workload fails over to on-demand at once from the instance still serving."""
    event = repository.by_command(session, cmd.id)
    payload = cmd.payload or {}
    replica = session.get(Replica, payload.get("replica_id")) if payload.get("replica_id") else None
    inst = inst_repo.get_instance(session, replica.instance_id) if replica and replica.instance_id else None
    old = inst_repo.instance_by_cloud_id(session, agent.id, str(payload.get("old_primary") or ""))
    if event is None or replica is None or inst is None or old is None or inst.role != Role.PRIMARY:
        return
    pre = event_state(event)
    later = repository.active_for(session, agent.id)
    instances.set_role(session, inst, Role.TERMINATED, reason="promoted replica found gone by the agent", now=now)
    replica.status, replica.terminated_at = "terminated", now
    event.promoted_at = event.promotion_seconds = None
    _step(event, now, "promotion_failed", replica=inst.cloud_instance_id, reason=message)
    _emit(
        session,
        event,
        "emergency.promotion_failed",
        f"replica {inst.cloud_instance_id} was gone: promotion failed",
        pre,
        replica_id=replica.id,
    )
    if later is not None and later.id != event.id:
        # The promoted replica's own termination notice came first: that emergency already fails over.
        event.status = "failed_over"
        _step(event, now, "superseded", emergency_event_id=later.id)
        return
    event.resolved_at = None
    _fail_over(session, agent, old, event, now)


def desired_standbys(session: Session, agent: Agent, primary: SpotInstance | None) -> int:
    """Standby replicas to keep: one in manual replica mode; with auto-switch, the policy's `min_replicas` while
    the PRIMARY runs on spot (the engine keeps risk-driven replicas itself, at its next sweep)."""
    wanted = 1 if agent.manual_replica_enabled else 0
    if agent.auto_switch_enabled and primary is not None and primary.lifecycle == "spot":
        from spectra.spot.decisions import service as decisions  # decisions build on instances and commands

        with contextlib.suppress(SpectraError):  # an invalid policy is reported where decisions are made
            wanted = max(wanted, decisions.policy_for(session, agent).min_replicas)
    return wanted


def ensure_standby(
    session: Session,
    agent: Agent,
    now: datetime,
    *,
    cause: str,
    avoid: tuple[str | None, ...] = (),
    event: EmergencyEvent | None = None,
) -> list[Replica]:
    """Queue `create_replica` commands until the agent has the configured number of standbys on the way or
    standing. Each goes to the fastest-boot, lowest-risk pool of the instance's type other than the PRIMARY's,
    those in `avoid` (being reclaimed) and, while others exist, those where standbys already stand. Idempotent by
    `cause`: the same cause never queues twice."""
    primary = inst_repo.primary_of(session, agent.id)
    if primary is None:
        return []
    wanted = desired_standbys(session, agent, primary)
    standing = [(r, i) for r, i in inst_repo.open_replicas(session, agent.id) if _standby(r, i, primary)]
    if len(standing) >= wanted:
        return []
    excluded = {primary.pool_id, *avoid}
    occupied = {i.pool_id if i is not None else r.pool_id for r, i in standing}
    queued: list[Replica] = []
    for n in range(wanted - len(standing)):
        request_id = f"standby:{cause}:{n}"
        if inst_repo.replica_by_request_id(session, request_id) is not None:
            continue
        pool = instances.pick_emergency_pool(
            session, agent, None, excluded | occupied
        ) or instances.pick_emergency_pool(session, agent, None, excluded)
        if pool is None:
            activity.record(
                session,
                "replica.no_pool",
                f"no pool of {agent.instance_type} outside the PRIMARY's and reclaimed pools for a standby",
                client_id=agent.client_id,
                agent_id=agent.id,
                severity="warning",
                data={"cause": cause},
            )
            break
        queued.append(_queue_standby(session, agent, primary, pool, request_id, cause, wanted, now, event))
        occupied.add(pool.id)
    return queued


def _queue_standby(
    session: Session,
    agent: Agent,
    primary: SpotInstance,
    pool: Pool,
    request_id: str,
    cause: str,
    wanted: int,
    now: datetime,
    event: EmergencyEvent | None,
) -> Replica:
    replica = Replica(
        client_id=agent.client_id,
        agent_id=agent.id,
        primary_instance_id=primary.id,
        pool_id=pool.id,
        request_id=request_id,
        kind="manual" if agent.manual_replica_enabled else "policy",
        status="launching",
        requested_at=now,
        hourly_cost=pool.latest_price,
    )
    session.add(replica)
    session.flush()
    cmd, _ = commands.issue(
        session,
        agent,
        "create_replica",
        request_id=f"standby-cmd:{replica.id}",
        instance_id=primary.id,
        target_pool_id=pool.id,
        target_mode="spot",
        payload={
            "replica_id": replica.id,
            "reason": f"keeping {wanted} standby replica(s) ({cause.partition(':')[0]})",
            "target": commands.pool_payload(pool),
        },
        issued_by="emergency",
        now=now,
    )
    if event is not None:
        _step(event, now, "standby_queued", replica_id=replica.id, pool_id=pool.id, command_id=cmd.id)
    return replica


def _release_surplus(session: Session, agent: Agent, now: datetime) -> None:
    """Once enough standbys are ready, a kept replica that could not take over (it stands in the PRIMARY's pool,
    which the PRIMARY moved into) is released: a `terminate` command ends it."""
    primary = inst_repo.primary_of(session, agent.id)
    wanted = desired_standbys(session, agent, primary)
    rows = inst_repo.open_replicas(session, agent.id)
    ready = [r for r, i in rows if r.status == "ready" and _standby(r, i, primary)]
    if wanted == 0 or len(ready) < wanted:
        return
    for replica, inst in rows:
        if inst is None or replica.kind == "emergency" or inst.role != Role.REPLICA or _standby(replica, inst, primary):
            continue
        pre = instances.replica_state(replica)
        replica.status, replica.terminated_at = "terminated", now
        commands.issue(
            session,
            agent,
            "terminate",
            request_id=f"release-replica:{replica.id}",
            instance_id=inst.id,
            payload={"cloud_instance_id": inst.cloud_instance_id, "reason": "standby in the PRIMARY's pool replaced"},
            issued_by="emergency",
            now=now,
        )
        activity.record(
            session,
            "replica.released",
            f"replica {inst.cloud_instance_id} released: it stands in the PRIMARY's pool",
            client_id=agent.client_id,
            agent_id=agent.id,
            instance_id=inst.id,
            data={"replica_id": replica.id},
            audit=("spot_replica", replica.id, pre, instances.replica_state(replica)),
        )


def after_switch(session: Session, agent: Agent, switch_id: str, now: datetime) -> None:
    """The PRIMARY moved (a switch, a fail-over, a return to spot): keep the standbys it now needs."""
    ensure_standby(session, agent, now, cause=f"switch:{switch_id}")


def resolve_after_switch(session: Session, agent: Agent, new_cloud_id: str, now: datetime) -> None:
    """The switch an emergency asked for happened: the emergency is over."""
    event = repository.active_for(session, agent.id)
    if event is None:
        return
    pre = event_state(event)
    event.resolved_at = now
    if event.promotion_seconds is None:
        event.promotion_seconds = (now - event.received_at).total_seconds()
    _step(event, now, "resolved", new_primary=new_cloud_id)
    _emit(session, event, "emergency.resolved", f"{new_cloud_id} serves; emergency over", pre)


def _notify(session: Session, event: EmergencyEvent, title: str, message: str, severity: str | None = None) -> None:
    session.add(
        Notification(
            client_id=event.client_id,
            kind="emergency",
            severity=severity or ("critical" if event.kind == "termination" else "warning"),
            title=title,
            message=message,
            entity_type="spot_emergency_event",
            entity_id=event.id,
            data={"agent_id": event.agent_id, "status": event.status},
        )
    )


def status(session: Session, agent: Agent, now: datetime) -> dict[str, Any]:
    event = repository.active_for(session, agent.id) or repository.latest_for(session, agent.id)
    primary = inst_repo.primary_of(session, agent.id)
    replica = session.get(Replica, event.replica_id) if event and event.replica_id else None
    active = event is not None and event.status in repository.ACTIVE and event.resolved_at is None
    return {
        "agent_id": agent.id,
        "in_emergency": active,
        "notice_status": primary.notice_status if primary else "none",
        "notice_deadline": event.notice_deadline if event else None,
        "seconds_remaining": max(0.0, (event.notice_deadline - now).total_seconds()) if event and active else None,
        "primary_instance_id": primary.cloud_instance_id if primary else None,
        "fastest_boot_pool_id": primary.fastest_boot_pool_id if primary else None,
        "event": event_out(event) if event else None,
        "replica": {
            "id": replica.id,
            "status": replica.status,
            "pool_id": replica.pool_id,
            "instance_id": replica.instance_id,
            "boot_seconds": replica.boot_seconds,
        }
        if replica
        else None,
    }


def event_out(event: EmergencyEvent) -> dict[str, Any]:
    return {
        "id": event.id,
        "client_id": event.client_id,
        "agent_id": event.agent_id,
        "instance_id": event.instance_id,
        "kind": event.kind,
        "status": event.status,
        "notice_time": event.notice_time,
        "notice_deadline": event.notice_deadline,
        "received_at": event.received_at,
        "replica_id": event.replica_id,
        "pool_id": event.pool_id,
        "command_id": event.command_id,
        "promoted_at": event.promoted_at,
        "promotion_seconds": event.promotion_seconds,
        "steps": event.steps,
    }


def summary(session: Session, client_id: str | None, since: datetime, window_seconds: float) -> dict[str, Any]:
    rows = repository.events(session, client_id, since)
    by_kind: dict[str, int] = {}
    by_status: dict[str, int] = {}
    for e in rows:
        by_kind[e.kind] = by_kind.get(e.kind, 0) + 1
        by_status[e.status] = by_status.get(e.status, 0) + 1
    times = [e.promotion_seconds for e in rows if e.promotion_seconds is not None]
    return {
        "since": since,
        "total": len(rows),
        "by_kind": by_kind,
        "by_status": by_status,
        "promotion_seconds": {
            "count": len(times),
            "p50": percentile(times, 50),
            "p95": percentile(times, 95),
            "max": max(times) if times else None,
            "within_window_pct": round(100 * sum(t <= window_seconds for t in times) / len(times), 2)
            if times
            else None,
            "window_seconds": window_seconds,
        },
        "events": [event_out(e) for e in rows[:100]],
    }
