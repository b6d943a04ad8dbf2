"""What the optimisation features read from, and ask of, other domains — in one place.

The optimiser, migrations, rightsizing, anomalies and automation never import another domain's
models or repositories: they receive an `Inputs` object whose methods call those domains' services
(`platform_inputs()`, in `spectra.carbon.optimizer.platform_inputs`). Rules can therefore be tested with
hand-made figures, and the wiring to fleet, capacity, intensity and emissions lives in one file.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import numpy as np
from sqlalchemy.orm import Session

from spectra.carbon.rightsizing.engine import TypeSpec, Utilisation


@dataclass(frozen=True)
class RegionInfo:
    code: str
    name: str
    provider: str
    country: str | None
    latitude: float | None
    longitude: float | None
    zone: str | None
    pue: float


@dataclass(frozen=True)
class InstanceInfo:
    id: str
    client_id: str
    team_id: str | None
    provider: str
    region: str
    instance_type: str
    state: str  # running | stopped | terminated | …
    cloud: str  # simulated | aws | gcp | azure — who carries out a change
    flexible: bool = False  # may be moved in time/space by automation
    users_region: str | None = None
    provider_id: str | None = None


@dataclass(frozen=True)
class IntensityOutlook:
    """Mean (and spread) of a zone's intensity over a window: stored actuals for the past part, the
    forecast made at now for the rest."""

    mean: float
    std: float | None
    method: str
    hours: int


@dataclass(frozen=True)
class Series:
    """An evenly spaced series (NaN where missing)."""

    start: datetime
    step_hours: float
    values: np.ndarray


class Inputs(Protocol):
    def regions(self, session: Session) -> list[RegionInfo]: ...

    def intensity(self, session: Session, zone: str, start: datetime, end: datetime) -> IntensityOutlook | None: ...

    def instance_type(self, session: Session, name: str, region: str | None) -> TypeSpec | None: ...

    def catalog(self, session: Session, region: str | None) -> list[TypeSpec]: ...

    def power_w(self, spec: TypeSpec, utilisation: float) -> float: ...

    def embodied_g_per_hour(self, spec: TypeSpec) -> float: ...

    def instance(self, session: Session, instance_id: str) -> InstanceInfo | None: ...

    def instances(self, session: Session, client_id: str | None) -> list[InstanceInfo]: ...

    def move_instance(self, session: Session, instance_id: str, region: str) -> None: ...

    def resize_instance(self, session: Session, instance_id: str, instance_type: str) -> None: ...

    def stop_instance(self, session: Session, instance_id: str) -> None: ...

    def replace_instance(
        self, session: Session, instance_id: str, provider_id: str, region: str, zone: str | None, instance_type: str
    ) -> str:
        """The cloud now runs the instance as another one (a move or resize by replacement); returns its id."""
        ...

    def utilisation(self, session: Session, instance_id: str, start: datetime, end: datetime) -> Utilisation: ...

    def cpu_series(self, session: Session, instance_id: str, start: datetime, end: datetime) -> Series: ...

    def emission_series(self, session: Session, instance_id: str, start: datetime, end: datetime) -> Series: ...

    def cost_series(self, session: Session, instance_id: str, start: datetime, end: datetime) -> Series: ...

    def cloudflare_token(self, session: Session) -> str | None: ...
