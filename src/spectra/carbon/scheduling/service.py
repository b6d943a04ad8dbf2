"""Scheduled jobs: submit, change, cancel, run now, and the carbon-aware recommendation each carries.

A recommendation is the planner's answer (`planner.plan_job`) on the forecast of every allowed
region's grid zone, from the hours stored up to now. Slot 0 is the current hour (starting "now");
later slots start on the hour. Emissions are IT energy (power × remaining work) × the region's PUE
× forecast grid intensity. The periodic task (`tick`) moves jobs along their recommendation
(scheduled → running → done), credits interruptible work piece by piece, marks jobs that can no
longer meet their deadline as missed, and recomputes every waiting job's recommendation, so a
new forecast (a new hour, an import) changes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from spectra.carbon.actions import service as actions_service
from spectra.carbon.automation import service as automation_service
from spectra.carbon.emissions.coefficients import instance_coefficients, it_power_w
from spectra.carbon.intensity import service as intensity_service
from spectra.carbon.intensity.forecast import MAX_HORIZON
from spectra.carbon.scheduling import repository
from spectra.carbon.scheduling.models import EDITABLE_STATUSES, ScheduledJob
from spectra.carbon.scheduling.planner import (
    DEFAULT_RISK,
    JobRequest,
    Plan,
    RegionForecast,
    SlotGrid,
    plan_job,
    scheduling_forecast,
)
from spectra.carbon.scheduling.schemas import JobCreate, JobUpdate
from spectra.core.audit import record_audit
from spectra.core.auth import Caller
from spectra.core.errors import Conflict, NotFound, StaleVersion, Unprocessable
from spectra.core.events import publish
from spectra.fleet import service as fleet_service
from spectra.fleet.catalog import service as catalog_service

HOUR = timedelta(hours=1)
# A batch job keeps its vCPUs busy, so an instance type's power is taken at full utilisation.
BATCH_UTILISATION = 1.0


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def floor_hour(moment: datetime) -> datetime:
    return _utc(moment).replace(minute=0, second=0, microsecond=0)


# --------------------------------------------------------------------------- forecasts


@dataclass(frozen=True)
class ZoneForecast:
    mean: np.ndarray
    std: np.ndarray
    method: str


class ForecastCache:
    """One forecast per zone per call site (a request or a tick), however many jobs share the zone."""

    def __init__(self, session: Session, now: datetime) -> None:
        self.session = session
        self.now = now
        self.origin = floor_hour(now)
        self._zones: dict[str, ZoneForecast | None] = {}

    @property
    def zones(self) -> int:
        return len(self._zones)

    def get(self, zone: str, horizon: int) -> ZoneForecast | None:
        cached = self._zones.get(zone)
        if zone in self._zones and (cached is None or len(cached.mean) >= horizon):
            return cached
        past = intensity_service.history(
            self.session, zone, self.origin - timedelta(days=intensity_service.HISTORY_DAYS), self.origin
        )
        observed = np.flatnonzero(np.isfinite(past.values))
        result: ZoneForecast | None = None
        if observed.size:
            mean, std, method = scheduling_forecast(past.values[observed[0] :], horizon)
            result = ZoneForecast(mean, std, method)
        self._zones[zone] = result
        return result


# --------------------------------------------------------------------------- validation


def _power(session: Session, power_kw: float | None, instance_type: str | None, count: int) -> float:
    if (power_kw is None) == (instance_type is None):
        raise Unprocessable(
            "give either power_kw or instance_type",
            errors=[{"field": "power_kw", "msg": "exactly one of power_kw and instance_type is required"}],
        )
    if power_kw is not None:
        return power_kw
    assert instance_type is not None
    view = catalog_service.find_instance_type(session, instance_type)
    if view is None:
        raise Unprocessable(
            f"unknown instance type {instance_type!r}",
            errors=[{"field": "instance_type", "msg": "not in the instance-type catalogue"}],
        )
    coefficients = instance_coefficients(view, view.provider)
    return it_power_w(view, coefficients, BATCH_UTILISATION) / 1000.0 * count


def _regions(session: Session, codes: list[str]) -> list[str]:
    errors: list[dict[str, Any]] = []
    seen: set[str] = set()
    for i, code in enumerate(codes):
        view = catalog_service.find_region(session, code)
        if code in seen:
            errors.append({"field": f"regions[{i}]", "msg": f"{code} is listed twice"})
        elif view is None:
            errors.append({"field": f"regions[{i}]", "msg": f"unknown region {code}"})
        elif not view.zone:
            errors.append({"field": f"regions[{i}]", "msg": f"region {code} has no grid zone"})
        seen.add(code)
    if errors:
        raise Unprocessable("invalid regions", errors=errors)
    return list(codes)


def _times(earliest: datetime, deadline: datetime, duration_minutes: int, now: datetime) -> None:
    if deadline <= now:
        raise Unprocessable("the deadline has passed", errors=[{"field": "deadline", "msg": "must be in the future"}])
    if deadline - earliest < timedelta(minutes=duration_minutes):
        raise Unprocessable(
            "the job does not fit between its earliest start and its deadline",
            errors=[{"field": "deadline", "msg": "must leave at least the duration after the earliest start"}],
        )


def _team(session: Session, caller: Caller, team_id: str | None, client_id: str) -> str | None:
    if team_id is None:
        return None
    try:
        team = fleet_service.get_team(session, team_id, caller)
    except NotFound:
        raise Unprocessable("unknown team", errors=[{"field": "team_id", "msg": "no such team"}]) from None
    if team.client_id != client_id:
        raise Unprocessable("unknown team", errors=[{"field": "team_id", "msg": "no such team for this client"}])
    return team.id


# --------------------------------------------------------------------------- recommendation


def _iso(moment: datetime) -> str:
    return _utc(moment).isoformat()


def _remaining_minutes(job: ScheduledJob) -> int:
    return max(0, job.duration_minutes - job.done_minutes)


def plan_work(
    session: Session,
    cache: ForecastCache,
    *,
    regions: list[str],
    power_kw: float,
    minutes: int,
    earliest_start: datetime,
    deadline: datetime,
    interruptible: bool,
) -> tuple[dict[str, Any], bool | None]:
    """Plan `minutes` of work from now: (recommendation, feasible; None when no zone has data)."""
    now = cache.now
    grid = SlotGrid(cache.origin, HOUR)
    earliest = max(_utc(earliest_start), now)
    earliest_slot = 0 if earliest <= now else grid.ceil(earliest)
    duration_slots = grid.slots_for(timedelta(minutes=minutes))
    deadline_slot = grid.floor(_utc(deadline))
    if earliest_slot == 0 and _utc(deadline) >= now + timedelta(minutes=minutes):
        # Starting now (mid-hour) can still make a deadline that the hourly grid would round away.
        deadline_slot = max(deadline_slot, duration_slots)
    horizon = min(max(deadline_slot, earliest_slot + duration_slots, 1), MAX_HORIZON)
    forecasts: list[RegionForecast] = []
    missing: list[str] = []
    for code in regions:
        region = catalog_service.find_region(session, code)
        zone = region.zone if region else None
        forecast = cache.get(zone, horizon) if zone else None
        if region is None or forecast is None:
            missing.append(f"{code} ({zone or 'no zone'})")
            continue
        forecasts.append(RegionForecast(code, forecast.mean * region.pue, forecast.std * region.pue, forecast.method))
    if not forecasts:
        return {
            "status": "no_data",
            "explanation": [f"No stored carbon intensity before now for: {', '.join(missing)}; import some first."],
            "computed_at": _iso(now),
        }, None
    energy = power_kw * minutes / 60.0
    request = JobRequest(
        duration_slots=duration_slots,
        earliest_slot=earliest_slot,
        deadline_slot=deadline_slot,
        energy_kwh=energy,
        regions=tuple(f.region for f in forecasts),
        interruptible=interruptible,
    )
    plan = plan_job(request, forecasts, risk=DEFAULT_RISK)
    return _recommendation(plan, grid, now, minutes, energy, forecasts[0].method, missing), plan.feasible


def recompute(session: Session, job: ScheduledJob, now: datetime, cache: ForecastCache | None = None) -> None:
    """Plan the job's remaining work from now and store the recommendation; sets scheduled / missed."""
    recommendation, feasible = plan_work(
        session,
        cache or ForecastCache(session, now),
        regions=list(job.regions),
        power_kw=job.power_kw,
        minutes=_remaining_minutes(job),
        earliest_start=job.earliest_start,
        deadline=job.deadline,
        interruptible=job.interruptible,
    )
    job.recommendation = recommendation
    job.recommended_at = now
    if feasible is False and job.status in ("pending", "scheduled"):
        _set_status(session, job, "missed", now)
    elif feasible and job.status in ("pending", "missed"):
        job.status = "scheduled"


