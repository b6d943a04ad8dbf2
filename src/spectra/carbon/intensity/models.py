"""Hourly grid carbon intensity per Electricity Maps zone."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Float, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from spectra.core.db import Base
from spectra.core.models import BigId


class CarbonIntensityHour(Base):
    """One zone over one UTC hour (``hour`` = its start), as imported or fetched."""

    __tablename__ = "carbon_intensity_hours"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    zone: Mapped[str] = mapped_column(String(40))
    hour: Mapped[datetime]
    direct_g_per_kwh: Mapped[float] = mapped_column(Float)  # operational (combustion)
    lifecycle_g_per_kwh: Mapped[float | None] = mapped_column(Float)  # life-cycle (LCA)
    low_carbon_pct: Mapped[float | None] = mapped_column(Float)  # carbon-free energy share, 0-100
    renewable_pct: Mapped[float | None] = mapped_column(Float)
    estimated: Mapped[bool] = mapped_column(Boolean, default=False)
    estimation_method: Mapped[str | None] = mapped_column(String(60))
    data_source: Mapped[str | None] = mapped_column(String(120))  # publisher, e.g. entsoe.eu
    samples: Mapped[int] = mapped_column(Integer, default=1)  # sub-hourly rows averaged
    imported_from: Mapped[str] = mapped_column(String(120))  # file name or provider
    imported_at: Mapped[datetime]

    __table_args__ = (UniqueConstraint("zone", "hour"),)
