"""capacity: roll-ups computed by a job from the raw points, which carry the time they were stored

Points get `ingested_at` (the database's clock when a point is stored), indexed, so the roll-up job finds what
was stored since its last run; the job's state gets a table (`capacity_rollup_state`: its watermark and the
retention horizon). On PostgreSQL the ids of points and roll-ups become bigint (a roll-up upsert draws an id
each time, and a fleet's points outgrow 2^31 within months).

Points stored before this revision were rolled up as they were stored: they get the Unix epoch as their
`ingested_at` and the watermark starts there, so the job does not read them again. The horizon starts after the
newest hour whose raw points retention already removed in part — an hour whose hourly roll-up counts more points
than are stored for it, or than its 5-minute roll-ups count — and the raw points before it (all counted in their
roll-ups already) are removed, so that every bucket from the horizon on can be recomputed from its raw points.

Before a downgrade, run the roll-up job until it has caught up (`spectra jobs run capacity.rollups`): the
previous revision's code rolls up points as it stores them and would not roll up points stored before.

Revision ID: 1461f53e278c
Revises: 9f86208d9f92
Create Date: 2026-12-04 23:55:20.222840
"""

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

from spectra.core.db import UTCDateTime

revision: str = "1461f53e278c"
down_revision: str | None = "9f86208d9f92"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)
SQLITE_NOW = "(strftime('%Y-%m-%d %H:%M:%f000', 'now'))"

points = sa.table("capacity_metric_points", sa.column("ts", UTCDateTime()))
rollups = sa.table(
    "capacity_metric_rollups",
    sa.column("resolution", sa.String()),
    sa.column("bucket", UTCDateTime()),
)
state = sa.table(
    "capacity_rollup_state",
    sa.column("name", sa.String()),
    sa.column("watermark", UTCDateTime()),
    sa.column("horizon", UTCDateTime()),
    sa.column("updated_at", UTCDateTime()),
)


def upgrade() -> None:
    bind = op.get_bind()
    postgres = bind.dialect.name == "postgresql"
    op.create_table(
        "capacity_rollup_state",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("watermark", UTCDateTime(timezone=True), nullable=True),
        sa.Column("horizon", UTCDateTime(timezone=True), nullable=True),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_capacity_rollup_state")),
    )
    # Existing rows get the epoch (a constant default: no rewrite of the table), new ones the clock.
    epoch = "'1970-01-01 00:00:00+00'" if postgres else "'1970-01-01 00:00:00.000000'"
    op.add_column(
        "capacity_metric_points",
        sa.Column("ingested_at", UTCDateTime(timezone=True), server_default=sa.text(epoch), nullable=False),
    )
    if postgres:
        op.alter_column("capacity_metric_points", "ingested_at", server_default=sa.text("statement_timestamp()"))
        for table in ("capacity_metric_points", "capacity_metric_rollups"):
            op.alter_column(table, "id", type_=sa.BigInteger(), existing_type=sa.Integer(), existing_nullable=False)
            sequence = bind.execute(sa.text("SELECT pg_get_serial_sequence(:t, 'id')"), {"t": table}).scalar()
            if sequence:
                op.execute(f"ALTER SEQUENCE {sequence} AS bigint")
    else:
        # SQLite cannot change a column's default in place: the table is copied (its rows keep their epoch).
        with op.batch_alter_table("capacity_metric_points", recreate="always") as batch_op:
            batch_op.alter_column(
                "ingested_at",
                server_default=sa.text(SQLITE_NOW),
                existing_type=UTCDateTime(timezone=True),
                existing_nullable=False,
            )
    op.create_index("ix_capacity_points_ingested_at", "capacity_metric_points", ["ingested_at"], unique=False)

    horizon = _first_complete_hour(bind, postgres)
    if horizon is not None:
        bind.execute(sa.delete(points).where(points.c.ts < horizon))
    bind.execute(
        sa.insert(state).values(name="rollups", watermark=EPOCH, horizon=horizon, updated_at=datetime.now(UTC))
    )


def _first_complete_hour(bind: sa.engine.Connection, postgres: bool) -> datetime | None:
    """The hour after the newest one some of whose counted points are no longer stored raw (None: no such hour)."""
    oldest = bind.execute(sa.select(sa.func.min(points.c.ts))).scalar()
    hourly = rollups.c.resolution == "1h"
    if oldest is None:  # every raw point is gone (or there never was one)
        newest = bind.execute(sa.select(sa.func.max(rollups.c.bucket)).where(hourly)).scalar()
        return None if newest is None else newest + HOUR
    first = EPOCH + HOUR * ((oldest - EPOCH) // HOUR)
    candidates = [
        bind.execute(sa.select(sa.func.max(rollups.c.bucket)).where(hourly, rollups.c.bucket < first)).scalar()
    ]
    hour_end = (
        "r.bucket + interval '1 hour'"
        if postgres
        else "strftime('%Y-%m-%d %H:%M:%S', r.bucket, '+1 hour') || '.000000'"
    )
    sql = (
        "SELECT max(r.bucket) AS bucket FROM capacity_metric_rollups r "  # noqa: S608 (constants; the hour is bound)
        "WHERE r.resolution = '1h' AND r.bucket >= :first "
        "AND (r.count > (SELECT count(*) FROM capacity_metric_points p WHERE p.resource_pk = r.resource_pk "
        f"AND p.metric = r.metric AND p.ts >= r.bucket AND p.ts < {hour_end}) "
        "OR r.count > (SELECT coalesce(sum(f.count), 0) FROM capacity_metric_rollups f "
        "WHERE f.resource_pk = r.resource_pk AND f.metric = r.metric AND f.resolution = '5m' "
        f"AND f.bucket >= r.bucket AND f.bucket < {hour_end}))"
    )
    partly_removed = sa.text(sql).columns(bucket=UTCDateTime())
    candidates.append(bind.execute(partly_removed.bindparams(sa.bindparam("first", first, UTCDateTime()))).scalar())
    found = [c for c in candidates if c is not None]
    return max(found) + HOUR if found else None


def downgrade() -> None:
    bind = op.get_bind()
    op.drop_index("ix_capacity_points_ingested_at", table_name="capacity_metric_points")
    if bind.dialect.name == "postgresql":
        op.drop_column("capacity_metric_points", "ingested_at")
        for table in ("capacity_metric_points", "capacity_metric_rollups"):
            sequence = bind.execute(sa.text("SELECT pg_get_serial_sequence(:t, 'id')"), {"t": table}).scalar()
            if sequence:
                op.execute(f"ALTER SEQUENCE {sequence} AS integer")
            op.alter_column(table, "id", type_=sa.Integer(), existing_type=sa.BigInteger(), existing_nullable=False)
    else:
        with op.batch_alter_table("capacity_metric_points", schema=None) as batch_op:
            batch_op.drop_column("ingested_at")
    op.drop_table("capacity_rollup_state")
