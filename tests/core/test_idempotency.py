"""Idempotency-Key / X-Request-ID: one effect per key, identical replay, refusal on body change."""

from __future__ import annotations

import threading

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from spectra.core.db import session_scope
from spectra.fleet.models import Team
from tests.factories import make_tenant


def _team_count(session: Session, client_id: str) -> int:
    return int(session.scalar(select(func.count(Team.id)).where(Team.client_id == client_id)) or 0)


@pytest.mark.parametrize("header", ["Idempotency-Key", "X-Request-ID"])
def test_replay_returns_stored_answer_without_running_again(client, db: Session, header: str) -> None:
    tenant = make_tenant(db, teams=())
    headers = {**tenant.headers, header: "key-1"}
    first = client.post("/api/teams", json={"name": "payments"}, headers=headers)
    second = client.post("/api/teams", json={"name": "payments"}, headers=headers)
    assert first.status_code == 201
    assert second.status_code == 201
    assert second.json() == first.json()
    assert second.headers.get("idempotent-replayed") == "true"
    assert _team_count(db, tenant.id) == 1


def test_same_key_with_another_body_is_refused(client, db: Session) -> None:
    tenant = make_tenant(db, teams=())
    headers = {**tenant.headers, "Idempotency-Key": "key-2"}
    assert client.post("/api/teams", json={"name": "a"}, headers=headers).status_code == 201
    refused = client.post("/api/teams", json={"name": "b"}, headers=headers)
    assert refused.status_code == 422
    assert refused.json()["code"] == "idempotency_key_reused"
    assert _team_count(db, tenant.id) == 1


def test_keys_are_private_to_the_caller(client, db: Session) -> None:
    a, b = make_tenant(db, teams=()), make_tenant(db, teams=())
    assert (
        client.post("/api/teams", json={"name": "x"}, headers={**a.headers, "Idempotency-Key": "k"}).status_code == 201
    )
    response = client.post("/api/teams", json={"name": "x"}, headers={**b.headers, "Idempotency-Key": "k"})
    assert response.status_code == 201 and response.json()["client_id"] == b.id


def test_a_failed_request_is_stored_too_and_replayed(client, db: Session) -> None:
    tenant = make_tenant(db, teams=("dup",))
    headers = {**tenant.headers, "Idempotency-Key": "key-3"}
    first = client.post("/api/teams", json={"name": "dup"}, headers=headers)
    assert first.status_code == 409
    assert client.post("/api/teams", json={"name": "dup"}, headers=headers).json() == first.json()


def test_overlong_key_is_refused(client, db: Session) -> None:
    tenant = make_tenant(db, teams=())
    response = client.post("/api/teams", json={"name": "z"}, headers={**tenant.headers, "Idempotency-Key": "k" * 300})
    assert response.status_code == 422
    assert _team_count(db, tenant.id) == 0


@pytest.mark.postgres_only
def test_twenty_concurrent_duplicates_execute_once(live_server) -> None:
    with session_scope() as session:
        tenant = make_tenant(session, teams=())
        client_id, headers = tenant.id, {**tenant.headers, "Idempotency-Key": "concurrent-1"}
    barrier = threading.Barrier(20)
    results: list[httpx.Response] = []

    def call() -> None:
        barrier.wait()
        with httpx.Client(base_url=live_server.url, timeout=30) as http:
            results.append(http.post("/api/teams", json={"name": "racers"}, headers=headers))

    threads = [threading.Thread(target=call) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r.status_code for r in results] == [201] * 20
    assert len({r.json()["id"] for r in results}) == 1
    with session_scope() as session:
        assert _team_count(session, client_id) == 1
