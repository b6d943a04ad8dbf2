"""Reference facts about cloud regions and instance types (small tables compiled from public facts).

Regions: provider region code, display name, data-centre metro coordinates (approximate, city
level), ISO country, the Electricity Maps zone whose grid supplies it, and the provider PUE that
Cloud Carbon Footprint uses (AWS 1.135, GCP 1.1, Azure 1.185). AWS regions carry an on-demand
price multiplier relative to us-east-1 (the ratio of their Linux m5.large list price to
us-east-1's, rounded), so a price can be estimated where no per-region price was imported.

Instance types: the common AWS general-purpose, compute, memory and burstable families with
vCPU, memory (GiB), CPU microarchitecture and us-east-1 Linux on-demand list price (USD/h). Each
family also names the platform it runs on (the largest size / metal: vCPUs, memory, sockets),
which the embodied-emissions share and CCF's memory baseline need. Burstable families use the
platform of their closest fixed-performance family, as CCF does. A full catalogue with prices is
loaded with ``spectra import instance-types FILE`` (an ec2instances.info export).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

PROVIDER_PUE: dict[str, float] = {"aws": 1.135, "gcp": 1.1, "azure": 1.185}


@dataclass(frozen=True)
class RegionRef:
    code: str
    name: str
    provider: str  # aws | gcp | azure
    latitude: float
    longitude: float
    country: str  # ISO 3166-1 alpha-2
    zone: str  # Electricity Maps zone id
    price_multiplier: float | None = None  # on-demand price relative to us-east-1 (AWS only)

    @property
    def pue(self) -> float:
        return PROVIDER_PUE[self.provider]


def _aws(code: str, name: str, lat: float, lon: float, country: str, zone: str, mult: float) -> RegionRef:
    return RegionRef(code, name, "aws", lat, lon, country, zone, mult)


def _gcp(code: str, name: str, lat: float, lon: float, country: str, zone: str) -> RegionRef:
    return RegionRef(code, name, "gcp", lat, lon, country, zone)


def _azure(code: str, name: str, lat: float, lon: float, country: str, zone: str) -> RegionRef:
    return RegionRef(code, name, "azure", lat, lon, country, zone)


REGIONS: tuple[RegionRef, ...] = (
    _aws("us-east-1", "US East (N. Virginia)", 38.95, -77.45, "US", "US-MIDA-PJM", 1.0),
    _aws("us-east-2", "US East (Ohio)", 39.96, -83.00, "US", "US-MIDA-PJM", 1.0),
    _aws("us-west-1", "US West (N. California)", 37.35, -121.96, "US", "US-CAL-CISO", 1.167),
    _aws("us-west-2", "US West (Oregon)", 45.84, -119.70, "US", "US-NW-BPAT", 1.0),
    _aws("ca-central-1", "Canada (Central)", 45.50, -73.57, "CA", "CA-QC", 1.115),
    _aws("eu-west-1", "Europe (Ireland)", 53.35, -6.26, "IE", "IE", 1.115),
    _aws("eu-west-2", "Europe (London)", 51.51, -0.13, "GB", "GB", 1.156),
    _aws("eu-west-3", "Europe (Paris)", 48.86, 2.35, "FR", "FR", 1.167),
    _aws("eu-central-1", "Europe (Frankfurt)", 50.11, 8.68, "DE", "DE", 1.198),
    _aws("eu-north-1", "Europe (Stockholm)", 59.33, 18.07, "SE", "SE-SE3", 1.063),
    _aws("eu-south-1", "Europe (Milan)", 45.46, 9.19, "IT", "IT-NO", 1.167),
    _aws("eu-south-2", "Europe (Spain)", 41.65, -0.88, "ES", "ES", 1.115),
    _aws("ap-south-1", "Asia Pacific (Mumbai)", 19.08, 72.88, "IN", "IN-WE", 1.052),
    _aws("ap-northeast-1", "Asia Pacific (Tokyo)", 35.68, 139.69, "JP", "JP-TK", 1.292),
    _aws("ap-northeast-2", "Asia Pacific (Seoul)", 37.57, 126.98, "KR", "KR", 1.229),
    _aws("ap-southeast-1", "Asia Pacific (Singapore)", 1.35, 103.82, "SG", "SG", 1.25),
    _aws("ap-southeast-2", "Asia Pacific (Sydney)", -33.87, 151.21, "AU", "AU-NSW", 1.25),
    _aws("sa-east-1", "South America (São Paulo)", -23.55, -46.63, "BR", "BR", 1.594),
    _gcp("us-central1", "Iowa", 41.26, -95.86, "US", "US-MIDW-MISO"),
    _gcp("us-east1", "South Carolina", 33.20, -80.01, "US", "US-CAR-SCEG"),
    _gcp("us-east4", "Northern Virginia", 39.04, -77.49, "US", "US-MIDA-PJM"),
    _gcp("us-west1", "Oregon", 45.60, -121.18, "US", "US-NW-BPAT"),
    _gcp("us-west2", "Los Angeles", 34.05, -118.24, "US", "US-CAL-LDWP"),
    _gcp("europe-west1", "Belgium", 50.47, 3.82, "BE", "BE"),
    _gcp("europe-west2", "London", 51.51, -0.13, "GB", "GB"),
    _gcp("europe-west3", "Frankfurt", 50.11, 8.68, "DE", "DE"),
    _gcp("europe-west4", "Netherlands", 53.44, 6.83, "NL", "NL"),
    _gcp("europe-west9", "Paris", 48.86, 2.35, "FR", "FR"),
    _gcp("europe-north1", "Finland", 60.57, 27.19, "FI", "FI"),
    _gcp("europe-southwest1", "Madrid", 40.42, -3.70, "ES", "ES"),
    _gcp("asia-northeast1", "Tokyo", 35.68, 139.69, "JP", "JP-TK"),
    _gcp("southamerica-east1", "São Paulo", -23.55, -46.63, "BR", "BR"),
    _azure("eastus", "East US (Virginia)", 37.37, -79.82, "US", "US-MIDA-PJM"),
    _azure("westus", "West US (California)", 37.78, -122.42, "US", "US-CAL-CISO"),
    _azure("westus2", "West US 2 (Washington)", 47.23, -119.85, "US", "US-NW-GCPD"),
    _azure("centralus", "Central US (Iowa)", 41.59, -93.60, "US", "US-MIDW-MISO"),
    _azure("northeurope", "North Europe (Ireland)", 53.35, -6.26, "IE", "IE"),
    _azure("westeurope", "West Europe (Netherlands)", 52.37, 4.90, "NL", "NL"),
    _azure("uksouth", "UK South (London)", 51.51, -0.13, "GB", "GB"),
    _azure("francecentral", "France Central (Paris)", 48.86, 2.35, "FR", "FR"),
    _azure("germanywestcentral", "Germany West Central (Frankfurt)", 50.11, 8.68, "DE", "DE"),
    _azure("swedencentral", "Sweden Central (Gävle)", 60.67, 17.14, "SE", "SE-SE3"),
    _azure("spaincentral", "Spain Central (Madrid)", 40.42, -3.70, "ES", "ES"),
    _azure("brazilsouth", "Brazil South (São Paulo)", -23.55, -46.63, "BR", "BR"),
)

REGIONS_BY_CODE: dict[str, RegionRef] = {r.code: r for r in REGIONS}


@dataclass(frozen=True)
class Platform:
    """The physical server an instance family runs on (its largest size / metal)."""

    vcpu: int
    memory_gib: float
    sockets: int
    ssd_drives: int = 0
    gpus: int = 0


@dataclass(frozen=True)
class InstanceTypeRef:
    name: str
    family: str
    vcpu: int
    memory_gib: float
    microarch: str
    arch: str  # x86_64 | arm64
    burstable: bool
    price_usd_per_hour: float  # us-east-1, Linux on-demand list price
    platform: Platform

    def price_in(self, region_code: str) -> float | None:
        """Estimated on-demand price in an AWS region from its multiplier (None when unknown)."""
        region = REGIONS_BY_CODE.get(region_code)
        if region is None or region.price_multiplier is None:
            return None
        return round(self.price_usd_per_hour * region.price_multiplier, 6)


# Size → vCPU; memory = vCPU × the family's GiB per vCPU (constant within these families).
_SIZES = {"large": 2, "xlarge": 4, "2xlarge": 8, "4xlarge": 16}
_BURSTABLE_SIZES = {  # size → (vCPU, GiB)
    "nano": (2, 0.5),
    "micro": (2, 1.0),
    "small": (2, 2.0),
    "medium": (2, 4.0),
    "large": (2, 8.0),
    "xlarge": (4, 16.0),
    "2xlarge": (8, 32.0),
}

_PLATFORM_M5 = Platform(vcpu=96, memory_gib=384, sockets=2)
_PLATFORM_M6G = Platform(vcpu=64, memory_gib=256, sockets=1)


def _family(
    family: str,
    sizes: tuple[str, ...],
    gib_per_vcpu: float,
    microarch: str,
    arch: str,
    large_price: float,
    platform: Platform,
) -> list[InstanceTypeRef]:
    # Within these families the list price is linear in size: a size costs large_price × vCPU / 2.
    return [
        InstanceTypeRef(
            name=f"{family}.{size}",
            family=family,
            vcpu=_SIZES[size],
            memory_gib=_SIZES[size] * gib_per_vcpu,
            microarch=microarch,
            arch=arch,
            burstable=False,
            price_usd_per_hour=round(large_price * _SIZES[size] / 2, 6),
            platform=platform,
        )
        for size in sizes
    ]


def _burstable(
    family: str, sizes: tuple[str, ...], microarch: str, arch: str, nano_price: float, platform: Platform
) -> list[InstanceTypeRef]:
    # Burstable sizes double in price at each step from nano (nano, micro, small, ... ).
    order = list(_BURSTABLE_SIZES)
    return [
        InstanceTypeRef(
            name=f"{family}.{size}",
            family=family,
            vcpu=_BURSTABLE_SIZES[size][0],
            memory_gib=_BURSTABLE_SIZES[size][1],
            microarch=microarch,
            arch=arch,
            burstable=True,
            price_usd_per_hour=round(nano_price * 2 ** order.index(size), 6),
            platform=platform,
        )
        for size in sizes
    ]


_ALL = ("large", "xlarge", "2xlarge", "4xlarge")
_SMALL = ("large", "xlarge")
_MID = ("large", "xlarge", "2xlarge")

INSTANCE_TYPES: tuple[InstanceTypeRef, ...] = tuple(
    _family("m5", _ALL, 4, "Skylake", "x86_64", 0.096, _PLATFORM_M5)
    + _family("m6i", _ALL, 4, "Ice Lake", "x86_64", 0.096, Platform(128, 512, 2))
    + _family("m6g", _SMALL, 4, "Graviton2", "arm64", 0.077, _PLATFORM_M6G)
    + _family("m7g", _MID, 4, "Graviton3", "arm64", 0.0816, Platform(64, 256, 1))
    + _family("c5", _ALL, 2, "Skylake", "x86_64", 0.085, Platform(96, 192, 2))
    + _family("c6i", _MID, 2, "Ice Lake", "x86_64", 0.085, Platform(128, 256, 2))
    + _family("c6g", _SMALL, 2, "Graviton2", "arm64", 0.068, Platform(64, 128, 1))
    + _family("c7g", _MID, 2, "Graviton3", "arm64", 0.0725, Platform(64, 128, 1))
    + _family("r5", _MID, 8, "Skylake", "x86_64", 0.126, Platform(96, 768, 2))
    + _family("r6i", _MID, 8, "Ice Lake", "x86_64", 0.126, Platform(128, 1024, 2))
    + _family("r6g", _SMALL, 8, "Graviton2", "arm64", 0.1008, Platform(64, 512, 1))
    + _burstable("t3", ("micro", "small", "medium", "large", "xlarge"), "Skylake", "x86_64", 0.0052, _PLATFORM_M5)
    + _burstable("t4g", ("micro", "small", "medium", "large"), "Graviton2", "arm64", 0.0042, _PLATFORM_M6G)
)

INSTANCE_TYPES_BY_NAME: dict[str, InstanceTypeRef] = {t.name: t for t in INSTANCE_TYPES}


# Processor names as AWS and ec2instances.info print them → CCF microarchitecture names.
_PATTERNS: tuple[tuple[str, str], ...] = (
    (r"graviton\s*4", "Graviton4"),
    (r"graviton\s*3e", "Graviton3E"),
    (r"graviton\s*3", "Graviton3"),
    (r"graviton\s*2", "Graviton2"),
    (r"graviton", "Graviton"),
    (r"sapphire\s*rapids", "Sapphire Rapids"),
    (r"emerald\s*rapids", "Emerald Rapids"),
    (r"granite\s*rapids", "Granite Rapids"),
    (r"ice\s*lake|icelake", "Ice Lake"),
    (r"cascade\s*lake", "Cascade Lake"),
    (r"coffee\s*lake|i7-8700", "Coffee Lake"),
    (r"skylake", "Skylake"),
    (r"broadwell", "Broadwell"),
    (r"haswell", "Haswell"),
    (r"ivy\s*bridge", "Ivy Bridge"),
    (r"sandy\s*bridge", "Sandy Bridge"),
)
# Xeon Scalable model numbers: the second digit is the generation (8175 → Skylake, 8259 → Cascade Lake ...).
_XEON_SCALABLE_GENERATION = {
    "1": "Skylake",
    "2": "Cascade Lake",
    "3": "Ice Lake",
    "4": "Sapphire Rapids",
    "5": "Emerald Rapids",
}
_EPYC_GENERATION = {"1": "EPYC 1st Gen", "2": "EPYC 2nd Gen", "3": "EPYC 3rd Gen", "4": "EPYC 4th Gen"}


def microarchitecture_of(processor: str | None) -> str | None:
    """CCF microarchitecture for a processor description, or None when it cannot be told."""
    if not processor:
        return None
    text = processor.lower()
    for pattern, name in _PATTERNS:
        if re.search(pattern, text):
            return name
    xeon_e5 = re.search(r"e[57]-?\s?\d{4}\s*v(\d)", text)
    if xeon_e5:
        return {"2": "Ivy Bridge", "3": "Haswell", "4": "Broadwell", "5": "Skylake"}.get(xeon_e5.group(1))
    if re.search(r"e5-?\s?\d{4}(?!\s*v)", text):
        return "Sandy Bridge"  # E5-2670 / E5-2650 without a version suffix are the first generation
    xeon_scalable = re.search(r"(?:platinum|gold|silver|xeon)\s+[6-9](\d)\d{2}", text)
    if xeon_scalable:
        return _XEON_SCALABLE_GENERATION.get(xeon_scalable.group(1))
    epyc = re.search(r"epyc\s+[79]\w{2}(\d)", text)
    if epyc:
        if text.split("epyc")[1].strip().startswith("9"):
            return "EPYC 4th Gen"
        return _EPYC_GENERATION.get(epyc.group(1))
    return None
