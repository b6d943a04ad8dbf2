"""Rightsizing queries."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from spectra.carbon.rightsizing.models import RightsizingRecommendation

ACTIONABLE = ("downsize", "upsize")


def get(session: Session, rec_id: str) -> RightsizingRecommendation | None:
    return session.get(RightsizingRecommendation, rec_id)


def open_for(session: Session, instance_id: str) -> list[RightsizingRecommendation]:
    return list(
        session.scalars(
            select(RightsizingRecommendation).where(
                RightsizingRecommendation.instance_id == instance_id, RightsizingRecommendation.status == "open"
            )
        )
    )


def list_recommendations(
    session: Session,
    client_id: str | None,
    status: str | None,
    actionable_only: bool,
    instance_id: str | None,
    min_savings_usd: float | None,
) -> list[RightsizingRecommendation]:
    stmt = select(RightsizingRecommendation).order_by(
        RightsizingRecommendation.monthly_cost_savings_usd.desc(), RightsizingRecommendation.id
    )
    if client_id is not None:
        stmt = stmt.where(RightsizingRecommendation.client_id == client_id)
    if status:
        stmt = stmt.where(RightsizingRecommendation.status == status)
    if actionable_only:
        stmt = stmt.where(RightsizingRecommendation.action.in_(ACTIONABLE))
    if instance_id:
        stmt = stmt.where(RightsizingRecommendation.instance_id == instance_id)
    if min_savings_usd is not None:
        stmt = stmt.where(RightsizingRecommendation.monthly_cost_savings_usd >= min_savings_usd)
    return list(session.scalars(stmt.limit(1000)))
