"""Region and instance-type routes (SPECTRA's /api/regions; the catalogue under /api/instance-types)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from spectra.core.auth import AdminDep, CallerDep
from spectra.core.db import SessionDep
from spectra.core.errors import PROBLEM_RESPONSES
from spectra.fleet.catalog import service
from spectra.fleet.catalog.schemas import InstanceTypeOut, PriceOut, RegionIn, RegionOut

router = APIRouter(prefix="/api", tags=["regions"], responses=PROBLEM_RESPONSES)

RegionCode = Annotated[str, Path(min_length=2, max_length=40, pattern=r"^[a-z0-9-]+$")]


@router.get("/regions", response_model=list[RegionOut])
def list_regions(
    _caller: CallerDep,
    session: SessionDep,
    provider: Annotated[str | None, Query(pattern="^(aws|gcp|azure)$")] = None,
) -> list[RegionOut]:
    """Cloud regions with coordinates, country, grid zone and PUE (built-in facts plus an admin's changes)."""
    return [RegionOut.model_validate(v, from_attributes=True) for v in service.list_regions(session, provider)]


@router.get("/regions/{code}", response_model=RegionOut)
def get_region(code: RegionCode, _caller: CallerDep, session: SessionDep) -> RegionOut:
    """One region (404 when unknown)."""
    return RegionOut.model_validate(service.get_region(session, code), from_attributes=True)


@router.put("/regions/{code}", response_model=RegionOut)
def put_region(code: RegionCode, body: RegionIn, _admin: AdminDep, session: SessionDep) -> RegionOut:
    """Add a region or override a built-in one, e.g. map it to another Electricity Maps zone (admin)."""
    return RegionOut.model_validate(service.put_region(session, code, body), from_attributes=True)


def _type_out(session: SessionDep, view: service.InstanceTypeView, region: str | None) -> InstanceTypeOut:
    prices = [PriceOut.model_validate(p, from_attributes=True) for p in service.prices_of(session, view.name)]
    if region is not None and not any(p.region == region for p in prices):
        estimate = service.on_demand_price(session, view.name, region)
        if estimate is not None:
            prices.append(PriceOut.model_validate(estimate, from_attributes=True))
    if region is not None:
        prices = [p for p in prices if p.region == region]
    return InstanceTypeOut(**view.__dict__, prices=prices)


@router.get("/instance-types", response_model=list[InstanceTypeOut], tags=["instance types"])
def list_instance_types(
    _caller: CallerDep,
    session: SessionDep,
    region: Annotated[str | None, Query(max_length=40, description="Only this region's price")] = None,
    family: Annotated[str | None, Query(max_length=24)] = None,
) -> list[InstanceTypeOut]:
    """The instance-type catalogue: specs, microarchitecture, server platform and prices."""
    views = [v for v in service.list_instance_types(session) if family is None or v.family == family]
    return [_type_out(session, v, region) for v in views]


@router.get("/instance-types/{name}", response_model=InstanceTypeOut, tags=["instance types"])
def get_instance_type(
    name: Annotated[str, Path(max_length=40)],
    _caller: CallerDep,
    session: SessionDep,
    region: Annotated[str | None, Query(max_length=40)] = None,
) -> InstanceTypeOut:
    """One instance type (404 when unknown) with its imported prices, or an estimate for `region`."""
    return _type_out(session, service.get_instance_type(session, name), region)
