"""Budget queries."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from spectra.carbon.budgets.models import BudgetNotice, TeamBudget


def list_budgets(
    session: Session,
    client_id: str | None,
    year: int | None = None,
    quarter: int | None = None,
    periods: Iterable[tuple[int, int]] | None = None,
) -> list[TeamBudget]:
    stmt = select(TeamBudget).order_by(TeamBudget.year, TeamBudget.quarter, TeamBudget.team_id)
    if client_id is not None:
        stmt = stmt.where(TeamBudget.client_id == client_id)
    if year is not None:
        stmt = stmt.where(TeamBudget.year == year)
    if quarter is not None:
        stmt = stmt.where(TeamBudget.quarter == quarter)
    rows = list(session.scalars(stmt))
    if periods is not None:
        wanted = set(periods)
        rows = [b for b in rows if (b.year, b.quarter) in wanted]
    return rows


def get_budget(session: Session, budget_id: str) -> TeamBudget | None:
    return session.get(TeamBudget, budget_id)


def find(session: Session, team_id: str, year: int, quarter: int) -> TeamBudget | None:
    return session.scalar(
        select(TeamBudget).where(TeamBudget.team_id == team_id, TeamBudget.year == year, TeamBudget.quarter == quarter)
    )


def notices(session: Session, budget_ids: Iterable[str]) -> dict[str, list[int]]:
    ids = list(budget_ids)
    out: dict[str, list[int]] = {i: [] for i in ids}
    if ids:
        stmt = select(BudgetNotice).where(BudgetNotice.budget_id.in_(ids)).order_by(BudgetNotice.threshold_pct)
        for notice in session.scalars(stmt):
            out[notice.budget_id].append(notice.threshold_pct)
    return out
