"""Latency model and the Cloudflare Radar client, against a local HTTP server speaking Radar's JSON."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlparse

import httpx
import pytest

from spectra.carbon.optimizer.latency import (
    SOURCE_MODELLED,
    SOURCE_RADAR,
    Place,
    RadarError,
    fetch_country_latency,
    great_circle_km,
    model_latency,
    modelled_rtt_ms,
    parse_iqi_summary,
    radar_latency,
)

DUBLIN = Place("eu-west-1", 53.35, -6.26, "IE")
FRANKFURT = Place("eu-central-1", 50.11, 8.68, "DE")


def test_great_circle_quarter_of_the_equator() -> None:
    # 90° of longitude along the equator is a quarter of the circumference: 2πR/4.
    assert great_circle_km(0, 0, 0, 90) == pytest.approx(10007.5, rel=1e-4)
    assert great_circle_km(10, 20, 10, 20) == 0.0


def test_modelled_rtt_by_hand() -> None:
    # 1,000 km × 1.4 route factor × 2 ways ÷ 200 km/ms = 14 ms, plus 1 ms fixed.
    assert modelled_rtt_ms(1000.0) == pytest.approx(15.0)
    assert modelled_rtt_ms(1000.0, route_factor=1.0) == pytest.approx(11.0)
    with pytest.raises(ValueError):
        modelled_rtt_ms(-1)


def test_model_latency_is_labelled_and_explained() -> None:
    estimate = model_latency(DUBLIN, FRANKFURT)
    distance = great_circle_km(53.35, -6.26, 50.11, 8.68)
    assert 1050 < distance < 1110
    assert estimate.source == SOURCE_MODELLED
    assert estimate.rtt_ms == pytest.approx(1 + 2 * distance * 1.4 / 200, abs=0.01)
    assert estimate.details["distance_km"] == pytest.approx(distance, abs=0.1)


def _radar_body(p50: str) -> dict[str, Any]:
    return {
        "success": True,
        "errors": [],
        "result": {
            "meta": {
                "dateRange": [{"startTime": "2026-11-15T00:00:00Z", "endTime": "2026-11-22T00:00:00Z"}],
                "lastUpdated": "2026-11-22T00:00:00Z",
                "normalization": "RAW_VALUES",
                "units": [{"name": "p50", "value": "ms"}],
            },
            "summary_0": {"p25": "9.5", "p50": p50, "p75": "40.25"},
        },
    }


def test_parse_iqi_summary_reads_string_percentiles() -> None:
    parsed = parse_iqi_summary("IE", _radar_body("18.75"))
    assert (parsed.p25_ms, parsed.p50_ms, parsed.p75_ms) == (9.5, 18.75, 40.25)
    assert parsed.date_range == "2026-11-15T00:00:00Z/2026-11-22T00:00:00Z"


@pytest.mark.parametrize(
    "body",
    [
        {"success": False, "errors": [{"code": 10000, "message": "Authentication error"}]},
        {"success": True, "result": {"summary_0": {"p25": "1"}}},
        {"success": True, "result": {"summary_0": {"p25": "1", "p50": "x", "p75": "2"}}},
    ],
)
def test_parse_iqi_summary_rejects_bad_answers(body: dict[str, Any]) -> None:
    with pytest.raises(RadarError):
        parse_iqi_summary("IE", body)


def test_radar_latency_adds_measured_access_to_modelled_backbone() -> None:
    access = parse_iqi_summary("IE", _radar_body("20"))
    estimate = radar_latency(DUBLIN, FRANKFURT, access)
    backbone = model_latency(DUBLIN, FRANKFURT).rtt_ms
    assert estimate.source == SOURCE_RADAR
    assert estimate.rtt_ms == pytest.approx(20 + backbone, abs=0.01)
    assert estimate.details["access_p50_ms"] == 20


class _RadarHandler(BaseHTTPRequestHandler):
    requests: ClassVar[list[dict[str, Any]]] = []

    def do_GET(self) -> None:
        url = urlparse(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        type(self).requests.append({"path": url.path, "query": query, "auth": self.headers.get("Authorization")})
        if self.headers.get("Authorization") != "Bearer good-token":
            status = 400
            body: dict[str, Any] = {"success": False, "errors": [{"code": 10001, "message": "bad token"}]}
        else:
            status, body = 200, _radar_body({"IE": "12.5", "DE": "14"}.get(query.get("location", ""), "30"))
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: Any) -> None:
        return


@pytest.fixture()
def radar_server() -> Iterator[str]:
    _RadarHandler.requests = []
    server = HTTPServer(("127.0.0.1", 0), _RadarHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/client/v4"
    finally:
        server.shutdown()


def test_fetch_country_latency_speaks_radar(radar_server: str) -> None:
    with httpx.Client(timeout=5) as client:
        result = fetch_country_latency(client, radar_server, "good-token", "IE")
    assert result.p50_ms == 12.5
    request = _RadarHandler.requests[-1]
    assert request["path"] == "/client/v4/radar/quality/iqi/summary"
    assert request["query"]["metric"] == "LATENCY"
    assert request["query"]["location"] == "IE"
    assert request["auth"] == "Bearer good-token"


def test_fetch_country_latency_reports_radar_errors(radar_server: str) -> None:
    with httpx.Client(timeout=5) as client, pytest.raises(RadarError, match="bad token"):
        fetch_country_latency(client, radar_server, "wrong", "IE")


def test_fetch_country_latency_unreachable() -> None:
    with httpx.Client(timeout=1) as client, pytest.raises(RadarError, match="unreachable"):
        fetch_country_latency(client, "http://127.0.0.1:9", "t", "IE")
