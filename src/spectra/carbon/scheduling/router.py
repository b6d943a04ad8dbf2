"""/api/scheduler/jobs: deferrable jobs with their carbon-aware recommendation."""

from __future__ import annotations

from fastapi import APIRouter, Query

from spectra.carbon.scheduling import service
from spectra.carbon.scheduling.schemas import JobCreate, JobOut, JobUpdate
from spectra.core.auth import CallerDep
from spectra.core.clock import clock
from spectra.core.db import SessionDep
from spectra.core.errors import PROBLEM_RESPONSES

router = APIRouter(prefix="/api/scheduler", tags=["scheduler"], responses=PROBLEM_RESPONSES)

STATUS_PATTERN = "^(pending|scheduled|running|done|cancelled|missed)$"


@router.get("/jobs", response_model=list[JobOut])
def list_jobs(
    caller: CallerDep,
    session: SessionDep,
    status: str | None = Query(default=None, pattern=STATUS_PATTERN),
    team_id: str | None = None,
    client_id: str | None = Query(default=None, description="Admins: one client's jobs"),
    limit: int = Query(default=100, ge=1, le=1000),
    offset: int = Query(default=0, ge=0),
) -> list[JobOut]:
    """Scheduled jobs, newest submission first."""
    rows = service.list_jobs(
        session, caller.scope_client_id(client_id), status=status, team_id=team_id, limit=limit, offset=offset
    )
    return [JobOut.model_validate(r) for r in rows]


@router.post("/jobs", response_model=JobOut, status_code=201)
def create_job(data: JobCreate, caller: CallerDep, session: SessionDep) -> JobOut:
    """Submit a job; the answer carries its recommendation (region, start, pieces, expected kgCO2e, why)."""
    return JobOut.model_validate(service.create_job(session, caller, data, clock.now()))


@router.get("/jobs/{job_id}", response_model=JobOut)
def get_job(job_id: str, caller: CallerDep, session: SessionDep) -> JobOut:
    return JobOut.model_validate(service.get_job(session, caller, job_id))


@router.patch("/jobs/{job_id}", response_model=JobOut)
def update_job(job_id: str, data: JobUpdate, caller: CallerDep, session: SessionDep) -> JobOut:
    """Change a job that has not started (or was missed); its recommendation is recomputed."""
    return JobOut.model_validate(service.update_job(session, caller, job_id, data, clock.now()))


@router.delete("/jobs/{job_id}", response_model=JobOut)
def cancel_job(job_id: str, caller: CallerDep, session: SessionDep) -> JobOut:
    """Cancel a job (kept, with status cancelled)."""
    return JobOut.model_validate(service.cancel_job(session, caller, job_id, clock.now()))


@router.post("/jobs/{job_id}/schedule", response_model=JobOut)
def schedule_job(job_id: str, caller: CallerDep, session: SessionDep) -> JobOut:
    """Accept the recommendation: commit the job to the recommended window (it is no longer re-planned)."""
    return JobOut.model_validate(service.schedule_job(session, caller, job_id, clock.now()))


@router.post("/jobs/{job_id}/run-now", response_model=JobOut)
def run_now(job_id: str, caller: CallerDep, session: SessionDep) -> JobOut:
    """Start the job at once instead of at the recommended time; says what that costs."""
    return JobOut.model_validate(service.run_now(session, caller, job_id, clock.now()))
