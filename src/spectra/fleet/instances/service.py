"""Instance rules: tenant-scoped reads, user edits of workload metadata, and the upsert every inventory
source (AWS sync, simulated cloud, seed) goes through."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from sqlalchemy.orm import Session

from spectra.core.audit import record_audit
from spectra.core.auth import Caller
from spectra.core.clock import clock
from spectra.core.errors import NotFound, StaleVersion, Unprocessable
from spectra.fleet import repository as fleet_repository
from spectra.fleet import service as fleet_service
from spectra.fleet.instances import repository
from spectra.fleet.instances.models import Instance, InstanceDailyCost
from spectra.fleet.instances.schemas import InstanceSync, InstanceUpdate

RUNNING = "running"
GONE = ("terminated",)
# Tag keys read as the owning team, in this order (AWS tag keys are case-sensitive).
TEAM_TAG_KEYS = ("team", "Team", "TEAM", "spectra:team", "owner-team")


def _state(instance: Instance) -> dict[str, Any]:
    return {
        "team_id": instance.team_id,
        "flexible": instance.flexible,
        "latency_sensitive": instance.latency_sensitive,
        "users_region": instance.users_region,
        "tags": instance.tags,
        "state": instance.state,
        "version": instance.version,
    }


def team_from_tags(tags: dict[str, Any]) -> str | None:
    for key in TEAM_TAG_KEYS:
        value = tags.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()[:120]
    return None


def list_instances(
    session: Session, client_id: str | None, *, limit: int = 100, offset: int = 0, **filters: str | None
) -> tuple[list[Instance], int]:
    return repository.list_instances(session, client_id, limit=limit, offset=offset, **filters)


def get_instance(session: Session, instance_id: str, caller: Caller | None = None) -> Instance:
    instance = repository.get_instance(session, instance_id)
    if instance is None:
        raise NotFound("instance not found")
    if caller is not None:
        caller.ensure_tenant(instance.client_id, "instance")
    return instance


def update_instance(session: Session, instance_id: str, data: InstanceUpdate, caller: Caller) -> Instance:
    instance = get_instance(session, instance_id, caller)
    if instance.version != data.version:
        raise StaleVersion("instance", instance.version)
    changes = data.model_dump(exclude_unset=True, exclude={"version"})
    if "team_id" in changes and changes["team_id"] is not None:
        team = fleet_repository.get_team(session, changes["team_id"])
        if team is None or team.client_id != instance.client_id:
            raise Unprocessable(
                "team not found in the instance's client", errors=[{"field": "team_id", "msg": "unknown team"}]
            )
    for field in ("flexible", "latency_sensitive"):
        if field in changes and changes[field] is None:
            raise Unprocessable(f"{field} cannot be null", errors=[{"field": field, "msg": "must be true or false"}])
    if "tags" in changes and changes["tags"] is None:
        changes["tags"] = {}
    pre = _state(instance)
    for field, value in changes.items():
        setattr(instance, field, value)
    session.flush()  # the versioned UPDATE: a concurrent writer that got here first makes this raise
    record_audit(
        session, "instance.update", "instance", instance.id, pre, _state(instance), client_id=instance.client_id
    )
    return instance


def _apply_state(instance: Instance, state: str, now: datetime) -> None:
    if state == RUNNING:
        instance.stopped_at = None
    elif instance.stopped_at is None:
        instance.stopped_at = now
    if state in GONE and instance.terminated_at is None:
        instance.terminated_at = now
    instance.state = state


def upsert_instance(session: Session, client_id: str, data: InstanceSync) -> tuple[Instance, bool]:
    """Create or refresh an instance from its cloud's view; returns (instance, created).

    The cloud owns placement, type, lifecycle and state; users own the team and workload metadata, so a
    sync only fills the team when none is set, and keeps tag keys users added.
    """
    now = clock.now()
    team_name = data.team or team_from_tags(data.tags)
    instance = repository.by_provider_id(session, client_id, data.provider, data.provider_id)
    created = instance is None
    if instance is None:
        instance = Instance(
            client_id=client_id,
            provider=data.provider,
            provider_id=data.provider_id,
            launched_at=data.launched_at,
            tags={},
            flexible=bool(data.flexible),
            latency_sensitive=bool(data.latency_sensitive),
            users_region=data.users_region,
        )
        session.add(instance)
    instance.source = data.source
    instance.name = data.name or data.tags.get("Name") or instance.name
    instance.region = data.region
    instance.zone = data.zone
    instance.instance_type = data.instance_type
    instance.lifecycle = data.lifecycle
    instance.launched_at = data.launched_at
    merged = {**(instance.tags or {}), **data.tags}
    if merged != instance.tags:
        instance.tags = merged
    if instance.team_id is None and team_name:
        instance.team_id = fleet_service.ensure_team(session, client_id, team_name).id
    if created:
        instance.state = data.state
        instance.stopped_at = None if data.state == RUNNING else now
        instance.terminated_at = now if data.state in GONE else None
    elif instance.state != data.state:
        _apply_state(instance, data.state, now)
    session.flush()
    return instance, created


def mark_missing_terminated(
    session: Session, client_id: str, provider: str, source: str, regions: Iterable[str], seen: set[str]
) -> int:
    """Instances a full inventory of these regions no longer lists are gone: mark them terminated."""
    now = clock.now()
    count = 0
    for region in regions:
        rows, _ = repository.list_instances(session, client_id, region=region, provider=provider, limit=100_000)
        for instance in rows:
            if instance.source == source and instance.provider_id not in seen and instance.state not in GONE:
                _apply_state(instance, "terminated", now)
                count += 1
    session.flush()
    return count


def set_state(session: Session, instance_id: str, state: str) -> Instance:
    """The cloud (or the simulator, or an automatic action) changed the instance's state."""
    instance = get_instance(session, instance_id)
    if instance.state != state:
        _apply_state(instance, state, clock.now())
        session.flush()
    return instance


