"""An in-memory `Inputs` with hand-made figures, so optimisation rules are checked against hand-worked numbers.

It stands in for the other domains (regions, intensity, instance catalogue, instances, metrics) and
records the changes asked of them (moves, resizes, stops) so tests can see them.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

import numpy as np
from sqlalchemy.orm import Session

from spectra.carbon.optimizer.inputs import InstanceInfo, IntensityOutlook, RegionInfo, Series
from spectra.carbon.rightsizing.engine import TypeSpec, Utilisation

REGIONS = [
    RegionInfo("eu-west-1", "Ireland", "aws", "IE", 53.35, -6.26, "IE", 1.135),
    RegionInfo("eu-central-1", "Frankfurt", "aws", "DE", 50.11, 8.68, "DE", 1.135),
    RegionInfo("eu-north-1", "Stockholm", "aws", "SE", 59.33, 18.07, "SE", 1.135),
    RegionInfo("us-east-1", "N. Virginia", "aws", "US", 38.03, -78.48, "US-MIDA-PJM", 1.135),
    RegionInfo("europe-west9", "Paris", "gcp", "FR", 48.86, 2.35, "FR", 1.1),
]
INTENSITY = {"IE": 300.0, "DE": 400.0, "SE": 20.0, "US-MIDA-PJM": 380.0, "FR": 50.0}
BASE_TYPES = [
    TypeSpec("m5.large", 2, 8, "x86_64", 0.096),
    TypeSpec("m5.xlarge", 4, 16, "x86_64", 0.192),
    TypeSpec("m5.2xlarge", 8, 32, "x86_64", 0.384),
]
# Price multipliers per region; europe-west9 does not sell m5 (GCP), so it has none.
PRICE_FACTOR = {"us-east-1": 1.0, "eu-west-1": 1.1, "eu-central-1": 1.2, "eu-north-1": 1.05}


def power_w(spec: TypeSpec, utilisation: float) -> float:
    """CCF shape: vCPU × (0.74 W + u × (3.5 − 0.74) W) + 0.392 W per GiB."""
    return spec.vcpu * (0.74 + utilisation * 2.76) + 0.392 * spec.memory_gib


@dataclass
class FakeInputs:
    instances_by_id: dict[str, InstanceInfo] = field(default_factory=dict)
    usage: dict[str, Utilisation] = field(default_factory=dict)
    cpu: dict[str, Series] = field(default_factory=dict)
    emissions: dict[str, Series] = field(default_factory=dict)
    costs: dict[str, Series] = field(default_factory=dict)
    token: str | None = None
    moves: list[tuple[str, str]] = field(default_factory=list)
    resizes: list[tuple[str, str]] = field(default_factory=list)
    stops: list[str] = field(default_factory=list)

    def regions(self, session: Session) -> list[RegionInfo]:
        return list(REGIONS)

    def intensity(self, session: Session, zone: str, start: datetime, end: datetime) -> IntensityOutlook | None:
        value = INTENSITY.get(zone)
        hours = int((end - start).total_seconds() // 3600)
        return IntensityOutlook(value, 10.0, "fake", hours) if value is not None else None

    def instance_type(self, session: Session, name: str, region: str | None) -> TypeSpec | None:
        spec = next((t for t in BASE_TYPES if t.name == name), None)
        if spec is None:
            return None
        if region is None:
            return spec
        factor = PRICE_FACTOR.get(region)
        return replace(spec, price_usd_per_hour=round(spec.price_usd_per_hour * factor, 6) if factor else None)

    def catalog(self, session: Session, region: str | None) -> list[TypeSpec]:
        out = [self.instance_type(session, t.name, region) for t in BASE_TYPES]
        return [t for t in out if t is not None]

    def power_w(self, spec: TypeSpec, utilisation: float) -> float:
        return power_w(spec, utilisation)

    def embodied_g_per_hour(self, spec: TypeSpec) -> float:
        return 0.0

    def instance(self, session: Session, instance_id: str) -> InstanceInfo | None:
        return self.instances_by_id.get(instance_id)

    def instances(self, session: Session, client_id: str | None) -> list[InstanceInfo]:
        return [i for i in self.instances_by_id.values() if client_id is None or i.client_id == client_id]

    def move_instance(self, session: Session, instance_id: str, region: str) -> None:
        self.moves.append((instance_id, region))
        self.instances_by_id[instance_id] = replace(self.instances_by_id[instance_id], region=region)

    def resize_instance(self, session: Session, instance_id: str, instance_type: str) -> None:
        self.resizes.append((instance_id, instance_type))
        self.instances_by_id[instance_id] = replace(self.instances_by_id[instance_id], instance_type=instance_type)

    def stop_instance(self, session: Session, instance_id: str) -> None:
        self.stops.append(instance_id)
        self.instances_by_id[instance_id] = replace(self.instances_by_id[instance_id], state="stopped")

    def utilisation(self, session: Session, instance_id: str, start: datetime, end: datetime) -> Utilisation:
        return self.usage.get(instance_id, Utilisation(0.0, None, samples=0, window_hours=0))

    def _series(self, store: dict[str, Series], instance_id: str, start: datetime) -> Series:
        return store.get(instance_id, Series(start, 1.0, np.array([])))

    def cpu_series(self, session: Session, instance_id: str, start: datetime, end: datetime) -> Series:
        return self._series(self.cpu, instance_id, start)

    def emission_series(self, session: Session, instance_id: str, start: datetime, end: datetime) -> Series:
        return self._series(self.emissions, instance_id, start)

    def cost_series(self, session: Session, instance_id: str, start: datetime, end: datetime) -> Series:
        return self._series(self.costs, instance_id, start)

    def cloudflare_token(self, session: Session) -> str | None:
        return self.token

    def add_instance(self, instance: InstanceInfo) -> InstanceInfo:
        self.instances_by_id[instance.id] = instance
        return instance
