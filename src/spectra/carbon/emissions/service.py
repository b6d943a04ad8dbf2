"""Emissions service: the job that computes and stores per-instance daily emissions, and the read
side every view (dashboard, budgets, reports, chargeback) uses."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from spectra.capacity import service as capacity_service
from spectra.carbon.emissions import coefficients, engine, repository
from spectra.carbon.emissions.models import InstanceEmissionDay
from spectra.carbon.emissions.repository import TOTAL_FIELDS
from spectra.carbon.intensity import repository as intensity_repository
from spectra.core.clock import clock
from spectra.fleet.catalog import service as catalog_service
from spectra.fleet.instances import service as instance_service
from spectra.fleet.instances.models import Instance
from spectra.fleet.settings import service as settings_service

__all__ = ["TOTAL_FIELDS", "by_instance", "instance_days", "last_day", "store_days", "totals"]


def rollup(instance_rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Sum per-instance day rows into client × team × region × day rows."""
    groups: dict[tuple[str, str | None, str, date], dict[str, Any]] = {}
    for row in instance_rows:
        key = (row["client_id"], row["team_id"], row["region"], row["day"])
        group = groups.get(key)
        if group is None:
            group = groups[key] = {
                "client_id": key[0],
                "team_id": key[1],
                "region": key[2],
                "day": key[3],
                "instances": 0,
                **{f: 0.0 for f in TOTAL_FIELDS},
            }
        group["instances"] += 1
        for field in TOTAL_FIELDS:
            group[field] += row[field]
    return list(groups.values())


def store_days(
    session: Session, days: list[date], instance_rows: list[dict[str, Any]], client_id: str | None = None
) -> None:
    """Replace the stored emissions of these days (all clients, or one) with per-instance rows, and
    rebuild their roll-up. Each row has the InstanceEmissionDay columns."""
    repository.replace_days(session, days, client_id, instance_rows, rollup(instance_rows))


def totals(
    session: Session,
    client_id: str | None,
    first_day: date,
    last_day: date,
    group_by: tuple[str, ...] | list[str] = (),
    team_id: str | None = None,
    newest: date | None = None,
) -> list[dict[str, Any]]:
    """Summed emissions (grams, kWh, USD, instance-hours) over [first_day, last_day], optionally grouped."""
    return repository.totals(session, client_id, first_day, last_day, group_by, team_id, newest)


def by_instance(
    session: Session,
    client_id: str | None,
    first_day: date,
    last_day: date,
    *,
    team_id: str | None = None,
    limit: int | None = None,
    newest: date | None = None,
) -> list[dict[str, Any]]:
    return repository.by_instance(session, client_id, first_day, last_day, team_id=team_id, limit=limit, newest=newest)


def instance_days(session: Session, instance_id: str, first_day: date, last_day: date) -> list[InstanceEmissionDay]:
    return repository.instance_days(session, instance_id, first_day, last_day)


def last_day(session: Session) -> date | None:
    return repository.last_day(session)


# --------------------------------------------------------------------------- computing stored days
#
# For each UTC day: the instances that ran, the hours each ran (an hour counts when the instance was up
# at any point of it), their CPU utilisation per hour (measured where the capacity domain has samples,
# else the client's default, 50% unless set), and the hourly intensity of each region's grid zone go
# through the CCF engine; the sums per instance are stored, and rolled up.

BACKFILL_DAYS = 30  # a first run (or one after a long pause) computes at most this far back
HOUR = timedelta(hours=1)


@dataclass(frozen=True)
class TypeSpec:
    """What the engine needs of an instance type, resolved through the reference catalogue and CCF."""

    vcpu: float
    memory_gib: float
    min_watts_per_vcpu: float
    max_watts_per_vcpu: float
    memory_baseline_gib: float
    embodied_g_per_hour: float
    price_usd_per_hour: float | None  # on-demand list price in the instance's region


@dataclass(frozen=True)
class ZoneHours:
    """A zone's hourly intensity for the day's hours: location-based, and market-based (NaN = none)."""

    location: np.ndarray
    market: np.ndarray


