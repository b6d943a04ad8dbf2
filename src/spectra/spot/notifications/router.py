"""Notifications and pricing alert rules."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from spectra.core.auth import CallerDep
from spectra.core.clock import clock
from spectra.core.db import SessionDep
from spectra.core.errors import PROBLEM_RESPONSES
from spectra.spot.notifications import service
from spectra.spot.notifications.schemas import AlertRuleIn, AlertRuleOut, MarkedRead, NotificationOut

router = APIRouter(prefix="/api/notifications", tags=["spot: notifications"], responses=PROBLEM_RESPONSES)
alerts_router = APIRouter(prefix="/api/client", tags=["spot: notifications"], responses=PROBLEM_RESPONSES)


@router.get("", response_model=list[NotificationOut])
def list_notifications(
    caller: CallerDep,
    session: SessionDep,
    unread: bool = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[NotificationOut]:
    """The caller's notifications, newest first (admins: all)."""
    return [NotificationOut.model_validate(n) for n in service.list_notifications(session, caller, unread, limit)]


@router.post("/mark-all-read", response_model=MarkedRead)
def mark_all_read(caller: CallerDep, session: SessionDep) -> MarkedRead:
    """Mark every unread notification of the caller read."""
    return MarkedRead(marked=service.mark_all_read(session, caller, clock.now()))


@router.post("/{notification_id}/mark-read", response_model=NotificationOut)
def mark_read(notification_id: str, caller: CallerDep, session: SessionDep) -> NotificationOut:
    """Mark one notification read (again: unchanged)."""
    return NotificationOut.model_validate(service.mark_read(session, caller, notification_id, clock.now()))


@alerts_router.post("/{client_id}/pricing-alerts", response_model=AlertRuleOut, status_code=status.HTTP_201_CREATED)
def create_pricing_alert(client_id: str, body: AlertRuleIn, caller: CallerDep, session: SessionDep) -> AlertRuleOut:
    """A rule: notify when a matching pool's spot price goes above/below a price or a share of on-demand."""
    caller.scope_client_id(client_id)
    from spectra.fleet import service as fleet

    fleet.get_client(session, client_id)
    return AlertRuleOut.model_validate(service.create_rule(session, client_id, body))


@alerts_router.get("/{client_id}/pricing-alerts", response_model=list[AlertRuleOut])
def list_pricing_alerts(client_id: str, caller: CallerDep, session: SessionDep) -> list[AlertRuleOut]:
    """The client's pricing alert rules."""
    caller.scope_client_id(client_id)
    return [AlertRuleOut.model_validate(r) for r in service.list_rules(session, client_id)]
