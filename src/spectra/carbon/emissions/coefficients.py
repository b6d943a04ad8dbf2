"""Cloud Carbon Footprint (CCF) coefficients used by the emissions engine.

Values are CCF's published constants (cloud-carbon-footprint, Apache-2.0: the methodology page
and the provider constants of its estimation code). Per-vCPU watts come from the SPECpower
database: ``min`` at idle, ``max`` at 100 % utilisation; ``gb_per_chip`` is the memory per
physical chip of the SPECpower servers behind those watts (memory above it is counted apart).
A microarchitecture CCF has no figures for uses the provider average, as CCF does; a newer
coefficients file (the ccf-coefficients ``coefficients-<provider>-use.csv`` format) can be loaded
at run time with :func:`load_use_coefficients` to cover more microarchitectures.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from spectra.fleet.reference import PROVIDER_PUE

# Power usage effectiveness per provider (CCF methodology, "cloud provider PUEs being used"); the
# region table in fleet carries the same figures, so both read one source.
PUE_BY_PROVIDER: dict[str, float] = dict(PROVIDER_PUE)

MEMORY_KWH_PER_GB_HOUR = 0.000392  # average of Crucial and Micron DDR4 figures (0.392 W/GB)
DEFAULT_UTILISATION = 0.5  # CCF's average vCPU utilisation for hyperscale data centres

# Embodied emissions (CCF, after Teads and the Dell R740 life-cycle assessment).
SERVER_BASE_EMBODIED_KG = 1000.0  # mono-socket rack server, low DRAM, no local storage
DRAM_THRESHOLD_GB = 16.0  # memory already inside the base figure
DRAM_EMBODIED_KG_PER_GB = 533.0 / 384.0  # 533 kgCO2e for 12 × 32 GB DIMMs
EXTRA_CPU_EMBODIED_KG = 100.0  # each socket beyond the first
HDD_EMBODIED_KG = 50.0
SSD_EMBODIED_KG = 100.0
GPU_EMBODIED_KG = 150.0
SERVER_LIFESPAN_HOURS = 4 * 8760.0  # four years


@dataclass(frozen=True)
class MicroarchCoefficients:
    min_watts: float  # per vCPU at 0 % utilisation
    max_watts: float  # per vCPU at 100 % utilisation
    gb_per_chip: float  # SPECpower memory per physical chip (GB)


# CCF per-microarchitecture constants (identical for AWS, GCP and Azure where CCF lists them).
MICROARCHITECTURES: dict[str, MicroarchCoefficients] = {
    "Cascade Lake": MicroarchCoefficients(0.64, 3.97, 98.12),
    "Skylake": MicroarchCoefficients(0.65, 4.26, 81.32),
    "Broadwell": MicroarchCoefficients(0.71, 3.69, 69.65),
    "Haswell": MicroarchCoefficients(1.00, 4.74, 27.71),
    "Coffee Lake": MicroarchCoefficients(1.14, 5.42, 19.56),
    "Sandy Bridge": MicroarchCoefficients(2.17, 8.58, 16.7),
    "Ivy Bridge": MicroarchCoefficients(3.04, 8.25, 9.67),
    "EPYC 1st Gen": MicroarchCoefficients(0.82, 2.55, 89.6),
    "EPYC 2nd Gen": MicroarchCoefficients(0.47, 1.69, 129.78),
    "Graviton2": MicroarchCoefficients(0.47, 1.69, 129.78),
}

# What CCF uses when the microarchitecture is unknown or has no SPECpower figures.
PROVIDER_AVERAGE: dict[str, MicroarchCoefficients] = {
    "aws": MicroarchCoefficients(0.74, 3.5, 80.69),
    "gcp": MicroarchCoefficients(0.71, 4.26, 80.69),  # GCP uses medians
    "azure": MicroarchCoefficients(0.78, 3.76, 80.69),
}


def pue_for(provider: str) -> float:
    try:
        return PUE_BY_PROVIDER[provider.lower()]
    except KeyError as exc:
        raise ValueError(f"unknown provider {provider!r}; expected one of {sorted(PUE_BY_PROVIDER)}") from exc


def coefficients_for(
    microarch: str | None,
    provider: str = "aws",
    table: Mapping[str, MicroarchCoefficients] | None = None,
) -> MicroarchCoefficients:
    """Coefficients of a microarchitecture, or the provider average when it is unknown."""
    source = MICROARCHITECTURES if table is None else table
    if microarch and microarch in source:
        return source[microarch]
    return PROVIDER_AVERAGE.get(provider.lower(), PROVIDER_AVERAGE["aws"])


def platform_embodied_kg(
    platform_memory_gb: float,
    platform_cpus: int = 1,
    hdd_count: int = 0,
    ssd_count: int = 0,
    gpu_count: int = 0,
) -> float:
    """CCF total embodied emissions (kgCO2e) of the whole server an instance family runs on."""
    extra_memory = max(0.0, platform_memory_gb - DRAM_THRESHOLD_GB) * DRAM_EMBODIED_KG_PER_GB
    return (
        SERVER_BASE_EMBODIED_KG
        + extra_memory
        + max(0, platform_cpus - 1) * EXTRA_CPU_EMBODIED_KG
        + hdd_count * HDD_EMBODIED_KG
        + ssd_count * SSD_EMBODIED_KG
        + gpu_count * GPU_EMBODIED_KG
    )


def embodied_g_per_instance_hour(platform_kg: float, vcpu: float, platform_vcpu: float) -> float:
    """SCI share M = TE × (1 h / lifespan) × (vCPUs reserved / platform vCPUs), in grams."""
    if platform_vcpu <= 0:
        raise ValueError("platform_vcpu must be positive")
    return platform_kg * 1000.0 / SERVER_LIFESPAN_HOURS * min(vcpu / platform_vcpu, 1.0)


def memory_baseline_gb(vcpu: float, microarch_gb_per_chip: float, platform_vcpu: float, platform_cpus: int) -> float:
    """Memory an instance gets "for free" inside the SPECpower watts: its vCPU share of the chips' GB."""
    if platform_vcpu <= 0:
        raise ValueError("platform_vcpu must be positive")
    return microarch_gb_per_chip * platform_cpus * vcpu / platform_vcpu


