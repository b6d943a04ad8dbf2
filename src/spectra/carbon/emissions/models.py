"""Stored emissions: one row per instance per UTC day (summed from its hours), a roll-up per
client × team × region × day, and both again per calendar month (kept in step whenever a day is
stored), so a year-long question reads twelve rows per group instead of 365."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, Float, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from spectra.core.db import Base
from spectra.core.models import BigId


class EmissionTotals:
    """The measured quantities every emissions row carries (grams and kWh, summed over its hours)."""

    instance_hours: Mapped[float] = mapped_column(Float, default=0.0)
    kwh: Mapped[float] = mapped_column(Float, default=0.0)  # facility energy, PUE included
    co2e_location_g: Mapped[float] = mapped_column(Float, default=0.0)  # operational, grid average
    co2e_market_g: Mapped[float] = mapped_column(Float, default=0.0)  # operational, after renewables/CFE
    embodied_g: Mapped[float] = mapped_column(Float, default=0.0)  # hardware manufacture, amortised
    cost_usd: Mapped[float] = mapped_column(Float, default=0.0)
    billed_cost_usd: Mapped[float] = mapped_column(Float, default=0.0)  # the part of cost_usd from a bill
    measured_hours: Mapped[float] = mapped_column(Float, default=0.0)  # instance-hours with measured CPU


class InstanceEmissionDay(EmissionTotals, Base):
    __tablename__ = "instance_emission_days"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    instance_id: Mapped[str] = mapped_column(ForeignKey("instances.id", ondelete="CASCADE"))
    client_id: Mapped[str] = mapped_column(String(32))
    team_id: Mapped[str | None] = mapped_column(String(32))
    region: Mapped[str] = mapped_column(String(40))
    instance_type: Mapped[str] = mapped_column(String(40))
    day: Mapped[date] = mapped_column(Date)
    utilisation: Mapped[float] = mapped_column(Float)  # mean CPU fraction used over its hours
    utilisation_source: Mapped[str] = mapped_column(String(16))  # measured | default
    intensity_g_per_kwh: Mapped[float | None] = mapped_column(Float)  # energy-weighted mean, location-based
    computed_at: Mapped[datetime]

    __table_args__ = (
        UniqueConstraint("instance_id", "day"),
        Index("ix_instance_emission_days_client_day", "client_id", "day"),
        Index("ix_instance_emission_days_day", "day"),
    )


class EmissionRollupDay(EmissionTotals, Base):
    __tablename__ = "emission_rollup_days"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    client_id: Mapped[str] = mapped_column(String(32))
    team_id: Mapped[str | None] = mapped_column(String(32))
    region: Mapped[str] = mapped_column(String(40))
    day: Mapped[date] = mapped_column(Date)
    instances: Mapped[int] = mapped_column(default=0)

    __table_args__ = (
        Index("ix_emission_rollup_days_client_day", "client_id", "day"),
        Index("ix_emission_rollup_days_day", "day"),
    )


class InstanceEmissionMonth(EmissionTotals, Base):
    """Per-instance sums of the stored days of one calendar month (month to date for the current one)."""

    __tablename__ = "instance_emission_months"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    instance_id: Mapped[str] = mapped_column(ForeignKey("instances.id", ondelete="CASCADE"))
    client_id: Mapped[str] = mapped_column(String(32))
    team_id: Mapped[str | None] = mapped_column(String(32))
    region: Mapped[str] = mapped_column(String(40))
    instance_type: Mapped[str] = mapped_column(String(40))
    month: Mapped[date] = mapped_column(Date)  # first day of the month

    __table_args__ = (Index("ix_instance_emission_months_client_month", "client_id", "month"),)


class EmissionRollupMonth(EmissionTotals, Base):
    __tablename__ = "emission_rollup_months"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    client_id: Mapped[str] = mapped_column(String(32))
    team_id: Mapped[str | None] = mapped_column(String(32))
    region: Mapped[str] = mapped_column(String(40))
    month: Mapped[date] = mapped_column(Date)  # first day of the month

    __table_args__ = (Index("ix_emission_rollup_months_client_month", "client_id", "month"),)
