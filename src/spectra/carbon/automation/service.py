"""Automation: per-client switches that act through the same services as people do.

Every automatic change goes through rightsizing.accept / migrations.execute / the idle stop below, so
it gets the same audit rows, idempotency (request ids derived from what is being changed), events and
recorded savings as a manual one. Guard-rails: recommend-only mode, a maintenance window and a daily
change budget; anything the guard-rails hold back is recorded as a `recommended` action instead.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from spectra.carbon.actions import service as actions
from spectra.carbon.actions.models import OptimizationAction
from spectra.carbon.anomalies import service as anomalies
from spectra.carbon.automation import repository
from spectra.carbon.automation.guards import Gate, day_start, gate, parse_window
from spectra.carbon.automation.models import AutomationNotice, AutomationPolicy
from spectra.carbon.automation.schemas import PolicyUpdate
from spectra.carbon.migrations import service as migrations
from spectra.carbon.migrations.schemas import MigrationIn
from spectra.carbon.optimizer import service as optimizer
from spectra.carbon.optimizer.dependencies import get_inputs
from spectra.carbon.optimizer.inputs import Inputs
from spectra.carbon.optimizer.schemas import WeightsIn, WorkloadIn
from spectra.carbon.rightsizing import service as rightsizing
from spectra.core.audit import record_audit
from spectra.core.auth import Caller
from spectra.core.clock import clock
from spectra.core.errors import Conflict, NotFound, SpectraError, StaleVersion, Unprocessable
from spectra.core.events import publish

POLICY_FIELDS = tuple(PolicyUpdate.model_fields.keys() - {"version"})


def _policy_state(policy: AutomationPolicy) -> dict[str, Any]:
    return {f: getattr(policy, f) for f in POLICY_FIELDS} | {"version": policy.version}


def get_policy(session: Session, client_id: str) -> AutomationPolicy:
    """The client's policy; a client that never saved one gets the defaults (recommend-only, all off)."""
    policy = repository.policy_for(session, client_id)
    if policy is None:
        defaults = PolicyUpdate()
        policy = AutomationPolicy(client_id=client_id, version=0, **{f: getattr(defaults, f) for f in POLICY_FIELDS})
    return policy


def put_policy(session: Session, client_id: str, data: PolicyUpdate) -> AutomationPolicy:
    policy = repository.policy_for(session, client_id)
    values = data.model_dump(exclude={"version"})
    if policy is None:
        if data.version not in (None, 0):
            raise StaleVersion("automation policy", 0)
        policy = AutomationPolicy(client_id=client_id, **values)
        session.add(policy)
        session.flush()
        record_audit(session, "automation.policy.create", "automation_policy", policy.id, None,
                     _policy_state(policy), client_id=client_id)  # fmt: skip
        return policy
    if data.version is None:
        raise Unprocessable(
            "send the version you read to change an existing policy",
            errors=[{"field": "version", "msg": "required once a policy exists"}],
        )
    if data.version != policy.version:
        raise StaleVersion("automation policy", policy.version)
    pre = _policy_state(policy)
    for field, value in values.items():
        setattr(policy, field, value)
    session.flush()
    record_audit(session, "automation.policy.update", "automation_policy", policy.id, pre, _policy_state(policy),
                 client_id=client_id)  # fmt: skip
    return policy


def auto_schedule_enabled(session: Session, client_id: str) -> bool:
    """For the carbon-aware scheduler: may it schedule this client's flexible jobs by itself?"""
    policy = repository.policy_for(session, client_id)
    return policy is not None and policy.mode == "apply" and policy.auto_schedule


def schedule_gate(session: Session, client_id: str, now: datetime) -> Gate | None:
    """For the scheduler: None when the client never asked for automatic scheduling (mode off or
    `auto_schedule` off); otherwise whether the guard-rails let it commit a job now, and why."""
    policy = repository.policy_for(session, client_id)
    if policy is None or policy.mode == "off" or not policy.auto_schedule:
        return None
    used = actions.automatic_changes_since(session, client_id, day_start(now))
    return gate(policy.mode, parse_window(policy.maintenance_window), used, policy.daily_change_budget, now)


class _Run:
    def __init__(self, session: Session, policy: AutomationPolicy, now: datetime) -> None:
        self.session, self.policy, self.now = session, policy, now
        self.window = parse_window(policy.maintenance_window)
        self.used = actions.automatic_changes_since(session, policy.client_id, day_start(now))
        self.out: dict[str, list[dict[str, Any]]] = {"applied": [], "recommended": [], "notices": [], "skipped": []}

    def gate(self) -> Gate:
        return gate(self.policy.mode, self.window, self.used, self.policy.daily_change_budget, self.now)

    def applied(self, item: dict[str, Any]) -> None:
        self.used += 1
        self.out["applied"].append(item)

    def hold(self, kind: str, request_id: str, entity_type: str, entity_id: str, summary: str,
             instance_id: str | None, reason: str, co2e_h: float, cost_h: float) -> None:  # fmt: skip
        action, created = actions.record_action(
            self.session, client_id=self.policy.client_id, kind=kind, origin="automatic", request_id=request_id,
            entity_type=entity_type, entity_id=entity_id, instance_id=instance_id, summary=summary,
            status="recommended", co2e_kg_per_hour=co2e_h, cost_usd_per_hour=cost_h, details={"held_back": reason},
        )  # fmt: skip
        if created:
            self.out["recommended"].append({"kind": kind, "action_id": action.id, "summary": summary, "why": reason})


