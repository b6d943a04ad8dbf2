"""Queries on agents, instances, pools and replicas."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from spectra.spot.agents.models import SpotActivity
from spectra.spot.models import Agent, Pool, Replica, SpotInstance, SpotPriceSnapshot, SwitchEvent


def get_agent(session: Session, agent_id: str) -> Agent | None:
    return session.get(Agent, agent_id)


def agent_by_installation(session: Session, client_id: str, installation_id: str) -> Agent | None:
    return session.scalar(select(Agent).where(Agent.client_id == client_id, Agent.installation_id == installation_id))


def list_agents(session: Session, client_id: str | None, status: str | None = None) -> list[Agent]:
    stmt = select(Agent).order_by(Agent.created_at)
    if client_id is not None:
        stmt = stmt.where(Agent.client_id == client_id)
    if status:
        stmt = stmt.where(Agent.status == status)
    return list(session.scalars(stmt))


def get_instance(session: Session, instance_id: str) -> SpotInstance | None:
    return session.get(SpotInstance, instance_id)


def instance_by_cloud_id(session: Session, agent_id: str, cloud_instance_id: str) -> SpotInstance | None:
    return session.scalar(
        select(SpotInstance).where(
            SpotInstance.agent_id == agent_id, SpotInstance.cloud_instance_id == cloud_instance_id
        )
    )


def find_instance(session: Session, agent_id: str, ref: str) -> SpotInstance | None:
    """An instance of this agent by Spectra id or cloud id (agents know only the latter)."""
    return session.scalar(
        select(SpotInstance).where(
            SpotInstance.agent_id == agent_id,
            or_(SpotInstance.id == ref, SpotInstance.cloud_instance_id == ref),
        )
    )


def primary_of(session: Session, agent_id: str) -> SpotInstance | None:
    return session.scalar(select(SpotInstance).where(SpotInstance.agent_id == agent_id, SpotInstance.role == "PRIMARY"))


def instances(
    session: Session,
    client_id: str | None,
    *,
    agent_id: str | None = None,
    role: str | None = None,
    limit: int = 1000,
) -> list[SpotInstance]:
    stmt = select(SpotInstance).order_by(SpotInstance.created_at.desc()).limit(limit)
    if client_id is not None:
        stmt = stmt.where(SpotInstance.client_id == client_id)
    if agent_id is not None:
        stmt = stmt.where(SpotInstance.agent_id == agent_id)
    if role:
        stmt = stmt.where(SpotInstance.role == role.upper())
    return list(session.scalars(stmt))


def zombies_older_than(session: Session, before: datetime) -> list[SpotInstance]:
    return list(
        session.scalars(
            select(SpotInstance).where(SpotInstance.role == "ZOMBIE", SpotInstance.role_changed_at <= before)
        )
    )


def get_pool(session: Session, pool_id: str) -> Pool | None:
    return session.get(Pool, pool_id)


def pool_by_key(session: Session, region: str, zone: str, instance_type: str, product: str) -> Pool | None:
    return session.scalar(
        select(Pool).where(
            Pool.region == region,
            Pool.availability_zone == zone,
            Pool.instance_type == instance_type,
            Pool.product_description == product,
        )
    )


def ensure_pool(session: Session, region: str, zone: str, instance_type: str, product: str) -> Pool:
    """Get or create a pool; a concurrent creator's row wins (savepoint + unique constraint)."""
    pool = pool_by_key(session, region, zone, instance_type, product)
    if pool is not None:
        return pool
    try:
        with session.begin_nested():
            pool = Pool(region=region, availability_zone=zone, instance_type=instance_type, product_description=product)
            session.add(pool)
    except IntegrityError:
        pool = pool_by_key(session, region, zone, instance_type, product)
        assert pool is not None
    return pool


def pools(
    session: Session, *, region: str | None = None, instance_type: str | None = None, product: str | None = None
) -> list[Pool]:
    stmt = select(Pool).order_by(Pool.region, Pool.instance_type, Pool.availability_zone)
    if region:
        stmt = stmt.where(Pool.region == region)
    if instance_type:
        stmt = stmt.where(Pool.instance_type == instance_type)
    if product:
        stmt = stmt.where(Pool.product_description == product)
    return list(session.scalars(stmt))


