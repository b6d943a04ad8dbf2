"""Instance routes (SPECTRA's /api/instances)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from spectra.core.auth import CallerDep
from spectra.core.db import SessionDep
from spectra.core.errors import PROBLEM_RESPONSES
from spectra.fleet.instances import service
from spectra.fleet.instances.schemas import InstanceOut, InstancePage, InstanceUpdate

router = APIRouter(prefix="/api/instances", tags=["instances"], responses=PROBLEM_RESPONSES)


@router.get("", response_model=InstancePage)
def list_instances(
    caller: CallerDep,
    session: SessionDep,
    team: Annotated[str | None, Query(description="Team id or name")] = None,
    region: Annotated[str | None, Query(max_length=40)] = None,
    provider: Annotated[str | None, Query(pattern="^(aws|gcp|azure)$")] = None,
    state: Annotated[str | None, Query(max_length=16)] = None,
    lifecycle: Annotated[str | None, Query(pattern="^(on-demand|spot)$")] = None,
    client_id: Annotated[str | None, Query(description="Admins: one client's instances")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> InstancePage:
    """The caller's instances (admins: all, or one client's), oldest launch first."""
    rows, total = service.list_instances(
        session,
        caller.scope_client_id(client_id),
        team=team,
        region=region,
        provider=provider,
        state=state,
        lifecycle=lifecycle,
        limit=limit,
        offset=offset,
    )
    return InstancePage(items=[InstanceOut.model_validate(r) for r in rows], total=total, limit=limit, offset=offset)


@router.get("/{instance_id}", response_model=InstanceOut)
def get_instance(instance_id: str, caller: CallerDep, session: SessionDep) -> InstanceOut:
    """One instance (another client's is 404)."""
    return InstanceOut.model_validate(service.get_instance(session, instance_id, caller))


@router.patch("/{instance_id}", response_model=InstanceOut)
def update_instance(instance_id: str, body: InstanceUpdate, caller: CallerDep, session: SessionDep) -> InstanceOut:
    """Change the team, workload metadata or tags; send the version you read (stale → 409)."""
    return InstanceOut.model_validate(service.update_instance(session, instance_id, body, caller))
