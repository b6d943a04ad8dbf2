"""Fleet queries."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from spectra.fleet.models import Client, Team


def client_by_token_hash(session: Session, token_hash: str) -> Client | None:
    return session.scalar(select(Client).where(Client.token_hash == token_hash))


def get_client(session: Session, client_id: str) -> Client | None:
    return session.get(Client, client_id)


def client_by_name(session: Session, name: str) -> Client | None:
    return session.scalar(select(Client).where(Client.name == name))


def list_clients(session: Session) -> list[Client]:
    return list(session.scalars(select(Client).order_by(Client.created_at)))


def count_clients(session: Session) -> int:
    return int(session.scalar(select(func.count(Client.id))) or 0)


def list_teams(session: Session, client_id: str | None) -> list[Team]:
    stmt = select(Team).order_by(Team.name)
    if client_id is not None:
        stmt = stmt.where(Team.client_id == client_id)
    return list(session.scalars(stmt))


def get_team(session: Session, team_id: str) -> Team | None:
    return session.get(Team, team_id)


def team_by_name(session: Session, client_id: str, name: str) -> Team | None:
    return session.scalar(select(Team).where(Team.client_id == client_id, Team.name == name))
