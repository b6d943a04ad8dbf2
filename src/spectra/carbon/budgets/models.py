"""Budgets and the threshold notices already sent for them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Float, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from spectra.core.db import Base, TimestampMixin, UUIDPrimaryKey, VersionMixin


class TeamBudget(UUIDPrimaryKey, TimestampMixin, VersionMixin, Base):
    """SPECTRA's TeamBudget: a team's carbon allowance for one calendar quarter."""

    __tablename__ = "team_budgets"

    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    team_id: Mapped[str] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    year: Mapped[int] = mapped_column(Integer)
    quarter: Mapped[int] = mapped_column(Integer)
    budget_co2e_kg: Mapped[float] = mapped_column(Float)
    basis: Mapped[str] = mapped_column(String(16), default="location")  # location | market operational CO2e
    include_embodied: Mapped[bool] = mapped_column(Boolean, default=True)

    __table_args__ = (UniqueConstraint("team_id", "year", "quarter"),)


class BudgetNotice(UUIDPrimaryKey, Base):
    """A threshold crossing already announced: the unique key makes it once per threshold per budget."""

    __tablename__ = "budget_notices"

    budget_id: Mapped[str] = mapped_column(ForeignKey("team_budgets.id", ondelete="CASCADE"))
    threshold_pct: Mapped[int] = mapped_column(Integer)
    consumed_co2e_kg: Mapped[float] = mapped_column(Float)
    sent_at: Mapped[datetime]

    __table_args__ = (UniqueConstraint("budget_id", "threshold_pct"),)
