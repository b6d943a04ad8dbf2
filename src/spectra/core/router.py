"""Platform routes: health, identity, the event stream, the clock, jobs, audit and Prometheus metrics."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.concurrency import run_in_threadpool

from spectra.core import jobs, repository
from spectra.core.auth import AdminDep, Caller, CallerDep, get_caller, require_admin
from spectra.core.clock import clock, load_or_create_state, set_clock, tick_clock
from spectra.core.config import get_settings
from spectra.core.db import SessionDep, session_scope
from spectra.core.errors import PROBLEM_RESPONSES, BadRequest
from spectra.core.events import EVENTS_DELIVERED, Event, broker, poll_interval_seconds
from spectra.core.health import component_health, database_ok
from spectra.core.schemas import (
    ApiHealth,
    AuditOut,
    ClockIn,
    ClockOut,
    HealthData,
    JobOut,
    JobRunOut,
    SeedHealth,
    TickIn,
    TickOut,
    WhoAmI,
)

public_router = APIRouter(tags=["health"])
router = APIRouter(prefix="/api", tags=["platform"], responses=PROBLEM_RESPONSES)


@public_router.get("/health", response_model=SeedHealth, responses={503: {"model": SeedHealth}})
def health() -> JSONResponse:
    """Liveness and database check in the Spot seed's envelope; 503 "degraded" when the database is down."""
    ok = database_ok()
    body = SeedHealth(
        status="success" if ok else "error",
        data=HealthData(
            status="healthy" if ok else "degraded",
            timestamp=datetime.now(UTC),
            database="connected" if ok else "unreachable",
        ),
    )
    return JSONResponse(body.model_dump(mode="json"), status_code=200 if ok else 503)


@router.get("/health", response_model=ApiHealth, responses={503: {"model": ApiHealth}})
def api_health() -> JSONResponse:
    """AutoScale's liveness probe, with the scheduler and each collector/provider's state."""
    ok = database_ok()
    scheduler = jobs.current_scheduler
    components = component_health() if ok else {}
    degraded = not ok or any(c.get("status") == "failing" for c in components.values())
    body = ApiHealth(
        status="ok" if not degraded else "degraded",
        timestamp=datetime.now(UTC),
        database="connected" if ok else "unreachable",
        clock=clock.now() if ok or not clock.simulated else datetime.now(UTC),
        simulated_clock=clock.simulated,
        scheduler={
            "running_here": scheduler is not None,
            "leader": bool(scheduler and scheduler.is_leader),
            "runner": scheduler.runner_id if scheduler else None,
        },
        components=components,
    )
    return JSONResponse(body.model_dump(mode="json"), status_code=200 if ok else 503)


@router.get("/whoami", response_model=WhoAmI)
def whoami(caller: CallerDep) -> WhoAmI:
    """Who the bearer token belongs to: the UI uses it to decide what to show."""
    return WhoAmI(role=caller.role, client_id=caller.client_id, name=caller.name)


# --------------------------------------------------------------------------- events (SSE)


def _fetch(caller: Caller, after: int, topics: list[str] | None) -> list[Event]:
    with session_scope(read_only=True) as session:
        rows = repository.events_after(session, after, caller.client_id, caller.is_admin, topics)
        return [Event.from_row(r) for r in rows]


def _latest_id() -> int:
    with session_scope(read_only=True) as session:
        return repository.last_event_id(session)


@router.get(
    "/events/stream",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "Server-Sent Events"}},
)
async def event_stream(
    request: Request,
    caller: CallerDep,
    topics: Annotated[str | None, Query(description="Comma-separated topic prefixes, e.g. spot.,emergency.")] = None,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
    since: Annotated[int | None, Query(description="Resume after this event id (same as Last-Event-ID)")] = None,
) -> StreamingResponse:
    """Live events of the caller's tenant (admins: all); resumes after `Last-Event-ID`; sends heartbeats."""
    wanted = [t.strip() for t in topics.split(",") if t.strip()] if topics else None
    if last_event_id is not None and not last_event_id.isdigit():
        raise BadRequest("Last-Event-ID must be an event id", code="bad_last_event_id")
    start = int(last_event_id) if last_event_id else since
    after = start if start is not None else await run_in_threadpool(_latest_id)
    heartbeat = get_settings().sse_heartbeat_seconds

    async def stream() -> AsyncIterator[str]:
        nonlocal after
        yield f"retry: 2000\n: connected as {caller.role}\n\n"
        loop = asyncio.get_running_loop()
        last_beat = loop.time()
        while not await request.is_disconnected():
            events = await run_in_threadpool(_fetch, caller, after, wanted)
            for evt in events:
                after = evt.id
                EVENTS_DELIVERED.inc()
                yield f"id: {evt.id}\nevent: {evt.topic}\ndata: {json.dumps(evt.as_json(), default=str)}\n\n"
            if events:
                continue
            if loop.time() - last_beat >= heartbeat:
                last_beat = loop.time()
                yield ": heartbeat\n\n"
            await broker.wait(min(poll_interval_seconds(), heartbeat))

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


