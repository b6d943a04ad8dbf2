"""Latency between a workload's users and a cloud region: measured (Cloudflare Radar) or modelled.

Model: light in fibre covers about 200 km per millisecond, and cables do not follow great circles, so a
round trip costs 2 × great-circle distance × route factor ÷ 200 km/ms, plus a small fixed cost for
switching and the last hop. Figures from this model are always labelled `modelled`.

Measured: Cloudflare Radar's Internet Quality Index (`/radar/quality/iqi/summary?metric=LATENCY`) gives
the median round trip from users in a country to the nearest Cloudflare edge. Radar does not publish
edge-to-cloud-region latency, so a Radar-based figure is that measured access latency plus the
modelled backbone round trip from the users' region to the target region; it is labelled
`cloudflare_radar` and carries both parts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import httpx

EARTH_RADIUS_KM = 6371.0088
FIBRE_KM_PER_MS = 200.0
# Path inflation of terrestrial/submarine routes over the great circle (published measurements put
# the median between 1.3 and 1.6 for inter-continental paths).
DEFAULT_ROUTE_FACTOR = 1.4
# Switching, serialisation and the data-centre hop; also the floor for a region to itself.
FIXED_OVERHEAD_MS = 1.0

SOURCE_MODELLED = "modelled"
SOURCE_RADAR = "cloudflare_radar"


def great_circle_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Haversine distance in kilometres."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi = phi2 - phi1
    dlmb = math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlmb / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def modelled_rtt_ms(distance_km: float, route_factor: float = DEFAULT_ROUTE_FACTOR) -> float:
    """Round-trip time over fibre for a great-circle distance."""
    if distance_km < 0:
        raise ValueError("distance must be non-negative")
    return FIXED_OVERHEAD_MS + 2.0 * distance_km * route_factor / FIBRE_KM_PER_MS


@dataclass(frozen=True)
class Place:
    code: str
    latitude: float
    longitude: float
    country: str | None = None


@dataclass(frozen=True)
class LatencyEstimate:
    from_code: str
    to_code: str
    rtt_ms: float
    source: str
    details: dict[str, Any]


def model_latency(origin: Place, target: Place, route_factor: float = DEFAULT_ROUTE_FACTOR) -> LatencyEstimate:
    distance = great_circle_km(origin.latitude, origin.longitude, target.latitude, target.longitude)
    rtt = modelled_rtt_ms(distance, route_factor)
    return LatencyEstimate(
        origin.code,
        target.code,
        round(rtt, 2),
        SOURCE_MODELLED,
        {
            "method": "great-circle distance × route factor ÷ fibre speed, round trip",
            "distance_km": round(distance, 1),
            "route_factor": route_factor,
            "fibre_km_per_ms": FIBRE_KM_PER_MS,
            "fixed_overhead_ms": FIXED_OVERHEAD_MS,
        },
    )


def radar_latency(
    origin: Place, target: Place, access: RadarLatency, route_factor: float = DEFAULT_ROUTE_FACTOR
) -> LatencyEstimate:
    """Measured access latency of the users' country plus the modelled backbone to the target region."""
    backbone = model_latency(origin, target, route_factor)
    return LatencyEstimate(
        origin.code,
        target.code,
        round(access.p50_ms + backbone.rtt_ms, 2),
        SOURCE_RADAR,
        {
            "method": "Cloudflare Radar IQI median access latency + modelled backbone round trip",
            "access_p50_ms": access.p50_ms,
            "access_p25_ms": access.p25_ms,
            "access_p75_ms": access.p75_ms,
            "access_location": access.location,
            "access_date_range": access.date_range,
            "backbone_ms": backbone.rtt_ms,
            "distance_km": backbone.details["distance_km"],
            "route_factor": route_factor,
        },
    )


# --------------------------------------------------------------------------- Cloudflare Radar client


class RadarError(RuntimeError):
    """Radar answered with an error, or with JSON not shaped as its documentation says."""


@dataclass(frozen=True)
class RadarLatency:
    location: str
    p25_ms: float
    p50_ms: float
    p75_ms: float
    date_range: str | None


def parse_iqi_summary(location: str, body: dict[str, Any]) -> RadarLatency:
    """Read `{"success": true, "result": {"summary_0": {"p25": "..", "p50": "..", "p75": ".."}, "meta": ...}}`."""
    if not body.get("success", False):
        errors = body.get("errors") or []
        message = "; ".join(str(e.get("message", e)) for e in errors if isinstance(e, dict)) or "unknown"
        raise RadarError(f"Radar refused the request for {location}: {message}")
    try:
        summary = body["result"]["summary_0"]
        p25, p50, p75 = (float(summary[k]) for k in ("p25", "p50", "p75"))
    except (KeyError, TypeError, ValueError) as exc:
        raise RadarError(f"unexpected Radar IQI summary for {location}: {exc!r}") from None
    if not (math.isfinite(p50) and p50 >= 0):
        raise RadarError(f"Radar gave a non-physical latency for {location}: {p50}")
    date_range = None
    meta = body["result"].get("meta") or {}
    ranges = meta.get("dateRange") or []
    if ranges and isinstance(ranges[0], dict):
        date_range = f"{ranges[0].get('startTime')}/{ranges[0].get('endTime')}"
    return RadarLatency(location, p25, p50, p75, date_range)


def fetch_country_latency(
    client: httpx.Client, base_url: str, token: str, location: str, date_range: str = "7d"
) -> RadarLatency:
    """One IQI summary request for one country (ISO alpha-2)."""
    url = base_url.rstrip("/") + "/radar/quality/iqi/summary"
    try:
        response = client.get(
            url,
            params={"metric": "LATENCY", "location": location, "dateRange": date_range, "format": "JSON"},
            headers={"Authorization": f"Bearer {token}"},
        )
    except httpx.HTTPError as exc:
        raise RadarError(f"Radar unreachable: {exc}") from None
    try:
        body = response.json()
    except ValueError:
        raise RadarError(f"Radar answered {response.status_code} with non-JSON") from None
    if response.status_code >= 400 and body.get("success") is not False:
        raise RadarError(f"Radar answered {response.status_code}")
    return parse_iqi_summary(location, body)