def _slot_time(grid: SlotGrid, slot: int, now: datetime) -> datetime:
    return now if slot == 0 else grid.at(slot)


def _recommendation(
    plan: Plan, grid: SlotGrid, now: datetime, remaining: int, energy: float, method: str, missing: list[str]
) -> dict[str, Any]:
    pieces: list[dict[str, str]] = []
    left = remaining
    for piece in plan.pieces:
        start = _slot_time(grid, piece.start_slot, now)
        minutes = min(left, int((grid.at(piece.start_slot + piece.slots) - start) / timedelta(minutes=1)))
        left -= minutes
        pieces.append({"start": _iso(start), "end": _iso(start + timedelta(minutes=minutes))})
    explanation = list(plan.explanation)
    if missing:
        explanation.append(f"Left out for lack of stored intensity: {', '.join(missing)}.")
    explanation.append("Intensities include each region's PUE (gCO2e per kWh of IT load).")
    return {
        "status": "planned" if plan.feasible else "deadline_unreachable",
        "region": plan.region,
        "start": pieces[0]["start"],
        "end": pieces[-1]["end"],
        "pieces": pieces,
        "expected_co2e_kg": round(plan.expected_co2e_kg, 6),
        "co2e_std_kg": round(plan.co2e_std_kg, 6),
        "baseline_region": plan.baseline_region,
        "baseline_co2e_kg": round(plan.baseline_co2e_kg, 6),
        "savings_kg": round(plan.savings_kg, 6),
        "savings_pct": round(plan.savings_pct, 3),
        "energy_kwh": round(energy, 6),
        "reason": plan.reason,
        "explanation": explanation,
        "forecast_method": method,
        "regions": [
            {"region": o.region, "intensity_g_per_kwh": round(o.intensity, 3), "co2e_kg": round(o.co2e_kg, 6)}
            for o in plan.regions
        ],
        "computed_at": _iso(now),
    }


