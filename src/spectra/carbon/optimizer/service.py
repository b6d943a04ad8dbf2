"""Region optimiser: assemble each region's carbon, latency and price for a workload, then rank.

Carbon is the mean intensity of the region's grid zone over the workload's window (stored actuals for
any past part, the forecast made at now for the rest), × the workload's IT energy × the provider PUE.
Latency comes from the LatencyMetric table (Cloudflare Radar-based when fetched, else modelled), or is
modelled on the fly from coordinates. Price is the on-demand price of the instance type in the region.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy.orm import Session

from spectra.carbon.actions.service import as_utc
from spectra.carbon.optimizer import repository
from spectra.carbon.optimizer.inputs import Inputs, InstanceInfo, RegionInfo
from spectra.carbon.optimizer.latency import (
    SOURCE_MODELLED,
    SOURCE_RADAR,
    LatencyEstimate,
    Place,
    RadarError,
    RadarLatency,
    fetch_country_latency,
    model_latency,
    radar_latency,
)
from spectra.carbon.optimizer.models import LatencyMetric
from spectra.carbon.optimizer.ranking import Constraints, Ranking, RegionOption, Weights, Window, rank_regions
from spectra.carbon.optimizer.schemas import WorkloadIn
from spectra.carbon.rightsizing.engine import TypeSpec
from spectra.core.audit import record_audit
from spectra.core.auth import Caller
from spectra.core.clock import clock
from spectra.core.config import get_settings
from spectra.core.errors import NotFound, ServiceUnavailable, Unprocessable


def _place(region: RegionInfo) -> Place | None:
    if region.latitude is None or region.longitude is None:
        return None
    return Place(region.code, region.latitude, region.longitude, region.country)


def latencies_from(session: Session, users: RegionInfo | None, regions: list[RegionInfo]) -> dict[str, LatencyEstimate]:
    """Best latency figure from the users' region to each region: Radar-based, stored model, live model."""
    if users is None:
        return {}
    stored: dict[str, LatencyEstimate] = {}
    for row in repository.latencies_from(session, users.code):
        if row.to_region not in stored or row.source == SOURCE_RADAR:
            stored[row.to_region] = LatencyEstimate(row.from_region, row.to_region, row.rtt_ms, row.source, row.details)
    origin = _place(users)
    out: dict[str, LatencyEstimate] = {}
    for region in regions:
        if region.code in stored:
            out[region.code] = stored[region.code]
            continue
        target = _place(region)
        if origin is not None and target is not None:
            out[region.code] = model_latency(origin, target)
    return out


def _workload_instance(session: Session, inputs: Inputs, workload: WorkloadIn, caller: Caller) -> InstanceInfo | None:
    if workload.instance_id is None:
        return None
    instance = inputs.instance(session, workload.instance_id)
    if instance is None:
        raise NotFound("instance not found")
    caller.ensure_tenant(instance.client_id, "instance")
    return instance


def it_energy_kwh(
    inputs: Inputs, spec: TypeSpec | None, power_kw: float | None, utilisation: float, hours: float
) -> tuple[float, str]:
    if power_kw is not None:
        return power_kw * hours, f"{power_kw:g} kW given × {hours:g} h"
    assert spec is not None
    watts = inputs.power_w(spec, utilisation)
    return (
        watts * hours / 1000.0,
        f"{spec.name}: {watts:.1f} W at {utilisation:.0%} CPU (Cloud Carbon Footprint power model) × {hours:g} h",
    )


