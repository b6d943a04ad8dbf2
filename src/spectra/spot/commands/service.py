"""The command queue: issue (idempotent by request id), deliver (long-poll), acknowledge (idempotent),
and the switch flows that put commands in it (force-switch, issue-switch-command, switch reports)."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from spectra.core.clock import clock
from spectra.core.context import current_actor, current_request_id
from spectra.core.db import new_id
from spectra.core.errors import Conflict, NotFound, Unprocessable
from spectra.core.events import publish
from spectra.spot import activity
from spectra.spot.commands import repository
from spectra.spot.instances import repository as inst_repo
from spectra.spot.instances import service as instances
from spectra.spot.instances.state_machine import Role
from spectra.spot.models import Agent, Command, Pool, SpotInstance, SwitchEvent

# A command nobody acknowledged in this long is handed out again; one nobody fetched in a day expires.
REDELIVER_AFTER = timedelta(minutes=2)
COMMAND_TTL = timedelta(hours=24)
# The longest a long-poll (pending-commands, or a heartbeat that waits) is held.
MAX_WAIT_SECONDS = 60.0
EMERGENCY_PRIORITY = 100
USER_PRIORITY = 50


def command_state(cmd: Command) -> dict[str, Any]:
    return {"status": cmd.status, "command_type": cmd.command_type, "version": cmd.version, "result": cmd.result}


def issue(
    session: Session,
    agent: Agent,
    command_type: str,
    *,
    request_id: str | None = None,
    instance_id: str | None = None,
    target_pool_id: str | None = None,
    target_mode: str | None = None,
    payload: dict[str, Any] | None = None,
    priority: int = USER_PRIORITY,
    issued_by: str = "user",
    now: datetime | None = None,
    ttl: timedelta = COMMAND_TTL,
) -> tuple[Command, bool]:
    """Queue a command; (command, created). A known request id returns the first command unchanged.
    `ttl`: how long it may wait for the agent to take it before it expires."""
    now = now or clock.now()
    request_id = request_id or new_id()
    existing = repository.by_request_id(session, request_id)
    if existing is not None:
        if existing.agent_id != agent.id or existing.command_type != command_type:
            raise Conflict("this request id was already used for another command", code="request_id_reused")
        return existing, False
    payload = dict(payload or {})
    if target_pool_id and not payload.get("target"):
        # The agent knows zones and types, not pool ids: a command naming a pool says where that is.
        payload["target"] = pool_payload(inst_repo.get_pool(session, target_pool_id))
    cmd = Command(
        client_id=agent.client_id,
        agent_id=agent.id,
        instance_id=instance_id,
        request_id=request_id,
        command_type=command_type,
        target_pool_id=target_pool_id,
        target_mode=target_mode,
        payload=payload,
        priority=priority,
        issued_by=issued_by,
        expires_at=now + ttl,
    )
    session.add(cmd)
    session.flush()  # the unique request_id holds at the database level too
    activity.record(
        session,
        "command.issued",
        f"{command_type} queued for agent {agent.id}",
        client_id=agent.client_id,
        agent_id=agent.id,
        instance_id=instance_id,
        data={"command_id": cmd.id, "command_type": command_type, "priority": priority, "issued_by": issued_by},
        topic="spot.command.issued",
        audit=("spot_command", cmd.id, None, command_state(cmd)),
    )
    return cmd, True


def agent_scoped_request_id(agent: Agent, request_id: str) -> str:
    """A caller's X-Request-ID, made unique per agent (two tenants may pick the same id) and kept in 128 chars."""
    scoped = f"{agent.id}:{request_id}"
    if len(scoped) > 128:
        scoped = f"{agent.id}:{hashlib.sha256(request_id.encode()).hexdigest()}"
    return scoped


def _claim_switch_slot(session: Session, agent: Agent) -> None:
    """One switch in flight per agent. The agent row's version is the lock: of two concurrent switches the
    second's versioned UPDATE finds the row changed and fails (409), on SQLite and PostgreSQL alike.
    On PostgreSQL the row is first locked with NOWAIT: a concurrent claimer is refused at once instead of
    queuing on the lock (fifty queued requests would hold fifty connections and worker threads)."""
    if session.get_bind().dialect.name == "postgresql":
        try:
            with session.begin_nested():
                session.execute(select(Agent.id).where(Agent.id == agent.id).with_for_update(nowait=True))
        except OperationalError as exc:
            raise Conflict(f"agent {agent.id} is being switched by another request", code="switch_in_progress") from exc
    if repository.open_switch(session, agent.id) is not None:
        raise Conflict(
            f"agent {agent.id} already has a switch in progress; wait for it or let it expire",
            code="switch_in_progress",
        )
    agent.updated_at = clock.now()
    session.flush()