def _set_status(session: Session, job: ScheduledJob, status: str, now: datetime) -> None:
    job.status = status
    if status == "running" and job.started_at is None:
        job.started_at = now
    if status == "done" and job.finished_at is None:
        job.finished_at = now
    if status in ("running", "done", "missed"):
        publish(
            session,
            f"carbon.scheduler.job_{'started' if status == 'running' else status}",
            {"job_id": job.id, "name": job.name, "status": status, "region": job.run_region, "at": _iso(now)},
            job.client_id,
        )


# --------------------------------------------------------------------------- the periodic step


def _credit_pieces(job: ScheduledJob, now: datetime) -> None:
    """Interruptible: count the recommended pieces that ran between the last tick and now as done."""
    since = _utc(job.progress_at) if job.progress_at else _utc(job.submitted_at)
    region = job.recommendation.get("region")
    credited = 0
    for piece in job.recommendation.get("pieces", []):
        start = max(datetime.fromisoformat(piece["start"]), since)
        end = min(datetime.fromisoformat(piece["end"]), now)
        if end > start:
            minutes = int((end - start) / timedelta(minutes=1))
            minutes = min(minutes, _remaining_minutes(job) - credited)
            if minutes <= 0:
                continue
            credited += minutes
            job.runs = [*job.runs, {"start": _iso(start), "end": _iso(start + timedelta(minutes=minutes)),
                                    "region": region}]  # fmt: skip
    job.progress_at = now
    if credited:
        job.done_minutes += credited
        job.run_region = region


