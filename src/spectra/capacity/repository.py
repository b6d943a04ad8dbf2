"""Every capacity query."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
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
    Silence,
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
    commit, so batches sharing a resource run one after the other instead of deadlocking on the points and
    buckets they share, met in different orders (SQLite has one writer at a time anyway)."""
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
    """Store (resource_pk, metric, ts, value) rows, skipping those already stored, and add the stored ones to
    their 5-minute and hourly roll-ups (count, sum, min, max). Returns how many were new.

    A few statements whatever the batch's size, and only the points the database really stored are rolled
    up, so a re-sent point is neither stored nor counted twice. Callers lock the rows' resources first
    (`touch_resources`), so two batches never upsert the same buckets at once."""
    if not rows:
        return 0
    if _dialect(session) == "postgresql":
        return _insert_points_postgresql(session, rows)
    return _insert_points_sqlite(session, rows)


_ADD_TO_BUCKET = (
    "ON CONFLICT (resource_pk, metric, resolution, bucket) DO UPDATE SET "
    "count = capacity_metric_rollups.count + excluded.count, "
    "total = capacity_metric_rollups.total + excluded.total, "
    "minimum = {lowest}(capacity_metric_rollups.minimum, excluded.minimum), "
    "maximum = {highest}(capacity_metric_rollups.maximum, excluded.maximum)"
)


def _insert_points_postgresql(session: Session, rows: list[tuple[str, str, datetime, float]]) -> int:
    # One statement: the INSERT returns the points that were new and each tier is upserted from those, in the
    # database. A bucket starts a whole number of its sizes after the Unix epoch (date_bin: PostgreSQL 14+).
    tiers = ", ".join(
        f"tier_{resolution} AS (INSERT INTO capacity_metric_rollups "  # noqa: S608 (constants only; values bound)
        "(resource_pk, metric, resolution, bucket, count, total, minimum, maximum) "
        f"SELECT resource_pk, metric, '{resolution}', "
        f"date_bin('{seconds} seconds', ts, TIMESTAMPTZ '1970-01-01 00:00:00+00'), "
        "count(*), sum(value), min(value), max(value) FROM new GROUP BY 1, 2, 4 "
        f"{_ADD_TO_BUCKET.format(lowest='LEAST', highest='GREATEST')})"
        for resolution, seconds in RESOLUTION_SECONDS.items()
    )
    sql = (
        "WITH new AS (INSERT INTO capacity_metric_points (resource_pk, metric, ts, value) "  # noqa: S608
        # %b: arrays go in binary, several times cheaper for psycopg to encode than text
        "SELECT * FROM unnest(%b::varchar[], %b::varchar[], %b::timestamptz[], %b::float8[]) "
        f"ON CONFLICT DO NOTHING RETURNING resource_pk, metric, ts, value), {tiers} "
        "SELECT count(*) FROM new"
    )
    columns = tuple(list(column) for column in zip(*rows, strict=True))
    return int(session.connection().exec_driver_sql(sql, columns).scalar_one())


def _insert_points_sqlite(session: Session, rows: list[tuple[str, str, datetime, float]]) -> int:
    connection = session.connection()
    # SQLite has one writer at a time and gives new rows ids above every existing one, so the points this
    # INSERT stores are exactly those with an id above the largest one before it.
    before = connection.exec_driver_sql("SELECT coalesce(max(id), 0) FROM capacity_metric_points").scalar_one()
    stored: list[tuple[str, str, str, float]] = []
    seconds: list[int] = []
    times: dict[datetime, tuple[str, int]] = {}  # a batch repeats a few times over many resources
    for pk, metric, ts, value in rows:
        known = times.get(ts)
        if known is None:
            since_epoch = ts - EPOCH
            known = times[ts] = (sqlite_time(ts), since_epoch.days * 86_400 + since_epoch.seconds)
        stored.append((pk, metric, known[0], value))
        seconds.append(known[1])
    inserted = connection.exec_driver_sql(
        "INSERT INTO capacity_metric_points (resource_pk, metric, ts, value) VALUES (?, ?, ?, ?) "
        "ON CONFLICT DO NOTHING",
        stored,
    ).rowcount
    if not inserted:
        return 0
    if inserted < len(stored):  # some were stored before: roll up only the others
        fresh = set(
            connection.exec_driver_sql(
                "SELECT resource_pk, metric, ts FROM capacity_metric_points WHERE id > ?", (before,)
            ).all()
        )
        kept = [i for i, row in enumerate(stored) if row[:3] in fresh]
        stored, seconds = [stored[i] for i in kept], [seconds[i] for i in kept]
    connection.exec_driver_sql(_SQLITE_ADD_TO_ROLLUPS, _roll_up(stored, seconds))
    return int(inserted)


_SQLITE_ADD_TO_ROLLUPS = (
    "INSERT INTO capacity_metric_rollups (resource_pk, metric, resolution, bucket, count, total, minimum, maximum) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?) " + _ADD_TO_BUCKET.format(lowest="min", highest="max")
)


def _roll_up(
    points: list[tuple[str, str, str, float]], seconds: list[int]
) -> list[tuple[str, str, str, str, int, float, float, float]]:
    """(resource_pk, metric, ts, value) points, with each one's whole seconds since the epoch, as roll-up rows of
    every tier (SQLite text buckets) sorted by key. Each coarser tier is summed from the finest one, whose
    buckets nest in it."""
    (finest, size), *coarser = sorted(RESOLUTION_SECONDS.items(), key=lambda item: item[1])
    tiers: dict[str, dict[tuple[str, str, int], list[Any]]] = {finest: {}}
    groups = tiers[finest]
    for (pk, metric, _, value), at in zip(points, seconds, strict=True):
        key = (pk, metric, at // size)
        agg = groups.get(key)
        if agg is None:
            groups[key] = [1, value, value, value]
        else:
            agg[0] += 1
            agg[1] += value
            if value < agg[2]:
                agg[2] = value
            if value > agg[3]:
                agg[3] = value
    for resolution, coarse_size in coarser:
        per = coarse_size // size
        merged: dict[tuple[str, str, int], list[Any]] = {}
        for (pk, metric, index), (n, total, lo, hi) in groups.items():
            key = (pk, metric, index // per)
            agg = merged.get(key)
            if agg is None:
                merged[key] = [n, total, lo, hi]
            else:
                agg[0] += n
                agg[1] += total
                agg[2] = min(agg[2], lo)
                agg[3] = max(agg[3], hi)
        tiers[resolution] = merged
    out = []
    buckets: dict[int, str] = {}
    for resolution, grouped in tiers.items():
        width = RESOLUTION_SECONDS[resolution]
        for (pk, metric, index), (n, total, lo, hi) in grouped.items():
            start = index * width
            bucket = buckets.get(start)
            if bucket is None:
                bucket = buckets[start] = sqlite_time(EPOCH + timedelta(seconds=start))
            out.append((pk, metric, resolution, bucket, n, total, lo, hi))
    out.sort()  # key order (the keys are unique): fewer pages touched, one lock order for every writer
    return out


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


def delete_points_before(session: Session, cutoff: datetime) -> int:
    result = session.execute(delete(MetricPoint).where(MetricPoint.ts < cutoff))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


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
