"""Automation routes: the client's policy (the Settings page's automation config), run now, notices."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict

from spectra.carbon.automation import service
from spectra.carbon.automation.schemas import PolicyOut, PolicyUpdate, RunOut
from spectra.carbon.optimizer.dependencies import InputsDep
from spectra.core.auth import Caller, CallerDep
from spectra.core.db import SessionDep
from spectra.core.errors import PROBLEM_RESPONSES, BadRequest

router = APIRouter(prefix="/api/automation", tags=["automation"], responses=PROBLEM_RESPONSES)


class NoticeOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    client_id: str
    kind: str
    subject_id: str
    act_after: datetime
    status: str
    details: dict


def _client(caller: Caller, client_id: str | None) -> str:
    owner = caller.scope_client_id(client_id)
    if owner is None:
        raise BadRequest("admins must say which client (?client_id=)", code="client_required")
    return owner


def _out(policy: object) -> PolicyOut:
    return PolicyOut.model_validate(policy)


@router.get("/policy", response_model=PolicyOut)
def get_policy(
    caller: CallerDep, session: SessionDep, client_id: str | None = Query(default=None, description="Admins")
) -> PolicyOut:
    """The automation switches and guard-rails (defaults until saved: recommend-only, everything off)."""
    return _out(service.get_policy(session, _client(caller, client_id)))


@router.put("/policy", response_model=PolicyOut)
def put_policy(
    body: PolicyUpdate,
    caller: CallerDep,
    session: SessionDep,
    client_id: str | None = Query(default=None, description="Admins"),
) -> PolicyOut:
    """Save the policy (send the version you read; a stale one is refused with 409)."""
    return _out(service.put_policy(session, _client(caller, client_id), body))


@router.post("/run", response_model=RunOut)
def run_now(
    caller: CallerDep,
    session: SessionDep,
    inputs: InputsDep,
    client_id: str | None = Query(default=None, description="Admins"),
) -> RunOut:
    """Run the automation for the client now, within its guard-rails (the job does this hourly)."""
    return RunOut.model_validate(service.run_for_client(session, inputs, _client(caller, client_id)))


@router.get("/notices", response_model=list[NoticeOut])
def list_notices(
    caller: CallerDep,
    session: SessionDep,
    status: str | None = Query(default=None, pattern="^(pending|done|cancelled)$"),
    client_id: str | None = Query(default=None, description="Admins"),
) -> list[NoticeOut]:
    """Announced automatic actions (e.g. an idle instance to be stopped after the notice period)."""
    return [
        NoticeOut.model_validate(n) for n in service.list_notices(session, caller.scope_client_id(client_id), status)
    ]