def record_daily_cost(session: Session, instance_id: str, day: date, cost_usd: float, source: str) -> InstanceDailyCost:
    """Billed cost of an instance for a UTC day (a re-sync of the same day replaces it)."""
    row = repository.get_daily_cost(session, instance_id, day)
    if row is None:
        row = InstanceDailyCost(
            instance_id=instance_id, day=day, cost_usd=cost_usd, source=source, updated_at=clock.now()
        )
        session.add(row)
    else:
        row.cost_usd, row.source, row.updated_at = cost_usd, source, clock.now()
    session.flush()
    return row


def billed_costs(
    session: Session, instance_ids: Iterable[str], first_day: date, last_day: date
) -> dict[tuple[str, date], float]:
    """{(instance id, day): billed USD} for days that have a bill."""
    return {
        (r.instance_id, r.day): r.cost_usd for r in repository.daily_costs(session, instance_ids, first_day, last_day)
    }


def active_between(session: Session, client_id: str | None, start: datetime, end: datetime) -> list[Instance]:
    return repository.active_between(session, client_id, start, end)


def active_regions(session: Session, client_id: str | None, start: datetime, end: datetime) -> list[str]:
    """Regions where the client had instances up at some point of [start, end)."""
    return repository.active_regions(session, client_id, start, end)


def count_active(session: Session, client_id: str | None, start: datetime, end: datetime) -> int:
    return repository.count_active(session, client_id, start, end)


def instances_by_ids(session: Session, instance_ids: Iterable[str]) -> dict[str, Instance]:
    return {i.id: i for i in repository.by_ids(session, instance_ids)}


def instances_by_provider_ids(session: Session, provider: str, provider_ids: Iterable[str]) -> list[Instance]:
    return repository.by_provider_ids(session, provider, provider_ids)