def request_switch(
    session: Session,
    agent: Agent,
    *,
    target_pool_id: str | None,
    target_mode: str,
    reason: str,
    issued_by: str,
    request_id: str | None = None,
) -> tuple[Command, bool]:
    """Force-switch / issue-switch-command: validate the target, claim the agent's switch slot, queue it."""
    header_id = current_request_id()
    if request_id is None and header_id:
        request_id = agent_scoped_request_id(agent, header_id)
    if request_id:
        existing = repository.by_request_id(session, request_id)
        if existing is not None and existing.agent_id == agent.id:
            return existing, False
    primary = inst_repo.primary_of(session, agent.id)
    if primary is None:
        raise Conflict(f"agent {agent.id} has no PRIMARY instance to switch", code="no_primary")
    pool: Pool | None = None
    if target_mode == "spot":
        if not target_pool_id:
            raise Unprocessable("a spot switch needs target_pool_id", [{"field": "target_pool_id", "msg": "required"}])
        pool = instances.get_pool(session, target_pool_id)
        if primary.instance_type and pool.instance_type != primary.instance_type:
            _check_other_type(session, agent, primary, pool)
        if pool.id == primary.pool_id and primary.lifecycle == "spot":
            raise Conflict("the instance already runs in that pool", code="already_there")
    elif primary.lifecycle == "on_demand":
        raise Conflict("the instance already runs on-demand", code="already_there")
    _claim_switch_slot(session, agent)
    command_type = "switch" if target_mode == "spot" else "fallback_on_demand"
    return issue(
        session,
        agent,
        command_type,
        request_id=request_id,
        instance_id=primary.id,
        target_pool_id=pool.id if pool else None,
        target_mode=target_mode,
        payload={
            "reason": reason,
            "from_instance": primary.cloud_instance_id,
            "from_pool_id": primary.pool_id,
            "target": pool_payload(pool),
            "requested_by": current_actor(),
        },
        issued_by=issued_by,
    )


def _check_other_type(session: Session, agent: Agent, primary: SpotInstance, pool: Pool) -> None:
    """A switch to a pool of another instance type is a move between alike machines, allowed only when the agent's
    policy sets `similar_instance_types` and the type is of the same size class (vCPUs, memory within 10 %, CPU
    architecture, GPUs, burstable or not) in the instance's region. Anything else changes capacity: a resize."""
    from spectra.spot.decisions import service as decisions  # decisions build on commands

    assert primary.instance_type is not None
    region = primary.region or agent.region
    why = None
    if pool.region != region:
        why = f"pool {pool.id} is in {pool.region}, the instance in {region}; moving regions is a migration"
    elif pool.product_description != agent.product_description:
        why = f"pool {pool.id} runs {pool.product_description}, the instance {agent.product_description}"
    elif not decisions.policy_for(session, agent).similar_instance_types:
        why = (
            f"pool {pool.id} is {pool.instance_type}, the instance is {primary.instance_type}; the agent's policy "
            "does not allow similar instance types (similar_instance_types)"
        )
    elif pool.instance_type not in decisions.similar_types(
        session, pool.region, primary.instance_type, pool.product_description
    ):
        why = (
            f"{pool.instance_type} is not the same size as {primary.instance_type} (vCPUs, memory, architecture); "
            "that is a resize, not a switch"
        )
    if why is not None:
        raise Unprocessable(why, [{"field": "target_pool_id", "msg": "instance type differs"}])


def pool_payload(pool: Pool | None) -> dict[str, Any] | None:
    if pool is None:
        return None
    return {
        "pool_id": pool.id,
        "region": pool.region,
        "availability_zone": pool.availability_zone,
        "instance_type": pool.instance_type,
        "product_description": pool.product_description,
    }


def has_deliverable(session: Session, agent: Agent, now: datetime) -> bool:
    """A read-only look, so idle long-polls never take the write lock."""
    return bool(repository.deliverable(session, agent.id, now - REDELIVER_AFTER, 1))


def take_deliverable(session: Session, agent: Agent, now: datetime, limit: int = 20) -> list[Command]:
    """The agent's commands to run now, highest priority first; marks them delivered. Two polls of the same
    agent never both get a command (conditional update on its version)."""
    cmds = repository.deliverable(session, agent.id, now - REDELIVER_AFTER, limit)
    return [
        cmd
        for cmd in cmds
        if (cmd.expires_at is None or cmd.expires_at >= now) and repository.claim_delivery(session, cmd, now)
    ]


def get_command(session: Session, agent: Agent, command_id: str) -> Command:
    cmd = repository.get(session, command_id)
    if cmd is None or cmd.agent_id != agent.id:
        raise NotFound("command not found")
    return cmd


