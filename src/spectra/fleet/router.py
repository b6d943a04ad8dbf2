"""Tenancy routes: admin client management (Spot seed paths), client self-service, teams."""

from __future__ import annotations

from fastapi import APIRouter, Query, status

from spectra.core.auth import AdminDep, CallerDep
from spectra.core.db import SessionDep
from spectra.core.errors import PROBLEM_RESPONSES, BadRequest
from spectra.fleet import service
from spectra.fleet.schemas import (
    ClientCreate,
    ClientOut,
    ClientUpdate,
    ClientValidation,
    ClientWithToken,
    TeamIn,
    TeamOut,
    TeamUpdate,
    TokenInfo,
)

admin_router = APIRouter(prefix="/api/admin/clients", tags=["admin: clients"], responses=PROBLEM_RESPONSES)
client_router = APIRouter(prefix="/api/client", tags=["client"], responses=PROBLEM_RESPONSES)
team_router = APIRouter(prefix="/api/teams", tags=["teams"], responses=PROBLEM_RESPONSES)


def _with_token(client: object, token: str) -> ClientWithToken:
    return ClientWithToken.model_validate({**ClientOut.model_validate(client).model_dump(), "token": token})


@admin_router.post("/create", response_model=ClientWithToken, status_code=status.HTTP_201_CREATED)
def create_client(body: ClientCreate, _: AdminDep, session: SessionDep) -> ClientWithToken:
    """Create a client (tenant). The response carries its token once; only a hash is kept."""
    client, token = service.create_client(session, body)
    return _with_token(client, token)


@admin_router.get("", response_model=list[ClientOut])
def list_clients(_: AdminDep, session: SessionDep) -> list[ClientOut]:
    """All clients."""
    return [ClientOut.model_validate(c) for c in service.list_clients(session)]


@admin_router.patch("/{client_id}", response_model=ClientOut)
def update_client(client_id: str, body: ClientUpdate, _: AdminDep, session: SessionDep) -> ClientOut:
    """Change a client's e-mail or status (suspend/reactivate); send the version you read."""
    return ClientOut.model_validate(service.update_client(session, client_id, body))


@admin_router.delete("/{client_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_client(client_id: str, _: AdminDep, session: SessionDep) -> None:
    """Delete a client and everything it owns."""
    service.delete_client(session, client_id)


@admin_router.post("/{client_id}/regenerate-token", response_model=ClientWithToken)
def regenerate_token(client_id: str, _: AdminDep, session: SessionDep) -> ClientWithToken:
    """Issue a new token (shown once); the old one stops working at once."""
    client, token = service.regenerate_token(session, client_id)
    return _with_token(client, token)


@admin_router.get("/{client_id}/token", response_model=TokenInfo)
def token_info(client_id: str, _: AdminDep, session: SessionDep) -> TokenInfo:
    """A hashed token cannot be revealed: this returns its prefix and metadata, and says so."""
    client = service.get_client(session, client_id)
    return TokenInfo(client_id=client.id, token_prefix=client.token_prefix, token_created_at=client.token_created_at)


@client_router.get("/validate", response_model=ClientValidation)
def validate_token(caller: CallerDep, session: SessionDep) -> ClientValidation:
    """Check a client token (agents call this at start-up)."""
    if caller.client_id is None:
        raise BadRequest("this is the admin token, not a client token", code="not_a_client_token")
    client = service.get_client(session, caller.client_id)
    return ClientValidation(valid=True, client_id=client.id, name=client.name, status=client.status)


@client_router.get("/{client_id}", response_model=ClientOut)
def get_client(client_id: str, caller: CallerDep, session: SessionDep) -> ClientOut:
    """A client's details (a client sees only itself)."""
    return ClientOut.model_validate(service.get_client(session, client_id, caller))


@team_router.get("", response_model=list[TeamOut])
def list_teams(caller: CallerDep, session: SessionDep, client_id: str | None = Query(default=None)) -> list[TeamOut]:
    """Teams of the caller's client (admins: all, or one client's)."""
    return [TeamOut.model_validate(t) for t in service.list_teams(session, caller.scope_client_id(client_id))]


@team_router.post("", response_model=TeamOut, status_code=status.HTTP_201_CREATED)
def create_team(
    body: TeamIn,
    caller: CallerDep,
    session: SessionDep,
    client_id: str | None = Query(default=None, description="Admins: the client to add it to"),
) -> TeamOut:
    """Create a team in the caller's client."""
    owner = caller.scope_client_id(client_id)
    if owner is None:
        raise BadRequest("admins must say which client the team belongs to (?client_id=)", code="client_required")
    return TeamOut.model_validate(service.create_team(session, owner, body))


@team_router.get("/{team_id}", response_model=TeamOut)
def get_team(team_id: str, caller: CallerDep, session: SessionDep) -> TeamOut:
    """One team (another client's team is 404)."""
    return TeamOut.model_validate(service.get_team(session, team_id, caller))


@team_router.patch("/{team_id}", response_model=TeamOut)
def update_team(team_id: str, body: TeamUpdate, caller: CallerDep, session: SessionDep) -> TeamOut:
    """Rename a team or change its cost centre."""
    return TeamOut.model_validate(service.update_team(session, team_id, body, caller))
