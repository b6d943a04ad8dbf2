"""Settings rules: typed keys, secrets write-only (masked on read, never echoed), environment fallback
for global keys, defaults for client keys."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import SecretStr
from sqlalchemy.orm import Session

from spectra.core.audit import record_audit
from spectra.core.auth import Caller
from spectra.core.config import Settings, get_settings
from spectra.core.context import current_actor
from spectra.core.errors import BadRequest, Forbidden
from spectra.core.security import mask_secret
from spectra.fleet import service as fleet_service
from spectra.fleet.settings import repository
from spectra.fleet.settings.models import GLOBAL_SCOPE, PlatformSetting
from spectra.fleet.settings.schemas import (
    SECRET_KEYS,
    ClientSettingsIn,
    GlobalSettingsIn,
    SettingsIn,
    SettingsOut,
    SettingValue,
)


def _plain(value: object) -> Any:
    return value.get_secret_value() if isinstance(value, SecretStr) else value


def _env(attr: str) -> Callable[[Settings], Any]:
    return lambda s: _plain(getattr(s, attr))


# Where a global key falls back to when the database has no value (SPECTRA_* variables).
GLOBAL_ENV: dict[str, Callable[[Settings], Any]] = {
    key: _env(key) for key in GlobalSettingsIn.model_fields if key != "aws_inventory_client_id"
}
GLOBAL_ENV["aws_inventory_client_id"] = lambda _settings: None
CLIENT_DEFAULTS: dict[str, Any] = {
    "scope1_co2e_kg_per_month": 0.0,
    "default_utilisation": 0.5,
    "budget_alert_pcts": [80, 100],
}


def _shown(key: str, value: Any, source: str | None) -> SettingValue:
    secret = key in SECRET_KEYS
    is_set = value not in (None, "", [])
    shown = mask_secret(str(value)) if secret and is_set else (None if secret else value)
    return SettingValue(value=shown, secret=secret, is_set=is_set, source=source if is_set else None)


def _global_view(session: Session) -> dict[str, SettingValue]:
    rows = repository.scope_rows(session, GLOBAL_SCOPE)
    settings = get_settings()
    out = {}
    for key in GlobalSettingsIn.model_fields:
        if key in rows:
            out[key] = _shown(key, rows[key].value.get("v"), "database")
        else:
            out[key] = _shown(key, GLOBAL_ENV[key](settings), "environment")
    return out


def _client_view(session: Session, client_id: str) -> dict[str, SettingValue]:
    rows = repository.scope_rows(session, client_id)
    out = {}
    for key in ClientSettingsIn.model_fields:
        if key in rows:
            out[key] = _shown(key, rows[key].value.get("v"), "database")
        else:
            out[key] = _shown(key, CLIENT_DEFAULTS[key], "default")
    return out


def read_settings(session: Session, caller: Caller, client_id: str | None = None) -> SettingsOut:
    """Clients see their own settings; admins see the global ones, and one client's when asked."""
    scoped = caller.scope_client_id(client_id)
    if scoped is not None:
        fleet_service.get_client(session, scoped)
    return SettingsOut(
        client_id=scoped,
        global_=_global_view(session) if caller.is_admin else None,
        client=_client_view(session, scoped) if scoped is not None else None,
    )


def _write(session: Session, scope: str, key: str, value: Any) -> tuple[Any, Any]:
    """Store (or, for None / "", clear) one key; returns (before, after) as audit shows them."""
    row = repository.get(session, scope, key)
    before = row.value.get("v") if row is not None else None
    if value in (None, ""):
        if row is not None:
            session.delete(row)
        after = None
    else:
        if row is None:
            row = PlatformSetting(scope=scope, key=key, is_secret=key in SECRET_KEYS, value={"v": value})
            session.add(row)
        else:
            row.value = {"v": value}
        row.updated_by = current_actor() or "system"
        after = value
    if key in SECRET_KEYS:  # the audit trail must not become a copy of the secrets
        before = mask_secret(before) if before else None
        after = mask_secret(after) if after else None
    return before, after


def _apply(session: Session, scope: str, data: GlobalSettingsIn | ClientSettingsIn, client_id: str | None) -> None:
    pre: dict[str, Any] = {}
    post: dict[str, Any] = {}
    for key, value in data.model_dump(exclude_unset=True).items():
        pre[key], post[key] = _write(session, scope, key, value)
    if post:
        session.flush()
        record_audit(session, "settings.update", "settings", scope, pre, post, client_id=client_id)


def update_settings(session: Session, caller: Caller, data: SettingsIn, client_id: str | None = None) -> SettingsOut:
    if data.global_ is not None:
        if not caller.is_admin:
            raise Forbidden("only admins change global settings", code="admin_only")
        _apply(session, GLOBAL_SCOPE, data.global_, None)
    if data.client is not None:
        scoped = caller.scope_client_id(client_id)
        if scoped is None:
            raise BadRequest("admins must say which client's settings to change (?client_id=)", code="client_required")
        fleet_service.get_client(session, scoped)
        _apply(session, scoped, data.client, scoped)
    return read_settings(session, caller, client_id)


# ---- for other domains: effective values (database first, then environment or default)


def global_value(session: Session, key: str) -> Any:
    if key not in GLOBAL_ENV:
        raise KeyError(key)
    row = repository.get(session, GLOBAL_SCOPE, key)
    if row is not None:
        return row.value.get("v")
    return GLOBAL_ENV[key](get_settings())


def secret(session: Session, key: str) -> str | None:
    """A secret's plain value, for the code that calls the service it unlocks; never for a response."""
    if key not in SECRET_KEYS:
        raise KeyError(key)
    value = global_value(session, key)
    return str(value) if value else None


def client_value(session: Session, client_id: str, key: str) -> Any:
    if key not in CLIENT_DEFAULTS:
        raise KeyError(key)
    row = repository.get(session, client_id, key)
    return row.value.get("v") if row is not None else CLIENT_DEFAULTS[key]


def client_values(session: Session, key: str, client_ids: list[str]) -> dict[str, Any]:
    """One key for many clients (a job computing the whole fleet)."""
    return {cid: client_value(session, cid, key) for cid in client_ids}