def _rightsize(run: _Run, inputs: Inputs) -> None:
    policy = run.policy
    for rec in rightsizing.list_recommendations(
        run.session, policy.client_id, "open", True, None, policy.rightsize_min_monthly_savings_usd
    ):
        if rec.action != "downsize" or (rec.monthly_cost_savings_usd or 0) < policy.rightsize_min_monthly_savings_usd:
            continue
        rid = f"auto:rightsizing:{rec.id}"
        summary = f"downsize {rec.instance_id}: {rec.current_type} → {rec.recommended_type}"
        decision = run.gate()
        if not decision.apply:
            co2e_h, cost_h = (rec.monthly_co2e_savings_kg or 0) / 730, (rec.monthly_cost_savings_usd or 0) / 730
            run.hold("rightsizing", rid, "rightsizing_recommendation", rec.id, summary, rec.instance_id,
                     decision.reason, co2e_h, cost_h)  # fmt: skip
            continue
        try:
            with run.session.begin_nested():
                result = rightsizing.accept(run.session, inputs, rec, "automatic", rid)
        except SpectraError as exc:
            run.out["skipped"].append({"kind": "rightsizing", "subject": rec.instance_id, "why": exc.detail})
            continue
        run.applied({"kind": "rightsizing", "action_id": result["action_id"], "summary": summary})


def _migrate(run: _Run, inputs: Inputs) -> None:
    policy = run.policy
    caller = Caller("client", policy.client_id, "automation", "")
    for instance in inputs.instances(run.session, policy.client_id):
        if not instance.flexible or instance.state != "running":
            continue
        try:
            ranking = optimizer.rank(
                run.session, inputs,
                WorkloadIn(instance_id=instance.id, hours=24, max_latency_ms=policy.migrate_max_latency_ms,
                           providers=[instance.provider], weights=WeightsIn(carbon=1, latency=0, cost=0)),
                caller,
            )  # fmt: skip
        except SpectraError as exc:
            run.out["skipped"].append({"kind": "migration", "subject": instance.id, "why": exc.detail})
            continue
        current = next((r for r in ranking["regions"] if r["is_current"]), None)
        best = ranking["regions"][0] if ranking["regions"] else None
        if current is None or best is None or best["code"] == current["code"] or current["co2e_kg"] <= 0:
            continue
        saving_pct = (current["co2e_kg"] - best["co2e_kg"]) / current["co2e_kg"] * 100
        if saving_pct < policy.migrate_min_savings_pct:
            continue
        rid = f"auto:migration:{instance.id}:{run.now:%Y-%m-%d}"
        summary = f"move {instance.id} {instance.region} → {best['code']} ({saving_pct:.0f}% less CO2e)"
        decision = run.gate()
        if not decision.apply:
            co2e_h = (current["co2e_kg"] - best["co2e_kg"]) / 24
            cost_h = -(best["cost_change_usd"] or 0.0) / 24
            run.hold("migration", rid, "instance", instance.id, summary, instance.id, decision.reason, co2e_h, cost_h)
            continue
        try:
            with run.session.begin_nested():
                migration, created = migrations.execute(
                    run.session, inputs, MigrationIn(instance_id=instance.id, to_region=best["code"], request_id=rid),
                    caller, origin="automatic",
                )  # fmt: skip
        except SpectraError as exc:
            run.out["skipped"].append({"kind": "migration", "subject": instance.id, "why": exc.detail})
            continue
        if created:
            run.applied({"kind": "migration", "migration_id": migration.id, "status": migration.status,
                         "summary": summary})  # fmt: skip