# (session, zone ids, first hour, hours) -> {zone: ZoneHours}; a zone with no usable data is left out.
IntensitySource = Callable[[Session, list[str], datetime, int], dict[str, ZoneHours]]
# (session, instances, first hour, hours) -> {instance id: CPU fraction per hour, NaN where unmeasured}.
UtilisationSource = Callable[[Session, list[Instance], datetime, int], dict[str, np.ndarray]]


def type_spec(session: Session, instance_type: str, provider: str, region: str) -> TypeSpec | None:
    """The engine's inputs for a type, from the fleet catalogue (imported types first, then reference)."""
    view = catalog_service.find_instance_type(session, instance_type)
    if view is None:
        return None
    coeff = coefficients.coefficients_for(view.microarch, provider)
    # The host the family runs on; unknown → the instance is taken as the whole (one-socket) host.
    platform_vcpu = float(view.platform_vcpu or view.vcpu)
    platform_memory = float(view.platform_memory_gib or view.memory_gib)
    sockets = int(view.platform_sockets or 1)
    ssd = "ssd" in (view.storage_kind or "").lower()
    platform_kg = coefficients.platform_embodied_kg(
        platform_memory,
        sockets,
        hdd_count=0 if ssd else view.storage_drives,
        ssd_count=view.storage_drives if ssd else 0,
        gpu_count=view.gpus,
    )
    baseline = (
        float("inf")  # burstable types: CCF counts no memory term
        if view.burstable
        else coefficients.memory_baseline_gb(view.vcpu, coeff.gb_per_chip, platform_vcpu, sockets)
    )
    price = catalog_service.on_demand_price(session, instance_type, region)
    return TypeSpec(
        vcpu=float(view.vcpu),
        memory_gib=float(view.memory_gib),
        min_watts_per_vcpu=coeff.min_watts,
        max_watts_per_vcpu=coeff.max_watts,
        memory_baseline_gib=baseline,
        embodied_g_per_hour=coefficients.embodied_g_per_instance_hour(platform_kg, view.vcpu, platform_vcpu),
        price_usd_per_hour=price.on_demand_usd_per_hour if price else None,
    )


def running_mask(instances: list[Instance], start: datetime, hours: int) -> np.ndarray:
    """(n, hours) booleans: up at any point of the hour [start + t, start + t + 1 h)."""
    mask = np.zeros((len(instances), hours), dtype=bool)
    for i, inst in enumerate(instances):
        ends = [t for t in (inst.stopped_at, inst.terminated_at) if t is not None]
        up_to = min(ends) if ends else None
        first = max(0, int(np.floor((inst.launched_at - start) / HOUR)))
        last = hours if up_to is None else min(hours, int(np.ceil((up_to - start) / HOUR)))
        if last > first:
            mask[i, first:last] = True
    return mask


def measured_utilisation(
    session: Session, instances: list[Instance], start: datetime, hours: int
) -> dict[str, np.ndarray]:
    """Mean CPU per hour from the capacity domain's samples of each instance (resource id = provider id)."""
    end = start + hours * HOUR
    out: dict[str, np.ndarray] = {}
    for inst in instances:
        samples = capacity_service.utilisation(session, inst.client_id, inst.provider_id, "cpu", start, end)
        if not samples:
            continue
        sums, counts = np.zeros(hours), np.zeros(hours)
        for ts, value in samples:
            index = int((ts - start) / HOUR)
            if 0 <= index < hours:
                sums[index] += value
                counts[index] += 1
        with np.errstate(invalid="ignore", divide="ignore"):
            out[inst.id] = np.clip(np.where(counts > 0, sums / counts, np.nan) / 100.0, 0.0, 1.0)
    return out


