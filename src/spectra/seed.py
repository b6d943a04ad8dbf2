"""First-boot demo data (the seed's push_mock_data): each domain seeds its own part, lowest domain first."""

from __future__ import annotations

import random
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from spectra import registry
from spectra.core.config import get_settings
from spectra.core.db import Base, session_scope
from spectra.fleet.models import Client

# Platform state that survives a data reset: credentials, the clock, migrations.
KEEP_ON_RESET = {"admin_credentials", "sim_clock", "alembic_version", "scheduler_leases"}


def wipe_data(session: Session) -> None:
    for table in reversed(Base.metadata.sorted_tables):
        if table.name not in KEEP_ON_RESET:
            session.execute(delete(table))


def seed_database(reset: bool = False) -> dict[str, Any]:
    registry.load_models()
    registry.run_startup_hooks()
    settings = get_settings()
    with session_scope() as session:
        if reset:
            wipe_data(session)
            session.flush()
        elif session.scalar(select(func.count(Client.id))):
            return {"seeded": False, "reason": "database already has clients; use --reset to re-seed"}
        rng = random.Random(settings.demo_seed)
        summary: dict[str, Any] = {"seeded": True}
        for module in registry.domain_modules("seed"):
            summary[module.__name__.split(".")[1]] = module.seed(session, rng)
    return summary


def demo_tokens(rotate_admin: bool) -> dict[str, str]:
    """Fresh tokens for the demo clients (and the stored admin token unless one is configured)."""
    from spectra.core.auth import rotate_admin_token
    from spectra.fleet import service
    from spectra.fleet.seed import DEMO_CLIENTS

    out: dict[str, str] = {}
    with session_scope() as session:
        if rotate_admin:
            out["admin"] = rotate_admin_token(session)
        for client in service.list_clients(session):
            if client.name in DEMO_CLIENTS:
                _, out[client.name] = service.regenerate_token(session, client.id)
    return out
