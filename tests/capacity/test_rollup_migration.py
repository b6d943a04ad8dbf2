"""Upgrading a database whose roll-ups were written by ingest: the points already counted are not read again, the
retention horizon starts after the last hour retention already cut into, the job and ingest work on it afterwards,
the schema matches the models, and the migration goes down and up again (SQLite and PostgreSQL)."""

from __future__ import annotations

import tempfile
import uuid
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, create_engine, select, text
from sqlalchemy.orm import Session

from spectra import registry
from spectra.capacity import service
from spectra.capacity.models import MetricPoint, MetricRollup, RollupState
from spectra.core import migrate
from spectra.core.clock import clock
from spectra.core.db import Base, make_engine
from tests.conftest import IS_POSTGRES, TEST_DATABASE_URL

BEFORE = "9f86208d9f92"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
H = timedelta(hours=1)
ROLLUP_COLUMNS = ("resource_pk", "metric", "resolution", "bucket", "count", "total", "minimum", "maximum")
HOURS = [NOW - timedelta(hours=6) + k * H for k in range(6)]  # 06:00 .. 11:00


@pytest.fixture()
def database_url() -> Iterator[str]:
    """A database of its own: a SQLite file, or a schema of the test database on PostgreSQL."""
    if not IS_POSTGRES:
        yield f"sqlite:///{Path(tempfile.mkdtemp()) / 'upgrade.db'}"
        return
    schema = f"upgrade_{uuid.uuid4().hex[:8]}"
    admin = create_engine(TEST_DATABASE_URL)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        yield f"{TEST_DATABASE_URL}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def _old_shape(engine: Engine) -> dict[tuple[str, str, datetime], tuple[int, float, float, float]]:
    """What the previous revision's code left: every point counted in both tiers as it was stored, retention having
    removed raw points before 08:20 (not a whole hour), and one late point for 06:00 stored after that."""
    points = [(HOURS[0] + timedelta(minutes=5 * k), float(k % 40)) for k in range(6 * 12)]
    late = (HOURS[0] + timedelta(minutes=7), 55.0)
    counted: dict[tuple[str, str, datetime], list[float]] = defaultdict(list)
    for ts, value in [*points, late]:
        for resolution in ("5m", "1h"):
            counted[("cpu", resolution, service.bucket_start(ts, resolution))].append(value)
    rollups = {key: (len(v), sum(v), min(v), max(v)) for key, v in counted.items()}
    kept = [p for p in points if p[0] >= HOURS[2] + timedelta(minutes=20)] + [late]
    with Session(engine) as session:
        now = datetime.now(UTC)
        session.execute(
            text(
                "INSERT INTO capacity_resources (id, client_id, resource_id, provider, created_at, updated_at) "
                "VALUES ('r1', NULL, 'vm-1', 'agent', :now, :now)"
            ).bindparams(now=now if IS_POSTGRES else now.replace(tzinfo=None).isoformat(" "))
        )
        session.execute(
            MetricPoint.__table__.insert(),  # type: ignore[attr-defined]
            [{"resource_pk": "r1", "metric": "cpu", "ts": ts, "value": v} for ts, v in kept],
        )
        session.execute(
            MetricRollup.__table__.insert(),  # type: ignore[attr-defined]
            [
                dict(zip(ROLLUP_COLUMNS, ("r1", m, res, b, n, t, lo, hi), strict=True))
                for (m, res, b), (n, t, lo, hi) in rollups.items()
            ],
        )
        session.commit()
    return rollups


def _rollups(session: Session) -> dict[tuple[str, str, datetime], tuple[int, float, float, float]]:
    rows = session.execute(select(MetricRollup)).scalars()
    return {(r.metric, r.resolution, r.bucket): (r.count, r.total, r.minimum, r.maximum) for r in rows}


def test_upgrade_keeps_what_was_rolled_up_and_starts_after_the_cut_hours(database_url: str) -> None:
    registry.load_models()
    config = migrate.alembic_config(database_url)
    command.upgrade(config, BEFORE)
    engine = make_engine(database_url)
    clock.set_override(NOW)
    try:
        before = _old_shape(engine)
        migrate.upgrade(database_url)

        with Session(engine) as session:
            state = session.get(RollupState, "rollups")
            assert state is not None
            assert (state.watermark, state.horizon) == (EPOCH, HOURS[3])  # 08:00 was cut into: 09:00 on is whole
            stored = session.execute(select(MetricPoint.ts, MetricPoint.ingested_at)).all()
            assert min(ts for ts, _ in stored) == HOURS[3]  # counted points before the horizon are gone
            assert {at for _, at in stored} == {EPOCH}
            assert _rollups(session) == before
            # The job finds nothing new: what the old code counted is not counted again.
            assert service.roll_up(session)["points"] == 0
            session.commit()
            # New points: one in a whole hour (recomputed from its raw points), one for a cut hour (added once).
            fresh: list[dict[str, Any]] = [
                {"resource_id": "vm-1", "metric": "cpu", "ts": HOURS[4] + timedelta(minutes=2), "value": 99.0},
                {"resource_id": "vm-1", "metric": "cpu", "ts": HOURS[1] + timedelta(minutes=2), "value": 98.0},
            ]
            assert service.ingest(session, None, fresh).accepted == 2
            session.commit()
            result = service.roll_up(session)
            assert (result["points"], result["late_points"]) == (1, 1)
            session.commit()
            after = _rollups(session)
        added = {(r, service.bucket_start(p["ts"], r)): p["value"] for p in fresh for r in ("5m", "1h")}
        for (metric, resolution, bucket), (n, total, lo, hi) in before.items():
            value = added.get((resolution, bucket))
            expected = (n, total, lo, hi) if value is None else (n + 1, total + value, min(lo, value), max(hi, value))
            assert after[(metric, resolution, bucket)] == expected

        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []

        command.downgrade(config, BEFORE)
        with engine.connect() as conn:
            columns = list(conn.execute(text("SELECT * FROM capacity_metric_points LIMIT 0")).keys())
        assert "value" in columns and "ingested_at" not in columns
        migrate.upgrade(database_url)
    finally:
        clock.set_override(None)
        engine.dispose()
