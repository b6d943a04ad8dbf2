"""One row per (scope, key): scope is "global" or a client id."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from spectra.core.db import Base, UUIDPrimaryKey, utcnow

GLOBAL_SCOPE = "global"


class PlatformSetting(UUIDPrimaryKey, Base):
    __tablename__ = "platform_settings"

    scope: Mapped[str] = mapped_column(String(32))
    key: Mapped[str] = mapped_column(String(80))
    value: Mapped[dict[str, Any]]  # {"v": <value>}: JSON scalars and lists alike
    is_secret: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    updated_by: Mapped[str | None] = mapped_column(String(80))

    __table_args__ = (UniqueConstraint("scope", "key"),)