def rank(session: Session, inputs: Inputs, workload: WorkloadIn, caller: Caller) -> dict[str, Any]:
    instance = _workload_instance(session, inputs, workload, caller)
    type_name = workload.instance_type or (instance.instance_type if instance else None)
    current_region = workload.current_region or (instance.region if instance else None)
    users_region = workload.users_region or (instance.users_region if instance else None) or current_region
    regions = inputs.regions(session)
    by_code = {r.code: r for r in regions}
    for field, code in (("users_region", users_region), ("current_region", current_region)):
        if code is not None and code not in by_code:
            raise Unprocessable(f"unknown region {code!r}", errors=[{"field": field, "msg": "unknown region"}])

    spec = inputs.instance_type(session, type_name, current_region) if type_name else None
    if type_name and spec is None:
        raise Unprocessable(
            f"unknown instance type {type_name!r}", errors=[{"field": "instance_type", "msg": "unknown type"}]
        )
    if workload.power_kw is None and spec is None:
        raise Unprocessable(
            "give instance_id, instance_type or power_kw", errors=[{"field": "workload", "msg": "empty"}]
        )

    start = as_utc(workload.start) if workload.start else clock.now()
    end = start + timedelta(hours=workload.hours)
    energy, energy_method = it_energy_kwh(inputs, spec, workload.power_kw, workload.utilisation, workload.hours)
    latencies = latencies_from(session, by_code.get(users_region) if users_region else None, regions)

    providers = frozenset(p.lower() for p in workload.providers) if workload.providers else None
    countries = frozenset(c.upper() for c in workload.countries) if workload.countries else None
    options = []
    for region in regions:
        # A region the constraints exclude is listed with its reason but needs no forecast.
        wanted = (providers is None or region.provider.lower() in providers) and (
            countries is None or (region.country or "").upper() in countries
        )
        outlook = inputs.intensity(session, region.zone, start, end) if region.zone and wanted else None
        price = None
        if type_name:
            priced = inputs.instance_type(session, type_name, region.code)
            price = priced.price_usd_per_hour if priced is not None else None
        latency = latencies.get(region.code)
        options.append(
            RegionOption(
                code=region.code,
                name=region.name,
                provider=region.provider,
                country=region.country,
                zone=region.zone,
                pue=region.pue,
                intensity_g_per_kwh=outlook.mean if outlook else None,
                intensity_std=outlook.std if outlook else None,
                intensity_method=outlook.method if outlook else "",
                latency_ms=latency.rtt_ms if latency else None,
                latency_source=latency.source if latency else "",
                latency_details=latency.details if latency else {},
                price_usd_per_hour=price,
                price_source=f"{type_name} on-demand" if type_name else "",
            )
        )
    try:
        ranking: Ranking = rank_regions(
            options,
            Window(workload.hours, energy, f"{workload.hours:g} h from {start:%Y-%m-%d %H:%M} UTC"),
            Weights(workload.weights.carbon, workload.weights.latency, workload.weights.cost),
            Constraints(workload.max_latency_ms, providers, countries),
            current_region,
        )
    except ValueError as exc:
        raise Unprocessable(str(exc), errors=[{"field": "weights", "msg": str(exc)}]) from None
    return {
        "workload": {
            "instance_id": instance.id if instance else None,
            "instance_type": type_name,
            "power_kw": workload.power_kw,
            "utilisation": workload.utilisation,
        },
        "window": {
            "start": start,
            "end": end,
            "hours": workload.hours,
            "it_energy_kwh": round(energy, 6),
            "energy_method": energy_method,
        },
        "users_region": users_region,
        "current_region": current_region,
        "weights": ranking.weights,
        "method": ranking.method,
        "regions": [vars(r) for r in ranking.ranked],
        "excluded": [vars(e) for e in ranking.excluded],
        "best": ranking.ranked[0].code if ranking.ranked else None,
    }


def list_latencies(session: Session, from_region: str | None, to_region: str | None, limit: int) -> list[LatencyMetric]:
    return repository.latency_rows(session, from_region, to_region, limit)


def _upsert(session: Session, rows: dict[tuple[str, str], LatencyMetric], estimate: LatencyEstimate) -> None:
    now = clock.now()
    row = rows.get((estimate.from_code, estimate.to_code))
    if row is None:
        row = LatencyMetric(from_region=estimate.from_code, to_region=estimate.to_code, source=estimate.source)
        session.add(row)
        rows[(estimate.from_code, estimate.to_code)] = row
    row.rtt_ms, row.details, row.measured_at = estimate.rtt_ms, estimate.details, now