def mark_executed(
    session: Session, agent: Agent, command_id: str, success: bool, result: dict[str, Any], now: datetime
) -> tuple[Command, bool]:
    """Record the outcome once; a repeat report returns the recorded outcome and changes nothing.

    A command that expired after the agent took it is still answered: the agent acted, so its report is the
    truth about the cloud (refusing it would leave the server believing nothing changed)."""
    cmd = get_command(session, agent, command_id)
    if cmd.status in ("executed", "failed"):
        return cmd, False
    if cmd.status == "cancelled" or (cmd.status == "expired" and cmd.delivered_at is None):
        raise Conflict(f"command is {cmd.status}; its outcome is no longer accepted", code="command_closed")
    pre = command_state(cmd)
    cmd.status = "executed" if success else "failed"
    cmd.executed_at, cmd.result = now, result
    session.flush()
    if success:
        _apply_effects(session, agent, cmd, result, now)
    else:
        _apply_failure(session, agent, cmd, result, now)
    if (cmd.payload or {}).get("carbon"):
        from spectra.spot.carbon_actions import service as carbon_actions  # carbon actions build on commands

        carbon_actions.command_finished(session, agent, cmd, success, result, now)
    activity.record(
        session,
        f"command.{cmd.status}",
        f"{cmd.command_type} {cmd.status} on agent {agent.id}",
        client_id=agent.client_id,
        agent_id=agent.id,
        instance_id=cmd.instance_id,
        severity="info" if success else "warning",
        data={"command_id": cmd.id, "command_type": cmd.command_type, "result": result},
        topic=f"spot.command.{cmd.status}",
        audit=("spot_command", cmd.id, pre, command_state(cmd)),
    )
    return cmd, True


def _apply_effects(session: Session, agent: Agent, cmd: Command, result: dict[str, Any], now: datetime) -> None:
    if cmd.command_type == "terminate" and cmd.instance_id:
        inst = inst_repo.get_instance(session, cmd.instance_id)
        if inst is not None and inst.role != Role.TERMINATED:
            instances.set_role(session, inst, Role.TERMINATED, reason="terminate command executed", now=now)
            replica = inst_repo.replica_by_instance(session, inst.id)
            if replica is not None and replica.status != "promoted":
                replica.status, replica.terminated_at = "terminated", replica.terminated_at or now
    elif cmd.command_type == "create_replica" and result.get("instance_id"):
        from spectra.spot.emergency.service import replica_ready  # emergency builds on commands

        replica_ready(session, agent, cmd, str(result["instance_id"]), result.get("boot_seconds"), now)
    elif cmd.command_type in repository.SWITCHING and result.get("new_instance_id"):
        complete_switch(session, agent, {**result, "command_id": cmd.id}, now)


def _apply_failure(session: Session, agent: Agent, cmd: Command, result: dict[str, Any], now: datetime) -> None:
    """What a failed command means beyond its own status: a replica that will not come, or a promotion the agent
    could not make because the replica was gone (then the workload fails over to on-demand at once)."""
    from spectra.spot.emergency import service as emergency  # emergency builds on commands

    message = result.get("message")
    if cmd.command_type == "create_replica":
        emergency.replica_failed(session, agent, cmd, str(message) if message else None, now)
    elif cmd.command_type == "promote_replica":
        emergency.promotion_failed(session, agent, cmd, str(message) if message else None, now)


