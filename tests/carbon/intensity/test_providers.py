"""Live providers against local HTTP servers speaking Electricity Maps' and WattTime's documented JSON."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy.orm import Session

from spectra.carbon.intensity import providers
from spectra.carbon.intensity.parsing import IntensityRecord
from spectra.carbon.intensity.service import store_records


class FakeApi:
    """Routes: Electricity Maps `/v3/carbon-intensity/latest`, WattTime `/login` and `/v3/forecast`."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.em_status = 200
        self.delay = 0.0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                owner.calls.append(self.path)
                time.sleep(owner.delay)
                if self.path.startswith("/em/v3/carbon-intensity/latest"):
                    if self.headers.get("auth-token") != "em-key":
                        return self._reply(401, {"error": "bad token"})
                    if owner.em_status != 200:
                        return self._reply(owner.em_status, {"error": "down"})
                    return self._reply(
                        200,
                        {
                            "zone": "DE",
                            "carbonIntensity": 302,
                            "datetime": "2026-11-22T09:00:00.000Z",
                            "updatedAt": "2026-11-22T09:41:00.000Z",
                            "emissionFactorType": "lifecycle",
                            "isEstimated": True,
                            "estimationMethod": "TIME_SLICER_AVERAGE",
                        },
                    )
                if self.path == "/wt/login":
                    expected = "Basic " + base64.b64encode(b"wt-user:wt-pass").decode()
                    if self.headers.get("Authorization") != expected:
                        return self._reply(403, {"error": "bad credentials"})
                    return self._reply(200, {"token": "wt-token"})
                if self.path.startswith("/wt/v3/forecast"):
                    if self.headers.get("Authorization") != "Bearer wt-token":
                        return self._reply(401, {})
                    return self._reply(
                        200,
                        {
                            "data": [{"point_time": "2026-11-22T09:05:00+00:00", "value": 900.0}],
                            "meta": {"region": "CAISO_NORTH", "signal_type": "co2_moer", "units": "lbs_co2_per_mwh"},
                        },
                    )
                return self._reply(404, {})

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
def api(settings_env) -> Iterator[FakeApi]:
    fake = FakeApi()
    settings_env(
        ELECTRICITYMAPS_API_URL=f"{fake.url}/em/v3",
        WATTTIME_API_URL=f"{fake.url}/wt",
        WATTTIME_REGIONS="US-CAL-CISO=CAISO_NORTH",
        HTTP_TIMEOUT_SECONDS="1",
    )
    providers.cache.clear()
    yield fake
    providers.cache.clear()
    fake.server.shutdown()


def _configure(client, admin_headers, **values: Any) -> None:
    response = client.put("/api/settings", json={"global": values}, headers=admin_headers)
    assert response.status_code == 200, response.text


def test_electricity_maps_answers_first(client, admin_headers, api: FakeApi) -> None:
    _configure(client, admin_headers, electricitymaps_api_key="em-key")
    body = client.get("/api/carbon/intensity/live?zone=DE", headers=admin_headers).json()
    assert body["provider"] == "electricitymaps" and body["g_per_kwh"] == 302.0 and body["estimated"] is True
    again = client.get("/api/carbon/intensity/live?zone=DE", headers=admin_headers).json()
    assert again["cached"] is True and len([c for c in api.calls if c.startswith("/em/")]) == 1


def test_falls_back_to_watttime_then_converts_units(client, admin_headers, api: FakeApi) -> None:
    _configure(
        client,
        admin_headers,
        electricitymaps_api_key="em-key",
        watttime_username="wt-user",
        watttime_password="wt-pass",
    )
    api.em_status = 503
    body = client.get("/api/carbon/intensity/live?zone=US-CAL-CISO", headers=admin_headers).json()
    assert body["provider"] == "watttime"
    assert body["g_per_kwh"] == pytest.approx(900.0 * 0.45359237, abs=0.01)  # 900 lbs/MWh = 408.2 g/kWh
    assert body["tried"][0]["provider"] == "electricitymaps" and "503" in body["tried"][0]["error"]


def test_timeout_then_stored_history(client, db: Session, admin_headers, api: FakeApi) -> None:
    _configure(client, admin_headers, electricitymaps_api_key="em-key")
    api.delay = 2.0  # longer than the 1 s timeout
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    store_records(
        db,
        [("test", [IntensityRecord(zone="FR", hour=hour.replace(hour=max(hour.hour - 1, 0)), direct_g_per_kwh=48.0)])],
    )
    db.flush()
    body = client.get("/api/carbon/intensity/live?zone=FR", headers=admin_headers).json()
    assert body["provider"] == "stored" and body["g_per_kwh"] == 48.0
    assert [t["provider"] for t in body["tried"]] == ["electricitymaps", "watttime"]


def test_no_provider_is_404_problem(client, admin_headers, api: FakeApi) -> None:
    response = client.get("/api/carbon/intensity/live?zone=XX", headers=admin_headers)
    assert response.status_code == 404 and response.json()["code"] == "intensity_unavailable"
    assert {t["provider"] for t in response.json()["tried"]} == {"electricitymaps", "watttime", "stored"}
