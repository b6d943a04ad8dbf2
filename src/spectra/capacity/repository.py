"""Every capacity query."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Table, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from spectra.capacity.models import (
    RESOLUTION_SECONDS,
    Alert,
    ForecastRecord,
    MetricPoint,
    MetricRollup,
    Resource,
    RollupState,
    Silence,
    database_now,
)
from spectra.core.db import Base


def resource_by_external(session: Session, client_id: str | None, resource_id: str) -> Resource | None:
    stmt = select(Resource).where(Resource.resource_id == resource_id)
    stmt = stmt.where(Resource.client_id.is_(None) if client_id is None else Resource.client_id == client_id)
    return session.scalars(stmt).first()


def resources(session: Session, client_id: str | None, all_tenants: bool = False) -> Sequence[Resource]:
    stmt = select(Resource).order_by(Resource.resource_id)
    if not all_tenants:
        stmt = stmt.where(Resource.client_id.is_(None) if client_id is None else Resource.client_id == client_id)
    return session.scalars(stmt).all()


def resource_keys(session: Session, client_id: str | None, resource_ids: list[str]) -> dict[str, str]:
    """Primary keys of the owner's resources among these external ids (external id -> pk)."""
    stmt = select(Resource.resource_id, Resource.id).where(Resource.resource_id.in_(resource_ids))
    stmt = stmt.where(Resource.client_id.is_(None) if client_id is None else Resource.client_id == client_id)
    return {resource_id: pk for resource_id, pk in session.execute(stmt)}


def create_resources(session: Session, rows: list[dict[str, Any]]) -> None:
    """Insert resources, skipping any that a concurrent batch created first (its row is used instead)."""
    insert = postgresql.insert if _dialect(session) == "postgresql" else sqlite.insert
    # Sorted, so two batches creating the same resources wait on each other in the same order.
    table = cast(Table, Resource.__table__)
    session.execute(insert(table).on_conflict_do_nothing(), sorted(rows, key=lambda r: r["resource_id"]))


def touch_resources(session: Session, seen: dict[str, tuple[datetime, str | None]], now: datetime) -> None:
    """Raise each resource's last_seen_at to the given time, and rename it when a name is given.

    Every row is updated, in primary-key order: on PostgreSQL this row-locks the batch's resources until
    commit, so batches sharing a resource run one after the other instead of deadlocking on the points they
    share, met in different orders (SQLite has one writer at a time anyway)."""
    p = _placeholder(session)
    postgres = _dialect(session) == "postgresql"
    latest = f"GREATEST(last_seen_at, {p})" if postgres else f"max(coalesce(last_seen_at, {p}), {p})"
    # Only constant names and placeholders are formatted into these statements; every value is bound.
    sql = (
        f"UPDATE {Resource.__tablename__} SET last_seen_at = {latest}, name = coalesce({p}, name), "  # noqa: S608
        f"updated_at = {p} WHERE id = {p}"
    )
    to_db = _time_to_db(session)
    stamp = to_db(now)
    params: list[tuple[Any, ...]] = []
    for pk in sorted(seen):
        ts, name = seen[pk]
        when = to_db(ts)
        params.append((when, name, stamp, pk) if postgres else (when, when, name, stamp, pk))
    session.connection().exec_driver_sql(sql, params)


