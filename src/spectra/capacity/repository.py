"""Every capacity query."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from spectra.capacity.models import Alert, ForecastRecord, MetricPoint, MetricRollup, Resource, Silence


def resource_by_external(session: Session, client_id: str | None, resource_id: str) -> Resource | None:
    stmt = select(Resource).where(Resource.resource_id == resource_id)
    stmt = stmt.where(Resource.client_id.is_(None) if client_id is None else Resource.client_id == client_id)
    return session.scalars(stmt).first()


def resources(session: Session, client_id: str | None, all_tenants: bool = False) -> Sequence[Resource]:
    stmt = select(Resource).order_by(Resource.resource_id)
    if not all_tenants:
        stmt = stmt.where(Resource.client_id.is_(None) if client_id is None else Resource.client_id == client_id)
    return session.scalars(stmt).all()


def resources_by_external(session: Session, client_id: str | None, resource_ids: list[str]) -> Sequence[Resource]:
    stmt = select(Resource).where(Resource.resource_id.in_(resource_ids))
    stmt = stmt.where(Resource.client_id.is_(None) if client_id is None else Resource.client_id == client_id)
    return session.scalars(stmt).all()


def existing_keys(
    session: Session, resource_pks: list[str], start: datetime, end: datetime
) -> set[tuple[str, str, datetime]]:
    """(resource, metric, ts) of the points already stored for these resources between start and end."""
    stmt = select(MetricPoint.resource_pk, MetricPoint.metric, MetricPoint.ts).where(
        MetricPoint.resource_pk.in_(resource_pks), MetricPoint.ts >= start, MetricPoint.ts <= end
    )
    return {(pk, metric, ts) for pk, metric, ts in session.execute(stmt).all()}


def rollups_in(
    session: Session, resource_pks: list[str], resolution: str, first: datetime, last: datetime
) -> dict[tuple[str, str, datetime], MetricRollup]:
    stmt = select(MetricRollup).where(
        MetricRollup.resource_pk.in_(resource_pks),
        MetricRollup.resolution == resolution,
        MetricRollup.bucket >= first,
        MetricRollup.bucket <= last,
    )
    return {(r.resource_pk, r.metric, r.bucket): r for r in session.scalars(stmt).all()}


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
