"""The platform's `Inputs`: the optimisation features' view of fleet, capacity, intensity and emissions,
through those domains' services only."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
from sqlalchemy.orm import Session

from spectra.carbon.emissions import service as emissions_service
from spectra.carbon.optimizer.inputs import InstanceInfo, Series
from spectra.core.errors import NotFound
from spectra.fleet.instances import service as instances_service
from spectra.fleet.instances.models import Instance
from spectra.fleet.instances.schemas import InstanceSync
from spectra.fleet.settings import service as settings_service

EXECUTABLE_SOURCES = {"aws", "simulated"}
DAY = timedelta(days=1)


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
