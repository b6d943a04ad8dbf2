"""Vectorised emissions engine: Cloud Carbon Footprint's method over instances × hours.

Per instance-hour (CCF methodology):

- IT power (W) = vCPU × (min W + utilisation × (max W − min W)) of its microarchitecture,
  plus memory above what the SPECpower watts already include × 0.392 W/GB;
- energy (kWh) = IT energy × provider PUE;
- Scope 2, location-based (g) = energy × the hour's grid intensity of the region's zone;
- Scope 2, market-based (g) = energy × the market intensity when one is given (after the
  provider's contractual renewable / carbon-free energy), else the location-based figure;
- Scope 3 (g) = the instance's share of its server's embodied emissions for one hour;
- Scope 1 (g) = on-site fuel per hour, 0 unless configured.

Utilisation is a fraction 0…1; NaN (no measurement for that hour) means CCF's 50 %.
Everything is numpy broadcasting: a year of hourly rows for a thousand instances is ~9 M cells.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from spectra.carbon.emissions.coefficients import DEFAULT_UTILISATION, MEMORY_KWH_PER_GB_HOUR

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


def _vector(values: ArrayLike, n: int, name: str) -> FloatArray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim == 0:
        return np.full(n, float(array))
    if array.shape != (n,):
        raise ValueError(f"{name} must have one value per instance ({n}), got shape {array.shape}")
    return array


@dataclass(frozen=True)
class InstanceSpecs:
    """Per-instance constants, one entry per instance (arrays of length n)."""

    vcpu: FloatArray
    memory_gib: FloatArray
    min_watts_per_vcpu: FloatArray
    max_watts_per_vcpu: FloatArray
    memory_baseline_gib: FloatArray  # memory inside the SPECpower watts; np.inf = no memory term (burstable)
    pue: FloatArray
    embodied_g_per_hour: FloatArray
    zone_index: IntArray  # row of the intensity matrices this instance draws from
    scope1_g_per_hour: FloatArray  # on-site fuel (Scope 1), usually 0

    @classmethod
    def build(
        cls,
        *,
        vcpu: ArrayLike,
        memory_gib: ArrayLike,
        min_watts_per_vcpu: ArrayLike,
        max_watts_per_vcpu: ArrayLike,
        pue: ArrayLike,
        zone_index: ArrayLike,
        memory_baseline_gib: ArrayLike = np.inf,
        embodied_g_per_hour: ArrayLike = 0.0,
        scope1_g_per_hour: ArrayLike = 0.0,
    ) -> InstanceSpecs:
        vcpus = np.asarray(vcpu, dtype=np.float64).ravel()
        n = vcpus.size
        zones = np.asarray(zone_index, dtype=np.int64)
        zones = np.full(n, int(zones)) if zones.ndim == 0 else zones
        if zones.shape != (n,):
            raise ValueError("zone_index must have one value per instance")
        specs = cls(
            vcpu=vcpus,
            memory_gib=_vector(memory_gib, n, "memory_gib"),
            min_watts_per_vcpu=_vector(min_watts_per_vcpu, n, "min_watts_per_vcpu"),
            max_watts_per_vcpu=_vector(max_watts_per_vcpu, n, "max_watts_per_vcpu"),
            memory_baseline_gib=_vector(memory_baseline_gib, n, "memory_baseline_gib"),
            pue=_vector(pue, n, "pue"),
            embodied_g_per_hour=_vector(embodied_g_per_hour, n, "embodied_g_per_hour"),
            zone_index=zones,
            scope1_g_per_hour=_vector(scope1_g_per_hour, n, "scope1_g_per_hour"),
        )
        specs.validate()
        return specs

    @property
    def count(self) -> int:
        return int(self.vcpu.size)

    def validate(self) -> None:
        if (self.vcpu <= 0).any():
            raise ValueError("vcpu must be positive")
        if (self.memory_gib < 0).any() or (self.pue < 1.0).any():
            raise ValueError("memory_gib must be >= 0 and pue >= 1")
        if (self.max_watts_per_vcpu < self.min_watts_per_vcpu).any() or (self.min_watts_per_vcpu < 0).any():
            raise ValueError("watts must satisfy 0 <= min <= max")
        if (self.zone_index < 0).any():
            raise ValueError("zone_index must be >= 0")

    def subset(self, rows: slice) -> InstanceSpecs:
        return InstanceSpecs(
            vcpu=self.vcpu[rows],
            memory_gib=self.memory_gib[rows],
            min_watts_per_vcpu=self.min_watts_per_vcpu[rows],
            max_watts_per_vcpu=self.max_watts_per_vcpu[rows],
            memory_baseline_gib=self.memory_baseline_gib[rows],
            pue=self.pue[rows],
            embodied_g_per_hour=self.embodied_g_per_hour[rows],
            zone_index=self.zone_index[rows],
            scope1_g_per_hour=self.scope1_g_per_hour[rows],
        )

    def extra_memory_gib(self) -> FloatArray:
        return np.maximum(self.memory_gib - self.memory_baseline_gib, 0.0)


@dataclass(frozen=True)
class HourlyEmissions:
    """Instance × hour matrices (n, T); grams of CO2e, kWh at the facility (PUE included)."""

    kwh: FloatArray
    location_g: FloatArray  # Scope 2, location-based
    market_g: FloatArray  # Scope 2, market-based
    embodied_g: FloatArray  # Scope 3
    scope1_g: FloatArray

    @property
    def total_location_g(self) -> FloatArray:
        return self.location_g + self.embodied_g + self.scope1_g

    @property
    def total_market_g(self) -> FloatArray:
        return self.market_g + self.embodied_g + self.scope1_g


@dataclass(frozen=True)
class EmissionTotals:
    """Sums over a period: per instance (n,) and per hour across the fleet (T,)."""

    instance_hours: FloatArray
    kwh: FloatArray
    location_g: FloatArray
    market_g: FloatArray
    embodied_g: FloatArray
    scope1_g: FloatArray
    hourly_kwh: FloatArray
    hourly_location_g: FloatArray
    hourly_market_g: FloatArray
    hourly_embodied_g: FloatArray

    def scopes_g(self) -> dict[str, float]:
        """GHG Protocol view of the whole fleet over the period (grams)."""
        return {
            "scope1": float(self.scope1_g.sum()),
            "scope2_location": float(self.location_g.sum()),
            "scope2_market": float(self.market_g.sum()),
            "scope3_embodied": float(self.embodied_g.sum()),
        }


def effective_utilisation(utilisation: ArrayLike | None, n: int, hours: int) -> FloatArray:
    """Utilisation as an (n, T) or broadcastable array in 0…1; missing (None/NaN) → CCF's 50 %."""
    if utilisation is None:
        return np.full((1, 1), DEFAULT_UTILISATION)
    u = np.asarray(utilisation, dtype=np.float64)
    if u.ndim == 0:
        u = u.reshape(1, 1)
    elif u.ndim == 1:
        if u.shape[0] != n:
            raise ValueError(f"utilisation vector must have one value per instance ({n})")
        u = u[:, None]
    elif u.shape not in ((n, hours), (n, 1), (1, hours)):
        raise ValueError(f"utilisation matrix must be ({n}, {hours}), got {u.shape}")
    u = np.where(np.isnan(u), DEFAULT_UTILISATION, u)
    if (u < 0).any() or (u > 1.0 + 1e-9).any():
        raise ValueError("utilisation is a fraction between 0 and 1")
    return np.minimum(u, 1.0)


