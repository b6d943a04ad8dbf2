"""Browser fixtures: Debian's Chromium driven by Playwright against a live server seeded with demo data."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import sessionmaker

from spectra.app import WEB_DIST
from spectra.core import db as core_db
from spectra.core.auth import caller_cache
from tests.conftest import ADMIN_TOKEN, LiveServer, free_port, wipe

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
OUTPUT = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"


@dataclass
class Demo:
    url: str
    admin_token: str
    client_tokens: dict[str, str]
    summary: dict[str, Any]


@pytest.fixture(scope="session")
def demo(app, engine: Engine) -> Iterator[Demo]:
    if not (WEB_DIST / "index.html").exists():
        pytest.fail("the web UI is not built: run `make ui` (make test builds it)")
    from spectra.seed import seed_database

    previous = core_db._session_factory
    core_db._session_factory = sessionmaker(engine, expire_on_commit=False)
    caller_cache.clear()
    summary = seed_database(reset=True)
    # What the scheduler does in the first minute of a real start: every job runs once.
    from spectra.core import jobs
    from spectra.core.clock import clock

    jobs.run_due_jobs(clock.now(), "schedule")
    server = LiveServer(app, free_port())
    server.start()
    tokens = {name: c["token"] for name, c in summary.get("fleet", {}).get("clients", {}).items()}
    try:
        yield Demo(server.url, ADMIN_TOKEN, tokens, summary)
    finally:
        server.stop()
        core_db._session_factory = previous
        wipe(engine)
        caller_cache.clear()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        instance = pw.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--disable-quic",
            ],
        )
        yield instance
        instance.close()


class PageErrors(list[str]):
    pass


@pytest.fixture()
def page(browser: Any, demo: Demo) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 860}, base_url=demo.url)
    pg = context.new_page()
    errors = PageErrors()
    pg.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    pg.errors = errors
    yield pg
    context.close()


def shot(page: Any, name: str) -> None:
    OUTPUT.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(OUTPUT / f"{name}.png"), full_page=True)
