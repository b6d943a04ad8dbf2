"""The platform's `Inputs`: the optimisation features' view of fleet, capacity, intensity and emissions,
through those domains' services only."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from spectra.capacity import service as capacity_service
from spectra.carbon.emissions import coefficients
from spectra.carbon.emissions import service as emissions_service
from spectra.carbon.intensity import service as intensity_service
from spectra.carbon.optimizer.inputs import InstanceInfo, IntensityOutlook, RegionInfo, Series
from spectra.carbon.rightsizing.engine import TypeSpec, Utilisation
from spectra.core.clock import clock
from spectra.core.errors import NotFound, SpectraError
from spectra.fleet.instances import service as instances_service
from spectra.fleet.instances.models import Instance
from spectra.fleet.instances.schemas import InstanceSync
from spectra.fleet.reference import INSTANCE_TYPES, INSTANCE_TYPES_BY_NAME, REGIONS
from spectra.fleet.settings import service as settings_service

EXECUTABLE_SOURCES = {"aws", "simulated"}
DAY = timedelta(days=1)
HOUR = timedelta(hours=1)
CPU_STEP = timedelta(minutes=5)  # the capacity domain's collection interval


def _info(instance: Instance) -> InstanceInfo:
    return InstanceInfo(
        id=instance.id,
        client_id=instance.client_id,
        team_id=instance.team_id,
        provider=instance.provider,
        region=instance.region,
        instance_type=instance.instance_type,
        state=instance.state,
        # Who carries out a change: the simulated cloud, the AWS spot agent, or nobody (manual records).
        cloud=instance.source if instance.source in EXECUTABLE_SOURCES else "manual",
        flexible=instance.flexible,
        users_region=instance.users_region,
        provider_id=instance.provider_id,
    )


def _report(session: Session, instance_id: str, **changes: str) -> None:
    """The simulated cloud reports the instance's new placement, type or state through the inventory path."""
    instance = instances_service.get_instance(session, instance_id)
    current = {
        "provider": instance.provider,
        "source": instance.source,
        "provider_id": instance.provider_id,
        "name": instance.name,
        "region": instance.region,
        "zone": instance.zone,
        "instance_type": instance.instance_type,
        "lifecycle": instance.lifecycle,
        "state": instance.state,
        "launched_at": instance.launched_at,
    }
    if "region" in changes:
        current["zone"] = None  # the old availability zone does not exist in the new region
    instances_service.upsert_instance(session, instance.client_id, InstanceSync(**{**current, **changes}))


def _daily(first: date, values: dict[date, float], last: date) -> Series:
    days = (last - first).days + 1
    series = np.full(max(0, days), np.nan)
    for day, value in values.items():
        index = (day - first).days
        if 0 <= index < days:
            series[index] = value
    return Series(datetime.combine(first, datetime.min.time(), tzinfo=UTC), 24.0, series)


