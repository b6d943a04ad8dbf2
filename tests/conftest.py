"""Test fixtures: a real database (SQLite file, or PostgreSQL via SPECTRA_TEST_DATABASE_URL), each test in a
rolled-back transaction, an in-process client, and a live uvicorn server for SSE, agent and browser tests."""

from __future__ import annotations

import os
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

_TMP = Path(tempfile.mkdtemp(prefix="spectra-test-"))
TEST_DATABASE_URL = os.environ.get("SPECTRA_TEST_DATABASE_URL") or f"sqlite:///{_TMP / 'test.db'}"
ADMIN_TOKEN = "spx_adm_test-admin-token-0123456789abcdefghijklmnop"

# Settings are read from the environment: fix them before any spectra module reads them.
os.environ.update(
    {
        "SPECTRA_DATABASE_URL": TEST_DATABASE_URL,
        "SPECTRA_ADMIN_TOKEN": ADMIN_TOKEN,
        "SPECTRA_RUN_SCHEDULER": "false",
        "SPECTRA_LOG_LEVEL": "warning",
        "SPECTRA_METRICS_PROVIDER": "none",
        "SPECTRA_SSE_HEARTBEAT_SECONDS": "1",
        # Fixtures that share one connection allow nothing beside the request: heartbeats are written at once
        # unless a test turns coalescing on (tests/spot/test_agent_heartbeats.py).
        "SPECTRA_HEARTBEAT_FLUSH_SECONDS": "0",
        # Likewise no event look-out thread (tests/core/test_events.py runs it against a committed database).
        "SPECTRA_EVENT_WATCH_SECONDS": "0",
    }
)
for _var in [
    k
    for k in os.environ
    if k.startswith("SPECTRA_")
    and k
    not in (
        "SPECTRA_DATABASE_URL",
        "SPECTRA_ADMIN_TOKEN",
        "SPECTRA_RUN_SCHEDULER",
        "SPECTRA_LOG_LEVEL",
        "SPECTRA_METRICS_PROVIDER",
        "SPECTRA_SSE_HEARTBEAT_SECONDS",
        "SPECTRA_HEARTBEAT_FLUSH_SECONDS",
        "SPECTRA_EVENT_WATCH_SECONDS",
        "SPECTRA_TEST_DATABASE_URL",
    )
]:
    del os.environ[_var]

from fastapi.testclient import TestClient  # noqa: E402
from sqlalchemy import Engine, text  # noqa: E402
from sqlalchemy.orm import Session, sessionmaker  # noqa: E402

from spectra import registry  # noqa: E402
from spectra.core import db as core_db  # noqa: E402
from spectra.core.auth import caller_cache  # noqa: E402
from spectra.core.clock import clock  # noqa: E402
from spectra.core.config import reset_settings_cache  # noqa: E402

IS_POSTGRES = TEST_DATABASE_URL.startswith("postgresql")
SHARED_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if IS_POSTGRES:
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL (set SPECTRA_TEST_DATABASE_URL)")
    for item in items:
        if "postgres_only" in item.keywords:
            item.add_marker(skip)


def _reset_schema(engine: Engine) -> None:
    registry.load_models()
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    core_db.Base.metadata.create_all(engine)


@pytest.fixture(scope="session")
def engine() -> Iterator[Engine]:
    reset_settings_cache()
    eng = core_db.make_engine(TEST_DATABASE_URL)
    _reset_schema(eng)
    core_db.set_engine(eng)
    yield eng
    eng.dispose()


@pytest.fixture(scope="session")
def app(engine: Engine):
    from spectra.app import create_app

    return create_app(run_scheduler=False)


@pytest.fixture()
def db(engine: Engine) -> Iterator[Session]:
    """Each test runs inside one outer transaction that is rolled back; every session the code opens
    (requests, jobs, the clock) joins it through savepoints, so commits are real but vanish afterwards."""
    connection = engine.connect()
    outer = connection.begin()
    factory = sessionmaker(bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint")
    previous = core_db._session_factory
    core_db._session_factory = factory
    caller_cache.clear()
    clock.invalidate()
    session = factory()
    try:
        yield session
    finally:
        session.close()
        core_db._session_factory = previous
        outer.rollback()
        connection.close()
        caller_cache.clear()
        clock.invalidate()
        clock.set_override(None)


def wipe(engine: Engine) -> None:
    with engine.begin() as conn:
        for table in reversed(core_db.Base.metadata.sorted_tables):
            conn.execute(table.delete())


@pytest.fixture()
def committed(engine: Engine) -> Iterator[Engine]:
    """Real commits on the real engine, for concurrency and multi-process tests; tables wiped after."""
    previous = core_db._session_factory
    core_db._session_factory = sessionmaker(engine, expire_on_commit=False)
    caller_cache.clear()
    clock.invalidate()
    try:
        yield engine
    finally:
        core_db._session_factory = previous
        wipe(engine)
        caller_cache.clear()
        clock.invalidate()


@pytest.fixture()
def client(app, db: Session) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture()
def committed_client(app, committed: Engine) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture()
def admin_headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LiveServer:
    def __init__(self, app, port: int) -> None:
        import uvicorn

        self.url = f"http://127.0.0.1:{port}"
        config = uvicorn.Config(
            app, host="127.0.0.1", port=port, log_level="warning", timeout_graceful_shutdown=1, lifespan="on"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("live server did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture()
def live_server(app, committed: Engine) -> Iterator[LiveServer]:
    server = LiveServer(app, free_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture()
def settings_env() -> Iterator[Callable[..., None]]:
    """Change settings for one test: `settings_env(SIM_CLOCK_ENABLED="true")`; restored afterwards."""
    saved: dict[str, str | None] = {}

    def apply(**values: str) -> None:
        for key, value in values.items():
            name = f"SPECTRA_{key.upper()}"
            saved.setdefault(name, os.environ.get(name))
            os.environ[name] = value
        reset_settings_cache()
        clock.invalidate()

    yield apply
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    reset_settings_cache()
    clock.invalidate()