# --------------------------------------------------------------------------- clock


@router.get("/admin/clock", response_model=ClockOut)
def get_clock(_: AdminDep, session: SessionDep) -> ClockOut:
    """The platform clock (SPECTRA's SimClock when `SPECTRA_SIM_CLOCK_ENABLED`)."""
    if not clock.simulated:
        return ClockOut(now=clock.now(), simulated=False)
    state = load_or_create_state(session)
    return ClockOut(now=clock.now(), simulated=True, speed=state.speed)


@router.put("/admin/clock", response_model=ClockOut)
def put_clock(body: ClockIn, _: AdminDep, session: SessionDep) -> ClockOut:
    """Set the simulated clock's time and/or speed (0 = frozen, 1 = real time, 60 = a minute per second)."""
    if not clock.simulated:
        raise BadRequest("the simulated clock is disabled (SPECTRA_SIM_CLOCK_ENABLED=false)", code="clock_real")
    state = load_or_create_state(session)
    at = body.at or (state.sim_anchor + (datetime.now(UTC) - state.wall_anchor) * state.speed)
    set_clock(session, at, body.speed)
    return ClockOut(now=at, simulated=True, speed=state.speed)


def _tick(minutes: float) -> TickOut:
    with session_scope() as session:
        before, after = tick_clock(session, minutes)
    clock.invalidate()
    runs = jobs.run_due_jobs(after, "tick")
    return TickOut(before=before, after=after, jobs_run=[JobRunOut.model_validate(r) for r in runs])


@router.post("/admin/tick", response_model=TickOut)
async def tick(body: TickIn, _: AdminDep) -> TickOut:
    """Advance the simulated clock by N minutes, then run the jobs that fell due (once each, coalesced)."""
    if not clock.simulated:
        raise BadRequest("the simulated clock is disabled (SPECTRA_SIM_CLOCK_ENABLED=false)", code="clock_real")
    return await run_in_threadpool(_tick, body.minutes)


# --------------------------------------------------------------------------- jobs and audit


@router.get("/admin/jobs", response_model=list[JobOut])
def list_jobs(_: AdminDep, session: SessionDep) -> list[JobOut]:
    """Registered periodic jobs with their interval and last run."""
    out = []
    for name, spec in sorted(jobs.registered_jobs().items()):
        last = repository.last_job_run(session, name)
        out.append(
            JobOut(
                name=name,
                description=spec.description,
                interval_seconds=spec.interval().total_seconds(),
                last_run=JobRunOut.model_validate(last) if last else None,
            )
        )
    return out


@router.get("/admin/jobs/runs", response_model=list[JobRunOut])
def list_job_runs(
    _: AdminDep, session: SessionDep, job: str | None = None, limit: Annotated[int, Query(ge=1, le=500)] = 50
) -> list[JobRunOut]:
    """Recorded job runs, newest first: start, end, status, error, result."""
    return [JobRunOut.model_validate(r) for r in repository.job_runs(session, job, limit)]


@router.post("/admin/jobs/{name}/run", response_model=JobRunOut)
async def trigger_job(name: str, _: AdminDep) -> JobRunOut:
    """Run a job now, outside its schedule; the run is recorded like any other."""
    jobs.get_job(name)
    run = await run_in_threadpool(jobs.run_job, name, "manual")
    assert run is not None  # manual runs have no period, so they are never skipped
    return JobRunOut.model_validate(run)


@router.get("/audit", response_model=list[AuditOut])
def audit_log(
    caller: CallerDep,
    session: SessionDep,
    entity_type: str | None = None,
    entity_id: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[AuditOut]:
    """The audit trail (actor, action, entity, pre/post state, request id) of the caller's tenant."""
    rows = repository.audit_entries(session, caller.client_id, entity_type, entity_id, limit)
    return [AuditOut.model_validate(r) for r in rows]


@public_router.get("/metrics", include_in_schema=False)
async def prometheus_metrics(request: Request, session: SessionDep) -> Response:
    """Prometheus exposition; needs the admin token unless SPECTRA_METRICS_PUBLIC=true."""
    if not get_settings().metrics_public:
        require_admin(await get_caller(request, session))
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
