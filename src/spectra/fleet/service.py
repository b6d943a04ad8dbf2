"""Tenancy rules: clients with hashed tokens, teams, and the token resolver the platform's auth uses."""

from __future__ import annotations

from sqlalchemy.orm import Session

from spectra.core.audit import record_audit
from spectra.core.auth import Caller, caller_cache
from spectra.core.clock import clock
from spectra.core.errors import Conflict, NotFound, StaleVersion
from spectra.core.security import generate_token, hash_token, hashes_match, token_prefix
from spectra.fleet import repository
from spectra.fleet.models import Client, Team
from spectra.fleet.schemas import ClientCreate, ClientUpdate, TeamIn, TeamUpdate


def resolve_client_token(session: Session, token_hash: str) -> Caller | None:
    client = repository.client_by_token_hash(session, token_hash)
    if client is None or client.status != "active" or not hashes_match(client.token_hash, token_hash):
        return None
    return Caller("client", client.id, client.name, token_hash)


def _client_state(client: Client) -> dict[str, object]:
    return {
        "name": client.name,
        "email": client.email,
        "status": client.status,
        "token_prefix": client.token_prefix,
        "version": client.version,
    }


def create_client(session: Session, data: ClientCreate) -> tuple[Client, str]:
    if repository.client_by_name(session, data.name) is not None:
        raise Conflict(f"a client named {data.name!r} already exists", code="client_exists")
    token = generate_token("cli")
    client = Client(
        name=data.name,
        email=data.email,
        token_hash=hash_token(token),
        token_prefix=token_prefix(token),
        token_created_at=clock.now(),
    )
    session.add(client)
    session.flush()
    for team_name in dict.fromkeys(data.teams):
        session.add(Team(client_id=client.id, name=team_name))
    record_audit(session, "client.create", "client", client.id, None, _client_state(client), client_id=client.id)
    return client, token


def get_client(session: Session, client_id: str, caller: Caller | None = None) -> Client:
    client = repository.get_client(session, client_id)
    if client is None:
        raise NotFound("client not found")
    if caller is not None:
        caller.ensure_tenant(client.id, "client")
    return client


def regenerate_token(session: Session, client_id: str) -> tuple[Client, str]:
    client = get_client(session, client_id)
    pre = _client_state(client)
    token = generate_token("cli")
    client.token_hash, client.token_prefix = hash_token(token), token_prefix(token)
    client.token_created_at = clock.now()
    session.flush()
    caller_cache.clear()
    record_audit(
        session,
        "client.regenerate_token",
        "client",
        client.id,
        pre,
        _client_state(client),
        client_id=client.id,
    )
    return client, token


def update_client(session: Session, client_id: str, data: ClientUpdate) -> Client:
    client = get_client(session, client_id)
    if client.version != data.version:
        raise StaleVersion("client", client.version)
    pre = _client_state(client)
    changes = data.model_dump(exclude_unset=True, exclude={"version"})
    for field, value in changes.items():
        setattr(client, field, value)
    session.flush()  # the versioned UPDATE: a concurrent writer that got here first makes this raise
    if "status" in changes:
        caller_cache.clear()
    record_audit(session, "client.update", "client", client.id, pre, _client_state(client), client_id=client.id)
    return client


def delete_client(session: Session, client_id: str) -> None:
    client = get_client(session, client_id)
    record_audit(session, "client.delete", "client", client.id, _client_state(client), None, client_id=client.id)
    session.delete(client)
    session.flush()
    caller_cache.clear()


def list_clients(session: Session) -> list[Client]:
    return repository.list_clients(session)


def list_teams(session: Session, client_id: str | None) -> list[Team]:
    return repository.list_teams(session, client_id)


def create_team(session: Session, client_id: str, data: TeamIn) -> Team:
    get_client(session, client_id)
    if repository.team_by_name(session, client_id, data.name) is not None:
        raise Conflict(f"team {data.name!r} already exists", code="team_exists")
    team = Team(client_id=client_id, name=data.name, cost_center=data.cost_center)
    session.add(team)
    session.flush()
    record_audit(session, "team.create", "team", team.id, None, data.model_dump(), client_id=client_id)
    return team


def get_team(session: Session, team_id: str, caller: Caller) -> Team:
    team = repository.get_team(session, team_id)
    if team is None:
        raise NotFound("team not found")
    caller.ensure_tenant(team.client_id, "team")
    return team


def update_team(session: Session, team_id: str, data: TeamUpdate, caller: Caller) -> Team:
    team = get_team(session, team_id, caller)
    pre = {"name": team.name, "cost_center": team.cost_center}
    changes = data.model_dump(exclude_unset=True)
    if (
        "name" in changes
        and changes["name"] != team.name
        and repository.team_by_name(session, team.client_id, changes["name"])
    ):
        raise Conflict(f"team {changes['name']!r} already exists", code="team_exists")
    for field, value in changes.items():
        setattr(team, field, value)
    session.flush()
    record_audit(
        session,
        "team.update",
        "team",
        team.id,
        pre,
        {"name": team.name, "cost_center": team.cost_center},
        client_id=team.client_id,
    )
    return team


def ensure_team(session: Session, client_id: str, name: str) -> Team:
    """The team of that name, created on first use (inventory sync maps cloud tags to teams)."""
    team = repository.team_by_name(session, client_id, name)
    if team is None:
        team = Team(client_id=client_id, name=name)
        session.add(team)
        session.flush()
    return team