def price_points(session: Session, pool_id: str, since: datetime) -> list[tuple[datetime, float]]:
    rows = session.execute(
        select(SpotPriceSnapshot.observed_at, SpotPriceSnapshot.price)
        .where(SpotPriceSnapshot.pool_id == pool_id, SpotPriceSnapshot.observed_at >= since)
        .order_by(SpotPriceSnapshot.observed_at)
    )
    return [(at, float(price)) for at, price in rows]


def last_price_before(session: Session, pool_id: str, at: datetime) -> float | None:
    value = session.scalar(
        select(SpotPriceSnapshot.price)
        .where(SpotPriceSnapshot.pool_id == pool_id, SpotPriceSnapshot.observed_at < at)
        .order_by(SpotPriceSnapshot.observed_at.desc())
        .limit(1)
    )
    return float(value) if value is not None else None


def replicas(session: Session, client_id: str | None, agent_id: str | None = None) -> list[Replica]:
    stmt = select(Replica).order_by(Replica.requested_at.desc())
    if client_id is not None:
        stmt = stmt.where(Replica.client_id == client_id)
    if agent_id is not None:
        stmt = stmt.where(Replica.agent_id == agent_id)
    return list(session.scalars(stmt))


def ready_replica(session: Session, agent_id: str) -> Replica | None:
    return session.scalar(
        select(Replica)
        .where(Replica.agent_id == agent_id, Replica.status == "ready", Replica.instance_id.is_not(None))
        .order_by(Replica.ready_at)
        .limit(1)
    )


def open_replica(session: Session, agent_id: str) -> Replica | None:
    return session.scalar(
        select(Replica)
        .where(Replica.agent_id == agent_id, Replica.status.in_(("launching", "syncing", "ready")))
        .order_by(Replica.requested_at.desc())
        .limit(1)
    )


def open_replicas(session: Session, agent_id: str) -> list[tuple[Replica, SpotInstance | None]]:
    """The agent's replicas on the way or standing, oldest ready first, each with its instance once it has booted."""
    rows = session.execute(
        select(Replica, SpotInstance)
        .outerjoin(SpotInstance, SpotInstance.id == Replica.instance_id)
        .where(Replica.agent_id == agent_id, Replica.status.in_(("launching", "syncing", "ready")))
        .order_by(Replica.ready_at.is_(None), Replica.ready_at, Replica.requested_at)
    )
    return [(replica, inst) for replica, inst in rows]


def replica_by_request_id(session: Session, request_id: str) -> Replica | None:
    return session.scalar(select(Replica).where(Replica.request_id == request_id))


def replica_by_instance(session: Session, instance_id: str) -> Replica | None:
    return session.scalar(select(Replica).where(Replica.instance_id == instance_id))


def switch_downtimes(session: Session, client_id: str | None, since: datetime | None = None) -> list[float]:
    stmt = select(SwitchEvent.downtime_seconds).where(SwitchEvent.downtime_seconds.is_not(None))
    if client_id is not None:
        stmt = stmt.where(SwitchEvent.client_id == client_id)
    if since is not None:
        stmt = stmt.where(SwitchEvent.started_at >= since)
    return [float(v) for v in session.scalars(stmt) if v is not None]


def count_instances_by_role(session: Session, client_id: str | None) -> dict[str, int]:
    stmt = select(SpotInstance.role, func.count()).group_by(SpotInstance.role)
    if client_id is not None:
        stmt = stmt.where(SpotInstance.client_id == client_id)
    return {role: int(n) for role, n in session.execute(stmt)}


def instance_activity(
    session: Session, client_id: str, instance_id: str, cloud_instance_id: str, limit: int
) -> list[SpotActivity]:
    """Activity rows about the instance: by id, or naming its cloud id (switches name both ends)."""
    stmt = (
        select(SpotActivity)
        .where(
            SpotActivity.client_id == client_id,
            or_(SpotActivity.instance_id == instance_id, SpotActivity.message.contains(cloud_instance_id)),
        )
        .order_by(SpotActivity.id.desc())
        .limit(limit)
    )
    return list(session.scalars(stmt))