def complete_switch(session: Session, agent: Agent, report: dict[str, Any], now: datetime) -> SwitchEvent:
    """A switch happened on the agent: the new instance becomes PRIMARY, the old one a ZOMBIE, and the switch
    is recorded once (a repeated report of the same command or new instance returns the first record)."""
    from spectra.spot.analytics import repository as analytics_repo

    command_id = report.get("command_id")
    new_cloud_id = str(report.get("new_instance_id") or "")
    if not new_cloud_id:
        raise Unprocessable("new_instance_id is required", [{"field": "new_instance_id", "msg": "required"}])
    existing = analytics_repo.switch_for(session, agent.id, command_id, new_cloud_id)
    if existing is not None:
        return existing
    cmd = repository.get(session, command_id) if command_id else None
    if command_id and (cmd is None or cmd.agent_id != agent.id):
        raise NotFound("command not found")
    old = inst_repo.primary_of(session, agent.id)
    if (
        report.get("old_instance_id")
        and old is not None
        and report["old_instance_id"]
        not in (
            old.cloud_instance_id,
            old.id,
        )
    ):
        raise Conflict(
            f"the agent's PRIMARY is {old.cloud_instance_id}, not {report['old_instance_id']}",
            code="primary_mismatch",
        )
    mode = str(report.get("lifecycle") or (cmd.target_mode if cmd else None) or "spot")
    pool = _report_pool(session, agent, report, cmd)
    price = report.get("price")
    success = bool(report.get("success", True))
    new_inst = None
    if success:
        new_inst = inst_repo.instance_by_cloud_id(session, agent.id, new_cloud_id)
        if new_inst is None:
            new_inst = instances.create_instance(
                session,
                agent,
                new_cloud_id,
                Role.REPLICA,
                pool=pool,
                lifecycle="on_demand" if mode in ("on_demand", "on-demand", "ondemand") else "spot",
                spot_price=float(price) if price is not None else (pool.latest_price if pool else None),
                reason="switch target launched",
                now=now,
            )
        instances.promote(session, agent, new_inst, reason=str(report.get("reason") or "switch"), now=now)
        agent.instance_type = new_inst.instance_type or agent.instance_type
        agent.availability_zone = new_inst.availability_zone or agent.availability_zone
    on_demand = (old.on_demand_price if old else None) or (pool.on_demand_price if pool else None)
    old_price = instances.hourly_price(old) if old else None
    new_price = instances.hourly_price(new_inst) if new_inst else None
    started = _time(report.get("started_at")) or (cmd.delivered_at if cmd and cmd.delivered_at else now)
    event = SwitchEvent(
        client_id=agent.client_id,
        agent_id=agent.id,
        command_id=command_id,
        request_id=report.get("request_id"),
        trigger=str(report.get("trigger") or (cmd.issued_by if cmd else "agent")),
        old_instance_id=old.cloud_instance_id if old else report.get("old_instance_id"),
        new_instance_id=new_cloud_id,
        from_pool_id=old.pool_id if old else None,
        to_pool_id=new_inst.pool_id if new_inst else (pool.id if pool else None),
        from_mode=old.lifecycle if old else None,
        to_mode=new_inst.lifecycle if new_inst else mode,
        old_price=old_price,
        new_price=new_price,
        on_demand_price=on_demand,
        savings_per_hour=round(old_price - new_price, 6) if old_price is not None and new_price is not None else None,
        downtime_seconds=float(report["downtime_seconds"]) if report.get("downtime_seconds") is not None else None,
        success=success,
        started_at=started,
        completed_at=_time(report.get("completed_at")) or now,
        user_id=(cmd.payload or {}).get("requested_by") if cmd else None,
        pre_state={"primary": old.cloud_instance_id if old else None, "pool_id": old.pool_id if old else None},
        post_state={"primary": new_cloud_id if success else (old.cloud_instance_id if old else None)},
    )
    session.add(event)
    if cmd is not None and cmd.status in repository.OPEN:
        cmd.status = "executed" if success else "failed"
        cmd.executed_at, cmd.result = now, {k: v for k, v in report.items() if k != "command_id"}
    session.flush()
    if success:
        from spectra.spot.emergency import service as emergency

        emergency.resolve_after_switch(session, agent, new_cloud_id, now)
        emergency.after_switch(session, agent, event.id, now)
    activity.record(
        session,
        "switch.completed" if success else "switch.failed",
        f"switch {event.old_instance_id} → {new_cloud_id} "
        + (f"({event.downtime_seconds:.1f}s downtime)" if event.downtime_seconds is not None else ""),
        client_id=agent.client_id,
        agent_id=agent.id,
        instance_id=new_inst.id if new_inst else None,
        severity="info" if success else "warning",
        data={"switch_id": event.id, "downtime_seconds": event.downtime_seconds, "trigger": event.trigger},
        topic="spot.switch.completed" if success else "spot.switch.failed",
    )
    return event


def _report_pool(session: Session, agent: Agent, report: dict[str, Any], cmd: Command | None) -> Pool | None:
    if report.get("new_pool_id"):
        return instances.get_pool(session, str(report["new_pool_id"]))
    zone = report.get("new_availability_zone") or report.get("availability_zone")
    itype = report.get("new_instance_type") or report.get("instance_type") or agent.instance_type
    region = report.get("region") or agent.region
    if zone and itype and region:
        return inst_repo.ensure_pool(session, str(region), str(zone), str(itype), agent.product_description)
    if cmd is not None and cmd.target_pool_id:
        return inst_repo.get_pool(session, cmd.target_pool_id)
    primary = inst_repo.primary_of(session, agent.id)
    return inst_repo.get_pool(session, primary.pool_id) if primary and primary.pool_id else None


def _time(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    from datetime import UTC

    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def notify_agents_of(session: Session, agent: Agent) -> None:
    """Wake long-polling agents without queuing anything (config changed)."""
    publish(session, "spot.agent.config_changed", {"agent_id": agent.id}, client_id=agent.client_id)