def advance(session: Session, job: ScheduledJob, now: datetime, cache: ForecastCache) -> None:
    """Move one job along its recommendation up to `now`, then re-plan what is left."""
    if job.interruptible:
        # After "run now" the rest runs in one go: keep the piece, do not re-plan it.
        if job.recommendation.get("reason") == "run_now_requested":
            _credit_pieces(job, now)
            if _remaining_minutes(job) == 0:
                job.finished_at = datetime.fromisoformat(job.runs[-1]["end"]) if job.runs else now
                _set_status(session, job, "done", now)
            return
        if job.status in ("scheduled", "running"):
            _credit_pieces(job, now)
            if job.done_minutes > 0 and job.status == "scheduled":
                first = datetime.fromisoformat(job.runs[0]["start"]) if job.runs else now
                job.started_at = first
                _set_status(session, job, "running", now)
        if _remaining_minutes(job) == 0:
            job.finished_at = datetime.fromisoformat(job.runs[-1]["end"]) if job.runs else now
            _set_status(session, job, "done", now)
            return
    else:
        if job.status == "running" and job.started_at is not None:
            end = _utc(job.started_at) + timedelta(minutes=job.duration_minutes)
            if end <= now:
                job.finished_at = end
                _set_status(session, job, "done", now)
            return
        if job.status in ("pending", "scheduled") and _committed(job):
            # Committed to a window: keep it (no re-plan) and start when it comes.
            start = job.recommendation.get("start")
            if start and datetime.fromisoformat(start) <= now:
                job.run_region = job.recommendation.get("region")
                job.started_at = now
                _set_status(session, job, "running", now)
            elif _utc(job.deadline) < now + timedelta(minutes=_remaining_minutes(job)):
                _set_status(session, job, "missed", now)
            return
        if job.status in ("pending", "scheduled"):
            # Re-plan first: a job starts when the plan made now says "now", so a late tick never
            # back-dates a start, and a job that can no longer fit is marked missed.
            recompute(session, job, now, cache)
            start = job.recommendation.get("start")
            if job.status == "scheduled" and start and datetime.fromisoformat(start) <= now:
                job.run_region = job.recommendation.get("region")
                job.started_at = now
                _set_status(session, job, "running", now)
        return
    if job.status in ("pending", "scheduled", "running") and not _committed(job):
        recompute(session, job, now, cache)


def _committed(job: ScheduledJob) -> bool:
    return bool(job.recommendation.get("committed"))


def _auto_schedule(session: Session, job: ScheduledJob, now: datetime) -> str | None:
    """Commit a waiting job to its recommended window when the client's automation policy says so.

    Returns "committed", "held" (the guard-rails hold it back; it keeps only its recommendation and
    is tried again next step) or None (the client does not auto-schedule)."""
    if job.status != "scheduled" or _committed(job) or job.recommendation.get("status") != "planned":
        return None
    decision = automation_service.schedule_gate(session, job.client_id, now)
    if decision is None:
        return None
    if not decision.apply:
        job.recommendation = {**job.recommendation, "auto_schedule": {"held_back": decision.reason}}
        return "held"
    commit(session, job, now, origin="automatic", reason=decision.reason)
    return "committed"


def tick(session: Session, now: datetime) -> dict[str, Any]:
    """Advance every active job and refresh every waiting job's recommendation (one forecast per zone)."""
    cache = ForecastCache(session, now)
    before: dict[str, int] = {}
    after: dict[str, int] = {}
    auto = {"committed": 0, "held": 0}
    for job in repository.active_jobs(session):
        before[job.status] = before.get(job.status, 0) + 1
        advance(session, job, now, cache)
        outcome = _auto_schedule(session, job, now)
        if outcome:
            auto[outcome] += 1
        after[job.status] = after.get(job.status, 0) + 1
    session.flush()
    return {
        "jobs": sum(before.values()),
        "before": before,
        "after": after,
        "zones_forecast": cache.zones,
        "auto_scheduled": auto,
    }


# --------------------------------------------------------------------------- API operations


def _snapshot(job: ScheduledJob) -> dict[str, Any]:
    return {
        "name": job.name,
        "status": job.status,
        "duration_minutes": job.duration_minutes,
        "power_kw": job.power_kw,
        "earliest_start": _iso(job.earliest_start),
        "deadline": _iso(job.deadline),
        "regions": list(job.regions),
        "interruptible": job.interruptible,
        "team_id": job.team_id,
    }