def load_use_coefficients(data: str | bytes | Path) -> dict[str, MicroarchCoefficients]:
    """Read a ccf-coefficients ``coefficients-<provider>-use.csv`` (``,Architecture,Min Watts,Max Watts,GB/Chip``).

    Returns the built-in table updated with the file's rows, so microarchitectures missing from
    the file keep CCF's published values.
    """
    if isinstance(data, Path):
        text = data.read_text(encoding="utf-8-sig")
    elif isinstance(data, bytes):
        text = data.decode("utf-8-sig")
    else:
        text = data
    reader = csv.DictReader(io.StringIO(text, newline=""))
    needed = {"Architecture", "Min Watts", "Max Watts", "GB/Chip"}
    if reader.fieldnames is None or not needed <= {f.strip() for f in reader.fieldnames}:
        raise ValueError(f"coefficients file needs columns {sorted(needed)}")
    table = dict(MICROARCHITECTURES)
    for line, row in enumerate(reader, start=2):
        clean = {k.strip(): (v or "").strip() for k, v in row.items() if k is not None}
        try:
            table[clean["Architecture"]] = MicroarchCoefficients(
                float(clean["Min Watts"]), float(clean["Max Watts"]), float(clean["GB/Chip"])
            )
        except ValueError as exc:
            raise ValueError(f"line {line}: {exc}") from exc
    return table


class TypeFacts(Protocol):
    """What the coefficients need to know about an instance type (fleet's catalogue views fit)."""

    @property
    def vcpu(self) -> int: ...

    @property
    def memory_gib(self) -> float: ...

    @property
    def microarch(self) -> str | None: ...

    @property
    def burstable(self) -> bool: ...

    @property
    def gpus(self) -> int: ...

    @property
    def storage_drives(self) -> int: ...

    @property
    def storage_kind(self) -> str | None: ...

    @property
    def platform_vcpu(self) -> int | None: ...

    @property
    def platform_memory_gib(self) -> float | None: ...

    @property
    def platform_sockets(self) -> int | None: ...


@dataclass(frozen=True)
class InstanceCoefficients:
    """Per-instance CCF figures: the engine's inputs for one instance type on one provider."""

    min_watts_per_vcpu: float
    max_watts_per_vcpu: float
    memory_baseline_gib: float  # math.inf for burstable types (CCF counts no extra memory for them)
    embodied_g_per_hour: float
    microarch_known: bool


def instance_coefficients(
    facts: TypeFacts, provider: str = "aws", table: Mapping[str, MicroarchCoefficients] | None = None
) -> InstanceCoefficients:
    """CCF watts, memory baseline and embodied share of an instance type.

    Without a known platform the instance is taken as a whole one-socket server of its own size.
    """
    source = MICROARCHITECTURES if table is None else table
    coef = coefficients_for(facts.microarch, provider, source)
    platform_vcpu = facts.platform_vcpu or facts.vcpu
    platform_memory = facts.platform_memory_gib or facts.memory_gib
    sockets = facts.platform_sockets or 1
    share = facts.vcpu / platform_vcpu
    # Local drives and GPUs are per instance in the catalogue; scale them up to the platform.
    drives = round(facts.storage_drives / share) if facts.storage_drives else 0
    is_hdd = (facts.storage_kind or "").upper() == "HDD"
    platform_kg = platform_embodied_kg(
        platform_memory,
        sockets,
        hdd_count=drives if is_hdd else 0,
        ssd_count=0 if is_hdd else drives,
        gpu_count=round(facts.gpus / share) if facts.gpus else 0,
    )
    return InstanceCoefficients(
        min_watts_per_vcpu=coef.min_watts,
        max_watts_per_vcpu=coef.max_watts,
        memory_baseline_gib=math.inf
        if facts.burstable
        else memory_baseline_gb(facts.vcpu, coef.gb_per_chip, platform_vcpu, sockets),
        embodied_g_per_hour=embodied_g_per_instance_hour(platform_kg, facts.vcpu, platform_vcpu),
        microarch_known=bool(facts.microarch and facts.microarch in source),
    )


def it_power_w(facts: TypeFacts, coefficients: InstanceCoefficients, utilisation: float = DEFAULT_UTILISATION) -> float:
    """IT power (W, before PUE) of one instance at a CPU utilisation (0…1)."""
    cpu = facts.vcpu * (
        coefficients.min_watts_per_vcpu
        + utilisation * (coefficients.max_watts_per_vcpu - coefficients.min_watts_per_vcpu)
    )
    extra_memory = max(0.0, facts.memory_gib - coefficients.memory_baseline_gib)
    return cpu + extra_memory * MEMORY_KWH_PER_GB_HOUR * 1000.0
