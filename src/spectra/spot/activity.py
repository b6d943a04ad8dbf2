"""One call records what happened three ways: the activity log (operators read it), the audit trail
(pre/post state, actor, request id) when state changed, and a bus event (SSE and in-process subscribers)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from spectra.core.audit import record_audit
from spectra.core.clock import clock
from spectra.core.context import current_actor
from spectra.core.events import publish
from spectra.spot.agents.models import SpotActivity


def record(
    session: Session,
    event_type: str,
    message: str,
    *,
    client_id: str | None,
    agent_id: str | None = None,
    instance_id: str | None = None,
    severity: str = "info",
    data: dict[str, Any] | None = None,
    topic: str | None = None,
    audit: tuple[str, str | None, dict[str, Any] | None, dict[str, Any] | None] | None = None,
) -> SpotActivity:
    """`topic` publishes an event; `audit` = (entity_type, entity_id, pre, post) writes an audit row."""
    row = SpotActivity(
        at=clock.now(),
        client_id=client_id,
        agent_id=agent_id,
        instance_id=instance_id,
        event_type=event_type,
        severity=severity,
        message=message,
        actor=current_actor() or "system",
        data=data,
    )
    session.add(row)
    if audit is not None:
        entity_type, entity_id, pre, post = audit
        record_audit(session, event_type, entity_type, entity_id, pre, post, client_id=client_id)
    if topic is not None:
        payload = {"message": message, "agent_id": agent_id, "instance_id": instance_id, **(data or {})}
        publish(session, topic, payload, client_id=client_id, wake_key=agent_id)
    return row
