"""Audit trail: who did what to which entity, with its state before and after (JSON)."""

from __future__ import annotations

from typing import Any

from fastapi.encoders import jsonable_encoder
from sqlalchemy.orm import Session

from spectra.core.context import current_actor, current_request_id
from spectra.core.models import AuditLog

ENTITY_ID_MAX = 64


def record_audit(
    session: Session,
    action: str,
    entity_type: str,
    entity_id: str | None,
    pre: dict[str, Any] | None = None,
    post: dict[str, Any] | None = None,
    *,
    client_id: str | None = None,
    actor: str | None = None,
) -> AuditLog:
    row = AuditLog(
        actor=actor or current_actor() or "system",
        client_id=client_id,
        action=action,
        entity_type=entity_type,
        # An action on many entities names them all; the full list is in post_state, the column keeps 64.
        entity_id=entity_id
        if entity_id is None or len(entity_id) <= ENTITY_ID_MAX
        else entity_id[: ENTITY_ID_MAX - 1] + "…",
        pre_state=jsonable_encoder(pre) if pre is not None else None,
        post_state=jsonable_encoder(post) if post is not None else None,
        request_id=current_request_id(),
    )
    session.add(row)
    return row
