"""Factories for the platform and tenancy: real rows through the real services."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from sqlalchemy.orm import Session

from spectra.fleet import service as fleet_service
from spectra.fleet.models import Client, Team
from spectra.fleet.schemas import ClientCreate, TeamIn

_seq = itertools.count(1)


@dataclass
class Tenant:
    client: Client
    token: str

    @property
    def id(self) -> str:
        return self.client.id

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def make_tenant(session: Session, name: str | None = None, teams: tuple[str, ...] = ("platform",)) -> Tenant:
    client, token = fleet_service.create_client(
        session, ClientCreate(name=name or f"tenant-{next(_seq)}", teams=list(teams))
    )
    session.flush()
    return Tenant(client, token)


def make_team(session: Session, tenant: Tenant, name: str | None = None) -> Team:
    return fleet_service.create_team(session, tenant.id, TeamIn(name=name or f"team-{next(_seq)}"))
