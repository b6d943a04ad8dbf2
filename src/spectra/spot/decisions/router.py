"""Decision endpoints for agents (decide, switch-recommendation) and the model registry for operators."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, UploadFile, status

from spectra.core.auth import AdminDep, CallerDep
from spectra.core.clock import clock
from spectra.core.db import SessionDep
from spectra.core.errors import PROBLEM_RESPONSES, Unprocessable
from spectra.spot.decisions import service
from spectra.spot.decisions.schemas import (
    ActivateIn,
    DecideIn,
    DecisionOut,
    EngineUpload,
    FallbackIn,
    FallbackOut,
    ModelOut,
    ModelSessionOut,
)
from spectra.spot.instances.service import get_agent

router = APIRouter(prefix="/api/agents", tags=["spot: decisions"], responses=PROBLEM_RESPONSES)
admin_router = APIRouter(prefix="/api/admin", tags=["spot: model registry"], responses=PROBLEM_RESPONSES)

MAX_MODEL_BYTES = 64 * 1024 * 1024


@router.post("/{agent_id}/decide", response_model=DecisionOut)
def decide(agent_id: str, caller: CallerDep, session: SessionDep, body: DecideIn | None = None) -> DecisionOut:
    """Decide now for the agent's PRIMARY: stay, switch, create a replica, fall back to on-demand or return to
    spot. The decision is logged; with auto-switch on, a move is queued as a command (command_id)."""
    agent = get_agent(session, agent_id, caller)
    power = body.power_watts if body else None
    return DecisionOut.model_validate(service.decide(session, agent, clock.now(), power))


@router.get("/{agent_id}/switch-recommendation", response_model=DecisionOut)
def switch_recommendation(agent_id: str, caller: CallerDep, session: SessionDep) -> DecisionOut:
    """What the engine recommends now, with every candidate pool's expected cost; nothing is queued or logged."""
    agent = get_agent(session, agent_id, caller)
    return DecisionOut.model_validate(service.recommend(session, agent, clock.now()))


@admin_router.post("/decision-engine/upload", response_model=ModelOut, status_code=status.HTTP_201_CREATED)
def upload_engine(body: EngineUpload, admin: AdminDep, session: SessionDep) -> ModelOut:
    """Register a decision engine configuration (engine name + policy values); validated by a smoke decision."""
    model = service.upload_engine(
        session, body.name, body.version, {"engine": body.engine, "policy": body.policy}, admin.actor, body.notes
    )
    if body.activate:
        model = service.activate(session, model.id, clock.now())
    return ModelOut.model_validate(service.model_state(model))


@admin_router.post("/ml-models/upload", response_model=ModelOut, status_code=status.HTTP_201_CREATED)
def upload_model(
    admin: AdminDep,
    session: SessionDep,
    file: Annotated[UploadFile, File(description="Interruption-risk model: skops (scikit-learn) or ONNX")],
    name: Annotated[str, Form(min_length=1, max_length=120)],
    version: Annotated[str, Form(min_length=1, max_length=60)],
    framework: Annotated[str, Form(pattern="^(skops|onnx)$")] = "skops",
    notes: Annotated[str | None, Form()] = None,
    session_id: Annotated[str | None, Form(max_length=32)] = None,
) -> ModelOut:
    """Upload an interruption-risk model (features: price, volatility, hours_since_change, interruption_probability,
    on_demand_ratio → monthly probability). It is loaded and scored on sample rows before it is stored."""
    data = file.file.read(MAX_MODEL_BYTES + 1)
    if len(data) > MAX_MODEL_BYTES:
        raise Unprocessable("file too large", [{"field": "file", "msg": f"more than {MAX_MODEL_BYTES} bytes"}])
    model = service.upload_model(
        session,
        name=name,
        version=version,
        framework=framework,
        data=data,
        actor=admin.actor,
        notes=notes,
        session_id=session_id,
    )
    return ModelOut.model_validate(service.model_state(model))


@admin_router.post("/ml-models/activate", response_model=ModelOut)
def activate_model(body: ActivateIn, _admin: AdminDep, session: SessionDep) -> ModelOut:
    """Make a model the active one of its kind (the previous one is kept for fallback)."""
    return ModelOut.model_validate(service.model_state(service.activate(session, body.model_id, clock.now())))


@admin_router.post("/ml-models/fallback", response_model=FallbackOut)
def fallback_model(_admin: AdminDep, session: SessionDep, body: FallbackIn | None = None) -> FallbackOut:
    """Deactivate the active model of a kind and go back to the one it replaced (or the built-in default)."""
    return FallbackOut.model_validate(service.fallback(session, (body or FallbackIn()).kind, clock.now()))


@admin_router.get("/ml-models/sessions", response_model=list[ModelSessionOut])
def model_sessions(_admin: AdminDep, session: SessionDep) -> list[ModelSessionOut]:
    """Upload sessions, newest first, with their models, status and how many decisions each made."""
    return [ModelSessionOut.model_validate(s) for s in service.sessions(session)]
