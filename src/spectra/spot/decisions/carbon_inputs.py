"""The carbon side of a decision, filled when the client's policy sets a carbon price: what one instance of each
candidate pool's type draws from the grid, and its region's carbon intensity over the decision horizon. Part of the
decision service: it reads the carbon and fleet domains through their services only and never commits.

Power (W from the grid = IT power × PUE): the carbon domain's Cloud Carbon Footprint model
(`emissions.service.estimate_hourly`: min/max watts per vCPU of the type's microarchitecture at the client's default
utilisation, memory above the SPECpower baseline, the region's PUE). A power the caller states (`power_watts` on
POST …/decide, or the one stored with the instance) is the IT power of the instance's own type: it is multiplied by
the region's PUE, and other types are scaled by the same stated-to-model ratio.

Intensity (gCO2e/kWh): the mean of the region's grid zone over [now, now + amortisation_hours) — the hours a move is
paid back over — from the carbon intensity service's outlook (stored hours, then its forecast from them). One
outlook per region and window per `CarbonLookups`, which lives for one decision or one engine sweep.

Missing data never blocks a decision: the carbon term is 0 where it is unknown and the reason says why
("no intensity for <zone>", "no grid zone for region <region>", "no power model for <type>").
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from spectra.carbon.emissions import service as emissions_service
from spectra.carbon.intensity import service as intensity_service
from spectra.core.errors import SpectraError
from spectra.fleet.catalog import service as catalog_service
from spectra.fleet.settings import service as settings_service
from spectra.spot.decisions.engine import ClientPolicy, PoolCandidate

PROVIDER = "aws"  # spot pools are EC2 pools


@dataclass(frozen=True)
class RegionIntensity:
    region: str
    zone: str | None
    intensity_g_per_kwh: float | None
    method: str | None  # "stored", the forecast method, or "stored+<method>"
    hours: int
    note: str | None  # why there is no figure

    def view(self) -> dict[str, Any]:
        return {
            "region": self.region,
            "zone": self.zone,
            "intensity_g_per_kwh": round(self.intensity_g_per_kwh, 3) if self.intensity_g_per_kwh is not None else None,
            "method": self.method,
            "hours": self.hours,
        }


class CarbonLookups:
    """Look-ups shared by the decisions of one request or one engine sweep (all made at the same instant): one
    intensity outlook per region and window, one power figure per type, region and utilisation."""

    def __init__(self) -> None:
        self._intensity: dict[tuple[str, datetime, datetime, datetime], RegionIntensity] = {}
        self._power: dict[tuple[str, str, float], float | None] = {}
        self._pue: dict[str, float] = {}
        self.outlook_calls = 0

    def intensity(
        self, session: Session, region: str, start: datetime, end: datetime, now: datetime
    ) -> RegionIntensity:
        key = (region, start, end, now)
        if key not in self._intensity:
            self._intensity[key] = self._region_intensity(session, region, start, end, now)
        return self._intensity[key]

    def _region_intensity(
        self, session: Session, region: str, start: datetime, end: datetime, now: datetime
    ) -> RegionIntensity:
        view = catalog_service.find_region(session, region)
        zone = view.zone if view is not None else None
        if zone is None:
            return RegionIntensity(region, None, None, None, 0, f"no grid zone for region {region}")
        self.outlook_calls += 1
        try:
            outlook = intensity_service.outlook(session, zone, start, end, now)
        except SpectraError as exc:  # e.g. too little stored history to forecast from
            return RegionIntensity(region, zone, None, None, 0, f"no intensity for {zone} ({exc.detail})")
        if outlook is None:
            return RegionIntensity(region, zone, None, None, 0, f"no intensity for {zone}")
        return RegionIntensity(region, zone, outlook.mean, outlook.method, outlook.hours, None)

    def power_watts(self, session: Session, instance_type: str, region: str, utilisation: float) -> float | None:
        key = (instance_type, region, utilisation)
        if key not in self._power:
            # Intensity 0: only the energy of the instance-hour is wanted (kWh, PUE included).
            estimate = emissions_service.estimate_hourly(session, instance_type, PROVIDER, region, 0.0, utilisation)
            self._power[key] = estimate[0] * 1000.0 if estimate is not None else None
        return self._power[key]

    def pue(self, session: Session, region: str) -> float:
        if region not in self._pue:
            view = catalog_service.find_region(session, region)
            self._pue[region] = view.pue if view is not None else 1.0
        return self._pue[region]


@dataclass(frozen=True)
class CarbonInputs:
    candidates: list[PoolCandidate]
    instance_power_watts: float
    on_demand_intensity_g_per_kwh: float | None
    notes: list[str]
    view: dict[str, Any]  # logged with the decision and shown in its answer


def fill(
    session: Session,
    lookups: CarbonLookups,
    *,
    client_id: str,
    region: str,
    instance_type: str,
    candidates: list[PoolCandidate],
    policy: ClientPolicy,
    now: datetime,
    stated_power_watts: float | None,
) -> CarbonInputs:
    """Candidates with their power and their region's intensity over the decision horizon."""
    started = time.perf_counter()
    utilisation = float(settings_service.client_value(session, client_id, "default_utilisation"))
    horizon = max(policy.amortisation_hours, 1.0)
    start, end = now, now + timedelta(hours=horizon)
    notes: list[str] = []

    regions: dict[str, RegionIntensity] = {}
    for code in sorted({region, *(c.region or region for c in candidates)}):
        regions[code] = lookups.intensity(session, code, start, end, now)
        if regions[code].note:
            notes.append(regions[code].note or "")

    model_own = lookups.power_watts(session, instance_type, region, utilisation)
    stated = stated_power_watts if stated_power_watts else None
    own = stated * lookups.pue(session, region) if stated is not None else model_own
    scale = own / model_own if stated is not None and own is not None and model_own else 1.0
    power_by_type: dict[str, float | None] = {instance_type: own}

    filled: list[PoolCandidate] = []
    if own is None:
        # Without the instance's own power no pool can be compared on carbon: the term is 0 for all of them.
        notes.append(f"no power model for {instance_type}")
        filled = [replace(c, power_watts=0.0) for c in candidates]
    else:
        for candidate in candidates:
            kind = candidate.instance_type or instance_type
            where = candidate.region or region
            power: float | None
            if kind == instance_type and where == region:
                power = own
            elif kind == instance_type and stated is not None:
                power = stated * lookups.pue(session, where)
            else:
                model = lookups.power_watts(session, kind, where, utilisation)
                power = model * scale if model is not None else None
                power_by_type.setdefault(kind, power)
            if power is None:
                # Unknown power would price this pool's emissions at 0 and favour it unfairly: leave it out.
                if f"no power model for {kind}: its pools are left out" not in notes:
                    notes.append(f"no power model for {kind}: its pools are left out")
                continue
            filled.append(
                replace(candidate, power_watts=power, carbon_intensity_g_per_kwh=regions[where].intensity_g_per_kwh)
            )

    view = {
        "price_usd_per_tonne": policy.carbon_price_usd_per_tonne,
        "horizon_hours": horizon,
        "window_start": start.isoformat(),
        "window_end": end.isoformat(),
        "utilisation": utilisation,
        "power_source": "stated" if stated is not None else "ccf_model",
        "power_watts": {k: round(v, 3) if v is not None else None for k, v in sorted(power_by_type.items())},
        "regions": [r.view() for r in regions.values()],
        "notes": notes,
        "lookup_ms": round((time.perf_counter() - started) * 1000.0, 3),
    }
    return CarbonInputs(
        candidates=filled,
        instance_power_watts=own or 0.0,
        on_demand_intensity_g_per_kwh=regions[region].intensity_g_per_kwh if own is not None else None,
        notes=notes,
        view=view,
    )
