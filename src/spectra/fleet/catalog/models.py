"""Regions, instance types and their on-demand prices per region.

Built-in reference facts (spectra.fleet.reference) answer when a table has no row; rows written
here (imports, admin edits) take precedence, so the tables hold only what differs or was imported.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Float, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from spectra.core.db import Base, TimestampMixin, UUIDPrimaryKey


class Region(UUIDPrimaryKey, TimestampMixin, Base):
    """A cloud region and the grid zone that powers it."""

    __tablename__ = "regions"

    code: Mapped[str] = mapped_column(String(40), unique=True)  # e.g. eu-central-1
    name: Mapped[str] = mapped_column(String(120))
    provider: Mapped[str] = mapped_column(String(16))  # aws | gcp | azure
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    country: Mapped[str | None] = mapped_column(String(2))
    zone: Mapped[str | None] = mapped_column(String(40))  # Electricity Maps zone id
    pue: Mapped[float] = mapped_column(Float)
    price_multiplier: Mapped[float | None] = mapped_column(Float)  # on-demand price ÷ us-east-1's


class InstanceType(UUIDPrimaryKey, TimestampMixin, Base):
    """One instance type's specification (imported from an ec2instances.info export or the reference table)."""

    __tablename__ = "instance_types"

    name: Mapped[str] = mapped_column(String(40), unique=True)  # e.g. m5.large
    provider: Mapped[str] = mapped_column(String(16), default="aws")
    family: Mapped[str] = mapped_column(String(24))
    vcpu: Mapped[int] = mapped_column(Integer)
    memory_gib: Mapped[float] = mapped_column(Float)
    microarch: Mapped[str | None] = mapped_column(String(40))
    physical_processor: Mapped[str | None] = mapped_column(String(120))
    arch: Mapped[str | None] = mapped_column(String(16))
    burstable: Mapped[bool] = mapped_column(Boolean, default=False)
    gpus: Mapped[int] = mapped_column(Integer, default=0)
    storage_gb: Mapped[float | None] = mapped_column(Float)
    storage_drives: Mapped[int] = mapped_column(Integer, default=0)
    storage_kind: Mapped[str | None] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(80))  # "reference" or the imported file's name


class InstanceTypePrice(UUIDPrimaryKey, Base):
    """Linux on-demand (and reserved / spot range) USD per hour of a type in a region, as imported."""

    __tablename__ = "instance_type_prices"

    instance_type_id: Mapped[str] = mapped_column(ForeignKey("instance_types.id", ondelete="CASCADE"), index=True)
    region: Mapped[str] = mapped_column(String(40))
    on_demand_usd_per_hour: Mapped[float | None] = mapped_column(Float)
    reserved_usd_per_hour: Mapped[float | None] = mapped_column(Float)
    spot_min_usd_per_hour: Mapped[float | None] = mapped_column(Float)
    spot_max_usd_per_hour: Mapped[float | None] = mapped_column(Float)
    source: Mapped[str] = mapped_column(String(80))
    updated_at: Mapped[datetime]

    __table_args__ = (UniqueConstraint("instance_type_id", "region"),)