def compute_day(
    session: Session,
    day: date,
    now: datetime,
    *,
    intensity: IntensitySource,
    utilisation: UtilisationSource = measured_utilisation,
    client_id: str | None = None,
) -> dict[str, Any]:
    """Compute and store one UTC day (its complete hours before `now`) for every client, or one."""
    start = datetime.combine(day, time(), tzinfo=UTC)
    hours = min(24, int((now - start) // HOUR))
    if hours <= 0:
        return {"day": day.isoformat(), "hours": 0, "instances": 0}
    candidates = instance_service.active_between(session, client_id, start, start + hours * HOUR)
    skipped: dict[str, int] = {"unknown_type": 0, "unknown_region": 0, "no_intensity": 0}
    resolved: list[tuple[Instance, TypeSpec, str, float]] = []
    regions: dict[str, Any] = {}
    specs_of: dict[tuple[str, str, str], TypeSpec | None] = {}
    for inst in candidates:
        if inst.region not in regions:
            regions[inst.region] = catalog_service.find_region(session, inst.region)
        region = regions[inst.region]
        if region is None or not region.zone:
            skipped["unknown_region"] += 1
            continue
        key = (inst.instance_type, inst.provider, inst.region)
        if key not in specs_of:
            specs_of[key] = type_spec(session, *key)
        spec = specs_of[key]
        if spec is None:
            skipped["unknown_type"] += 1
            continue
        resolved.append((inst, spec, region.zone, region.pue))
    zones = intensity(session, sorted({zone for _, _, zone, _ in resolved}), start, hours)
    kept = [r for r in resolved if r[2] in zones]
    skipped["no_intensity"] = len(resolved) - len(kept)
    if not kept:
        store_days(session, [day], [], client_id=client_id)
        return {"day": day.isoformat(), "hours": hours, "instances": 0, "skipped": skipped}

    zone_order = sorted({zone for _, _, zone, _ in kept})
    zone_index = {zone: i for i, zone in enumerate(zone_order)}
    instances = [inst for inst, _, _, _ in kept]
    specs = engine.InstanceSpecs.build(
        vcpu=[s.vcpu for _, s, _, _ in kept],
        memory_gib=[s.memory_gib for _, s, _, _ in kept],
        min_watts_per_vcpu=[s.min_watts_per_vcpu for _, s, _, _ in kept],
        max_watts_per_vcpu=[s.max_watts_per_vcpu for _, s, _, _ in kept],
        memory_baseline_gib=[s.memory_baseline_gib for _, s, _, _ in kept],
        pue=[pue for _, _, _, pue in kept],
        embodied_g_per_hour=[s.embodied_g_per_hour for _, s, _, _ in kept],
        zone_index=[zone_index[zone] for _, _, zone, _ in kept],
    )
    location = np.vstack([zones[z].location for z in zone_order])
    market = np.vstack([zones[z].market for z in zone_order])
    running = running_mask(instances, start, hours)

    measured = utilisation(session, instances, start, hours)
    defaults = settings_service.client_values(
        session, "default_utilisation", sorted({inst.client_id for inst in instances})
    )
    util = np.empty((len(instances), hours))
    measured_hours = np.zeros(len(instances))
    for i, inst in enumerate(instances):
        row = measured.get(inst.id)
        if row is None:
            util[i] = float(defaults[inst.client_id])
        else:
            util[i] = np.where(np.isnan(row), float(defaults[inst.client_id]), row)
            measured_hours[i] = float((~np.isnan(row) & running[i]).sum())
    totals = engine.compute_totals(specs, location, utilisation=util, market_intensity=market, running=running)

    bills = instance_service.billed_costs(session, [inst.id for inst in instances], day, day)
    computed_at = clock.now()
    rows = []
    for i, (inst, spec, _, _) in enumerate(kept):
        ran = float(totals.instance_hours[i])
        if ran <= 0:
            continue
        billed = bills.get((inst.id, day))
        cost = billed if billed is not None else ran * (spec.price_usd_per_hour or 0.0)
        kwh = float(totals.kwh[i])
        rows.append(
            {
                "instance_id": inst.id,
                "client_id": inst.client_id,
                "team_id": inst.team_id,
                "region": inst.region,
                "instance_type": inst.instance_type,
                "day": day,
                "utilisation": float(util[i][running[i]].mean()),
                "utilisation_source": "measured" if measured_hours[i] > 0 else "default",
                "intensity_g_per_kwh": float(totals.location_g[i] / kwh) if kwh > 0 else None,
                "computed_at": computed_at,
                "instance_hours": ran,
                "kwh": kwh,
                "co2e_location_g": float(totals.location_g[i]),
                "co2e_market_g": float(totals.market_g[i]),
                "embodied_g": float(totals.embodied_g[i]),
                "cost_usd": float(cost),
                "billed_cost_usd": float(billed or 0.0),
                "measured_hours": float(measured_hours[i]),
            }
        )
    store_days(session, [day], rows, client_id=client_id)
    return {"day": day.isoformat(), "hours": hours, "instances": len(rows), "skipped": skipped}


def days_to_compute(session: Session, now: datetime) -> list[date]:
    """The newest stored day again (it may have been partial) through today; at most BACKFILL_DAYS."""
    today = now.date()
    earliest = today - timedelta(days=BACKFILL_DAYS - 1)
    newest = last_day(session)
    first = earliest if newest is None else max(earliest, min(newest, today))
    return [first + timedelta(days=i) for i in range((today - first).days + 1)]


def estimate_hourly(
    session: Session,
    instance_type: str,
    provider: str,
    region: str,
    intensity_g_per_kwh: float,
    utilisation: float = 0.5,
) -> tuple[float, float] | None:
    """(kWh, gCO2e location-based operational + embodied) of one instance-hour, or None if uncatalogued."""
    spec = type_spec(session, instance_type, provider, region)
    ref = catalog_service.find_region(session, region)
    if spec is None or ref is None:
        return None
    specs = engine.InstanceSpecs.build(
        vcpu=[spec.vcpu],
        memory_gib=[spec.memory_gib],
        min_watts_per_vcpu=[spec.min_watts_per_vcpu],
        max_watts_per_vcpu=[spec.max_watts_per_vcpu],
        memory_baseline_gib=[spec.memory_baseline_gib],
        pue=[ref.pue],
        embodied_g_per_hour=[spec.embodied_g_per_hour],
        zone_index=[0],
    )
    hour = engine.compute_hourly(specs, np.array([intensity_g_per_kwh]), utilisation=np.array([[utilisation]]))
    return float(hour.kwh[0, 0]), float(hour.location_g[0, 0] + hour.embodied_g[0, 0])


# --------------------------------------------------------------------------- stored intensity


def _filled(values: np.ndarray, carry: float | None) -> np.ndarray | None:
    """Gaps inside the day take the nearest earlier hour (or the first later one at its start); a day
    with no hour at all takes `carry`, the zone's last stored hour before it; None when nothing is known."""
    known = np.flatnonzero(~np.isnan(values))
    if known.size == 0:
        return None if carry is None else np.full(values.size, carry)
    index = np.maximum.accumulate(np.where(~np.isnan(values), np.arange(values.size), -1))
    filled = np.where(index >= 0, values[np.maximum(index, 0)], values[known[0]])
    return filled.astype(np.float64)


def stored_intensity(session: Session, zones: list[str], start: datetime, hours: int) -> dict[str, ZoneHours]:
    """Hourly intensity of each zone from the stored history.

    Location-based = the hour's direct (operational) intensity. Market-based = direct × (1 − the hour's
    renewable share) where the zone reports one: the renewable part of the supply counted as covered by
    contractual instruments (a proxy; NaN → location-based where no share is known).
    """
    end = start + hours * HOUR
    out: dict[str, ZoneHours] = {}
    for zone in zones:
        direct = np.full(hours, np.nan)
        renewable = np.full(hours, np.nan)
        for row in intensity_repository.hours(session, zone, start, end):
            i = int((row.hour - start) / HOUR)
            direct[i] = row.direct_g_per_kwh
            if row.renewable_pct is not None:
                renewable[i] = row.renewable_pct
        carry = None
        if np.isnan(direct).all():
            previous = intensity_repository.latest_hour(session, zone, start)
            if previous is not None:
                carry = intensity_repository.hours(session, zone, previous, previous + HOUR)[0].direct_g_per_kwh
        location = _filled(direct, carry)
        if location is None:
            continue
        share = _filled(renewable, None)
        market = np.full(hours, np.nan) if share is None else location * (1.0 - np.clip(share, 0.0, 100.0) / 100.0)
        out[zone] = ZoneHours(location, market)
    return out


def compute_days(session: Session, days: list[date], now: datetime) -> dict[str, Any]:
    """Compute and store these days from stored intensity and measured utilisation."""
    results = [compute_day(session, day, now, intensity=stored_intensity) for day in days]
    return {"days": [r["day"] for r in results], "instance_days": sum(r["instances"] for r in results)}
