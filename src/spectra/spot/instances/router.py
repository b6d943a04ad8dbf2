"""A client's instances and replicas: list, pricing, metrics, price history, options, volatility, logs,
and manual control (force-switch, simulate-switch)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, status

from spectra.core.auth import CallerDep
from spectra.core.clock import clock
from spectra.core.db import SessionDep
from spectra.core.errors import PROBLEM_RESPONSES, Conflict
from spectra.spot.commands import service as commands
from spectra.spot.commands.schemas import CommandOut, SwitchRequest
from spectra.spot.instances import repository, service
from spectra.spot.instances.schemas import ActivityOut, InstanceOut, ReplicaOut, SimulateSwitch

router = APIRouter(prefix="/api/client", tags=["spot: instances"], responses=PROBLEM_RESPONSES)
Days = Annotated[int, Query(ge=1, le=365)]


@router.get("/{client_id}/instances", response_model=list[InstanceOut])
def list_instances(
    client_id: str,
    caller: CallerDep,
    session: SessionDep,
    role: str | None = Query(default=None, pattern="^(?i)(primary|replica|zombie|terminated)$"),
    agent_id: str | None = None,
) -> list[InstanceOut]:
    """The client's instances, newest first; filter by role or agent."""
    scope = caller.scope_client_id(client_id)
    rows = repository.instances(session, scope, agent_id=agent_id, role=role)
    return [InstanceOut.model_validate(i) for i in rows]


@router.get("/{client_id}/replicas", response_model=list[ReplicaOut])
def list_replicas(client_id: str, caller: CallerDep, session: SessionDep) -> list[ReplicaOut]:
    """The client's replicas (manual, policy, emergency) with their status and boot time."""
    return [ReplicaOut.model_validate(r) for r in repository.replicas(session, caller.scope_client_id(client_id))]


@router.get("/instances/{instance_id}/pricing")
def instance_pricing(instance_id: str, caller: CallerDep, session: SessionDep) -> dict[str, Any]:
    """What the instance costs per hour now, against on-demand."""
    return service.pricing(session, service.get_instance(session, instance_id, caller))


@router.get("/instances/{instance_id}/metrics")
def instance_metrics(instance_id: str, caller: CallerDep, session: SessionDep) -> dict[str, Any]:
    """Uptime, hours as PRIMARY, cost, on-demand baseline and savings (USD), switches, downtime."""
    return service.metrics(session, service.get_instance(session, instance_id, caller), clock.now())


@router.get("/instances/{instance_id}/price-history")
def price_history(instance_id: str, caller: CallerDep, session: SessionDep, days: Days = 7) -> dict[str, Any]:
    """Observed spot prices of the instance's pool over the last `days`."""
    return service.price_history(session, service.get_instance(session, instance_id, caller), clock.now(), days)


@router.get("/instances/{instance_id}/available-options")
def available_options(instance_id: str, caller: CallerDep, session: SessionDep, days: Days = 7) -> list[dict[str, Any]]:
    """Pools the instance could move to (same type and region), cheapest first, with risk and volatility."""
    return service.available_options(session, service.get_instance(session, instance_id, caller), clock.now(), days)


@router.get("/instances/{instance_id}/pool-volatility")
def pool_volatility(instance_id: str, caller: CallerDep, session: SessionDep, days: Days = 7) -> dict[str, Any]:
    """Price volatility of each candidate pool over the window."""
    return service.pool_volatility(session, service.get_instance(session, instance_id, caller), clock.now(), days)


@router.post("/instances/{instance_id}/force-switch", response_model=CommandOut, status_code=status.HTTP_202_ACCEPTED)
def force_switch(instance_id: str, body: SwitchRequest, caller: CallerDep, session: SessionDep) -> CommandOut:
    """Switch this PRIMARY to another pool or to on-demand now. Idempotent by `X-Request-ID`; one switch per
    agent at a time (409 while one is in flight)."""
    inst = service.get_instance(session, instance_id, caller)
    if inst.role != "PRIMARY":
        raise Conflict(
            f"only a PRIMARY can be switched; this instance is {inst.role}",
            code="not_primary",
            from_state=inst.role,
            to_state="PRIMARY",
        )
    agent = service.get_agent(session, inst.agent_id)
    cmd, _ = commands.request_switch(
        session,
        agent,
        target_pool_id=body.pool(),
        target_mode=body.mode(),
        reason=body.reason or "manual",
        issued_by="admin" if caller.is_admin else "user",
    )
    return CommandOut.model_validate(cmd)


@router.post("/instances/{instance_id}/simulate-switch")
def simulate_switch(instance_id: str, body: SimulateSwitch, caller: CallerDep, session: SessionDep) -> dict[str, Any]:
    """What a switch would do: cost per hour before/after, expected downtime, interruption risk. Changes nothing."""
    inst = service.get_instance(session, instance_id, caller)
    return service.simulate_switch(session, inst, body.target_pool_id, body.target_mode, clock.now())


@router.get("/instances/{instance_id}/logs", response_model=list[ActivityOut])
def instance_logs(
    instance_id: str, caller: CallerDep, session: SessionDep, limit: Annotated[int, Query(ge=1, le=1000)] = 200
) -> list[ActivityOut]:
    """The instance's activity: role changes, commands, switches, emergencies; newest first."""
    inst = service.get_instance(session, instance_id, caller)
    rows = repository.instance_activity(session, inst.client_id, inst.id, inst.cloud_instance_id, limit)
    return [ActivityOut.model_validate(a) for a in rows]
