"""Queries for regions, instance types and prices."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from spectra.fleet.catalog.models import InstanceType, InstanceTypePrice, Region


def list_regions(session: Session) -> list[Region]:
    return list(session.scalars(select(Region).order_by(Region.provider, Region.code)))


def get_region(session: Session, code: str) -> Region | None:
    return session.scalar(select(Region).where(Region.code == code))


def list_instance_types(session: Session) -> list[InstanceType]:
    return list(session.scalars(select(InstanceType).order_by(InstanceType.name)))


def get_instance_type(session: Session, name: str) -> InstanceType | None:
    return session.scalar(select(InstanceType).where(InstanceType.name == name))


def instance_types_by_name(session: Session, names: list[str]) -> dict[str, InstanceType]:
    if not names:
        return {}
    rows = session.scalars(select(InstanceType).where(InstanceType.name.in_(names)))
    return {r.name: r for r in rows}


def prices_for_region(session: Session, region: str) -> dict[str, InstanceTypePrice]:
    """Imported prices in a region, keyed by instance-type id."""
    rows = session.scalars(select(InstanceTypePrice).where(InstanceTypePrice.region == region))
    return {r.instance_type_id: r for r in rows}


def price(session: Session, instance_type_id: str, region: str) -> InstanceTypePrice | None:
    return session.scalar(
        select(InstanceTypePrice).where(
            InstanceTypePrice.instance_type_id == instance_type_id, InstanceTypePrice.region == region
        )
    )


def prices_of_type(session: Session, instance_type_id: str) -> list[InstanceTypePrice]:
    stmt = select(InstanceTypePrice).where(InstanceTypePrice.instance_type_id == instance_type_id)
    return list(session.scalars(stmt.order_by(InstanceTypePrice.region)))
