"""Key flows in the browser: force a switch and see it in the history, a termination notice with its live
countdown, the budget chargeback CSV, a recurring silence."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from spectra.agent.runner import Agent
from spectra.agent.sim import SimBackend
from spectra.agent.state import StateStore
from spectra.agent.transport import ServerClient
from spectra.sim.cloud import SimCloud
from spectra.sim.prices import BootTimeModel, PricePath
from spectra.spot.pricing.formats import PoolKey
from tests.web.conftest import Demo, shot
from tests.web.test_ui import settle, sign_in

pytestmark = pytest.mark.browser

T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
A = PoolKey("us-east-1", "us-east-1a", "m5.large")
B = PoolKey("us-east-1", "us-east-1b", "m5.large")


@pytest.fixture(scope="module")
def spot_agent(demo: Demo, tmp_path_factory: pytest.TempPathFactory) -> Agent:
    """A simulated spot instance with its agent, reporting to the demo server for the first demo client."""
    cloud = SimCloud(
        {A: PricePath(A, [T0], [0.041]), B: PricePath(B, [T0], [0.029])},
        lambda pool: 0.096,
        {A: [], B: []},
        BootTimeModel(seed=5),
        T0 + timedelta(hours=2),
    )
    instance = cloud.launch(A, "spot", "ui-test")
    store = StateStore(tmp_path_factory.mktemp("agent") / "state.json")
    backend = SimBackend(cloud, instance.id)

    def follow(new_id: str) -> None:
        backend.instance_id = new_id

    token = next(iter(demo.client_tokens.values()))
    agent = Agent(
        ServerClient(demo.url, token, store),
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


def _client_token(demo: Demo) -> str:
    return next(iter(demo.client_tokens.values()))


def test_force_switch_shows_in_history(page: Any, demo: Demo, spot_agent: Agent) -> None:
    sign_in(page, _client_token(demo))
    page.goto("/fleet")
    settle(page)
    page.get_by_role("button", name=re.compile(f"Show prices for {spot_agent.backend.identity().instance_id}")).click()
    page.get_by_test_id("pools").wait_for()
    switch = page.get_by_role("button", name=re.compile("Switch to pool")).first
    switch.click()
    commands = []
    for _ in range(20):
        commands = spot_agent.pending_commands(wait=1)
        if commands:
            break
    assert [c["command_type"] for c in commands] == ["switch"]
    assert spot_agent.execute(commands[0])["success"]
    # The row arrives over SSE (no reload): a user-triggered switch that succeeded.
    row = page.get_by_test_id("switch-history").get_by_role("row").filter(has_text="User").filter(has_text="ok")
    row.first.wait_for(timeout=15_000)
    shot(page, "flow-switch-history")
    assert page.errors == [], page.errors


def test_termination_notice_shows_a_live_countdown(page: Any, demo: Demo, spot_agent: Agent) -> None:
    sign_in(page, _client_token(demo))
    page.goto("/fleet")
    settle(page)
    deadline = datetime.now(UTC) + timedelta(minutes=2)
    spot_agent.server.request(
        "POST",
        f"/api/agents/{spot_agent.agent_id}/termination-notice",
        {
            "instance_id": spot_agent.backend.identity().instance_id,
            "notice_time": datetime.now(UTC).isoformat(),
            "termination_time": deadline.isoformat(),
        },
    )
    alert = page.get_by_test_id("emergency-alert").first
    alert.wait_for(timeout=5_000)  # pushed over SSE, no reload
    countdown = page.get_by_test_id("emergency-countdown").first
    first = countdown.inner_text()
    page.wait_for_timeout(2_100)
    assert countdown.inner_text() != first, "the countdown must tick"
    assert re.fullmatch(r"[0-2]:\d\d", first.strip()), first  # m:ss, at most the two-minute window
    assert page.get_by_test_id("emergency-timeline").first.inner_text().strip()
    shot(page, "flow-termination-countdown")
    assert page.errors == [], page.errors


def test_budget_chargeback_csv_downloads(page: Any, demo: Demo, tmp_path: Path) -> None:
    sign_in(page, _client_token(demo))
    page.goto("/budgets")
    settle(page)
    with page.expect_download() as download:
        page.get_by_test_id("export-chargeback").click()
    target = tmp_path / "chargeback.csv"
    download.value.save_as(target)
    header = target.read_text().splitlines()[0].split(",")
    assert {"team", "kwh", "co2e_kg", "cost_usd"} <= set(header), header
    assert page.errors == [], page.errors


def test_add_a_recurring_silence(page: Any, demo: Demo) -> None:
    sign_in(page, _client_token(demo))
    page.goto("/capacity/alerts")
    settle(page)
    page.get_by_test_id("silence-reason").fill("weekly maintenance")
    page.get_by_test_id("silence-recurring").check()
    page.get_by_label("Sat", exact=True).check()  # every Saturday 02:00–04:00 UTC
    page.get_by_label(re.compile("^From")).fill("02:00")
    page.get_by_label(re.compile("^To")).fill("04:00")
    page.get_by_test_id("create-silence").click()
    row = page.get_by_test_id("silences").get_by_role("row").filter(has_text="weekly maintenance")
    row.first.wait_for(timeout=10_000)
    assert "02:00" in row.first.inner_text()
    shot(page, "flow-silence")
    assert page.errors == [], page.errors


def test_resolve_an_anomaly(page: Any, demo: Demo) -> None:
    from spectra.carbon.anomalies import service as anomalies
    from spectra.core.clock import clock
    from spectra.core.db import session_scope

    client_id = next(iter(demo.summary["fleet"]["clients"].values()))["client_id"]
    end = clock.now()
    with session_scope() as session:  # what the detection job records for a runaway process
        anomaly = anomalies.raise_anomaly(
            session,
            client_id=client_id,
            kind="runaway_process",
            score=0.97,
            start=end - timedelta(hours=6),
            end=end,
            evidence={"p95_cpu_pct": 99.0, "baseline_cpu_pct": 22.0},
            co2e_kg=3.4,
            cost_usd=2.1,
        )
        assert anomaly is not None
        anomaly_id = anomaly.id
    sign_in(page, _client_token(demo))
    page.goto("/anomalies")
    settle(page)
    assert page.get_by_test_id("resolve").count() == 1
    page.get_by_test_id("resolve").first.click()
    page.get_by_test_id("resolve").first.wait_for(state="detached", timeout=10_000)  # gone from the open list
    with session_scope() as session:
        assert anomalies.get_anomaly(session, anomaly_id, _admin()).status == "resolved"
    shot(page, "flow-anomaly-resolved")
    assert page.errors == [], page.errors


def _admin() -> Any:
    from spectra.core.auth import Caller

    return Caller("admin", None, "admin", "")


def test_schedule_a_job_and_see_its_window(page: Any, demo: Demo) -> None:
    sign_in(page, _client_token(demo))
    page.goto("/scheduler")
    settle(page)
    page.get_by_test_id("forecast-chart").wait_for(timeout=15_000)
    page.get_by_test_id("job-name").fill("nightly-etl")
    page.get_by_test_id("job-length").fill("3")
    deadline = (datetime.now() + timedelta(hours=20)).strftime("%Y-%m-%dT%H:%M")  # the field is local time
    page.get_by_test_id("job-deadline").fill(deadline)
    page.get_by_test_id("job-regions").fill("us-east-1")
    page.get_by_test_id("job-instance-type").fill("m5.large")
    page.get_by_test_id("create-job").click()
    window = page.get_by_test_id("job-window")
    window.wait_for(timeout=15_000)
    text = window.inner_text()
    assert "nightly-etl" in text and re.search(r"\d{1,2}:\d\d", text), text  # the planned start is shown
    shot(page, "flow-scheduled-job")
    assert page.errors == [], page.errors


def test_dashboard_shows_the_apis_figures(page: Any, demo: Demo) -> None:
    import httpx

    token = _client_token(demo)
    figures = httpx.get(f"{demo.url}/api/dashboard", headers={"Authorization": f"Bearer {token}"}, timeout=30).json()
    sign_in(page, token)
    page.goto("/")
    settle(page)
    body = page.locator("main").inner_text().replace("\u202f", " ").replace("\xa0", " ")
    month = figures["month"]["co2e_kg"]
    assert month > 0, "the demo's seeded month has emissions"
    # The UI's own rule (lib/format.ts): tonnes with 2 decimals from 1,000 kg, whole kg from 100, else 2 decimals.
    shown = f"{month / 1000:,.2f} t" if month >= 1000 else (f"{month:,.0f} kg" if month >= 100 else f"{month:.2f} kg")
    assert shown in body, (shown, body[:800])
    for team in figures["by_team"]:
        assert team["name"] in body
