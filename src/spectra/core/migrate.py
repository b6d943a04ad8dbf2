"""Alembic from code: upgrade to head on start, reset, and the model/migration drift check."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

from spectra.core.config import get_settings

ROOT = Path(__file__).resolve().parents[3]
PACKAGED = Path(__file__).resolve().parents[1] / "migrations"


def alembic_config(url: str | None = None) -> Config:
    script_location = ROOT / "migrations" if (ROOT / "migrations" / "env.py").exists() else PACKAGED
    cfg = Config()
    cfg.set_main_option("script_location", str(script_location))
    cfg.set_main_option("sqlalchemy.url", (url or get_settings().database_url).replace("%", "%%"))
    return cfg


def upgrade(url: str | None = None, engine: Engine | None = None) -> None:
    cfg = alembic_config(url)
    if engine is not None:
        with engine.begin() as connection:
            cfg.attributes["connection"] = connection
            command.upgrade(cfg, "head")
    else:
        command.upgrade(cfg, "head")


def downgrade_all(url: str | None = None) -> None:
    command.downgrade(alembic_config(url), "base")


def revision(message: str) -> None:
    """Autogenerate a migration: the difference between the models and a fresh database at head."""
    import tempfile

    url = f"sqlite:///{Path(tempfile.mkdtemp()) / 'revision.db'}"
    upgrade(url)
    command.revision(alembic_config(url), message=message, autogenerate=True)