def insert_points(session: Session, rows: list[tuple[str, str, datetime, float]]) -> int:
    """Store (resource_pk, metric, ts, value) rows, skipping those already stored. Returns how many were new.

    One statement whatever the batch's size. Only raw points are written: the roll-up job builds the 5-minute
    and hourly tiers from them afterwards (`recompute_rollups`); each new row is stamped with the database's
    clock (`ingested_at`, the column's default) so the job finds it."""
    if not rows:
        return 0
    connection = session.connection()
    if _dialect(session) == "postgresql":
        # %b: arrays go in binary, several times cheaper for psycopg to encode than text
        sql = (
            "INSERT INTO capacity_metric_points (resource_pk, metric, ts, value) "
            "SELECT * FROM unnest(%b::varchar[], %b::varchar[], %b::timestamptz[], %b::float8[]) "
            "ON CONFLICT DO NOTHING"
        )
        columns = tuple(list(column) for column in zip(*rows, strict=True))
        return int(connection.exec_driver_sql(sql, columns).rowcount)
    texts: dict[datetime, str] = {}  # a batch repeats a few times over many resources
    stored = []
    for pk, metric, ts, value in rows:
        text_ts = texts.get(ts)
        if text_ts is None:
            text_ts = texts[ts] = sqlite_time(ts)
        stored.append((pk, metric, text_ts, value))
    inserted = connection.exec_driver_sql(
        "INSERT INTO capacity_metric_points (resource_pk, metric, ts, value) VALUES (?, ?, ?, ?) "
        "ON CONFLICT DO NOTHING",
        stored,
    ).rowcount
    return int(inserted)


# --------------------------------------------------------------------------- roll-ups

ROLLUP_STATE = "rollups"
_TIERS = sorted(RESOLUTION_SECONDS.items(), key=lambda item: item[1])  # finest first; each divides the next
_ROLLUP_COLUMNS = "(resource_pk, metric, resolution, bucket, count, total, minimum, maximum)"
_ROLLUP_KEY = "(resource_pk, metric, resolution, bucket)"
_REPLACE = (
    "count = excluded.count, total = excluded.total, minimum = excluded.minimum, maximum = excluded.maximum "
    # An unchanged bucket is not rewritten (a re-processed bucket usually is unchanged).
    "WHERE capacity_metric_rollups.count <> excluded.count OR capacity_metric_rollups.total <> excluded.total "
    "OR capacity_metric_rollups.minimum <> excluded.minimum OR capacity_metric_rollups.maximum <> excluded.maximum"
)
_ADD = (
    "count = capacity_metric_rollups.count + excluded.count, total = capacity_metric_rollups.total + excluded.total, "
    "minimum = {lowest}(capacity_metric_rollups.minimum, excluded.minimum), "
    "maximum = {highest}(capacity_metric_rollups.maximum, excluded.maximum)"
)


def rollup_state(session: Session, lock: bool = False) -> RollupState | None:
    """The roll-up job's state; with `lock`, created when missing and locked until commit, so roll-up runs and
    retention take turns (on SQLite a writing transaction holds the database's only write lock anyway)."""
    if not lock:
        return session.get(RollupState, ROLLUP_STATE, populate_existing=True)
    insert = postgresql.insert if _dialect(session) == "postgresql" else sqlite.insert
    session.execute(insert(RollupState).values(name=ROLLUP_STATE).on_conflict_do_nothing())
    return session.get(RollupState, ROLLUP_STATE, with_for_update=True, populate_existing=True)


def database_clock(session: Session) -> tuple[datetime, datetime | None]:
    """The database's clock now (the clock `ingested_at` is stamped with), and — on PostgreSQL — when the oldest
    other transaction of this database that has written something and is still open began, if any.

    A point is stamped while its transaction runs, so every point stamped before that start (and before now) is
    committed already. When some sessions cannot be seen (another role's, without the right to see them), that
    start is unknown and the epoch is returned, as if a writer had been open all along: callers then fall back to
    the longest look-back they allow."""
    if _dialect(session) != "postgresql":
        now = session.scalar(select(database_now()))
        assert now is not None
        return now, None
    sql = (
        "SELECT statement_timestamp(), "
        "(SELECT min(xact_start) FROM pg_stat_activity WHERE datname = current_database() "
        " AND pid <> pg_backend_pid() AND backend_xid IS NOT NULL), "
        "(SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        " AND pid <> pg_backend_pid() AND backend_type = 'client backend' AND state IS NULL)"
    )
    now, oldest, hidden = session.connection().exec_driver_sql(sql).one()
    return (now, EPOCH) if hidden else (now, oldest)


