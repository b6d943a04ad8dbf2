"""Rightsizing: evaluate an instance from measured p95 CPU and memory, store the recommendation, accept it.

Accepting goes through one path for people and automation: the change is applied (simulated cloud:
the fleet changes the type at once; AWS: a `carbon.rightsizing.requested` event for the spot agent, whose
outcome comes back through `report_result`), an OptimizationAction records the savings rate, and the
audit log and event bus see it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from spectra.carbon.actions import service as actions
from spectra.carbon.actions.models import OptimizationAction
from spectra.carbon.optimizer import service as optimizer
from spectra.carbon.optimizer.dependencies import get_inputs
from spectra.carbon.optimizer.inputs import Inputs, InstanceInfo
from spectra.carbon.rightsizing import repository
from spectra.carbon.rightsizing.engine import HOURS_PER_MONTH, Policy, recommend
from spectra.carbon.rightsizing.models import RightsizingRecommendation
from spectra.core.audit import record_audit
from spectra.core.auth import Caller
from spectra.core.clock import clock
from spectra.core.errors import Conflict, NotFound, StaleVersion, Unprocessable
from spectra.core.events import publish


def _instance(session: Session, inputs: Inputs, instance_id: str, caller: Caller | None) -> InstanceInfo:
    instance = inputs.instance(session, instance_id)
    if instance is None:
        raise NotFound("instance not found")
    if caller is not None:
        caller.ensure_tenant(instance.client_id, "instance")
    return instance


def evaluate(
    session: Session, inputs: Inputs, instance: InstanceInfo, window_hours: float = 168, policy: Policy = Policy()
) -> RightsizingRecommendation:
    """Compute and store a fresh recommendation for the instance (the previous open one is superseded)."""
    now = clock.now()
    current = inputs.instance_type(session, instance.instance_type, instance.region)
    if current is None:
        raise Unprocessable(
            f"instance type {instance.instance_type!r} is not in the catalogue",
            errors=[{"field": "instance_type", "msg": "unknown type"}],
        )
    usage = inputs.utilisation(session, instance.id, now - timedelta(hours=window_hours), now)
    footprint = optimizer.footprint_per_hour(session, inputs, instance.instance_type, instance.region, 0.5)
    rec = recommend(
        current,
        usage,
        inputs.catalog(session, instance.region),
        policy,
        power=inputs.power_w,
        intensity_g_per_kwh=footprint["intensity_g_per_kwh"],
        pue=footprint["pue"],
        embodied=inputs.embodied_g_per_hour,
    )
    for old in repository.open_for(session, instance.id):
        old.status = "superseded"
    row = RightsizingRecommendation(
        client_id=instance.client_id,
        instance_id=instance.id,
        region=instance.region,
        action=rec.action,
        status="open",
        current_type=current.name,
        recommended_type=rec.recommended.name if rec.recommended else None,
        scope=rec.scope,
        cpu_p95=usage.cpu_p95 if usage.samples else None,
        memory_p95=usage.memory_p95 if usage.samples else None,
        window_hours=window_hours,
        monthly_cost_savings_usd=rec.monthly_cost_savings_usd,
        monthly_co2e_savings_kg=rec.monthly_co2e_savings_kg,
        details={
            "reasons": rec.reasons,
            "required_vcpu": round(rec.required_vcpu, 3),
            "required_memory_gib": round(rec.required_memory_gib, 3) if rec.required_memory_gib else None,
            "current_power_w": rec.current_power_w,
            "recommended_power_w": rec.recommended_power_w,
            "samples": usage.samples,
            "cpu_mean": usage.cpu_mean,
            "intensity_g_per_kwh": footprint["intensity_g_per_kwh"],
            "intensity_basis": footprint["intensity_basis"],
            "pue": footprint["pue"],
            "policy": vars(policy),
        },
        computed_at=now,
    )
    session.add(row)
    session.flush()
    return row


def get_recommendation(session: Session, rec_id: str, caller: Caller) -> RightsizingRecommendation:
    rec = repository.get(session, rec_id)
    if rec is None:
        raise NotFound("recommendation not found")
    caller.ensure_tenant(rec.client_id, "recommendation")
    return rec


def list_recommendations(
    session: Session,
    client_id: str | None,
    status: str | None = "open",
    actionable_only: bool = True,
    instance_id: str | None = None,
    min_savings_usd: float | None = None,
) -> list[RightsizingRecommendation]:
    return repository.list_recommendations(session, client_id, status, actionable_only, instance_id, min_savings_usd)


def accept(
    session: Session,
    inputs: Inputs,
    rec: RightsizingRecommendation,
    origin: str = "manual",
    request_id: str | None = None,
    version: int | None = None,
) -> dict[str, Any]:
    """Apply an open downsize/upsize recommendation; the same request id applies once."""
    rid = request_id or f"rightsizing:{rec.id}"
    if version is not None and version != rec.version:
        raise StaleVersion("recommendation", rec.version)
    if rec.status == "accepted":
        return {"recommendation": rec, "applied": False, "action_id": rec.action_id}
    if rec.status != "open" or rec.action not in ("downsize", "upsize") or rec.recommended_type is None:
        raise Conflict(f"recommendation is {rec.status} / {rec.action}: nothing to apply", code="not_applicable")
    instance = inputs.instance(session, rec.instance_id)
    if instance is None:
        raise NotFound("instance not found")
    if instance.instance_type != rec.current_type:
        raise Conflict(
            f"the instance is now {instance.instance_type}, not {rec.current_type}: re-evaluate first",
            code="recommendation_outdated",
        )
    pre = {"status": rec.status, "instance_type": instance.instance_type}
    applied = instance.cloud == "simulated"
    if applied:
        inputs.resize_instance(session, instance.id, rec.recommended_type)
    else:
        publish(
            session,
            "carbon.rightsizing.requested",
            {"recommendation_id": rec.id, "instance_id": instance.id, "provider_id": instance.provider_id,
             "cloud": instance.cloud, "from_type": rec.current_type, "to_type": rec.recommended_type,
             "request_id": rid},
            client_id=rec.client_id,
        )  # fmt: skip
    if applied:
        actions.supersede_instance_actions(session, rec.client_id, instance.id, "rightsizing")
    action, _ = actions.record_action(
        session,
        client_id=rec.client_id,
        kind="rightsizing",
        origin=origin,
        request_id=rid,
        entity_type="rightsizing_recommendation",
        entity_id=rec.id,
        instance_id=instance.id,
        summary=f"{rec.action} {instance.id}: {rec.current_type} → {rec.recommended_type}",
        status="applied" if applied else "recommended",
        co2e_kg_per_hour=(rec.monthly_co2e_savings_kg or 0.0) / HOURS_PER_MONTH,
        cost_usd_per_hour=(rec.monthly_cost_savings_usd or 0.0) / HOURS_PER_MONTH,
        details={"awaiting_executor": not applied, "cloud": instance.cloud},
    )
    rec.status, rec.decided_at, rec.action_id = "accepted", clock.now(), action.id
    session.flush()
    record_audit(
        session, "rightsizing.accept", "rightsizing_recommendation", rec.id, pre,
        {"status": rec.status, "instance_type": rec.recommended_type, "applied": applied},
        client_id=rec.client_id, actor="automation" if origin == "automatic" else None,
    )  # fmt: skip
    return {"recommendation": rec, "applied": applied, "action_id": action.id}


def report_result(
    session: Session,
    recommendation_id: str,
    succeeded: bool,
    error: str | None = None,
    *,
    instance_type: str | None = None,
    provider_id: str | None = None,
    zone: str | None = None,
    inputs: Inputs | None = None,
) -> OptimizationAction:
    """The executor (the spot agent, for AWS) reports how an accepted change ended: the recorded action becomes
    `applied` (credited from now) and the fleet shows the new type — on a new instance when the cloud replaced
    it (`provider_id`) — or `failed` with the reason. A repeated report changes nothing."""
    rec = repository.get(session, recommendation_id)
    if rec is None:
        raise NotFound("recommendation not found")
    if rec.action_id is None:
        raise Conflict("the recommendation was never accepted", code="not_accepted")
    action = actions.get_action(session, rec.action_id)
    if action.status != "recommended":
        if (action.status in ("applied", "reverted")) == succeeded:
            return action
        raise Conflict(f"the rightsizing action is already {action.status}", code="action_settled")
    if not succeeded:
        reason = error or "the executor reported a failure"
        rec.details = {**rec.details, "executor_error": reason}
        return actions.settle_action(session, action, False, {"awaiting_executor": False, "error": reason})
    inputs = inputs or get_inputs()
    new_type = instance_type or rec.recommended_type or rec.current_type
    details: dict[str, Any] = {"awaiting_executor": False, "instance_type": new_type}
    instance = inputs.instance(session, rec.instance_id)
    if instance is None:
        raise NotFound("the resized instance is no longer in the fleet")
    if provider_id is not None and provider_id != instance.provider_id:
        fleet_id = inputs.replace_instance(session, instance.id, provider_id, instance.region, zone, new_type)
        details["replaced_by"] = {"instance_id": fleet_id, "provider_id": provider_id}
    else:
        inputs.resize_instance(session, instance.id, new_type)
    actions.supersede_instance_actions(session, rec.client_id, instance.id, "rightsizing")
    return actions.settle_action(session, action, True, details)


def awaiting_executor(session: Session, recommendation_id: str) -> bool:
    """Whether an accepted recommendation still waits for its executor (an executor asks before it acts)."""
    rec = repository.get(session, recommendation_id)
    if rec is None or rec.action_id is None:
        return False
    action = actions.get_action(session, rec.action_id)
    return action.status == "recommended" and bool(action.details.get("awaiting_executor"))


def dismiss(session: Session, rec: RightsizingRecommendation, reason: str | None) -> RightsizingRecommendation:
    if rec.status != "open":
        raise Conflict(f"recommendation is {rec.status}", code="not_open")
    rec.status, rec.decided_at = "dismissed", clock.now()
    rec.details = {**rec.details, "dismissed_reason": reason}
    session.flush()
    record_audit(
        session, "rightsizing.dismiss", "rightsizing_recommendation", rec.id, {"status": "open"},
        {"status": "dismissed", "reason": reason}, client_id=rec.client_id,
    )  # fmt: skip
    return rec


def optimize_instance(
    session: Session,
    inputs: Inputs,
    instance_id: str,
    caller: Caller,
    window_hours: float,
    accept_now: bool,
    request_id: str | None,
    allow_architecture_change: bool = False,
) -> dict[str, Any]:
    instance = _instance(session, inputs, instance_id, caller)
    rec = evaluate(session, inputs, instance, window_hours, Policy(allow_architecture_change=allow_architecture_change))
    if accept_now and rec.action in ("downsize", "upsize"):
        return accept(session, inputs, rec, "manual", request_id)
    return {"recommendation": rec, "applied": False, "action_id": None}


def refresh_all(session: Session, inputs: Inputs, client_id: str | None = None) -> dict[str, int]:
    """Re-evaluate every running instance (the periodic job)."""
    counts = {"evaluated": 0, "actionable": 0, "skipped": 0}
    for instance in inputs.instances(session, client_id):
        if instance.state != "running":
            continue
        try:
            rec = evaluate(session, inputs, instance)
        except Unprocessable:
            counts["skipped"] += 1
            continue
        counts["evaluated"] += 1
        counts["actionable"] += rec.action in ("downsize", "upsize")
    return counts
