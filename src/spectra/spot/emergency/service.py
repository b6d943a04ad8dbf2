"""v6 emergency flows. A rebalance notice (the cloud may reclaim the instance soon; AWS gives about two
minutes of useful warning) queues a replica in the fastest-boot, lowest-risk pool; a termination notice
promotes a ready replica at once, or fails over to on-demand. Every step is an event, an audit row and a step
in the emergency event's timeline."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from spectra.core.errors import Conflict
from spectra.spot import activity
from spectra.spot.commands import repository as cmd_repo
from spectra.spot.commands import service as commands
from spectra.spot.emergency import repository
from spectra.spot.emergency.models import EmergencyEvent
from spectra.spot.instances import repository as inst_repo
from spectra.spot.instances import service as instances
from spectra.spot.instances.state_machine import Role
from spectra.spot.models import Agent, Command, Notification, Replica, SpotInstance
from spectra.spot.numbers import percentile

NOTICE_WINDOW = timedelta(minutes=2)


def event_state(event: EmergencyEvent) -> dict[str, Any]:
    return {"kind": event.kind, "status": event.status, "replica_id": event.replica_id, "version": event.version}


def _step(event: EmergencyEvent, now: datetime, step: str, **detail: Any) -> None:
    # Reassign (not append) so the JSON column is seen as changed.
    event.steps = [*event.steps, {"at": now.isoformat(), "step": step, **detail}]


def _emit(
    session: Session, event: EmergencyEvent, topic: str, message: str, pre: dict[str, Any] | None, **data: Any
) -> None:
    activity.record(
        session,
        topic,
        message,
        client_id=event.client_id,
        agent_id=event.agent_id,
        instance_id=event.instance_id,
        severity="critical" if event.kind == "termination" else "warning",
        data={"emergency_event_id": event.id, "notice_deadline": event.notice_deadline.isoformat(), **data},
        topic=topic,
        audit=("spot_emergency_event", event.id, pre, event_state(event)),
    )


def _primary(session: Session, agent: Agent) -> SpotInstance:
    primary = inst_repo.primary_of(session, agent.id)
    if primary is None:
        raise Conflict(f"agent {agent.id} has no PRIMARY instance", code="no_primary")
    return primary


def rebalance_notice(session: Session, agent: Agent, notice_time: datetime | None, now: datetime) -> EmergencyEvent:
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
    existing = inst_repo.open_replica(session, agent.id)
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
    session: Session, agent: Agent, notice_time: datetime | None, termination_time: datetime | None, now: datetime
) -> EmergencyEvent:
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
    replica = inst_repo.ready_replica(session, agent.id)
    if replica is not None:
        _promote(session, agent, primary, replica, event, now)
    else:
        _fail_over(session, agent, primary, event, now)
    return event


def _promote(
    session: Session, agent: Agent, primary: SpotInstance, replica: Replica, event: EmergencyEvent, now: datetime
) -> None:
    pre = event_state(event)
    assert replica.instance_id is not None
    new_primary = instances.get_instance(session, replica.instance_id)
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
    return replica


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


def _notify(session: Session, event: EmergencyEvent, title: str, message: str) -> None:
    session.add(
        Notification(
            client_id=event.client_id,
            kind="emergency",
            severity="critical" if event.kind == "termination" else "warning",
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
