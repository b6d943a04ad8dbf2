"""Browser fixtures: Debian's Chromium driven by Playwright against a live server seeded with demo data."""

from __future__ import annotations

import json
import math
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import sessionmaker

from spectra.agent.runner import Agent
from spectra.app import WEB_DIST
from spectra.core import db as core_db
from spectra.core.auth import caller_cache
from spectra.spot.pricing.formats import PoolKey
from tests.conftest import ADMIN_TOKEN, LiveServer, free_port, wipe

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
OUTPUT = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"
# The demo's first client: its agents, metrics and jobs are what the client pages show.
IDLE_HOURS = 30  # an instance at 2-4 % CPU this long is idle waste (24 h rule) and oversized
SCHEDULED_JOB = "weekly-index-rebuild"


@dataclass
class Demo:
    url: str
    admin_token: str
    client_tokens: dict[str, str]
    summary: dict[str, Any]

    @property
    def client_token(self) -> str:
        return next(iter(self.client_tokens.values()))

    @property
    def client_id(self) -> str:
        return str(next(iter(self.summary["fleet"]["clients"].values()))["client_id"])

    def api(self, token: str | None = None) -> httpx.Client:
        token = token or self.client_token
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {token}"}, timeout=30)


def _utilisation(instances: list[dict[str, Any]], now: datetime) -> list[dict[str, Any]]:
    """Five-minute CPU and memory points, as the instances' agents send them: the first instance idles, the
    second works a daily cycle."""
    idle, busy = instances[0]["provider_id"], instances[1]["provider_id"]
    points = []
    for step in range(IDLE_HOURS * 12):
        ts = (now - timedelta(minutes=5 * step)).isoformat()
        wave = math.sin(step / 12 / 24 * 2 * math.pi)
        for resource, cpu, memory in ((idle, 3 + wave, 15 + 2 * wave), (busy, 47.5 + 12.5 * wave, 60 + 5 * wave)):
            for metric, value in (("cpu", cpu), ("memory", memory)):
                point = {"resource_id": resource, "metric": metric, "ts": ts, "value": round(value, 2)}
                points.append({**point, "provider": "agent"})
    return points


def _feed_live_inputs(demo: Demo) -> None:
    """What a running demo receives from outside in its first hours, through the same API: utilisation from
    the first client's agents, and a job it asked the scheduler to place."""
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    with demo.api() as http:
        instances = http.get("/api/instances", params={"client_id": demo.client_id, "limit": 1000}).json()["items"]
        running = sorted((i for i in instances if i["state"] == "running"), key=lambda i: i["name"] or i["provider_id"])
        response = http.post("/api/metrics", json={"points": _utilisation(running[:2], now)})
        assert response.status_code == 200, response.text
        regions = sorted({i["region"] for i in running})[:2]
        job = {
            "name": SCHEDULED_JOB,
            "duration_minutes": 120,
            "deadline": (now + timedelta(hours=20)).isoformat(),
            "regions": regions,
            "instance_type": "m5.large",
        }
        response = http.post("/api/scheduler/jobs", json=job)
        assert response.status_code == 201, response.text


@pytest.fixture(scope="session")
def demo(app, engine: Engine) -> Iterator[Demo]:
    if not (WEB_DIST / "index.html").exists():
        pytest.fail("the web UI is not built: run `make ui` (make test builds it)")
    from spectra.seed import seed_database

    previous = core_db._session_factory
    core_db._session_factory = sessionmaker(engine, expire_on_commit=False)
    caller_cache.clear()
    summary = seed_database(reset=True)
    server = LiveServer(app, free_port())
    server.start()
    tokens = {name: c["token"] for name, c in summary.get("fleet", {}).get("clients", {}).items()}
    running = Demo(server.url, ADMIN_TOKEN, tokens, summary)
    try:
        _feed_live_inputs(running)
        # What the scheduler does in the first minute of a real start: every job runs once.
        from spectra.core import jobs
        from spectra.core.clock import clock

        jobs.run_due_jobs(clock.now(), "schedule")
        yield running
    finally:
        server.stop()
        core_db._session_factory = previous
        wipe(engine)
        caller_cache.clear()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    shutil.rmtree(OUTPUT, ignore_errors=True)  # this run's screenshots only
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


T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
POOL_A = PoolKey("us-east-1", "us-east-1a", "m5.large")
POOL_B = PoolKey("us-east-1", "us-east-1b", "m5.large")


@pytest.fixture(scope="session")
def spot_agent(demo: Demo, tmp_path_factory: pytest.TempPathFactory) -> Agent:
    """A simulated spot instance with its agent, reporting to the demo server for the first demo client."""
    from spectra.agent.sim import SimBackend
    from spectra.agent.state import StateStore
    from spectra.agent.transport import ServerClient
    from spectra.sim.cloud import SimCloud
    from spectra.sim.prices import BootTimeModel, PricePath

    cloud = SimCloud(
        {POOL_A: PricePath(POOL_A, [T0], [0.041]), POOL_B: PricePath(POOL_B, [T0], [0.029])},
        lambda pool: 0.096,
        {POOL_A: [], POOL_B: []},
        BootTimeModel(seed=5),
        T0 + timedelta(hours=2),
    )
    instance = cloud.launch(POOL_A, "spot", "ui-test")
    store = StateStore(tmp_path_factory.mktemp("agent") / "state.json")
    backend = SimBackend(cloud, instance.id)

    def follow(new_id: str) -> None:
        backend.instance_id = new_id

    agent = Agent(
        ServerClient(demo.url, demo.client_token, store),
        backend,
        store,
        candidate_types=["m5.large"],
        logical_name="ui-agent",
        on_switch=follow,
        clock=lambda: cloud.now,
    )
    agent.register()
    agent.heartbeat()
    agent.report_prices()
    return agent


@pytest.fixture(scope="session")
def browser_context(browser: Any, demo: Demo) -> Iterator[Any]:
    """One context for the run, so the UI's bundle is fetched once; each test gets its own tab, and the token
    lives in the tab's sessionStorage, so tests do not share a sign-in."""
    # UTC, so the dates the UI shows can be compared with the API's.
    context = browser.new_context(viewport={"width": 1280, "height": 860}, base_url=demo.url, timezone_id="UTC")
    yield context
    context.close()


@pytest.fixture()
def page(browser_context: Any) -> Iterator[Any]:
    pg = browser_context.new_page()
    errors = PageErrors()
    pg.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    pg.errors = errors
    yield pg
    pg.close()


def record_latency(name: str, seconds: float, target: float) -> None:
    """Keep the measured live-update latencies with the screenshots (one JSON file per run)."""
    path = OUTPUT / "live-updates.json"
    OUTPUT.mkdir(parents=True, exist_ok=True)
    figures = json.loads(path.read_text()) if path.exists() else {}
    figures[name] = {"seconds": round(seconds, 3), "target_seconds": target}
    path.write_text(json.dumps(figures, indent=2) + "\n")


def shot(page: Any, name: str) -> None:
    OUTPUT.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(OUTPUT / f"{name}.png"), full_page=True)
