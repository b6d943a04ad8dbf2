"""Migration routes (SPECTRA seed paths)."""

from __future__ import annotations

from fastapi import APIRouter, Header, Query, Response, status

from spectra.carbon.migrations import service
from spectra.carbon.migrations.schemas import MigrationIn, MigrationOut, MigrationPage
from spectra.carbon.optimizer.dependencies import InputsDep
from spectra.core.auth import CallerDep
from spectra.core.db import SessionDep
from spectra.core.errors import PROBLEM_RESPONSES

router = APIRouter(prefix="/api/migrations", tags=["migrations"], responses=PROBLEM_RESPONSES)


@router.post("/execute", response_model=MigrationOut, status_code=status.HTTP_201_CREATED)
def execute_migration(
    body: MigrationIn,
    response: Response,
    caller: CallerDep,
    session: SessionDep,
    inputs: InputsDep,
    x_request_id: str | None = Header(default=None, max_length=160),
) -> MigrationOut:
    """Plan a move of an instance to another region (estimated CO2e and cost change per month) and
    execute it. The same `request_id` (or `X-Request-ID`) never migrates twice: a repeat returns the first
    migration (200). `dry_run` only plans; executing later with the same request id runs that plan."""
    migration, created = service.execute(session, inputs, body, caller, request_id=x_request_id)
    if not created:
        response.status_code = status.HTTP_200_OK
    return MigrationOut.model_validate(migration)


@router.get("/history", response_model=MigrationPage)
def migration_history(
    caller: CallerDep,
    session: SessionDep,
    status_filter: str | None = Query(default=None, alias="status", pattern="^(planned|executing|completed|failed)$"),
    instance_id: str | None = None,
    client_id: str | None = Query(default=None, description="Admins: one client's migrations"),
    limit: int = Query(default=50, ge=1, le=500),
    offset: int = Query(default=0, ge=0),
) -> MigrationPage:
    """Migrations, newest first."""
    rows, total = service.history(session, caller.scope_client_id(client_id), status_filter, instance_id, limit, offset)
    return MigrationPage(items=[MigrationOut.model_validate(r) for r in rows], total=total, limit=limit, offset=offset)


@router.get("/{migration_id}", response_model=MigrationOut)
def get_migration(migration_id: str, caller: CallerDep, session: SessionDep) -> MigrationOut:
    """One migration with its plan."""
    return MigrationOut.model_validate(service.get_migration(session, migration_id, caller))