def create_job(session: Session, caller: Caller, data: JobCreate, now: datetime) -> ScheduledJob:
    client_id = caller.client_id if not caller.is_admin else data.client_id
    if client_id is None:
        raise Unprocessable("admins name the client", errors=[{"field": "client_id", "msg": "required for admins"}])
    if caller.is_admin:
        fleet_service.get_client(session, client_id, caller)
    elif data.client_id not in (None, caller.client_id):
        raise NotFound("client not found")
    earliest = _utc(data.earliest_start) if data.earliest_start else now
    deadline = _utc(data.deadline)
    _times(max(earliest, now), deadline, data.duration_minutes, now)
    job = ScheduledJob(
        client_id=client_id,
        team_id=_team(session, caller, data.team_id, client_id),
        name=data.name,
        status="pending",
        duration_minutes=data.duration_minutes,
        power_kw=_power(session, data.power_kw, data.instance_type, data.instance_count),
        instance_type=data.instance_type,
        instance_count=data.instance_count,
        earliest_start=earliest,
        deadline=deadline,
        regions=_regions(session, data.regions),
        interruptible=data.interruptible,
        submitted_at=now,
        done_minutes=0,
        runs=[],
        recommendation={},
    )
    repository.add(session, job)
    recompute(session, job, now)
    record_audit(session, "scheduled_job.create", "scheduled_job", job.id, None, _snapshot(job))
    publish(session, "carbon.scheduler.job_created", {"job_id": job.id, "name": job.name}, job.client_id)
    return job


def get_job(session: Session, caller: Caller, job_id: str) -> ScheduledJob:
    job = repository.get(session, job_id)
    if job is None:
        raise NotFound("scheduled job not found")
    caller.ensure_tenant(job.client_id, "scheduled job")
    return job