def it_power_watts(specs: InstanceSpecs, utilisation: FloatArray) -> FloatArray:
    """Server-side IT power of each instance (W), before PUE; broadcast against ``utilisation``."""
    span = (specs.max_watts_per_vcpu - specs.min_watts_per_vcpu)[:, None]
    cpu = specs.vcpu[:, None] * (specs.min_watts_per_vcpu[:, None] + utilisation * span)
    memory = (specs.extra_memory_gib() * MEMORY_KWH_PER_GB_HOUR * 1000.0)[:, None]
    return cpu + memory


def _intensity_matrix(intensity: ArrayLike, hours: int | None) -> FloatArray:
    matrix = np.asarray(intensity, dtype=np.float64)
    if matrix.ndim == 1:
        matrix = matrix[None, :]
    if matrix.ndim != 2:
        raise ValueError("intensity must be (zones, hours)")
    if hours is not None and matrix.shape[1] != hours:
        raise ValueError(f"intensity has {matrix.shape[1]} hours, expected {hours}")
    return matrix


def compute_hourly(
    specs: InstanceSpecs,
    location_intensity: ArrayLike,
    *,
    utilisation: ArrayLike | None = None,
    market_intensity: ArrayLike | None = None,
    running: ArrayLike | None = None,
) -> HourlyEmissions:
    """Emissions of every instance for every hour.

    ``location_intensity`` is (zones, T) gCO2e/kWh (a 1-D array is one zone); ``market_intensity``
    has the same shape, NaN where no market figure exists (falls back to location). ``running`` is
    an optional (n, T) boolean mask of the hours each instance ran (default: all).
    """
    location = _intensity_matrix(location_intensity, None)
    hours = location.shape[1]
    if specs.count and int(specs.zone_index.max()) >= location.shape[0]:
        raise ValueError("zone_index points past the intensity rows")
    if np.isnan(location).any():
        raise ValueError("location intensity has missing hours; fill them before computing")
    u = effective_utilisation(utilisation, specs.count, hours)
    kwh = it_power_watts(specs, u) / 1000.0 * specs.pue[:, None]
    kwh = np.broadcast_to(kwh, (specs.count, hours))
    mask: NDArray[np.float64] | None = None
    if running is not None:
        run = np.asarray(running, dtype=bool)
        if run.shape != (specs.count, hours):
            raise ValueError(f"running must be ({specs.count}, {hours})")
        mask = run.astype(np.float64)
        kwh = kwh * mask
    zone_rows = location[specs.zone_index]  # (n, T)
    location_g = kwh * zone_rows
    if market_intensity is None:
        market_g = location_g
    else:
        market = _intensity_matrix(market_intensity, hours)
        if market.shape != location.shape:
            raise ValueError("market intensity must have the same shape as location intensity")
        market_rows = market[specs.zone_index]
        market_g = kwh * np.where(np.isnan(market_rows), zone_rows, market_rows)
    per_hour = np.ones((1, hours)) if mask is None else mask
    embodied = specs.embodied_g_per_hour[:, None] * per_hour
    scope1 = specs.scope1_g_per_hour[:, None] * per_hour
    return HourlyEmissions(
        kwh=np.ascontiguousarray(kwh),
        location_g=location_g,
        market_g=market_g,
        embodied_g=np.broadcast_to(embodied, (specs.count, hours)),
        scope1_g=np.broadcast_to(scope1, (specs.count, hours)),
    )


