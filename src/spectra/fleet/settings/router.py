"""GET/PUT /api/settings."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from spectra.core.auth import CallerDep
from spectra.core.db import SessionDep
from spectra.core.errors import PROBLEM_RESPONSES
from spectra.fleet.settings import service
from spectra.fleet.settings.schemas import SettingsIn, SettingsOut

router = APIRouter(prefix="/api/settings", tags=["settings"], responses=PROBLEM_RESPONSES)
ClientQuery = Annotated[str | None, Query(description="Admins: whose client settings")]


@router.get("", response_model=SettingsOut, response_model_by_alias=True)
def read_settings(caller: CallerDep, session: SessionDep, client_id: ClientQuery = None) -> SettingsOut:
    """Settings you may see: admins the global ones (secrets masked), clients their own."""
    return service.read_settings(session, caller, client_id)


@router.put("", response_model=SettingsOut, response_model_by_alias=True)
def update_settings(
    body: SettingsIn, caller: CallerDep, session: SessionDep, client_id: ClientQuery = None
) -> SettingsOut:
    """Change settings: only the keys you send change; a secret sent as null or "" is cleared."""
    return service.update_settings(session, caller, body, client_id)
