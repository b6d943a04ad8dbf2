"""Operator routes (admin token only)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from spectra.core.auth import AdminDep
from spectra.core.clock import clock
from spectra.core.db import SessionDep
from spectra.core.errors import PROBLEM_RESPONSES
from spectra.spot.admin import service
from spectra.spot.agents.schemas import AgentOut
from spectra.spot.instances import repository as inst_repo
from spectra.spot.instances.schemas import ActivityOut, InstanceOut

router = APIRouter(prefix="/api/admin", tags=["spot: admin"], responses=PROBLEM_RESPONSES)
Limit = Annotated[int, Query(ge=1, le=5000)]


class BulkIn(BaseModel):
    operations: list[dict[str, Any]] = Field(
        min_length=1,
        max_length=500,
        description="Each {action: force_switch | fallback_on_demand | terminate_instance | set_agent_config, ...}",
    )


class BulkOut(BaseModel):
    total: int
    succeeded: int
    failed: int
    results: list[dict[str, Any]]


@router.get("/stats")
def stats(_: AdminDep, session: SessionDep) -> dict[str, Any]:
    """Global numbers: clients, agents by status, instances by role, switches today, 30-day savings."""
    return service.stats(session, clock.now())


@router.get("/clients/growth")
def client_growth(
    _: AdminDep, session: SessionDep, days: Annotated[int, Query(ge=1, le=366)] = 30
) -> list[dict[str, Any]]:
    """New and cumulative clients per day."""
    return service.client_growth(session, days, clock.now())


@router.get("/instances", response_model=list[InstanceOut])
def all_instances(
    _: AdminDep, session: SessionDep, role: str | None = None, client_id: str | None = None, limit: Limit = 1000
) -> list[InstanceOut]:
    """Every client's instances."""
    return [InstanceOut.model_validate(i) for i in inst_repo.instances(session, client_id, role=role, limit=limit)]


@router.get("/agents", response_model=list[AgentOut])
def all_agents(_: AdminDep, session: SessionDep, status: str | None = None) -> list[AgentOut]:
    """Every client's agents."""
    return [AgentOut.model_validate(a) for a in inst_repo.list_agents(session, None, status)]


@router.get("/activity", response_model=list[ActivityOut])
def activity(
    _: AdminDep, session: SessionDep, client_id: str | None = None, severity: str | None = None, limit: Limit = 200
) -> list[ActivityOut]:
    """The spot activity log, newest first."""
    return [ActivityOut.model_validate(a) for a in service.activity(session, client_id, limit, severity)]


@router.get("/system-health")
def system_health(_: AdminDep, session: SessionDep) -> dict[str, Any]:
    """Agents stale/offline, heartbeat miss rate, command backlog, price freshness, spot jobs' last runs."""
    return service.system_health(session, clock.now())


@router.get("/search")
def search(
    _: AdminDep,
    session: SessionDep,
    q: Annotated[str, Query(min_length=2, max_length=100)],
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> dict[str, list[dict[str, Any]]]:
    """Find clients, agents and instances by id, name, hostname, cloud instance id or type."""
    return service.search(session, q, limit)


@router.get("/pools/statistics")
def pool_statistics(
    _: AdminDep, session: SessionDep, days: Annotated[int, Query(ge=1, le=365)] = 7
) -> list[dict[str, Any]]:
    """Every pool: price range, volatility, risk, boot time, active instances."""
    return service.pool_statistics(session, days, clock.now())


@router.get("/agents/health-summary")
def agent_health_summary(_: AdminDep, session: SessionDep) -> dict[str, Any]:
    """Agents by status and each agent's heartbeat miss rate (v6 target < 5 %)."""
    return service.agent_health(session, clock.now())


@router.post("/bulk/execute", response_model=BulkOut)
def bulk_execute(body: BulkIn, _: AdminDep, session: SessionDep) -> BulkOut:
    """Run many operations; each succeeds or fails on its own and reports its result."""
    results = service.bulk_execute(session, body.operations, clock.now())
    ok = sum(1 for r in results if r["ok"])
    return BulkOut(total=len(results), succeeded=ok, failed=len(results) - ok, results=results)