def _chunks(n: int, size: int) -> Iterator[slice]:
    for start in range(0, n, size):
        yield slice(start, min(start + size, n))


def compute_totals(
    specs: InstanceSpecs,
    location_intensity: ArrayLike,
    *,
    utilisation: ArrayLike | None = None,
    market_intensity: ArrayLike | None = None,
    running: ArrayLike | None = None,
    chunk_size: int = 256,
) -> EmissionTotals:
    """Like :func:`compute_hourly` but summed, in instance chunks so memory stays bounded.

    Same arithmetic, arranged for speed: the energy matrix of a chunk is built once, then each
    zone's instances are reduced with matrix-vector products against that zone's intensity row.
    """
    location = _intensity_matrix(location_intensity, None)
    zones, hours = location.shape
    n = specs.count
    if n and int(specs.zone_index.max()) >= zones:
        raise ValueError("zone_index points past the intensity rows")
    if np.isnan(location).any():
        raise ValueError("location intensity has missing hours; fill them before computing")
    if market_intensity is None:
        market = location
    else:
        market_raw = _intensity_matrix(market_intensity, hours)
        if market_raw.shape != location.shape:
            raise ValueError("market intensity must have the same shape as location intensity")
        market = np.where(np.isnan(market_raw), location, market_raw)
    util = None if utilisation is None else np.asarray(utilisation, dtype=np.float64)
    run = None if running is None else np.asarray(running, dtype=bool)
    if run is not None and run.shape != (n, hours):
        raise ValueError(f"running must be ({n}, {hours})")
    per_instance = {name: np.zeros(n) for name in ("hours", "kwh", "location", "market", "embodied", "scope1")}
    hourly = {name: np.zeros(hours) for name in ("kwh", "location", "market", "embodied")}
    for rows in _chunks(n, max(1, chunk_size)):
        part = specs.subset(rows)
        part_util = util
        if util is not None and util.ndim >= 1 and util.shape[0] == n:
            part_util = util[rows]
        u = effective_utilisation(part_util, part.count, hours)
        kwh = np.broadcast_to(it_power_watts(part, u) * (part.pue / 1000.0)[:, None], (part.count, hours))
        if run is not None:
            mask = run[rows]
            kwh = kwh * mask
            ran = mask.sum(axis=1).astype(np.float64)
            hourly["embodied"] += part.embodied_g_per_hour @ mask
        else:
            ran = np.full(part.count, float(hours))
            hourly["embodied"] += part.embodied_g_per_hour.sum()
        per_instance["hours"][rows] = ran
        per_instance["embodied"][rows] = part.embodied_g_per_hour * ran
        per_instance["scope1"][rows] = part.scope1_g_per_hour * ran
        per_instance["kwh"][rows] = kwh.sum(axis=1)
        location_part = np.zeros(part.count)
        market_part = np.zeros(part.count)
        for zone in np.unique(part.zone_index):
            members = np.flatnonzero(part.zone_index == zone)
            zone_kwh = kwh[members]
            location_part[members] = zone_kwh @ location[zone]
            market_part[members] = zone_kwh @ market[zone]
            zone_hourly_kwh = zone_kwh.sum(axis=0)
            hourly["kwh"] += zone_hourly_kwh
            hourly["location"] += zone_hourly_kwh * location[zone]
            hourly["market"] += zone_hourly_kwh * market[zone]
        per_instance["location"][rows] = location_part
        per_instance["market"][rows] = market_part
    return EmissionTotals(
        instance_hours=per_instance["hours"],
        kwh=per_instance["kwh"],
        location_g=per_instance["location"],
        market_g=per_instance["market"],
        embodied_g=per_instance["embodied"],
        scope1_g=per_instance["scope1"],
        hourly_kwh=hourly["kwh"],
        hourly_location_g=hourly["location"],
        hourly_market_g=hourly["market"],
        hourly_embodied_g=hourly["embodied"],
    )