def _stop_idle(run: _Run, inputs: Inputs) -> None:
    policy = run.policy
    idle_since = run.now - timedelta(hours=policy.idle_stop_after_hours)
    for anomaly in anomalies.open_idle_waste(run.session, policy.client_id, idle_since):
        if anomaly.instance_id is None:
            continue
        instance = inputs.instance(run.session, anomaly.instance_id)
        if instance is None or instance.state != "running":
            continue
        notice = repository.pending_notice(run.session, policy.client_id, "idle_stop", instance.id)
        hours = anomaly.evidence.get("hours") or 1.0
        co2e_h, cost_h = anomaly.co2e_kg / hours, anomaly.cost_usd / hours
        if notice is None:
            notice = AutomationNotice(
                client_id=policy.client_id, kind="idle_stop", subject_id=instance.id,
                act_after=run.now + timedelta(hours=policy.idle_notice_hours),
                details={"anomaly_id": anomaly.id, "idle_hours": hours, "mode": policy.mode},
            )  # fmt: skip
            run.session.add(notice)
            run.session.flush()
            publish(run.session, "carbon.automation.notice",
                    {"kind": "idle_stop", "instance_id": instance.id, "act_after": notice.act_after.isoformat(),
                     "idle_hours": hours, "anomaly_id": anomaly.id}, client_id=policy.client_id)  # fmt: skip
            run.out["notices"].append({"kind": "idle_stop", "subject": instance.id, "act_after": notice.act_after})
            if policy.idle_notice_hours > 0:
                continue
        if run.now < notice.act_after:
            continue
        rid = f"auto:idle_stop:{notice.id}"
        summary = f"stop idle {instance.id} (idle {hours:.0f} h)"
        decision = run.gate()
        if not decision.apply:
            run.hold("idle_stop", rid, "instance", instance.id, summary, instance.id, decision.reason, co2e_h, cost_h)
            continue
        if instance.cloud != "simulated":
            publish(run.session, "carbon.instance.stop_requested",
                    {"instance_id": instance.id, "provider_id": instance.provider_id, "cloud": instance.cloud,
                     "request_id": rid}, client_id=policy.client_id)  # fmt: skip
        else:
            inputs.stop_instance(run.session, instance.id)
        # On AWS the agent stops it: the action is credited once `report_idle_stop` says it happened.
        awaiting = instance.cloud != "simulated"
        action, _ = actions.record_action(
            run.session, client_id=policy.client_id, kind="idle_stop", origin="automatic", request_id=rid,
            entity_type="instance", entity_id=instance.id, instance_id=instance.id, summary=summary,
            status="recommended" if awaiting else "applied", co2e_kg_per_hour=co2e_h, cost_usd_per_hour=cost_h,
            details={"anomaly_id": anomaly.id, **({"awaiting_executor": True} if awaiting else {})},
        )  # fmt: skip
        notice.status = "done"
        note = "stop asked of the instance's agent" if awaiting else "stopped by automation"
        anomalies.resolve(run.session, anomaly, f"{note} after the notice period (action {action.id})")
        run.applied({"kind": "idle_stop", "action_id": action.id, "summary": summary})


def report_idle_stop(
    session: Session, client_id: str, request_id: str, succeeded: bool, error: str | None = None,
    inputs: Inputs | None = None,
) -> OptimizationAction:  # fmt: skip
    """The executor (the spot agent, for AWS) reports how an idle stop it was asked for ended: the fleet shows the
    instance stopped and the action is credited from now, or the action fails with the reason. Repeats change
    nothing."""
    action = actions.action_by_request_id(session, client_id, "idle_stop", request_id)
    if action is None:
        raise NotFound("idle stop not found")
    if action.status != "recommended":
        if (action.status in ("applied", "reverted")) == succeeded:
            return action
        raise Conflict(f"the idle stop is already {action.status}", code="action_settled")
    if not succeeded:
        reason = error or "the executor reported a failure"
        return actions.settle_action(session, action, False, {"awaiting_executor": False, "error": reason})
    if action.instance_id is not None:
        (inputs or get_inputs()).stop_instance(session, action.instance_id)
    return actions.settle_action(session, action, True, {"awaiting_executor": False})


def idle_stop_awaiting(session: Session, client_id: str, request_id: str) -> bool:
    """Whether an idle stop still waits for its executor (an executor asks before it acts)."""
    action = actions.action_by_request_id(session, client_id, "idle_stop", request_id)
    return action is not None and action.status == "recommended" and bool(action.details.get("awaiting_executor"))


def run_for_client(session: Session, inputs: Inputs, client_id: str, now: datetime | None = None) -> dict[str, Any]:
    now = now or clock.now()
    policy = get_policy(session, client_id)
    run = _Run(session, policy, now)
    if policy.mode != "off":
        if policy.auto_rightsize:
            _rightsize(run, inputs)
        if policy.auto_migrate:
            _migrate(run, inputs)
        if policy.stop_idle:
            _stop_idle(run, inputs)
    return {"client_id": client_id, "at": now, "mode": policy.mode, **run.out}


def run_all(session: Session, inputs: Inputs, now: datetime) -> dict[str, int]:
    totals = {"clients": 0, "applied": 0, "recommended": 0, "notices": 0}
    for policy in repository.active_policies(session):
        result = run_for_client(session, inputs, policy.client_id, now)
        totals["clients"] += 1
        for key in ("applied", "recommended", "notices"):
            totals[key] += len(result[key])
    return totals


def list_notices(session: Session, client_id: str | None, status: str | None) -> list[AutomationNotice]:
    return repository.notices(session, client_id, status, None)
