"""Migrations and models agree: a fresh database migrated to head has exactly the models' schema."""

from __future__ import annotations

import tempfile
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, text

from spectra import registry
from spectra.core import migrate
from spectra.core.db import Base
from tests.conftest import IS_POSTGRES, TEST_DATABASE_URL


def _fresh_url() -> tuple[str, object]:
    if not IS_POSTGRES:
        path = Path(tempfile.mkdtemp()) / "migrate.db"
        return f"sqlite:///{path}", None
    admin = create_engine(TEST_DATABASE_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text("DROP DATABASE IF EXISTS spectra_migration_check"))
        conn.execute(text("CREATE DATABASE spectra_migration_check"))
    return TEST_DATABASE_URL.rsplit("/", 1)[0] + "/spectra_migration_check", admin


def test_upgrade_head_matches_models() -> None:
    registry.load_models()
    url, admin = _fresh_url()
    migrate.upgrade(url)
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            diff = compare_metadata(context, Base.metadata)
        assert diff == [], f"models and migrations differ (run `make migration`): {diff}"
        migrate.upgrade(url)  # a second upgrade is a no-op
    finally:
        engine.dispose()
        if admin is not None:
            with admin.connect() as conn:  # type: ignore[attr-defined]
                conn.execute(text("DROP DATABASE IF EXISTS spectra_migration_check"))
