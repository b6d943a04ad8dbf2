"""The carbon-action executor's wiring: it handles the carbon domain's requests as soon as they commit, and a
periodic sweep reports lapsed commands and catches up on requests whose handler never ran."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from spectra.core.clock import clock
from spectra.core.db import session_scope
from spectra.core.events import Event, subscribe
from spectra.core.jobs import job
from spectra.spot.carbon_actions import service

log = logging.getLogger("spectra.spot.carbon_actions")


@job("spot.carbon_actions", timedelta(minutes=5), "Report lapsed carbon commands; queue requests never handled")
def sweep_carbon_actions(session: Session, now: datetime) -> dict[str, Any]:
    return service.sweep(session, now)


def handle_request(event: Event) -> None:
    request = service.request_from_event(event.topic, event.client_id, event.payload)
    if request is None:
        log.warning("ignored %s %s: not a request this executor can act on or answer", event.topic, event.id)
        return
    with session_scope() as session:
        outcome = service.handle(session, request, clock.now())
    log.info("%s %s: %s", event.topic, request.request_id, outcome)


_registered = False


def register() -> None:
    global _registered
    if not _registered:
        for topic in service.TOPICS:
            subscribe(topic, handle_request)
        _registered = True
