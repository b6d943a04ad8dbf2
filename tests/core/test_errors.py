"""Errors are problem+json with a stable code; validation names the field; 500s hide the stack trace."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from spectra.core.errors import install_error_handlers
from spectra.core.observability import RequestContextMiddleware
from tests.factories import make_tenant


def test_validation_error_names_the_field(client, admin_headers) -> None:
    response = client.post("/api/admin/clients/create", json={"name": ""}, headers=admin_headers)
    assert response.status_code == 422
    body = response.json()
    assert response.headers["content-type"].startswith("application/problem+json")
    assert body["code"] == "validation_error"
    assert body["errors"][0]["field"] == "name"
    assert "name" in body["detail"]


def test_duplicate_is_409(client, db: Session, admin_headers) -> None:
    make_tenant(db, name="twice")
    response = client.post("/api/admin/clients/create", json={"name": "twice"}, headers=admin_headers)
    assert response.status_code == 409 and response.json()["code"] == "client_exists"


def test_unexpected_error_is_500_with_request_id_and_no_trace() -> None:
    app = FastAPI()
    install_error_handlers(app)
    router = APIRouter()

    @router.get("/boom")
    def boom() -> None:
        raise RuntimeError("secret internal detail")

    app.include_router(router)
    app.add_middleware(RequestContextMiddleware)
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/boom", headers={"X-Request-ID": "req-500"})
    assert response.status_code == 500
    body = response.json()
    assert body["code"] == "internal_error" and body["request_id"] == "req-500"
    assert "secret internal detail" not in response.text and "Traceback" not in response.text


def test_request_id_is_echoed(client) -> None:
    response = client.get("/api/health", headers={"X-Request-ID": "abc-123"})
    assert response.headers["x-request-id"] == "abc-123"
    assert len(client.get("/api/health").headers["x-request-id"]) == 32
