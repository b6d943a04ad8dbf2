"""API shapes for regions and instance types."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class RegionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    code: str
    name: str
    provider: str
    latitude: float | None
    longitude: float | None
    country: str | None
    zone: str | None = Field(description="Electricity Maps zone id of the grid that powers the region")
    pue: float = Field(description="Power usage effectiveness used for its energy (CCF's provider figure)")
    price_multiplier: float | None = Field(description="On-demand price relative to us-east-1 (AWS)")
    source: str = Field(description="reference (built-in) or stored (set by an admin)")


class RegionIn(BaseModel):
    name: str = Field(min_length=1, max_length=120)
    provider: str = Field(pattern="^(aws|gcp|azure)$")
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)
    country: str | None = Field(default=None, pattern="^[A-Z]{2}$")
    zone: str | None = Field(default=None, min_length=1, max_length=40)
    pue: float | None = Field(default=None, ge=1.0, le=3.0, description="Default: the provider's CCF PUE")
    price_multiplier: float | None = Field(default=None, gt=0, le=10)


class PriceOut(BaseModel):
    region: str
    on_demand_usd_per_hour: float | None
    reserved_usd_per_hour: float | None = None
    spot_min_usd_per_hour: float | None = None
    spot_max_usd_per_hour: float | None = None
    source: str = Field(description="imported file name, or 'estimate' (us-east-1 list price × region multiplier)")


class InstanceTypeOut(BaseModel):
    name: str
    provider: str
    family: str
    vcpu: int
    memory_gib: float
    microarch: str | None
    physical_processor: str | None
    arch: str | None
    burstable: bool
    gpus: int
    platform_vcpu: int | None
    platform_memory_gib: float | None
    platform_sockets: int | None
    source: str
    prices: list[PriceOut] = []


class CatalogImportOut(BaseModel):
    file: str
    region: str
    types: int
    created: int
    updated: int
    prices: int
