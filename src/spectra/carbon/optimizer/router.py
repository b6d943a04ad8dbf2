"""Region optimiser and latency routes (SPECTRA seed paths)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from spectra.carbon.optimizer import service
from spectra.carbon.optimizer.dependencies import InputsDep
from spectra.carbon.optimizer.schemas import (
    LatencyFetchIn,
    LatencyFetchOut,
    LatencyOut,
    RankingOut,
    WeightsIn,
    WorkloadIn,
)
from spectra.core.auth import AdminDep, CallerDep
from spectra.core.db import SessionDep
from spectra.core.errors import PROBLEM_RESPONSES, Unprocessable

router = APIRouter(prefix="/api/optimizer", tags=["optimizer"], responses=PROBLEM_RESPONSES)
admin_router = APIRouter(prefix="/api/admin/latency", tags=["admin: latency"], responses=PROBLEM_RESPONSES)


def _csv(value: str | None) -> list[str] | None:
    return [p.strip() for p in value.split(",") if p.strip()] if value else None


def workload_from_query(
    workload: str | None = Query(default=None, description="An instance id: its type, region and users"),
    instance_type: str | None = Query(default=None, max_length=40),
    power_kw: float | None = Query(default=None, gt=0, le=10_000),
    utilisation: float = Query(default=0.5, ge=0, le=1),
    users_region: str | None = Query(default=None, max_length=64),
    current_region: str | None = Query(default=None, max_length=64),
    start: datetime | None = None,
    hours: float = Query(default=24, gt=0, le=24 * 14),
    max_latency_ms: float | None = Query(default=None, gt=0),
    providers: str | None = Query(default=None, description="Comma-separated, e.g. aws,gcp"),
    countries: str | None = Query(default=None, description="Comma-separated ISO codes, e.g. DE,FR"),
    w_carbon: float = Query(default=0.5, ge=0),
    w_latency: float = Query(default=0.2, ge=0),
    w_cost: float = Query(default=0.3, ge=0),
) -> WorkloadIn:
    try:
        return WorkloadIn(
            instance_id=workload, instance_type=instance_type, power_kw=power_kw, utilisation=utilisation,
            users_region=users_region, current_region=current_region, start=start, hours=hours,
            max_latency_ms=max_latency_ms, providers=_csv(providers), countries=_csv(countries),
            weights=WeightsIn(carbon=w_carbon, latency=w_latency, cost=w_cost),
        )  # fmt: skip
    except ValueError as exc:
        raise Unprocessable(
            str(exc).splitlines()[-1].strip(), errors=[{"field": "workload", "msg": str(exc)}]
        ) from None


@router.get("/regions", response_model=RankingOut)
def rank_regions_get(
    caller: CallerDep,
    session: SessionDep,
    inputs: InputsDep,
    workload: Annotated[WorkloadIn, Depends(workload_from_query)],
) -> RankingOut:
    """Rank regions for a workload (`?workload=<instance id>`, or `instance_type` / `power_kw`) by weighted
    carbon, latency and cost; constraints `max_latency_ms`, `providers`, `countries`."""
    return RankingOut.model_validate(service.rank(session, inputs, workload, caller))


@router.post("/regions", response_model=RankingOut)
def rank_regions_post(body: WorkloadIn, caller: CallerDep, session: SessionDep, inputs: InputsDep) -> RankingOut:
    """Rank regions for a workload described in the body. Changes nothing."""
    return RankingOut.model_validate(service.rank(session, inputs, body, caller))


@router.get("/latency", response_model=list[LatencyOut])
def list_latency(
    _: CallerDep,
    session: SessionDep,
    from_region: str | None = Query(default=None, alias="from"),
    to_region: str | None = Query(default=None, alias="to"),
    limit: int = Query(default=500, ge=1, le=10_000),
) -> list[LatencyOut]:
    """Stored latency between regions, each labelled with its source (modelled or cloudflare_radar)."""
    return [LatencyOut.model_validate(r) for r in service.list_latencies(session, from_region, to_region, limit)]


@admin_router.post("/fetch", response_model=LatencyFetchOut)
def fetch_latency(
    _: AdminDep, session: SessionDep, inputs: InputsDep, body: LatencyFetchIn | None = None
) -> LatencyFetchOut:
    """Refresh inter-region latency: Cloudflare Radar when a token is configured, else the distance model."""
    return LatencyFetchOut.model_validate(
        service.fetch_latencies(session, inputs, (body or LatencyFetchIn()).date_range)
    )
