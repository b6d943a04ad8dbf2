"""Operator views across clients: stats, growth, global lists, activity, health, search, pools, bulk actions."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from spectra.core import repository as core_repo
from spectra.core.errors import SpectraError
from spectra.fleet import service as fleet
from spectra.spot.agents.models import SpotActivity
from spectra.spot.analytics import repository as analytics_repo
from spectra.spot.analytics import service as analytics
from spectra.spot.commands import repository as cmd_repo
from spectra.spot.commands import service as commands
from spectra.spot.instances import repository as inst_repo
from spectra.spot.instances import service as instances
from spectra.spot.models import Agent, Pool, SpotInstance, SpotPriceSnapshot


def stats(session: Session, now: datetime) -> dict[str, Any]:
    agents = inst_repo.list_agents(session, None)
    by_status: dict[str, int] = {}
    for a in agents:
        by_status[a.status] = by_status.get(a.status, 0) + 1
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    money = analytics.savings(session, None, 30, now)
    return {
        "clients": len(fleet.list_clients(session)),
        "agents": len(agents),
        "agents_by_status": by_status,
        "instances_by_role": inst_repo.count_instances_by_role(session, None),
        "pools": int(session.scalar(select(func.count(Pool.id))) or 0),
        "switches_today": len(analytics_repo.switch_events(session, None, since=today)),
        "open_commands": cmd_repo.count_open(session),
        "savings_30d_usd": money["total_savings_usd"],
        "savings_30d_pct": money["savings_pct"],
    }


def client_growth(session: Session, days: int, now: datetime) -> list[dict[str, Any]]:
    clients = fleet.list_clients(session)
    first = now.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=days - 1)
    out = []
    for d in range(days):
        start = first + timedelta(days=d)
        end = start + timedelta(days=1)
        out.append(
            {
                "date": start.date().isoformat(),
                "new_clients": sum(1 for c in clients if start <= c.created_at < end),
                "total_clients": sum(1 for c in clients if c.created_at < end),
            }
        )
    return out


def activity(session: Session, client_id: str | None, limit: int, severity: str | None) -> list[SpotActivity]:
    stmt = select(SpotActivity).order_by(SpotActivity.id.desc()).limit(limit)
    if client_id:
        stmt = stmt.where(SpotActivity.client_id == client_id)
    if severity:
        stmt = stmt.where(SpotActivity.severity == severity)
    return list(session.scalars(stmt))


def system_health(session: Session, now: datetime) -> dict[str, Any]:
    from spectra.core import jobs

    agents = inst_repo.list_agents(session, None)
    received, missed = analytics_repo.heartbeat_totals(session)
    last_runs = {}
    for name in sorted(jobs.registered_jobs()):
        if name.startswith("spot."):
            run = core_repo.last_job_run(session, name)
            last_runs[name] = {"status": run.status, "started_at": run.started_at} if run else None
    latest_price = session.scalar(select(func.max(SpotPriceSnapshot.received_at)))
    stale = sum(1 for a in agents if a.status == "stale")
    offline = sum(1 for a in agents if a.status == "offline")
    return {
        "status": "degraded"
        if offline or any(r and r["status"] == "failed" for r in last_runs.values())
        else "healthy",
        "database": "connected",
        "agents": {"total": len(agents), "stale": stale, "offline": offline},
        "heartbeat_miss_rate": round(missed / (received + missed), 6) if received + missed else None,
        "open_commands": cmd_repo.count_open(session),
        "latest_price_received_at": latest_price,
        "jobs": last_runs,
        "checked_at": now,
    }


def search(session: Session, q: str, limit: int) -> dict[str, list[dict[str, Any]]]:
    like = f"%{q.lower()}%"
    clients = [c for c in fleet.list_clients(session) if q.lower() in c.name.lower() or q == c.id][:limit]
    agents = session.scalars(
        select(Agent)
        .where(
            or_(
                Agent.id == q,
                func.lower(Agent.hostname).like(like),
                func.lower(Agent.logical_name).like(like),
                Agent.installation_id == q,
            )
        )
        .limit(limit)
    )
    insts = session.scalars(
        select(SpotInstance)
        .where(
            or_(
                SpotInstance.id == q,
                func.lower(SpotInstance.cloud_instance_id).like(like),
                func.lower(SpotInstance.instance_type).like(like),
            )
        )
        .limit(limit)
    )
    return {
        "clients": [{"id": c.id, "name": c.name, "status": c.status} for c in clients],
        "agents": [{"id": a.id, "client_id": a.client_id, "hostname": a.hostname, "status": a.status} for a in agents],
        "instances": [
            {
                "id": i.id,
                "client_id": i.client_id,
                "cloud_instance_id": i.cloud_instance_id,
                "role": i.role,
                "instance_type": i.instance_type,
            }
            for i in insts
        ],
    }


def pool_statistics(session: Session, days: int, now: datetime) -> list[dict[str, Any]]:
    since = now - timedelta(days=days)
    counts = dict(
        session.execute(
            select(SpotInstance.pool_id, func.count())
            .where(SpotInstance.role.in_(("PRIMARY", "REPLICA")))
            .group_by(SpotInstance.pool_id)
        ).all()
    )
    out = []
    for pool in inst_repo.pools(session):
        item = instances.pool_summary(session, pool, since)
        item["active_instances"] = int(counts.get(pool.id, 0))
        out.append(item)
    return out


def agent_health(session: Session, now: datetime) -> dict[str, Any]:
    agents = inst_repo.list_agents(session, None)
    rows = []
    for a in agents:
        total = a.heartbeats_received + a.heartbeats_missed
        rows.append(
            {
                "agent_id": a.id,
                "client_id": a.client_id,
                "hostname": a.hostname,
                "status": a.status,
                "last_heartbeat_at": a.last_heartbeat_at,
                "seconds_since_heartbeat": (now - a.last_heartbeat_at).total_seconds() if a.last_heartbeat_at else None,
                "miss_rate": round(a.heartbeats_missed / total, 6) if total else None,
            }
        )
    received = sum(a.heartbeats_received for a in agents)
    missed = sum(a.heartbeats_missed for a in agents)
    counts: dict[str, int] = {}
    for a in agents:
        counts[a.status] = counts.get(a.status, 0) + 1
    rate = missed / (received + missed) if received + missed else None
    return {
        "counts": counts,
        "heartbeat_miss_rate": round(rate, 6) if rate is not None else None,
        "meets_target": rate < 0.05 if rate is not None else None,
        "agents": sorted(rows, key=lambda r: -(r["miss_rate"] or 0)),
    }


BULK_ACTIONS = ("force_switch", "fallback_on_demand", "terminate_instance", "set_agent_config")


def bulk_execute(session: Session, operations: list[dict[str, Any]], now: datetime) -> list[dict[str, Any]]:
    """Run each operation in its own savepoint: one failing does not undo the others; each reports its result."""
    from spectra.spot.agents import service as agents
    from spectra.spot.agents.schemas import AgentConfigUpdate

    results = []
    for index, op in enumerate(operations):
        action = op.get("action")
        try:
            with session.begin_nested():
                if action in ("force_switch", "fallback_on_demand"):
                    agent = instances.get_agent(session, str(op.get("agent_id")))
                    cmd, created = commands.request_switch(
                        session,
                        agent,
                        target_pool_id=op.get("target_pool_id"),
                        target_mode="on_demand" if action == "fallback_on_demand" else "spot",
                        reason=str(op.get("reason") or "bulk"),
                        issued_by="admin",
                        request_id=op.get("request_id"),
                    )
                    outcome = {"command_id": cmd.id, "created": created}
                elif action == "terminate_instance":
                    inst = instances.get_instance(session, str(op.get("instance_id")))
                    if inst.role not in ("ZOMBIE", "REPLICA"):
                        raise SpectraError(
                            f"only a ZOMBIE or REPLICA can be terminated, not a {inst.role}", code="not_terminable"
                        )
                    agent = instances.get_agent(session, inst.agent_id)
                    cmd, created = commands.issue(
                        session,
                        agent,
                        "terminate",
                        request_id=op.get("request_id") or f"bulk-terminate:{inst.id}",
                        instance_id=inst.id,
                        payload={"instance": inst.cloud_instance_id},
                        issued_by="admin",
                    )
                    outcome = {"command_id": cmd.id, "created": created}
                elif action == "set_agent_config":
                    agent = instances.get_agent(session, str(op.get("agent_id")))
                    update = AgentConfigUpdate.model_validate({"version": agent.version, **(op.get("config") or {})})
                    agents.update_config(session, agent, update)
                    outcome = {"agent_version": agent.version}
                else:
                    raise SpectraError(
                        f"unknown action {action!r}; use one of {', '.join(BULK_ACTIONS)}", code="unknown_action"
                    )
            results.append({"index": index, "action": action, "ok": True, **outcome})
        except SpectraError as exc:
            results.append(
                {
                    "index": index,
                    "action": action,
                    "ok": False,
                    "status": exc.status,
                    "code": exc.code,
                    "detail": exc.detail,
                }
            )
        except Exception as exc:  # a validation error of one item is that item's failure
            results.append(
                {
                    "index": index,
                    "action": action,
                    "ok": False,
                    "status": 422,
                    "code": "invalid_item",
                    "detail": str(exc)[:300],
                }
            )
    return results


def global_rows(session: Session, days: int, now: datetime) -> tuple[list[str], list[list[Any]]]:
    header = ["client_id", "client_name", "agents", "primary_instances", "switches", "savings_usd", "savings_pct"]
    rows = []
    for client in fleet.list_clients(session):
        money = analytics.savings(session, client.id, days, now)
        roles = inst_repo.count_instances_by_role(session, client.id)
        rows.append(
            [
                client.id,
                client.name,
                len(inst_repo.list_agents(session, client.id)),
                roles.get("PRIMARY", 0),
                len(analytics_repo.switch_events(session, client.id, since=now - timedelta(days=days))),
                money["total_savings_usd"],
                money["savings_pct"],
            ]
        )
    return header, rows
