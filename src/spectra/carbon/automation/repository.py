"""Automation queries."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from spectra.carbon.automation.models import AutomationNotice, AutomationPolicy


def policy_for(session: Session, client_id: str) -> AutomationPolicy | None:
    return session.scalar(select(AutomationPolicy).where(AutomationPolicy.client_id == client_id))


def active_policies(session: Session) -> list[AutomationPolicy]:
    return list(session.scalars(select(AutomationPolicy).where(AutomationPolicy.mode != "off")))


def pending_notice(session: Session, client_id: str, kind: str, subject_id: str) -> AutomationNotice | None:
    return session.scalar(
        select(AutomationNotice).where(
            AutomationNotice.client_id == client_id,
            AutomationNotice.kind == kind,
            AutomationNotice.subject_id == subject_id,
            AutomationNotice.status == "pending",
        )
    )


def notices(
    session: Session, client_id: str | None, status: str | None, since: datetime | None
) -> list[AutomationNotice]:
    stmt = select(AutomationNotice).order_by(AutomationNotice.created_at.desc())
    if client_id is not None:
        stmt = stmt.where(AutomationNotice.client_id == client_id)
    if status:
        stmt = stmt.where(AutomationNotice.status == status)
    if since is not None:
        stmt = stmt.where(AutomationNotice.act_after >= since)
    return list(session.scalars(stmt.limit(500)))
