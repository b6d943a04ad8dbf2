"""Queries of the decision side: the agent's candidate pools, the client's fleet, the model registry."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, undefer

from spectra.spot.decisions.models import MLDecision, MLModel
from spectra.spot.models import Agent, Pool, SpotInstance, SwitchEvent


def candidate_pools(session: Session, region: str, instance_types: Sequence[str], product: str) -> list[Pool]:
    return list(
        session.scalars(
            select(Pool)
            .where(
                Pool.region == region,
                Pool.instance_type.in_(list(instance_types)),
                Pool.product_description == product,
            )
            .order_by(Pool.instance_type, Pool.availability_zone)
        )
    )


def pool_types(session: Session, region: str, product: str) -> list[str]:
    """The instance types that have pools in a region (for one product)."""
    return list(
        session.scalars(
            select(Pool.instance_type)
            .where(Pool.region == region, Pool.product_description == product)
            .distinct()
            .order_by(Pool.instance_type)
        )
    )


def fleet_counts(session: Session, client_id: str) -> tuple[int, int, Counter[str]]:
    """(PRIMARY instances, of which on-demand, spot PRIMARYs per pool) for one client."""
    rows = session.execute(
        select(SpotInstance.lifecycle, SpotInstance.pool_id).where(
            SpotInstance.client_id == client_id, SpotInstance.role == "PRIMARY"
        )
    ).all()
    per_pool: Counter[str] = Counter(pool_id for lifecycle, pool_id in rows if lifecycle == "spot" and pool_id)
    on_demand = sum(1 for lifecycle, _ in rows if lifecycle == "on_demand")
    return len(rows), on_demand, per_pool


def primary_of(session: Session, agent_id: str) -> SpotInstance | None:
    return session.scalar(select(SpotInstance).where(SpotInstance.agent_id == agent_id, SpotInstance.role == "PRIMARY"))


def last_switch_at(session: Session, agent_id: str) -> datetime | None:
    return session.scalar(
        select(SwitchEvent.started_at)
        .where(SwitchEvent.agent_id == agent_id, SwitchEvent.success.is_(True))
        .order_by(SwitchEvent.started_at.desc())
        .limit(1)
    )


def active_model(session: Session, kind: str, with_artifact: bool = False) -> MLModel | None:
    stmt = select(MLModel).where(MLModel.kind == kind, MLModel.status == "active")
    if with_artifact:
        stmt = stmt.options(undefer(MLModel.artifact))
    return session.scalar(stmt.order_by(MLModel.activated_at.desc()).limit(1))


def get_model(session: Session, model_id: str, with_artifact: bool = False) -> MLModel | None:
    stmt = select(MLModel).where(MLModel.id == model_id)
    if with_artifact:
        stmt = stmt.options(undefer(MLModel.artifact))
    return session.scalar(stmt)


def model_by_name(session: Session, kind: str, name: str, version: str) -> MLModel | None:
    return session.scalar(
        select(MLModel).where(MLModel.kind == kind, MLModel.name == name, MLModel.model_version == version)
    )


def list_models(session: Session, kind: str | None = None) -> list[MLModel]:
    stmt = select(MLModel).order_by(MLModel.created_at.desc())
    if kind:
        stmt = stmt.where(MLModel.kind == kind)
    return list(session.scalars(stmt))


def decision_count(session: Session, model_id: str) -> int:
    return len(list(session.scalars(select(MLDecision.id).where(MLDecision.model_id == model_id))))


def auto_switch_agents(session: Session, after: str | None = None, limit: int | None = None) -> list[Agent]:
    """Online auto-switch agents in id order, those after `after` (a sweep's position), at most `limit`."""
    query = select(Agent).where(Agent.status == "online", Agent.auto_switch_enabled.is_(True))
    if after is not None:
        query = query.where(Agent.id > after)
    return list(session.scalars(query.order_by(Agent.id).limit(limit)))
