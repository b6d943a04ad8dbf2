"""Migrations: plan (estimated CO2e and cost change), then execute; idempotent by request id.

planned → executing → completed | failed. In the simulated cloud the instance moves at once (fleet
service). On AWS the move is a job for the instance's spot agent: the migration stays `executing`, a
`carbon.migration.requested` event carries it to the spot domain, and that domain reports the outcome
with `report_result` — at once when no agent manages the instance, otherwise when the agent has
launched the instance in the target region (imports point spot → carbon, never back).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from spectra.carbon.actions import service as actions
from spectra.carbon.migrations import repository
from spectra.carbon.migrations.models import MigrationAction
from spectra.carbon.migrations.schemas import MigrationIn
from spectra.carbon.optimizer import service as optimizer
from spectra.carbon.optimizer.dependencies import get_inputs
from spectra.carbon.optimizer.inputs import Inputs, InstanceInfo
from spectra.carbon.optimizer.schemas import WeightsIn, WorkloadIn
from spectra.carbon.rightsizing.engine import HOURS_PER_MONTH
from spectra.core.audit import record_audit
from spectra.core.auth import Caller
from spectra.core.clock import clock
from spectra.core.db import new_id
from spectra.core.errors import Conflict, NotFound, Unprocessable
from spectra.core.events import publish

AGENT_CLOUDS = {"aws"}
DEFAULT_UTILISATION = 0.5


def _state(m: MigrationAction) -> dict[str, Any]:
    return {"status": m.status, "from": m.from_region, "to": m.to_region, "cloud": m.cloud, "error": m.error}


def _utilisation(session: Session, inputs: Inputs, instance: InstanceInfo) -> tuple[float, str]:
    now = clock.now()
    usage = inputs.utilisation(session, instance.id, now - timedelta(days=7), now)
    if usage.samples > 0 and usage.cpu_mean is not None:
        return usage.cpu_mean / 100.0, f"measured mean CPU over 7 days ({usage.samples} samples)"
    return DEFAULT_UTILISATION, "no measured CPU: 50% assumed (CCF default)"


def plan(session: Session, inputs: Inputs, instance: InstanceInfo, to_region: str) -> dict[str, Any]:
    utilisation, basis = _utilisation(session, inputs, instance)
    before = optimizer.footprint_per_hour(session, inputs, instance.instance_type, instance.region, utilisation)
    after = optimizer.footprint_per_hour(session, inputs, instance.instance_type, to_region, utilisation)
    co2e_change = None
    if before["co2e_kg_per_hour"] is not None and after["co2e_kg_per_hour"] is not None:
        co2e_change = (after["co2e_kg_per_hour"] - before["co2e_kg_per_hour"]) * HOURS_PER_MONTH
    cost_change = None
    if before["cost_usd_per_hour"] is not None and after["cost_usd_per_hour"] is not None:
        cost_change = (after["cost_usd_per_hour"] - before["cost_usd_per_hour"]) * HOURS_PER_MONTH
    return {
        "utilisation_basis": basis,
        "before": before,
        "after": after,
        "hours_per_month": HOURS_PER_MONTH,
        "co2e_change_kg_per_month": round(co2e_change, 4) if co2e_change is not None else None,
        "cost_change_usd_per_month": round(cost_change, 4) if cost_change is not None else None,
        "method": "(after − before) per hour × 730 h; per hour = power × PUE × intensity (+ embodied), price",
    }


def _instance(session: Session, inputs: Inputs, instance_id: str, client_id: str | None) -> InstanceInfo:
    instance = inputs.instance(session, instance_id)
    if instance is None or (client_id is not None and instance.client_id != client_id):
        raise NotFound("instance not found")
    return instance


def _choose_region(
    session: Session, inputs: Inputs, instance: InstanceInfo, max_latency_ms: float | None, caller: Caller
) -> tuple[str, dict[str, Any]]:
    ranking = optimizer.rank(
        session,
        inputs,
        WorkloadIn(
            instance_id=instance.id, hours=24, max_latency_ms=max_latency_ms, providers=[instance.provider],
            weights=WeightsIn(carbon=0.7, latency=0.1, cost=0.2),
        ),
        caller,
    )  # fmt: skip
    if ranking["best"] is None:
        raise Unprocessable(
            "no region satisfies the constraints", errors=[{"field": "to_region", "msg": "no feasible region"}]
        )
    return ranking["best"], {"best": ranking["best"], "method": ranking["method"], "top": ranking["regions"][:3]}


def execute(
    session: Session,
    inputs: Inputs,
    data: MigrationIn,
    caller: Caller,
    request_id: str | None = None,
    origin: str = "manual",
) -> tuple[MigrationAction, bool]:
    """Plan and (unless dry_run) execute; returns the migration and whether this call created it."""
    instance = _instance(session, inputs, data.instance_id, caller.client_id)
    rid = data.request_id or request_id or new_id()
    existing = repository.by_request_id(session, instance.client_id, rid)
    if existing is not None:
        if existing.instance_id != instance.id or (data.to_region and data.to_region != existing.to_region):
            raise Conflict("this request id was already used for another migration", code="request_id_reused")
        if existing.status == "planned" and not data.dry_run:
            _run(session, inputs, existing, instance)
        return existing, False
    if instance.state not in ("running", "stopped"):
        raise Conflict(f"instance is {instance.state}; only a running or stopped one can move", code="instance_state")
    if repository.in_flight_for(session, instance.id) is not None:
        raise Conflict("a migration of this instance is already executing", code="migration_in_flight")

    choice: dict[str, Any] | None = None
    to_region = data.to_region
    if to_region is None:
        to_region, choice = _choose_region(session, inputs, instance, data.max_latency_ms, caller)
    if to_region == instance.region:
        raise Unprocessable(
            f"the instance is already in {to_region}", errors=[{"field": "to_region", "msg": "same as current region"}]
        )
    details = plan(session, inputs, instance, to_region)
    if choice is not None:
        details["chosen_by_optimizer"] = choice
    if data.reason:
        details["reason"] = data.reason
    migration = MigrationAction(
        client_id=instance.client_id,
        request_id=rid,
        instance_id=instance.id,
        workload=None,
        instance_type=instance.instance_type,
        from_region=instance.region,
        to_region=to_region,
        cloud=instance.cloud,
        status="planned",
        origin=origin,
        co2e_change_kg_per_month=details["co2e_change_kg_per_month"],
        cost_change_usd_per_month=details["cost_change_usd_per_month"],
        plan=details,
        requested_at=clock.now(),
    )
    session.add(migration)
    session.flush()
    record_audit(
        session, "migration.plan", "migration", migration.id, None, _state(migration), client_id=migration.client_id,
        actor="automation" if origin == "automatic" else None,
    )  # fmt: skip
    if not data.dry_run:
        _run(session, inputs, migration, instance)
    return migration, True


def _transition(session: Session, migration: MigrationAction, status: str, error: str | None = None) -> None:
    pre = _state(migration)
    now = clock.now()
    migration.status = status
    if status == "executing":
        migration.started_at = now
    if status in ("completed", "failed"):
        migration.finished_at, migration.error = now, error
    session.flush()
    record_audit(
        session, f"migration.{status}", "migration", migration.id, pre, _state(migration),
        client_id=migration.client_id,
    )  # fmt: skip
    publish(
        session,
        f"carbon.migration.{status}",
        {"migration_id": migration.id, "instance_id": migration.instance_id, "from_region": migration.from_region,
         "to_region": migration.to_region, "error": error},
        client_id=migration.client_id,
    )  # fmt: skip


def _run(session: Session, inputs: Inputs, migration: MigrationAction, instance: InstanceInfo) -> None:
    _transition(session, migration, "executing")
    if migration.cloud == "simulated":
        try:
            inputs.move_instance(session, instance.id, migration.to_region)
        except Exception as exc:  # the fleet refused the move: record why, keep the instance where it is
            _transition(session, migration, "failed", f"move refused: {exc}")
            return
        _complete(session, migration)
    elif migration.cloud in AGENT_CLOUDS:
        publish(
            session,
            "carbon.migration.requested",
            {"migration_id": migration.id, "request_id": migration.request_id, "instance_id": instance.id,
             "provider_id": instance.provider_id, "instance_type": migration.instance_type,
             "from_region": migration.from_region, "to_region": migration.to_region, "cloud": migration.cloud},
            client_id=migration.client_id,
        )  # fmt: skip
    else:
        _transition(session, migration, "failed", f"no executor for {migration.cloud} instances")


def _complete(session: Session, migration: MigrationAction, moved_to: dict[str, Any] | None = None) -> None:
    if moved_to:
        migration.plan = {**migration.plan, "executed": moved_to}
    _transition(session, migration, "completed")
    assert migration.instance_id is not None
    co2e = migration.co2e_change_kg_per_month
    cost = migration.cost_change_usd_per_month
    actions.supersede_instance_actions(session, migration.client_id, migration.instance_id, "migration")
    actions.record_action(
        session,
        client_id=migration.client_id,
        kind="migration",
        origin=migration.origin,
        request_id=migration.request_id,
        entity_type="migration",
        entity_id=migration.id,
        instance_id=migration.instance_id,
        summary=f"moved {migration.instance_id} {migration.from_region} → {migration.to_region}",
        co2e_kg_per_hour=-(co2e or 0.0) / HOURS_PER_MONTH,
        cost_usd_per_hour=-(cost or 0.0) / HOURS_PER_MONTH,
        details={"plan": migration.plan, **({"executed": moved_to} if moved_to else {})},
    )


def report_result(
    session: Session,
    migration_id: str,
    succeeded: bool,
    error: str | None = None,
    *,
    provider_id: str | None = None,
    zone: str | None = None,
    inputs: Inputs | None = None,
) -> MigrationAction:
    """The executor (the spot domain, for AWS) reports how an `executing` migration ended.

    `provider_id` is the instance now running in the target region: the fleet records it as a new
    instance carrying the workload, and the old one as terminated (as the cloud's inventory shows them).
    """
    migration = repository.get(session, migration_id)
    if migration is None:
        raise NotFound("migration not found")
    if migration.status != "executing":
        if (migration.status == "completed") == succeeded and migration.status in ("completed", "failed"):
            return migration  # a repeated report changes nothing
        raise Conflict(f"migration is {migration.status}, not executing", code="migration_not_executing")
    if not succeeded:
        _transition(session, migration, "failed", error or "the executor reported a failure")
        return migration
    moved_to: dict[str, Any] | None = None
    if provider_id is not None and migration.instance_id is not None:
        inputs = inputs or get_inputs()
        current = inputs.instance(session, migration.instance_id)
        instance_type = migration.instance_type or (current.instance_type if current else None)
        if instance_type is None:
            raise NotFound("the migrated instance is no longer in the fleet")
        fleet_id = inputs.replace_instance(
            session, migration.instance_id, provider_id, migration.to_region, zone, instance_type
        )
        moved_to = {"instance_id": fleet_id, "provider_id": provider_id, "region": migration.to_region, "zone": zone}
    _complete(session, migration, moved_to)
    return migration


def awaiting_executor(session: Session, migration_id: str) -> bool:
    """Whether the migration still waits for its executor's report (an executor asks before it acts)."""
    migration = repository.get(session, migration_id)
    return migration is not None and migration.status == "executing"


def get_migration(session: Session, migration_id: str, caller: Caller) -> MigrationAction:
    migration = repository.get(session, migration_id)
    if migration is None:
        raise NotFound("migration not found")
    caller.ensure_tenant(migration.client_id, "migration")
    return migration


def history(
    session: Session, client_id: str | None, status: str | None, instance_id: str | None, limit: int, offset: int
) -> tuple[list[MigrationAction], int]:
    return repository.history(session, client_id, status, instance_id, limit, offset)


EXECUTOR_TIMEOUT = timedelta(hours=6)


def fail_stalled(session: Session, now: datetime) -> int:
    """An executor that never reports (agent gone, event unhandled) must not leave a migration executing."""
    stalled = repository.executing_since_before(session, now - EXECUTOR_TIMEOUT)
    for migration in stalled:
        _transition(session, migration, "failed", f"no result from the {migration.cloud} executor within 6 h")
    return len(stalled)
