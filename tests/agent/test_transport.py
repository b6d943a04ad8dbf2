"""Agent transport: backoff while the server is down, durable outbox, exactly one delivery per report."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from spectra.agent.state import StateStore
from spectra.agent.transport import ServerClient, ServerError


class FlakyServer:
    """Answers 503 while `down`, otherwise records each request (and replays by Idempotency-Key)."""

    def __init__(self) -> None:
        self.down = True
        self.received: list[dict[str, Any]] = []
        self.by_key: dict[str, dict[str, Any]] = {}
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                if owner.down:
                    self._reply(503, {"code": "down"})
                    return
                key = self.headers.get("Idempotency-Key")
                if key and key in owner.by_key:
                    self._reply(200, owner.by_key[key])
                    return
                owner.received.append(body)
                answer = {"n": len(owner.received)}
                if key:
                    owner.by_key[key] = answer
                self._reply(422 if body.get("bad") else 200, answer)

            def _reply(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture()
def server():
    s = FlakyServer()
    yield s
    s.server.shutdown()


def test_backoff_is_capped_full_jitter(tmp_path: Path) -> None:
    client = ServerClient("http://127.0.0.1:9", "t", StateStore(tmp_path / "s.json"), max_backoff=8)
    waits = [client.backoff(a) for a in range(10) for _ in range(20)]
    assert all(0 <= w <= 8 for w in waits)
    assert max(client.backoff(1) for _ in range(200)) <= 1.0


def test_retries_until_the_server_is_back(server: FlakyServer, tmp_path: Path) -> None:
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        if len(slept) == 3:
            server.down = False

    client = ServerClient(server.url, "t", StateStore(tmp_path / "s.json"), sleep=sleep)
    assert client.request("POST", "/x", {"a": 1}) == {"n": 1}
    assert len(slept) == 3


def test_client_errors_are_not_retried(server: FlakyServer, tmp_path: Path) -> None:
    server.down = False
    client = ServerClient(server.url, "t", StateStore(tmp_path / "s.json"), sleep=lambda s: None)
    with pytest.raises(ServerError) as err:
        client.request("POST", "/x", {"bad": True})
    assert err.value.status == 422 and len(server.received) == 1


def test_outbox_survives_a_restart_and_delivers_once(server: FlakyServer, tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    first = ServerClient(server.url, "t", StateStore(path), sleep=lambda s: None)
    first.send_or_queue("POST", "/reports", {"price": 1}, key="r-1")
    first.send_or_queue("POST", "/reports", {"price": 2}, key="r-2")
    assert server.received == [] and len(StateStore(path).state.outbox) == 2

    # the agent restarts; the server comes back
    server.down = False
    second = ServerClient(server.url, "t", StateStore(path), sleep=lambda s: None)
    assert second.flush() == 2
    assert [b["price"] for b in server.received] == [1, 2]
    # a crash after sending but before dropping would resend: the key makes it a replay, not a duplicate
    second.store.enqueue("POST", "/reports", {"price": 1}, key="r-1")
    second.flush()
    assert len(server.received) == 2
    assert StateStore(path).state.outbox == []


def test_installation_id_is_kept_across_restarts(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    store = StateStore(path)
    store.state.agent_id = "agent-1"
    store.save()
    again = StateStore(path)
    assert again.state.agent_id == "agent-1"
    assert again.state.installation_id == store.state.installation_id
    assert StateStore(tmp_path / "other.json").state.installation_id != store.state.installation_id


def test_transport_error_keeps_the_outbox(tmp_path: Path) -> None:
    client = ServerClient("http://127.0.0.1:9", "t", StateStore(tmp_path / "s.json"), sleep=lambda s: None)
    client.send_or_queue("POST", "/reports", {"x": 1}, key="k")
    assert len(client.store.state.outbox) == 1
    with pytest.raises(httpx.TransportError):
        client.request("POST", "/x", {}, attempts=2)


class ConflictServer:
    """Answers 409 with the problem `code` given for the first `times` requests, then 200."""

    def __init__(self, code: str, times: int) -> None:
        self.code, self.times, self.requests = code, times, 0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                owner.requests += 1
                conflict = owner.requests <= owner.times
                data = json.dumps({"status": 409, "code": owner.code} if conflict else {"ok": True}).encode()
                self.send_response(409 if conflict else 200)
                self.send_header("Content-Type", "application/problem+json" if conflict else "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.mark.parametrize("code", ["stale_version", "integrity_conflict", "idempotency_in_progress"])
def test_a_conflict_a_retry_clears_is_retried(tmp_path: Path, code: str) -> None:
    server = ConflictServer(code, times=2)
    try:
        client = ServerClient(server.url, "t", StateStore(tmp_path / "s.json"), sleep=lambda s: None)
        assert client.request("POST", "/x", {"notice": 1}, key="n-1") == {"ok": True}
        assert server.requests == 3
        # Queued reports stay queued through such a conflict and go on the next flush.
        server.requests, server.times = 0, 1
        client.send_or_queue("POST", "/x", {"notice": 2}, key="n-2")
        assert len(client.store.state.outbox) == 1
        assert client.flush() == 1 and client.store.state.outbox == []
    finally:
        server.server.shutdown()


@pytest.mark.parametrize("code", ["switch_in_progress", "command_closed", "conflict"])
def test_a_conflict_that_is_the_servers_answer_is_final(tmp_path: Path, code: str) -> None:
    server = ConflictServer(code, times=10)
    try:
        client = ServerClient(server.url, "t", StateStore(tmp_path / "s.json"), sleep=lambda s: None)
        with pytest.raises(ServerError) as err:
            client.request("POST", "/x", {})
        assert err.value.status == 409 and not err.value.retryable and server.requests == 1
        client.send_or_queue("POST", "/x", {"notice": 1}, key="n-1")
        assert client.store.state.outbox == []  # refused for good: dropped, not resent forever
    finally:
        server.server.shutdown()
