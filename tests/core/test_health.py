"""Health in the seeds' shapes, and what happens while the database is down and after it comes back."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import make_url

from spectra.core import db as core_db
from tests.conftest import ADMIN_TOKEN, TEST_DATABASE_URL, free_port


def test_seed_health_shape(client) -> None:
    body = client.get("/health").json()
    assert body["status"] == "success"
    assert body["data"]["status"] == "healthy" and body["data"]["database"] == "connected"
    assert "timestamp" in body["data"]


def test_api_health_needs_no_token(client) -> None:
    response = client.get("/api/health")
    assert response.status_code == 200 and response.json()["status"] in ("ok", "degraded")


def test_root_describes_the_api_for_api_clients(client) -> None:
    body = client.get("/", headers={"Accept": "application/json"}).json()
    assert body["data"]["name"] == "Spectra" and body["data"]["docs"] == "/docs"


def test_metrics_need_admin(client, admin_headers) -> None:
    assert client.get("/metrics").status_code == 401
    client.get("/api/health")
    text = client.get("/metrics", headers=admin_headers).text
    assert "spectra_http_request_seconds_bucket" in text and 'route="/api/health"' in text


def test_unknown_api_path_is_problem_json(client, admin_headers) -> None:
    response = client.get("/api/does-not-exist", headers=admin_headers)
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")


class TcpProxy:
    """A loopback TCP proxy in front of PostgreSQL that a test can cut and restore."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.port = free_port()
        self.target = (target_host, target_port)
        self.up = True
        self.loop = asyncio.new_event_loop()
        self.writers: set[asyncio.StreamWriter] = set()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.ready = threading.Event()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        server = self.loop.run_until_complete(asyncio.start_server(self._handle, "127.0.0.1", self.port))
        self.ready.set()
        self.loop.run_forever()
        server.close()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self.up:
            writer.close()
            return
        up_reader, up_writer = await asyncio.open_connection(*self.target)
        self.writers.update({writer, up_writer})
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))

    def cut(self) -> None:
        def _cut() -> None:
            self.up = False
            for w in list(self.writers):
                w.transport.abort()
            self.writers.clear()

        self.loop.call_soon_threadsafe(_cut)

    def restore(self) -> None:
        self.up = True

    def start(self) -> None:
        self.thread.start()
        self.ready.wait(5)


@pytest.fixture()
def proxied_database(app) -> Iterator[tuple[TestClient, TcpProxy]]:
    url = make_url(TEST_DATABASE_URL)
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    proxy.start()
    engine = core_db.make_engine(
        url.set(port=proxy.port).render_as_string(hide_password=False), connect_args={"connect_timeout": 2}
    )
    previous_engine, previous_factory = core_db._engine, core_db._session_factory
    core_db.set_engine(engine)
    try:
        with TestClient(app, raise_server_exceptions=False) as test_client:
            yield test_client, proxy
    finally:
        core_db._engine, core_db._session_factory = previous_engine, previous_factory
        engine.dispose()


@pytest.mark.postgres_only
def test_database_down_then_back(proxied_database) -> None:
    client, proxy = proxied_database
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    assert client.get("/health").status_code == 200
    assert client.get("/api/admin/jobs", headers=headers).status_code == 200
    proxy.cut()
    down = client.get("/health")
    assert down.status_code == 503 and down.json()["data"]["status"] == "degraded"
    api = client.get("/api/admin/jobs", headers=headers)
    assert api.status_code == 503
    assert api.headers["content-type"].startswith("application/problem+json")
    assert api.json()["code"] == "database_unavailable"
    proxy.restore()
    assert client.get("/health").status_code == 200
    assert client.get("/api/admin/jobs", headers=headers).status_code == 200


def test_port_helper_gives_a_free_port() -> None:
    port = free_port()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))
