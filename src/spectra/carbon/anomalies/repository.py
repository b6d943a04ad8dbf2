"""Anomaly queries."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from spectra.carbon.anomalies.models import Anomaly, AnomalyDetectorState, AnomalySuppression


def get(session: Session, anomaly_id: str) -> Anomaly | None:
    return session.get(Anomaly, anomaly_id)


def _filtered(stmt: Any, client_id: str | None, filters: dict[str, Any]) -> Any:
    if client_id is not None:
        stmt = stmt.where(Anomaly.client_id == client_id)
    if filters.get("kind"):
        stmt = stmt.where(Anomaly.kind == filters["kind"])
    if filters.get("status"):
        stmt = stmt.where(Anomaly.status == filters["status"])
    if filters.get("team_id"):
        stmt = stmt.where(Anomaly.team_id == filters["team_id"])
    if filters.get("instance_id"):
        stmt = stmt.where(Anomaly.instance_id == filters["instance_id"])
    if filters.get("start") is not None:
        stmt = stmt.where(Anomaly.ended_at >= filters["start"])
    if filters.get("end") is not None:
        stmt = stmt.where(Anomaly.started_at < filters["end"])
    return stmt


def list_anomalies(
    session: Session, client_id: str | None, limit: int, offset: int, **filters: Any
) -> tuple[list[Anomaly], int]:
    stmt = _filtered(select(Anomaly), client_id, filters)
    total = int(session.scalar(_filtered(select(func.count(Anomaly.id)), client_id, filters)) or 0)
    rows = session.scalars(stmt.order_by(Anomaly.detected_at.desc(), Anomaly.id).limit(limit).offset(offset))
    return list(rows), total


def stats_rows(session: Session, client_id: str | None, **filters: Any) -> list[Any]:
    stmt = select(
        Anomaly.kind,
        Anomaly.status,
        Anomaly.severity,
        func.count(Anomaly.id),
        func.coalesce(func.sum(Anomaly.co2e_kg), 0.0),
        func.coalesce(func.sum(Anomaly.cost_usd), 0.0),
    ).group_by(Anomaly.kind, Anomaly.status, Anomaly.severity)
    return list(session.execute(_filtered(stmt, client_id, filters)))


def open_for(session: Session, client_id: str, instance_id: str | None, kind: str) -> Anomaly | None:
    stmt = select(Anomaly).where(Anomaly.client_id == client_id, Anomaly.kind == kind, Anomaly.status == "open")
    stmt = stmt.where(Anomaly.instance_id.is_(None) if instance_id is None else Anomaly.instance_id == instance_id)
    return session.scalar(stmt.order_by(Anomaly.ended_at.desc()).limit(1))


def overlapping(
    session: Session, client_id: str, instance_id: str | None, kind: str, start: datetime, end: datetime
) -> Anomaly | None:
    stmt = select(Anomaly).where(
        Anomaly.client_id == client_id,
        Anomaly.kind == kind,
        Anomaly.started_at <= end,
        Anomaly.ended_at >= start,
    )
    stmt = stmt.where(Anomaly.instance_id.is_(None) if instance_id is None else Anomaly.instance_id == instance_id)
    return session.scalar(stmt.limit(1))


def suppression_patterns(session: Session, client_id: str, now: datetime) -> list[str]:
    stmt = select(AnomalySuppression.pattern, AnomalySuppression.expires_at).where(
        AnomalySuppression.client_id == client_id
    )
    return [p for p, expires in session.execute(stmt) if expires is None or expires > now]


def suppression(session: Session, client_id: str, pattern: str) -> AnomalySuppression | None:
    return session.scalar(
        select(AnomalySuppression).where(
            AnomalySuppression.client_id == client_id, AnomalySuppression.pattern == pattern
        )
    )


def detector_state(session: Session, series: str) -> AnomalyDetectorState | None:
    return session.get(AnomalyDetectorState, series)


def open_idle_since(session: Session, client_id: str, before: datetime) -> list[Anomaly]:
    """Open idle-waste anomalies whose idle run began before `before`."""
    return list(
        session.scalars(
            select(Anomaly).where(
                Anomaly.client_id == client_id,
                Anomaly.kind == "idle_waste",
                Anomaly.status == "open",
                Anomaly.started_at <= before,
            )
        )
    )
