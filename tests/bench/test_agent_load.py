"""The agent load bench's loop against a live server: a small fleet on a one-second interval registers, beats,
reports prices and receives commands, and every figure of the summary is measured."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from spectra.core.db import session_scope
from spectra.spot.agents import heartbeats
from tests.conftest import ADMIN_TOKEN
from tests.factories import make_tenant

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

import agent_load as bench  # noqa: E402


@pytest.fixture()
def coalescing_server(live_server, settings_env) -> Iterator[str]:
    settings_env(HEARTBEAT_FLUSH_SECONDS="0.2")
    try:
        yield live_server.url
    finally:
        heartbeats.flusher.stop()


def test_a_small_fleet_meets_the_targets_and_every_figure_is_measured(coalescing_server: str) -> None:
    with session_scope() as session:
        tokens = [make_tenant(session).token for _ in range(bench.CLIENTS)]
    args = bench.build_parser().parse_args(
        [
            "--agents", "16", "--interval", "1", "--seconds", "4", "--price-every", "2",
            "--command-every", "0.3", "--check-every", "0.5",
        ]
    )  # fmt: skip
    run, extra = asyncio.run(bench.run_load(coalescing_server, tokens, args, admin_token=ADMIN_TOKEN))
    extra["cpu_server_seconds"] = 0.0
    figures = bench.summarise(run, extra, args)
    assert figures["startup"]["registered"] == 16 and figures["startup"]["errors"] == 0
    assert figures["errors_steady"] == 0 and figures["req_per_s"] > 0
    assert figures["p50_ms"] is not None and figures["p99_ms"] >= figures["p50_ms"]
    assert figures["price_report_p99_ms"] is not None
    # The server recorded the coalesced beats: none older than two intervals at any check, counters written.
    assert figures["server_checks"] > 0 and figures["server_heartbeat_miss_rate"] == 0
    assert extra["server_heartbeats_received"] > 16
    assert figures["commands_delivered"] > 0 and figures["command_delivery_p99_ms"] < 1000
    assert figures["commands_delivered"] <= figures["commands_issued"]