class FleetInputs:
    """The parts that come from the fleet (instances, bills, settings) and stored emissions."""

    def instance(self, session: Session, instance_id: str) -> InstanceInfo | None:
        try:
            return _info(instances_service.get_instance(session, instance_id))
        except NotFound:  # the caller decides what a missing instance means (usually a 404 of its own)
            return None

    def instances(self, session: Session, client_id: str | None) -> list[InstanceInfo]:
        rows, _ = instances_service.list_instances(session, client_id, limit=1_000_000)
        return [_info(r) for r in rows]

    def move_instance(self, session: Session, instance_id: str, region: str) -> None:
        _report(session, instance_id, region=region)

    def resize_instance(self, session: Session, instance_id: str, instance_type: str) -> None:
        _report(session, instance_id, instance_type=instance_type)

    def stop_instance(self, session: Session, instance_id: str) -> None:
        instances_service.set_state(session, instance_id, "stopped")

    def replace_instance(
        self, session: Session, instance_id: str, provider_id: str, region: str, zone: str | None, instance_type: str
    ) -> str:
        """The replacement is recorded as the cloud shows it: a new instance carrying the old one's workload
        metadata, and the old one terminated (so an inventory sync finds both as they are)."""
        old = instances_service.get_instance(session, instance_id)
        new, _ = instances_service.upsert_instance(
            session,
            old.client_id,
            InstanceSync(
                provider=old.provider, source=old.source, provider_id=provider_id, name=old.name, region=region,
                zone=zone, instance_type=instance_type, lifecycle=old.lifecycle, state="running",
                launched_at=clock.now(), tags=old.tags or {}, flexible=old.flexible,
                latency_sensitive=old.latency_sensitive, users_region=old.users_region,
            ),
        )  # fmt: skip
        if new.team_id is None and old.team_id is not None:
            new.team_id = old.team_id
            session.flush()
        if new.id != old.id:
            instances_service.set_state(session, old.id, "terminated")
        return new.id

    def cost_series(self, session: Session, instance_id: str, start: datetime, end: datetime) -> Series:
        """Billed USD per complete UTC day (days without a bill are NaN)."""
        first, last = start.date(), (end - DAY).date()
        bills = instances_service.billed_costs(session, [instance_id], first, last)
        return _daily(first, {day: cost for (_, day), cost in bills.items()}, last)

    def emission_series(self, session: Session, instance_id: str, start: datetime, end: datetime) -> Series:
        """Stored gCO2e per complete UTC day (location-based operational + embodied)."""
        first, last = start.date(), (end - DAY).date()
        rows = emissions_service.instance_days(session, instance_id, first, last)
        return _daily(first, {r.day: r.co2e_location_g + r.embodied_g for r in rows}, last)

    def cloudflare_token(self, session: Session) -> str | None:
        return settings_service.secret(session, "cloudflare_api_token")


def _ccf(type_name: str) -> tuple[coefficients.MicroarchCoefficients, float, float] | None:
    """CCF coefficients of a reference type, the memory inside its SPECpower watts (GiB; infinite for
    burstable types, which CCF gives no memory term) and its embodied gCO2e per instance-hour."""
    ref = INSTANCE_TYPES_BY_NAME.get(type_name)
    if ref is None:
        return None
    coeff = coefficients.coefficients_for(ref.microarch, "aws")
    platform = ref.platform
    baseline = (
        math.inf
        if ref.burstable
        else coefficients.memory_baseline_gb(ref.vcpu, coeff.gb_per_chip, platform.vcpu, platform.sockets)
    )
    platform_kg = coefficients.platform_embodied_kg(
        platform.memory_gib, platform.sockets, ssd_count=platform.ssd_drives, gpu_count=platform.gpus
    )
    return coeff, baseline, coefficients.embodied_g_per_instance_hour(platform_kg, ref.vcpu, platform.vcpu)


def _floor_hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