def ingested_after(session: Session, after: datetime | None, until: datetime, limit: int) -> tuple[datetime, int]:
    """The next chunk of stored points: those with `after` < ingested_at <= the returned end, at most about
    `limit` of them (all points stamped alike go in one chunk) and none after `until`. Returns (end, count)."""
    window = [MetricPoint.ingested_at <= until]
    if after is not None:
        window.append(MetricPoint.ingested_at > after)
    end = session.scalar(
        select(MetricPoint.ingested_at).where(*window).order_by(MetricPoint.ingested_at).offset(limit - 1).limit(1)
    )
    if end is not None:
        window[0] = MetricPoint.ingested_at <= end
    count = int(session.scalar(select(func.count()).select_from(MetricPoint).where(*window)) or 0)
    return (end if end is not None else until), count


def recompute_rollups(
    session: Session, after: datetime | None, until: datetime, horizon: datetime | None
) -> dict[str, int]:
    """Recompute every bucket that a point stored in (after, until] falls in, from the raw points, replacing the
    bucket's count, sum, minimum and maximum (never adding to them: doing it twice changes nothing).

    The finest tier is aggregated from the raw points of each touched bucket, each coarser tier from the finer
    tier's buckets inside it (which retention keeps while raw points are kept). Buckets before `horizon` are
    left alone (see `move_to_rollups`). Returns how many buckets of each tier were written."""
    postgres = _dialect(session) == "postgresql"
    p = _placeholder(session)
    where = [f"ingested_at <= {p}"]
    params: list[Any] = [until]
    if after is not None:
        where.append(f"ingested_at > {p}")
        params.append(after)
    if horizon is not None:
        where.append(f"ts >= {p}")
        params.append(horizon)
    to_db = _time_to_db(session)
    params = [to_db(v) for v in params]
    written: dict[str, int] = {}
    finer: str | None = None  # the tier the current one is summed from; None: the raw points
    for resolution, seconds in _TIERS:
        if finer is None:
            source, at, same_tier = "capacity_metric_points p", "p.ts", ""
            aggregates = ("count(*)", "sum(p.value)", "min(p.value)", "max(p.value)")
        else:
            source, at, same_tier = "capacity_metric_rollups p", "p.bucket", f" AND p.resolution = '{finer}'"
            aggregates = ("sum(p.count)", "sum(p.total)", "min(p.minimum)", "max(p.maximum)")
        bucket = _bucket_sql(postgres, "ts", seconds)
        touched = (
            f"WITH touched AS (SELECT DISTINCT resource_pk, metric, {bucket} AS bucket "  # noqa: S608 (constants)
            f"FROM capacity_metric_points WHERE {' AND '.join(where)}) "
        )
        in_bucket = f"p.resource_pk = t.resource_pk AND p.metric = t.metric{same_tier} AND {at} >= t.bucket"
        if postgres:
            # A lateral subquery per touched bucket: one range scan of the unique index for raw points, and for
            # a coarser tier an exact lookup of each finer bucket inside it (with a range, and no statistics
            # yet, the planner takes the smaller (resolution, bucket) index and scans every resource's buckets).
            named = ", ".join(f"{e} AS {n}" for e, n in zip(aggregates, ("n", "total", "lo", "hi"), strict=True))
            if finer is None:
                inside = f"{source} WHERE {in_bucket} AND {at} < t.bucket + interval '{seconds} seconds'"
            else:
                step = RESOLUTION_SECONDS[finer]
                # One lookup of each finer bucket (LIMIT 1: there is one, and it keeps the planner from flattening
                # this into a join that hashes every finer bucket the resource ever had, once per touched bucket).
                inside = (
                    f"generate_series(t.bucket, t.bucket + interval '{seconds - step} seconds', "  # noqa: S608 (constants only)
                    f"interval '{step} seconds') AS f(bucket) CROSS JOIN LATERAL (SELECT r.count, r.total, "
                    "r.minimum, r.maximum FROM capacity_metric_rollups r WHERE r.resource_pk = t.resource_pk "
                    f"AND r.metric = t.metric AND r.resolution = '{finer}' AND r.bucket = f.bucket LIMIT 1) p"
                )
            sql = (
                f"{touched}INSERT INTO capacity_metric_rollups {_ROLLUP_COLUMNS} "  # noqa: S608 (constants only)
                f"SELECT t.resource_pk, t.metric, '{resolution}', t.bucket, a.n, a.total, a.lo, a.hi FROM touched t "
                f"CROSS JOIN LATERAL (SELECT {named} FROM {inside}) a WHERE a.n > 0 "
                f"ON CONFLICT {_ROLLUP_KEY} DO UPDATE SET {_REPLACE}"
            )
        else:
            bucket_end = f"strftime('%Y-%m-%d %H:%M:%S', t.bucket, '+{seconds} seconds') || '.000000'"
            sql = (
                f"{touched}INSERT INTO capacity_metric_rollups {_ROLLUP_COLUMNS} "  # noqa: S608 (constants only)
                f"SELECT t.resource_pk, t.metric, '{resolution}', t.bucket, {', '.join(aggregates)} "
                # CROSS JOIN: SQLite keeps this order, so each touched bucket is one range scan of the unique index.
                f"FROM touched t CROSS JOIN {source} ON {in_bucket} AND {at} < {bucket_end} "
                "WHERE true GROUP BY t.resource_pk, t.metric, t.bucket "
                f"ON CONFLICT {_ROLLUP_KEY} DO UPDATE SET {_REPLACE}"
            )
        written[resolution] = _changed(session, sql, tuple(params))
        finer = resolution
    return written


