"""Record optimisation actions (one path for manual and automatic ones) and credit realised savings."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from spectra.carbon.actions import repository
from spectra.carbon.actions.models import OptimizationAction
from spectra.core.audit import record_audit
from spectra.core.auth import Caller
from spectra.core.clock import clock
from spectra.core.errors import NotFound, Unprocessable
from spectra.core.events import publish

KINDS = ("rightsizing", "migration", "idle_stop", "schedule")
SAVINGS_METHOD = (
    "Σ over applied actions of (savings rate per hour estimated when the action was taken) × (hours it "
    "was in effect inside the period, up to now or until it was reverted)"
)


def as_utc(value: datetime) -> datetime:
    """Query strings may omit the offset: read them as UTC, as every Spectra timestamp is."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _state(action: OptimizationAction) -> dict[str, Any]:
    return {
        "kind": action.kind,
        "origin": action.origin,
        "status": action.status,
        "instance_id": action.instance_id,
        "entity": f"{action.entity_type}:{action.entity_id}",
        "co2e_kg_per_hour": action.co2e_kg_per_hour,
        "cost_usd_per_hour": action.cost_usd_per_hour,
    }


def record_action(
    session: Session,
    *,
    client_id: str,
    kind: str,
    origin: str,
    request_id: str,
    entity_type: str,
    entity_id: str,
    summary: str,
    instance_id: str | None = None,
    status: str = "applied",
    co2e_kg_per_hour: float = 0.0,
    cost_usd_per_hour: float = 0.0,
    effective_from: datetime | None = None,
    details: dict[str, Any] | None = None,
) -> tuple[OptimizationAction, bool]:
    """The action, and whether it is new; the same (client, kind, request id) returns the first one."""
    if kind not in KINDS:
        raise Unprocessable(f"unknown action kind {kind!r}", errors=[{"field": "kind", "msg": "unknown"}])
    existing = repository.by_request_id(session, client_id, kind, request_id)
    if existing is not None:
        return existing, False
    now = clock.now()
    action = OptimizationAction(
        client_id=client_id,
        kind=kind,
        origin=origin,
        status=status,
        request_id=request_id,
        instance_id=instance_id,
        entity_type=entity_type,
        entity_id=entity_id,
        summary=summary[:300],
        co2e_kg_per_hour=co2e_kg_per_hour,
        cost_usd_per_hour=cost_usd_per_hour,
        effective_from=(effective_from or now) if status == "applied" else None,
        effective_until=None,
        details=details or {},
    )
    session.add(action)
    session.flush()
    record_audit(
        session, f"optimization.{kind}.{status}", "optimization_action", action.id, None, _state(action),
        client_id=client_id, actor="automation" if origin == "automatic" else None,
    )  # fmt: skip
    publish(
        session,
        f"carbon.action.{status}",
        {"action_id": action.id, "kind": kind, "origin": origin, "summary": action.summary,
         "instance_id": instance_id, "co2e_kg_per_hour": co2e_kg_per_hour,
         "cost_usd_per_hour": cost_usd_per_hour},
        client_id=client_id,
    )  # fmt: skip
    return action, True


def end_action(session: Session, action: OptimizationAction, at: datetime | None = None) -> OptimizationAction:
    """Stop crediting an applied action (it was undone, or superseded by another on the same instance)."""
    if action.status != "applied":
        return action
    pre = _state(action)
    action.status = "reverted"
    action.effective_until = at or clock.now()
    session.flush()
    record_audit(
        session, f"optimization.{action.kind}.reverted", "optimization_action", action.id, pre, _state(action),
        client_id=action.client_id,
    )  # fmt: skip
    return action


def settle_action(
    session: Session, action: OptimizationAction, applied: bool, details: dict[str, Any], at: datetime | None = None
) -> OptimizationAction:
    """An executor (the spot agent) reports how an action it was handed ended: `applied` starts crediting its
    savings from now, otherwise it is `failed`. Only a `recommended` action changes; a repeat changes nothing."""
    if action.status != "recommended":
        return action
    pre = _state(action)
    action.status = "applied" if applied else "failed"
    if applied:
        action.effective_from = at or clock.now()
    action.details = {**action.details, **details}
    session.flush()
    record_audit(
        session, f"optimization.{action.kind}.{action.status}", "optimization_action", action.id, pre, _state(action),
        client_id=action.client_id, actor="automation" if action.origin == "automatic" else None,
    )  # fmt: skip
    publish(
        session,
        f"carbon.action.{action.status}",
        {"action_id": action.id, "kind": action.kind, "origin": action.origin, "summary": action.summary,
         "instance_id": action.instance_id, "co2e_kg_per_hour": action.co2e_kg_per_hour,
         "cost_usd_per_hour": action.cost_usd_per_hour, "error": details.get("error")},
        client_id=action.client_id,
    )  # fmt: skip
    return action


def action_by_request_id(session: Session, client_id: str, kind: str, request_id: str) -> OptimizationAction | None:
    return repository.by_request_id(session, client_id, kind, request_id)


def supersede_instance_actions(session: Session, client_id: str, instance_id: str, kind: str) -> None:
    """A new applied action of a kind on an instance ends the previous one (savings are not stacked)."""
    for action in repository.list_actions(session, client_id, kind=kind, status="applied", instance_id=instance_id):
        end_action(session, action)


def get_action(session: Session, action_id: str, caller: Caller | None = None) -> OptimizationAction:
    action = repository.get(session, action_id)
    if action is None:
        raise NotFound("action not found")
    if caller is not None:
        caller.ensure_tenant(action.client_id, "action")
    return action


def list_actions(session: Session, client_id: str | None, **filters: Any) -> list[OptimizationAction]:
    return repository.list_actions(session, client_id, **filters)


def automatic_changes_since(session: Session, client_id: str, since: datetime) -> int:
    return repository.count_automatic_since(session, client_id, since)


def realised_savings(session: Session, client_id: str | None, start: datetime, end: datetime) -> dict[str, Any]:
    """CO2e (kg) and cost (USD) saved by recorded actions between start and end (capped at now).

    The dashboard calls this: `{"co2e_kg", "cost_usd", "actions", "by_kind", "method", "start", "end"}`.
    """
    start, end = as_utc(start), as_utc(end)
    if end <= start:
        raise Unprocessable("end must be after start", errors=[{"field": "end", "msg": "must be after start"}])
    now = clock.now()
    stop = min(end, now)
    total_co2e = total_cost = 0.0
    counted = 0
    by_kind: dict[str, dict[str, float]] = {}
    for action in repository.in_effect_between(session, client_id, start, stop):
        assert action.effective_from is not None
        begin = max(start, action.effective_from)
        finish = min(stop, action.effective_until or stop)
        hours = max(0.0, (finish - begin).total_seconds() / 3600.0)
        co2e, cost = action.co2e_kg_per_hour * hours, action.cost_usd_per_hour * hours
        total_co2e += co2e
        total_cost += cost
        counted += 1
        bucket = by_kind.setdefault(action.kind, {"co2e_kg": 0.0, "cost_usd": 0.0, "actions": 0})
        bucket["co2e_kg"] += co2e
        bucket["cost_usd"] += cost
        bucket["actions"] += 1
    return {
        "start": start,
        "end": end,
        "co2e_kg": round(total_co2e, 4),
        "cost_usd": round(total_cost, 4),
        "actions": counted,
        "by_kind": {
            k: {"co2e_kg": round(v["co2e_kg"], 4), "cost_usd": round(v["cost_usd"], 4), "actions": int(v["actions"])}
            for k, v in sorted(by_kind.items())
        },
        "method": SAVINGS_METHOD,
    }
