"""Bulk JSON routes parse bodies with orjson; malformed bodies are a 422 problem naming the body."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient

from spectra.core import routing
from spectra.core.errors import install_error_handlers


@pytest.fixture()
def bulk_client(monkeypatch: pytest.MonkeyPatch) -> tuple[TestClient, list[bytes]]:
    parsed: list[bytes] = []
    real = routing.orjson.loads

    def counting(body: bytes) -> Any:
        parsed.append(body)
        return real(body)

    monkeypatch.setattr(routing.orjson, "loads", counting)
    router = APIRouter(route_class=routing.BulkJSONRoute)

    @router.post("/echo")
    def echo(body: dict[str, list[float]]) -> dict[str, float]:
        return {"sum": sum(body["values"])}

    app = FastAPI()
    install_error_handlers(app)
    app.include_router(router)
    return TestClient(app), parsed


def test_the_body_is_parsed_by_orjson(bulk_client: tuple[TestClient, list[bytes]]) -> None:
    client, parsed = bulk_client
    response = client.post("/echo", json={"values": [1.5, 2.5]})
    assert response.status_code == 200 and response.json() == {"sum": 4.0}
    assert parsed == [b'{"values":[1.5,2.5]}']


@pytest.mark.parametrize("body", [b'{"values":[1.0,', b'{"values":[NaN]}', b'{"values":[1.0]} trailing'])
def test_malformed_or_nonstandard_json_is_a_422_naming_the_body(
    bulk_client: tuple[TestClient, list[bytes]], body: bytes
) -> None:
    client, _ = bulk_client
    response = client.post("/echo", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    [error] = response.json()["errors"]
    assert error["field"] == "body" and error["type"] == "json_invalid"
    assert error["msg"].startswith("JSON decode error at character ")
