"""Emergency routes: notices from agents, status, and the operators' summary."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query

from spectra.core.auth import AdminDep, CallerDep
from spectra.core.clock import clock
from spectra.core.db import SessionDep
from spectra.core.errors import PROBLEM_RESPONSES
from spectra.spot.agents.schemas import Notice
from spectra.spot.emergency import service
from spectra.spot.instances import service as instances

router = APIRouter(prefix="/api/agents", tags=["spot: emergency"], responses=PROBLEM_RESPONSES)
admin_router = APIRouter(prefix="/api/admin", tags=["spot: emergency"], responses=PROBLEM_RESPONSES)


@router.post("/{agent_id}/rebalance-notice")
def rebalance_notice(agent_id: str, body: Notice, caller: CallerDep, session: SessionDep) -> dict[str, Any]:
    """The cloud recommends rebalancing: queue an emergency replica in the fastest-boot, lowest-risk pool. A notice
    naming one of the agent's replicas (`instance_id`) only marks that replica as at risk."""
    agent = instances.get_agent(session, agent_id, caller)
    event = service.rebalance_notice(session, agent, body.notice_time, clock.now(), body.instance_id)
    return service.event_out(event)


@router.post("/{agent_id}/rebalance-recommendation")
def rebalance_recommendation(agent_id: str, body: Notice, caller: CallerDep, session: SessionDep) -> dict[str, Any]:
    """v5 name of the rebalance notice; same effect."""
    return rebalance_notice(agent_id, body, caller, session)


@router.post("/{agent_id}/termination-notice")
def termination_notice(agent_id: str, body: Notice, caller: CallerDep, session: SessionDep) -> dict[str, Any]:
    """The cloud will reclaim the PRIMARY: promote a replica that is alive and ready at once, else fail over to
    on-demand; the standby is re-created. A notice naming one of the agent's replicas (`instance_id`; the agent
    also sends one when it finds a replica gone) marks that replica TERMINATED and queues a new standby."""
    agent = instances.get_agent(session, agent_id, caller)
    now = clock.now()
    event = service.termination_notice(session, agent, body.notice_time, body.termination_time, now, body.instance_id)
    return service.event_out(event)


@router.get("/{agent_id}/emergency-status")
def emergency_status(agent_id: str, caller: CallerDep, session: SessionDep) -> dict[str, Any]:
    """Where the agent's emergency stands: notice, deadline, seconds left, replica, timeline."""
    return service.status(session, instances.get_agent(session, agent_id, caller), clock.now())


@admin_router.get("/emergency-events")
def emergency_events(
    _: AdminDep, session: SessionDep, hours: Annotated[int, Query(ge=1, le=24 * 90)] = 24 * 7
) -> dict[str, Any]:
    """Emergency events of every client: counts by kind and outcome, promotion times, the latest events."""
    since = clock.now() - timedelta(hours=hours)
    return service.summary(session, None, since, service.NOTICE_WINDOW.total_seconds())