def move_to_rollups(session: Session, since: datetime | None, before: datetime, replace: bool) -> int:
    """Remove the raw points with since <= ts < before (`since` and `before` whole hours) and put them into
    their buckets of every tier, in one step: with `replace` the buckets become exactly these points (retention,
    for buckets whose raw points were all still there), otherwise the points are added to them (points that
    arrived for buckets retention had already finished). Returns how many points were moved.

    Each point is either still a raw point or counted in its buckets, never both, never neither: on PostgreSQL
    one statement deletes the points and rolls up exactly the rows it deleted; on SQLite the transaction holds
    the only write lock."""
    to_db = _time_to_db(session)
    update = _REPLACE if replace else _ADD
    if _dialect(session) == "postgresql":
        where = "ts < %(before)s" + ("" if since is None else " AND ts >= %(since)s")
        tiers = ", ".join(
            f"tier_{resolution} AS (INSERT INTO capacity_metric_rollups {_ROLLUP_COLUMNS} "  # noqa: S608
            f"SELECT resource_pk, metric, '{resolution}', {_bucket_sql(True, 'ts', seconds)}, "
            f"count(*), sum(value), min(value), max(value) FROM gone GROUP BY 1, 2, 4 "
            f"ON CONFLICT {_ROLLUP_KEY} DO UPDATE SET {update.format(lowest='LEAST', highest='GREATEST')})"
            for resolution, seconds in _TIERS
        )
        sql = (
            f"WITH gone AS (DELETE FROM capacity_metric_points WHERE {where} "  # noqa: S608
            f"RETURNING resource_pk, metric, ts, value), {tiers} SELECT count(*) FROM gone"
        )
        params = {"before": before, "since": since}
        return int(session.connection().exec_driver_sql(sql, params).scalar_one())
    where = "ts < ?" + ("" if since is None else " AND ts >= ?")
    params_sqlite = (to_db(before),) if since is None else (to_db(before), to_db(since))
    connection = session.connection()
    for resolution, seconds in _TIERS:
        connection.exec_driver_sql(
            f"INSERT INTO capacity_metric_rollups {_ROLLUP_COLUMNS} "  # noqa: S608
            f"SELECT resource_pk, metric, '{resolution}', {_bucket_sql(False, 'ts', seconds)}, "
            f"count(*), sum(value), min(value), max(value) FROM capacity_metric_points WHERE {where} "
            f"GROUP BY 1, 2, 4 ON CONFLICT {_ROLLUP_KEY} DO UPDATE SET {update.format(lowest='min', highest='max')}",
            params_sqlite,
        )
    deleted = connection.exec_driver_sql(
        f"DELETE FROM capacity_metric_points WHERE {where}",  # noqa: S608
        params_sqlite,
    ).rowcount
    return int(deleted)


