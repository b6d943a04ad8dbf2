"""Fleet tables. Tenancy first: every tenant-owned row in Spectra points at a Client."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from spectra.core.db import Base, TimestampMixin, UUIDPrimaryKey, VersionMixin


class Client(UUIDPrimaryKey, TimestampMixin, VersionMixin, Base):
    """A tenant (the Spot seeds' "client"); its API token is stored only as a hash."""

    __tablename__ = "clients"

    name: Mapped[str] = mapped_column(String(120), unique=True)
    email: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default="active")  # active | suspended
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    token_prefix: Mapped[str] = mapped_column(String(16))
    token_created_at: Mapped[datetime]


class Team(UUIDPrimaryKey, TimestampMixin, Base):
    """A team inside a client (SPECTRA's teams): budgets, chargeback and instance ownership."""

    __tablename__ = "teams"

    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    cost_center: Mapped[str | None] = mapped_column(String(60))

    __table_args__ = (UniqueConstraint("client_id", "name"),)


# Instances live in their own module; imported here so the registry (and Alembic) sees them.
from spectra.fleet.catalog.models import InstanceType, InstanceTypePrice, Region  # noqa: E402, F401
from spectra.fleet.instances.models import Instance, InstanceDailyCost  # noqa: E402, F401
from spectra.fleet.settings.models import PlatformSetting  # noqa: E402, F401