def fetch_latencies(
    session: Session,
    inputs: Inputs,
    date_range: str = "7d",
    http: httpx.Client | None = None,
    use_radar: bool = True,
) -> dict[str, Any]:
    """Refresh the latency table for every pair of regions with coordinates.

    The modelled figures are always refreshed; with a Cloudflare token, one Radar request per users'
    country adds `cloudflare_radar` rows. A country Radar cannot answer keeps only its modelled rows
    (listed under `errors`); if Radar answers for no country at all the call fails with 503.
    """
    places = [(r, p) for r in inputs.regions(session) if (p := _place(r)) is not None]
    modelled = repository.existing(session, SOURCE_MODELLED)
    for _, origin in places:
        for _, target in places:
            _upsert(session, modelled, model_latency(origin, target))
    result: dict[str, Any] = {
        "source": SOURCE_MODELLED,
        "pairs": len(places) ** 2,
        "countries": [],
        "errors": [],
        "measured_at": clock.now(),
    }
    token = inputs.cloudflare_token(session) if use_radar else None
    if token:
        settings = get_settings()
        countries = sorted({p.country for _, p in places if p.country})
        access: dict[str, RadarLatency] = {}
        own_client = http is None
        client = http or httpx.Client(timeout=settings.http_timeout_seconds)
        try:
            for country in countries:
                try:
                    access[country] = fetch_country_latency(
                        client, settings.cloudflare_api_url, token, country, date_range
                    )
                except RadarError as exc:
                    result["errors"].append({"country": country, "error": str(exc)})
        finally:
            if own_client:
                client.close()
        if countries and not access:
            raise ServiceUnavailable(
                "Cloudflare Radar answered for no country: " + "; ".join(e["error"] for e in result["errors"][:3]),
                code="radar_unavailable",
            )
        measured = repository.existing(session, SOURCE_RADAR)
        pairs = 0
        for _, origin in places:
            if origin.country not in access:
                continue
            for _, target in places:
                _upsert(session, measured, radar_latency(origin, target, access[origin.country]))
                pairs += 1
        result.update(source=SOURCE_RADAR, pairs=pairs, countries=sorted(access))
    session.flush()
    record_audit(
        session, "latency.fetch", "latency_metrics", None, None, {k: v for k, v in result.items() if k != "measured_at"}
    )
    return result


MONTHLY_INTENSITY_DAYS = 30


def footprint_per_hour(
    session: Session, inputs: Inputs, type_name: str, region_code: str, utilisation: float
) -> dict[str, Any]:
    """CO2e (kg/h) and on-demand cost (USD/h) of running one instance of a type in a region.

    Intensity is the zone's mean over the last 30 days (stored actuals; when there are none, the
    forecast of the next 24 h), power the CCF model at the given utilisation, × the provider's PUE.
    """
    region = next((r for r in inputs.regions(session) if r.code == region_code), None)
    if region is None:
        raise Unprocessable(f"unknown region {region_code!r}", errors=[{"field": "region", "msg": "unknown region"}])
    spec = inputs.instance_type(session, type_name, region_code)
    if spec is None:
        raise Unprocessable(
            f"unknown instance type {type_name!r}", errors=[{"field": "instance_type", "msg": "unknown type"}]
        )
    now = clock.now()
    outlook = None
    basis = ""
    if region.zone:
        outlook = inputs.intensity(session, region.zone, now - timedelta(days=MONTHLY_INTENSITY_DAYS), now)
        basis = f"mean of the last {MONTHLY_INTENSITY_DAYS} days"
        if outlook is None:
            outlook = inputs.intensity(session, region.zone, now, now + timedelta(hours=24))
            basis = "forecast mean of the next 24 h"
    watts = inputs.power_w(spec, utilisation)
    co2e = None
    if outlook is not None:
        co2e = (watts / 1000.0 * region.pue * outlook.mean + inputs.embodied_g_per_hour(spec)) / 1000.0
    return {
        "region": region.code,
        "zone": region.zone,
        "pue": region.pue,
        "power_w": round(watts, 3),
        "utilisation": utilisation,
        "intensity_g_per_kwh": round(outlook.mean, 2) if outlook else None,
        "intensity_basis": basis if outlook else "no intensity data",
        "co2e_kg_per_hour": co2e,
        "cost_usd_per_hour": spec.price_usd_per_hour,
    }