def _changed(session: Session, sql: str, params: Any) -> int:
    """Run a data-changing statement; how many rows it inserted or updated (SQLite's driver does not count for
    statements that start with WITH)."""
    connection = session.connection()
    result = connection.exec_driver_sql(sql, params)
    if _dialect(session) == "postgresql":
        return int(result.rowcount)
    return int(connection.exec_driver_sql("SELECT changes()").scalar_one())


def _bucket_sql(postgres: bool, column: str, seconds: int) -> str:
    """SQL for the start of the `seconds`-wide bucket a time falls in (whole sizes after the Unix epoch)."""
    if postgres:  # date_bin: PostgreSQL 14+
        return f"date_bin('{seconds} seconds', {column}, TIMESTAMPTZ '1970-01-01 00:00:00+00')"
    # SQLite stores 'YYYY-MM-DD HH:MM:SS.ffffff' text: cut it (its date functions round to milliseconds, which
    # would put 11:04:59.9999 into the 11:05 bucket).
    if seconds == 3600:
        return f"substr({column}, 1, 14) || '00:00.000000'"
    if seconds % 60 or 3600 % seconds:
        raise ValueError(f"no SQLite bucket expression for {seconds} s buckets")
    minutes = seconds // 60
    return (
        f"substr({column}, 1, 14) || printf('%02d', CAST(substr({column}, 15, 2) AS INTEGER) / {minutes} * {minutes})"
        " || ':00.000000'"
    )


def unrolled_points(
    session: Session,
    resource_pk: str,
    watermark: datetime | None,
    horizon: datetime | None,
    start: datetime,
    end: datetime,
) -> Sequence[tuple[str, datetime]]:
    """(metric, ts) of a resource's raw points between start and end that its roll-ups may not count yet: stored
    after the roll-up job's watermark, or in a bucket retention already finished (added at the job's next run)."""
    stmt = select(MetricPoint.metric, MetricPoint.ts).where(
        MetricPoint.resource_pk == resource_pk, MetricPoint.ts >= start, MetricPoint.ts <= end
    )
    if watermark is not None:
        late = MetricPoint.ingested_at > watermark
        stmt = stmt.where(late | (MetricPoint.ts < horizon) if horizon is not None else late)
    return [(metric, ts) for metric, ts in session.execute(stmt)]


def expire_loaded(session: Session, model: type[Base], pks: list[str]) -> None:
    """Make objects of `model` that this session already loaded re-read the rows written above by SQL."""
    for pk in pks:
        loaded = session.identity_map.get(identity_key(model, pk))
        if loaded is not None:
            session.expire(loaded)


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def _placeholder(session: Session) -> str:
    return "%s" if _dialect(session) == "postgresql" else "?"


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def sqlite_time(ts: datetime) -> str:
    """The text SQLAlchemy stores for a UTC datetime on SQLite (naive UTC, always with microseconds), so rows
    written by the driver directly compare, sort and de-duplicate exactly like rows written through the ORM."""
    return ts.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def _time_to_db(session: Session) -> Callable[[datetime], Any]:
    # psycopg takes aware datetimes as they are.
    return sqlite_time if _dialect(session) == "sqlite" else _unchanged


def _unchanged(ts: datetime) -> datetime:
    return ts


def raw_points(
    session: Session, resource_pk: str, metric: str | None, start: datetime, end: datetime
) -> Sequence[MetricPoint]:
    stmt = select(MetricPoint).where(
        MetricPoint.resource_pk == resource_pk, MetricPoint.ts >= start, MetricPoint.ts <= end
    )
    if metric is not None:
        stmt = stmt.where(MetricPoint.metric == metric)
    return session.scalars(stmt.order_by(MetricPoint.ts)).all()


