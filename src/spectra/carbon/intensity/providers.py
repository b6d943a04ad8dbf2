"""Live grid intensity from Electricity Maps and WattTime, with the stored history as the last resort.

Providers are tried in `SPECTRA_INTENSITY_PROVIDERS` order (or the `intensity_providers` platform setting); one
that is not configured, times out or answers badly is skipped and the next is asked. Answers are cached per zone
for a few minutes, since the grids publish hourly. All figures are gCO2e/kWh.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy.orm import Session

from spectra.carbon.intensity import repository
from spectra.core.clock import clock
from spectra.core.config import get_settings
from spectra.core.errors import NotFound
from spectra.fleet.settings import service as settings_service

LBS_PER_MWH_TO_G_PER_KWH = 0.45359237  # 1 lb = 453.59237 g; per MWh → per kWh divides by 1,000
CACHE_SECONDS = 300.0


@dataclass(frozen=True)
class LiveIntensity:
    zone: str
    g_per_kwh: float
    at: datetime
    provider: str
    estimated: bool
    detail: str


class ProviderError(RuntimeError):
    pass


def _parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


def electricitymaps(zone: str, api_key: str, base_url: str, timeout: float) -> LiveIntensity:
    """Electricity Maps v3 `GET /carbon-intensity/latest?zone=…` with the `auth-token` header."""
    response = httpx.get(
        f"{base_url.rstrip('/')}/carbon-intensity/latest",
        params={"zone": zone},
        headers={"auth-token": api_key},
        timeout=timeout,
    )
    if response.status_code != 200:
        raise ProviderError(f"Electricity Maps answered {response.status_code}")
    body = response.json()
    return LiveIntensity(
        zone,
        float(body["carbonIntensity"]),
        _parse_time(body["datetime"]),
        "electricitymaps",
        bool(body.get("isEstimated")),
        f"emission factors: {body.get('emissionFactorType', '?')}",
    )


def watttime(region: str, zone: str, username: str, password: str, base_url: str, timeout: float) -> LiveIntensity:
    """WattTime v3: a token from `GET /login` (basic auth), then the marginal CO2 rate from `GET /v3/forecast`
    (first point), reported in lbs/MWh and converted to gCO2e/kWh."""
    with httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout) as http:
        login = http.get("/login", auth=(username, password))
        if login.status_code != 200:
            raise ProviderError(f"WattTime login answered {login.status_code}")
        token = login.json()["token"]
        response = http.get(
            "/v3/forecast",
            params={"region": region, "signal_type": "co2_moer", "horizon_hours": 0},
            headers={"Authorization": f"Bearer {token}"},
        )
        if response.status_code != 200:
            raise ProviderError(f"WattTime answered {response.status_code}")
        body = response.json()
    units = body.get("meta", {}).get("units", "lbs_co2_per_mwh")
    if units != "lbs_co2_per_mwh":
        raise ProviderError(f"unexpected WattTime units {units!r}")
    point = body["data"][0]
    return LiveIntensity(
        zone,
        float(point["value"]) * LBS_PER_MWH_TO_G_PER_KWH,
        _parse_time(point["point_time"]),
        "watttime",
        True,
        f"marginal (MOER) rate of region {region}",
    )


def stored(session: Session, zone: str) -> LiveIntensity:
    now = clock.now()
    hour = repository.latest_hour(session, zone, now)
    if hour is None:
        raise ProviderError(f"no stored intensity for {zone}")
    row = repository.hours(session, zone, hour, hour.replace(minute=59))[0]
    return LiveIntensity(
        zone,
        float(row.direct_g_per_kwh),
        hour,
        "stored",
        bool(row.estimated),
        f"latest stored hour ({row.imported_from})",
    )


class _Cache:
    def __init__(self) -> None:
        self._items: dict[str, tuple[float, LiveIntensity]] = {}
        self._lock = threading.Lock()

    def get(self, zone: str) -> LiveIntensity | None:
        with self._lock:
            item = self._items.get(zone)
            return item[1] if item and item[0] > time.monotonic() else None

    def put(self, value: LiveIntensity) -> None:
        with self._lock:
            self._items[value.zone] = (time.monotonic() + CACHE_SECONDS, value)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


cache = _Cache()


def _watttime_region(zone: str, mapping: str) -> str | None:
    for pair in mapping.split(","):
        key, _, value = pair.partition("=")
        if key.strip() == zone and value.strip():
            return value.strip()
    return None


def live_intensity(session: Session, zone: str) -> dict[str, Any]:
    """The zone's current intensity from the first provider that answers, and what the others said."""
    cached = cache.get(zone)
    if cached is not None:
        return {"intensity": cached, "cached": True, "tried": []}
    settings = get_settings()
    order = settings_service.global_value(session, "intensity_providers") or settings.intensity_providers
    tried: list[dict[str, str]] = []
    for name in order:
        try:
            if name == "electricitymaps":
                key = settings_service.secret(session, "electricitymaps_api_key")
                if not key:
                    raise ProviderError("no API key configured")
                result = electricitymaps(zone, key, settings.electricitymaps_api_url, settings.http_timeout_seconds)
            elif name == "watttime":
                user = settings_service.global_value(session, "watttime_username")
                password = settings_service.secret(session, "watttime_password")
                region = _watttime_region(zone, settings.watttime_regions)
                if not (user and password and region):
                    raise ProviderError("no username, password or region mapping for this zone")
                result = watttime(
                    region, zone, str(user), password, settings.watttime_api_url, settings.http_timeout_seconds
                )
            elif name == "stored":
                result = stored(session, zone)
            else:
                raise ProviderError("unknown provider")
        except (ProviderError, httpx.HTTPError, KeyError, ValueError, IndexError) as exc:
            tried.append({"provider": name, "error": str(exc) or type(exc).__name__})
            continue
        cache.put(result)
        return {"intensity": result, "cached": False, "tried": tried}
    raise NotFound(f"no provider could give the intensity of {zone}", code="intensity_unavailable", tried=tried)