def list_jobs(
    session: Session,
    client_id: str | None,
    *,
    status: str | None = None,
    team_id: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[ScheduledJob]:
    return list(repository.list_jobs(session, client_id, status=status, team_id=team_id, limit=limit, offset=offset))


def update_job(session: Session, caller: Caller, job_id: str, data: JobUpdate, now: datetime) -> ScheduledJob:
    job = get_job(session, caller, job_id)
    if data.version is not None and data.version != job.version:
        raise StaleVersion("scheduled job", job.version)
    if job.status not in EDITABLE_STATUSES:
        raise Conflict(f"a {job.status} job cannot be changed", code="job_not_editable")
    pre = _snapshot(job)
    fields = data.model_dump(exclude_unset=True, exclude={"version"})
    if "name" in fields and data.name is not None:
        job.name = data.name
    if "team_id" in fields:
        job.team_id = _team(session, caller, data.team_id, job.client_id)
    if "power_kw" in fields or "instance_type" in fields or "instance_count" in fields:
        count = data.instance_count or job.instance_count
        instance_type = data.instance_type if "instance_type" in fields else None
        power_kw = data.power_kw if "power_kw" in fields else None
        if power_kw is None and instance_type is None:
            instance_type = job.instance_type
            power_kw = None if instance_type else job.power_kw
        job.power_kw = _power(session, power_kw, instance_type, count)
        job.instance_type, job.instance_count = instance_type, count
    if data.duration_minutes is not None:
        job.duration_minutes = data.duration_minutes
    if data.earliest_start is not None:
        job.earliest_start = _utc(data.earliest_start)
    if data.deadline is not None:
        job.deadline = _utc(data.deadline)
    if data.regions is not None:
        job.regions = _regions(session, data.regions)
    if data.interruptible is not None:
        job.interruptible = data.interruptible
    _times(max(_utc(job.earliest_start), now), _utc(job.deadline), job.duration_minutes, now)
    job.status = "pending"
    recompute(session, job, now)
    record_audit(session, "scheduled_job.update", "scheduled_job", job.id, pre, _snapshot(job))
    session.flush()
    return job


def cancel_job(session: Session, caller: Caller, job_id: str, now: datetime) -> ScheduledJob:
    job = get_job(session, caller, job_id)
    if job.status in ("done", "cancelled"):
        raise Conflict(f"the job is already {job.status}", code="job_finished")
    pre = _snapshot(job)
    job.status = "cancelled"
    job.finished_at = now
    record_audit(session, "scheduled_job.cancel", "scheduled_job", job.id, pre, _snapshot(job))
    publish(session, "carbon.scheduler.job_cancelled", {"job_id": job.id, "name": job.name}, job.client_id)
    session.flush()
    return job


def commit(session: Session, job: ScheduledJob, now: datetime, *, origin: str, reason: str) -> ScheduledJob:
    """Commit the job to its current recommendation: it is no longer re-planned and starts at that time.

    People do it through `schedule_job`, the automation policy through the periodic step; both get
    the same audit row and an optimisation action of kind `schedule` (automatic ones count against
    the daily change budget)."""
    if job.status not in ("pending", "scheduled") or job.recommendation.get("status") != "planned":
        raise Conflict("only a job with a feasible plan can be scheduled", code="job_not_schedulable")
    pre = _snapshot(job)
    rec = job.recommendation
    job.recommendation = {**{k: v for k, v in rec.items() if k != "auto_schedule"},
                          "committed": {"at": _iso(now), "origin": origin, "reason": reason}}  # fmt: skip
    job.status = "scheduled"
    saved = max(0.0, float(rec.get("baseline_co2e_kg") or 0) - float(rec.get("expected_co2e_kg") or 0))
    hours = max(job.duration_minutes / 60.0, 1 / 60)
    actions_service.record_action(
        session, client_id=job.client_id, kind="schedule", origin=origin, request_id=f"{origin}:schedule:{job.id}",
        entity_type="scheduled_job", entity_id=job.id, summary=f"run {job.name} in {rec.get('region')} from "
        f"{rec.get('start')}", co2e_kg_per_hour=saved / hours, details={"start": rec.get("start"), "reason": reason},
    )  # fmt: skip
    post = {**_snapshot(job), "start": rec.get("start"), "region": rec.get("region"), "origin": origin}
    record_audit(session, "scheduled_job.schedule", "scheduled_job", job.id, pre, post)
    publish(session, "carbon.scheduler.job_scheduled",
            {"job_id": job.id, "name": job.name, "start": rec.get("start"), "region": rec.get("region"),
             "origin": origin}, job.client_id)  # fmt: skip
    session.flush()
    return job


def schedule_job(session: Session, caller: Caller, job_id: str, now: datetime) -> ScheduledJob:
    """Accept the recommendation by hand: commit the job to the recommended window."""
    job = get_job(session, caller, job_id)
    if not _committed(job):
        recompute(session, job, now)
    return commit(session, job, now, origin="manual", reason="accepted by request")


def run_now(session: Session, caller: Caller, job_id: str, now: datetime) -> ScheduledJob:
    """Start the job at once, overriding the recommendation; says what that costs against it."""
    job = get_job(session, caller, job_id)
    if job.status not in EDITABLE_STATUSES:
        raise Conflict(f"a {job.status} job cannot be started", code="job_not_startable")
    pre = _snapshot(job)
    recommended = job.recommendation.get("expected_co2e_kg")
    region = job.recommendation.get("region") or job.regions[0]
    # The same work forced to start now in the recommended region, for its emissions.
    minutes = _remaining_minutes(job)
    forced, _ = plan_work(
        session,
        ForecastCache(session, now),
        regions=[region],
        power_kw=job.power_kw,
        minutes=minutes,
        earliest_start=now,
        deadline=now + timedelta(minutes=minutes),
        interruptible=False,
    )
    recommendation = dict(forced)
    note = "Started now by request."
    if recommended is not None and recommendation.get("expected_co2e_kg") is not None:
        note += (
            f" Expected {recommendation['expected_co2e_kg']:.3f} kgCO2e against {recommended:.3f} kgCO2e at the "
            "recommended time."
        )
    recommendation["status"] = "started"
    recommendation["reason"] = "run_now_requested"
    recommendation["explanation"] = [note, *recommendation.get("explanation", [])]
    job.recommendation = recommendation
    job.recommended_at = now
    job.run_region = region
    job.started_at = now
    job.progress_at = now
    _set_status(session, job, "running", now)
    record_audit(session, "scheduled_job.run_now", "scheduled_job", job.id, pre, _snapshot(job))
    session.flush()
    return job
