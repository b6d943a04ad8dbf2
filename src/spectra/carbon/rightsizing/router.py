"""Rightsizing routes (SPECTRA seed paths). `/api/instances/recommendations` must be matched before the
fleet's `/api/instances/{id}` (the platform registers carbon routes accordingly)."""

from __future__ import annotations

from fastapi import APIRouter, Query

from spectra.carbon.optimizer.dependencies import InputsDep
from spectra.carbon.rightsizing import service
from spectra.carbon.rightsizing.schemas import (
    DecisionIn,
    OptimizeIn,
    OptimizeOut,
    RecommendationOut,
    RecommendationPage,
)
from spectra.core.auth import CallerDep
from spectra.core.db import SessionDep
from spectra.core.errors import PROBLEM_RESPONSES

router = APIRouter(prefix="/api/instances", tags=["instances: rightsizing"], responses=PROBLEM_RESPONSES)


def _out(result: dict) -> OptimizeOut:
    return OptimizeOut(
        recommendation=RecommendationOut.model_validate(result["recommendation"]),
        applied=result["applied"],
        action_id=result["action_id"],
    )


@router.get("/recommendations", response_model=RecommendationPage)
def list_recommendations(
    caller: CallerDep,
    session: SessionDep,
    status: str | None = Query(default="open", pattern="^(open|accepted|dismissed|superseded)$"),
    actionable: bool = Query(default=True, description="Only downsize/upsize (hide keep / insufficient data)"),
    instance_id: str | None = None,
    min_savings_usd: float | None = Query(default=None, description="Monthly cost savings at least this"),
    client_id: str | None = Query(default=None, description="Admins: one client's recommendations"),
) -> RecommendationPage:
    """Rightsizing recommendations from measured p95 CPU and memory, largest monthly savings first."""
    rows = service.list_recommendations(
        session, caller.scope_client_id(client_id), status, actionable, instance_id, min_savings_usd
    )
    return RecommendationPage(
        items=[RecommendationOut.model_validate(r) for r in rows],
        total=len(rows),
        monthly_cost_savings_usd=round(sum(r.monthly_cost_savings_usd or 0.0 for r in rows), 2),
        monthly_co2e_savings_kg=round(sum(r.monthly_co2e_savings_kg or 0.0 for r in rows), 3),
    )


@router.post("/recommendations/{rec_id}/accept", response_model=OptimizeOut)
def accept_recommendation(
    rec_id: str, caller: CallerDep, session: SessionDep, inputs: InputsDep, body: DecisionIn | None = None
) -> OptimizeOut:
    """Apply a recommendation (records the action; the simulated cloud changes the type at once)."""
    rec = service.get_recommendation(session, rec_id, caller)
    return _out(service.accept(session, inputs, rec, "manual", (body or DecisionIn()).request_id))


@router.post("/recommendations/{rec_id}/dismiss", response_model=RecommendationOut)
def dismiss_recommendation(
    rec_id: str, caller: CallerDep, session: SessionDep, body: DecisionIn | None = None
) -> RecommendationOut:
    """Dismiss a recommendation."""
    rec = service.get_recommendation(session, rec_id, caller)
    return RecommendationOut.model_validate(service.dismiss(session, rec, (body or DecisionIn()).reason))


@router.post("/{instance_id}/optimize", response_model=OptimizeOut)
def optimize_instance(
    instance_id: str, caller: CallerDep, session: SessionDep, inputs: InputsDep, body: OptimizeIn | None = None
) -> OptimizeOut:
    """Evaluate the instance now from its p95 CPU/memory over the window; `accept` applies the result."""
    data = body or OptimizeIn()
    return _out(
        service.optimize_instance(
            session,
            inputs,
            instance_id,
            caller,
            data.window_hours,
            data.accept,
            data.request_id,
            data.allow_architecture_change,
        )
    )
