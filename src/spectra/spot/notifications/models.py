"""Pricing alert rules: a client's "tell me when this pool's price crosses X"."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Float, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from spectra.core.db import Base, TimestampMixin, UUIDPrimaryKey


class PricingAlertRule(UUIDPrimaryKey, TimestampMixin, Base):
    __tablename__ = "spot_pricing_alert_rules"

    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    instance_type: Mapped[str | None] = mapped_column(String(40))  # NULL: any type
    region: Mapped[str | None] = mapped_column(String(32))
    availability_zone: Mapped[str | None] = mapped_column(String(40))
    pool_id: Mapped[str | None] = mapped_column(String(32))
    direction: Mapped[str] = mapped_column(String(8))  # above | below
    threshold_price: Mapped[float | None] = mapped_column(Float)  # USD/h
    threshold_pct_of_on_demand: Mapped[float | None] = mapped_column(Float)  # e.g. 60 = 60% of on-demand
    cooldown_minutes: Mapped[int] = mapped_column(default=60)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    last_triggered_at: Mapped[datetime | None]