def rollups(
    session: Session, resource_pk: str, resolution: str, start: datetime, end: datetime
) -> Sequence[MetricRollup]:
    stmt = select(MetricRollup).where(
        MetricRollup.resource_pk == resource_pk,
        MetricRollup.resolution == resolution,
        MetricRollup.bucket >= start,
        MetricRollup.bucket <= end,
    )
    return session.scalars(stmt.order_by(MetricRollup.bucket)).all()


def latest_values(session: Session, resource_pk: str) -> dict[str, tuple[datetime, float]]:
    newest = (
        select(MetricPoint.metric, func.max(MetricPoint.ts).label("ts"))
        .where(MetricPoint.resource_pk == resource_pk)
        .group_by(MetricPoint.metric)
        .subquery()
    )
    stmt = (
        select(MetricPoint)
        .join(newest, (MetricPoint.metric == newest.c.metric) & (MetricPoint.ts == newest.c.ts))
        .where(MetricPoint.resource_pk == resource_pk)
    )
    return {p.metric: (p.ts, p.value) for p in session.scalars(stmt).all()}


def metrics_of(session: Session, resource_pk: str) -> list[str]:
    stmt = select(MetricPoint.metric).where(MetricPoint.resource_pk == resource_pk).distinct()
    return sorted(session.scalars(stmt).all())


def latest_forecasts(session: Session, resource_pk: str) -> list[ForecastRecord]:
    newest = (
        select(ForecastRecord.metric, ForecastRecord.method, func.max(ForecastRecord.generated_at).label("at"))
        .where(ForecastRecord.resource_pk == resource_pk)
        .group_by(ForecastRecord.metric, ForecastRecord.method)
        .subquery()
    )
    stmt = (
        select(ForecastRecord)
        .join(
            newest,
            (ForecastRecord.metric == newest.c.metric)
            & (ForecastRecord.method == newest.c.method)
            & (ForecastRecord.generated_at == newest.c.at),
        )
        .where(ForecastRecord.resource_pk == resource_pk)
        .order_by(ForecastRecord.metric, ForecastRecord.method)
    )
    return list(session.scalars(stmt).all())


def delete_rollups_before(session: Session, resolution: str, cutoff: datetime) -> int:
    result = session.execute(
        delete(MetricRollup).where(MetricRollup.resolution == resolution, MetricRollup.bucket < cutoff)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def delete_forecasts_before(session: Session, cutoff: datetime) -> int:
    result = session.execute(delete(ForecastRecord).where(ForecastRecord.generated_at < cutoff))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def open_alert(session: Session, dedup_key: str) -> Alert | None:
    stmt = select(Alert).where(Alert.dedup_key == dedup_key, Alert.state.in_(("pending", "firing")))
    return session.scalars(stmt).first()


def open_alerts(session: Session) -> Sequence[Alert]:
    return session.scalars(select(Alert).where(Alert.state.in_(("pending", "firing")))).all()


def last_notified(session: Session, dedup_key: str) -> datetime | None:
    stmt = select(func.max(Alert.last_notified_at)).where(Alert.dedup_key == dedup_key)
    return session.scalar(stmt)


def recent_alerts(session: Session, client_id: str | None, all_tenants: bool, limit: int) -> Sequence[Alert]:
    stmt = select(Alert).order_by(Alert.started_at.desc(), Alert.created_at.desc()).limit(limit)
    if not all_tenants:
        stmt = stmt.where(Alert.client_id.is_(None) if client_id is None else Alert.client_id == client_id)
    return session.scalars(stmt).all()


def silences(session: Session, client_id: str | None) -> Sequence[Silence]:
    stmt = select(Silence).where(Silence.client_id.is_(None) if client_id is None else Silence.client_id == client_id)
    return session.scalars(stmt.order_by(Silence.starts_at)).all()


def silence(session: Session, silence_id: str) -> Silence | None:
    return session.get(Silence, silence_id)


def event_alerts_firing(session: Session) -> Sequence[Alert]:
    """Alerts raised by platform events that are still firing, oldest first."""
    stmt = select(Alert).where(Alert.kind == "event", Alert.state == "firing").order_by(Alert.fired_at)
    return session.scalars(stmt).all()