class PlatformInputs(FleetInputs):
    """Regions and instance types (fleet reference tables), intensity (stored actuals + forecast), the CCF
    power model (emissions coefficients) and measured utilisation (capacity)."""

    def __init__(self) -> None:
        self._forecasts: dict[tuple[str, datetime], dict[str, Any] | None] = {}

    def regions(self, session: Session) -> list[RegionInfo]:
        return [
            RegionInfo(r.code, r.name, r.provider, r.country, r.latitude, r.longitude, r.zone, r.pue) for r in REGIONS
        ]

    def intensity(self, session: Session, zone: str, start: datetime, end: datetime) -> IntensityOutlook | None:
        """Mean over [start, end): stored hours up to now, the forecast made now for the rest."""
        now = clock.now()
        first_future = _floor_hour(now)
        total = 0.0
        counted = 0
        spread: list[float] = []
        methods: list[str] = []
        if start < first_future:
            past = intensity_service.history(session, zone, start, min(end, first_future)).values
            finite = past[np.isfinite(past)]
            if finite.size:
                total += float(finite.sum())
                counted += int(finite.size)
                methods.append(f"{finite.size} stored hours")
        if end > first_future:
            hours = math.ceil((end - first_future) / HOUR)
            forecast = self._forecast(session, zone, min(hours, 336), now)
            if forecast is not None:
                begin = max(start, first_future)
                points = [p for p in forecast["points"] if begin <= p["hour"] < end]
                total += sum(p["mean_g_per_kwh"] for p in points)
                counted += len(points)
                spread += [p["std_g_per_kwh"] for p in points]
                methods.append(f"{len(points)} forecast hours ({forecast['method']})")
        if counted == 0:
            return None
        std = float(np.sqrt(np.mean(np.square(spread)))) if spread else None
        return IntensityOutlook(total / counted, std, " + ".join(methods), counted)

    def _forecast(self, session: Session, zone: str, hours: int, now: datetime) -> dict[str, Any] | None:
        """The zone's forecast made at ``now``, computed once per zone and hour for this object's lifetime: a
        ranking asks for every region, and an automation run ranks each flexible instance against all of them."""
        key = (zone, _floor_hour(now))
        if key in self._forecasts:
            cached = self._forecasts[key]
            if cached is None or len(cached["points"]) >= hours:
                return cached
        try:
            forecast: dict[str, Any] | None = intensity_service.forecast_zone(session, zone, hours, now)
        except SpectraError:
            forecast = None
        self._forecasts[key] = forecast
        return forecast

    def instance_type(self, session: Session, name: str, region: str | None) -> TypeSpec | None:
        ref = INSTANCE_TYPES_BY_NAME.get(name)
        if ref is None:
            return None
        price = ref.price_usd_per_hour if region is None else ref.price_in(region)
        return TypeSpec(ref.name, ref.vcpu, ref.memory_gib, ref.arch, price, ref.burstable)

    def catalog(self, session: Session, region: str | None) -> list[TypeSpec]:
        out = [self.instance_type(session, ref.name, region) for ref in INSTANCE_TYPES]
        return [t for t in out if t is not None and t.price_usd_per_hour is not None]

    def power_w(self, spec: TypeSpec, utilisation: float) -> float:
        """CCF: vCPU × (min W + u × (max W − min W)) + memory above the SPECpower baseline × 0.392 W/GB."""
        ccf = _ccf(spec.name)
        if ccf is None:
            average = coefficients.coefficients_for(None, "aws")
            return spec.vcpu * (average.min_watts + utilisation * (average.max_watts - average.min_watts))
        coeff, baseline, _ = ccf
        cpu = spec.vcpu * (coeff.min_watts + utilisation * (coeff.max_watts - coeff.min_watts))
        return cpu + max(0.0, spec.memory_gib - baseline) * coefficients.MEMORY_KWH_PER_GB_HOUR * 1000.0

    def embodied_g_per_hour(self, spec: TypeSpec) -> float:
        ccf = _ccf(spec.name)
        return ccf[2] if ccf is not None else 0.0

    def _samples(
        self, session: Session, instance_id: str, metric: str, start: datetime, end: datetime
    ) -> list[tuple[datetime, float]]:
        instance = self.instance(session, instance_id)
        if instance is None or instance.provider_id is None:
            return []
        return capacity_service.utilisation(session, instance.client_id, instance.provider_id, metric, start, end)

    def utilisation(self, session: Session, instance_id: str, start: datetime, end: datetime) -> Utilisation:
        cpu = np.array([v for _, v in self._samples(session, instance_id, "cpu", start, end)], dtype=float)
        memory = np.array([v for _, v in self._samples(session, instance_id, "memory", start, end)], dtype=float)
        hours = (end - start) / HOUR
        if cpu.size == 0:
            return Utilisation(0.0, None, None, samples=0, window_hours=hours)
        return Utilisation(
            cpu_p95=float(np.percentile(cpu, 95)),
            memory_p95=float(np.percentile(memory, 95)) if memory.size else None,
            cpu_mean=float(cpu.mean()),
            samples=int(cpu.size),
            window_hours=hours,
        )

    def cpu_series(self, session: Session, instance_id: str, start: datetime, end: datetime) -> Series:
        """CPU % on a 5-minute grid from `start` (bucket means; NaN where nothing was collected)."""
        length = max(0, int((end - start) / CPU_STEP))
        sums, counts = np.zeros(length), np.zeros(length)
        for ts, value in self._samples(session, instance_id, "cpu", start, end):
            index = int((ts - start) / CPU_STEP)
            if 0 <= index < length:
                sums[index] += value
                counts[index] += 1
        with np.errstate(invalid="ignore", divide="ignore"):
            values = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
        return Series(start, CPU_STEP / HOUR, values)
