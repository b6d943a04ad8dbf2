"""The auth matrix is built from the route table, so a new route is covered the day it is added."""

from __future__ import annotations

import re

import pytest
from fastapi.routing import APIRoute
from sqlalchemy.orm import Session

from spectra.core.auth import require_admin
from tests.factories import make_tenant

PUBLIC_API = {"/api/health"}


def _flatten(routes) -> list[APIRoute]:
    out: list[APIRoute] = []
    for route in routes:
        if isinstance(route, APIRoute):
            out.append(route)
        elif hasattr(route, "original_router"):  # an included router
            out.extend(_flatten(route.original_router.routes))
    return out


def _api_routes(app) -> list[tuple[str, str, APIRoute]]:
    out = []
    for r in _flatten(app.router.routes):
        if r.path.startswith("/api") and r.path not in PUBLIC_API:
            out.extend((m, r.path, r) for m in sorted(r.methods - {"HEAD"}))
    return out


def test_route_table_matches_openapi(app) -> None:
    documented = {
        (m.upper(), p)
        for p, ops in app.openapi()["paths"].items()
        for m in ops
        if p.startswith("/api") and p not in PUBLIC_API
    }
    assert documented == {(m, p) for m, p, _ in _api_routes(app)}


_all_api_routes = _api_routes


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "00000000000000000000000000000000", path)


def _needs_admin(route: APIRoute) -> bool:
    stack = [route.dependant]
    while stack:
        dep = stack.pop()
        if dep.call is require_admin:
            return True
        stack.extend(dep.dependencies)
    return False


def test_route_table_is_not_empty(app) -> None:
    assert len(_all_api_routes(app)) > 10


def test_every_api_route_but_health_needs_a_token(app, client) -> None:
    failures = []
    for method, path, _route in _all_api_routes(app):
        response = client.request(method, _concrete(path), json={})
        if response.status_code != 401:
            failures.append(f"{method} {path} -> {response.status_code}")
        else:
            assert response.headers["content-type"].startswith("application/problem+json")
    assert not failures, failures


def test_invalid_token_is_401(client) -> None:
    response = client.get("/api/whoami", headers={"Authorization": "Bearer nope"})
    assert response.status_code == 401
    assert response.json()["code"] == "token_invalid"


def test_client_token_on_admin_routes_is_403(app, client, db: Session) -> None:
    tenant = make_tenant(db)
    admin_routes = [(m, p, r) for m, p, r in _api_routes(app) if _needs_admin(r)]
    assert admin_routes, "no admin routes found"
    failures = []
    for method, path, _route in admin_routes:
        response = client.request(method, _concrete(path), json={}, headers=tenant.headers)
        if response.status_code != 403:
            failures.append(f"{method} {path} -> {response.status_code}")
    assert not failures, failures


def test_whoami(client, db: Session, admin_headers) -> None:
    tenant = make_tenant(db, name="whoami-co")
    assert client.get("/api/whoami", headers=admin_headers).json()["role"] == "admin"
    body = client.get("/api/whoami", headers=tenant.headers).json()
    assert body == {"role": "client", "client_id": tenant.id, "name": "whoami-co"}


def test_tenant_cannot_read_another_tenants_objects(client, db: Session) -> None:
    a, b = make_tenant(db), make_tenant(db)
    assert client.get(f"/api/client/{a.id}", headers=a.headers).status_code == 200
    assert client.get(f"/api/client/{b.id}", headers=a.headers).status_code == 404
    assert client.get(f"/api/teams?client_id={b.id}", headers=a.headers).status_code == 404
    teams_a = client.get("/api/teams", headers=a.headers).json()
    assert {t["client_id"] for t in teams_a} == {a.id}


def test_regenerated_token_replaces_the_old_one(client, db: Session, admin_headers) -> None:
    tenant = make_tenant(db)
    assert client.get("/api/client/validate", headers=tenant.headers).status_code == 200
    response = client.post(f"/api/admin/clients/{tenant.id}/regenerate-token", headers=admin_headers)
    new_token = response.json()["token"]
    assert len(new_token) >= 43
    assert client.get("/api/client/validate", headers=tenant.headers).status_code == 401
    assert client.get("/api/client/validate", headers={"Authorization": f"Bearer {new_token}"}).status_code == 200


def test_token_endpoint_never_reveals_the_token(client, db: Session, admin_headers) -> None:
    created = client.post("/api/admin/clients/create", json={"name": "secretive"}, headers=admin_headers).json()
    info = client.get(f"/api/admin/clients/{created['id']}/token", headers=admin_headers).json()
    assert created["token"] not in str(info)
    assert info["revealable"] is False and created["token"].startswith(info["token_prefix"])
    listed = client.get("/api/admin/clients", headers=admin_headers).text
    assert created["token"] not in listed


@pytest.mark.parametrize("header", ["Basic abc", "Bearer", "token"])
def test_malformed_authorization_is_401(client, header: str) -> None:
    assert client.get("/api/whoami", headers={"Authorization": header}).status_code == 401


def test_an_agents_token_lookup_holds_no_connection_once_its_thread_returns(
    committed_client, committed, monkeypatch
) -> None:
    """The lookup behind an agent's request (cold token cache) opens and closes its session on one worker thread: a
    close left for another thread kept a pooled connection while thousands of booting agents waited for threads."""
    from spectra.core import auth
    from spectra.core.db import session_scope

    with session_scope() as session:
        tenant = make_tenant(session)
    auth.caller_cache.clear()
    held_after_lookup: list[int] = []
    real = auth.run_in_threadpool

    async def observed(func, *args, **kwargs):  # type: ignore[no-untyped-def]
        result = await real(func, *args, **kwargs)
        held_after_lookup.append(committed.pool.checkedout())  # type: ignore[attr-defined]
        return result

    monkeypatch.setattr(auth, "run_in_threadpool", observed)
    answer = committed_client.post("/api/agents/not-an-agent/heartbeat", json={}, headers=tenant.headers)
    assert answer.status_code == 404, answer.text  # authenticated, then the agent is not found
    assert held_after_lookup[:1] == [0]
