"""Settings queries."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from spectra.fleet.settings.models import PlatformSetting


def scope_rows(session: Session, scope: str) -> dict[str, PlatformSetting]:
    rows = session.scalars(select(PlatformSetting).where(PlatformSetting.scope == scope))
    return {row.key: row for row in rows}


def get(session: Session, scope: str, key: str) -> PlatformSetting | None:
    return session.scalar(select(PlatformSetting).where(PlatformSetting.scope == scope, PlatformSetting.key == key))
