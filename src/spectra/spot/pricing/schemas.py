"""Pricing pipeline API shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class ConsolidationJobOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    trigger: str
    status: str
    started_at: datetime
    finished_at: datetime | None
    window_start: datetime | None
    window_end: datetime | None
    bucket_seconds: int
    pools: int
    rows_staged: int
    duplicates_dropped: int
    replica_overridden: int
    rows_consolidated: int
    rows_interpolated: int
    rows_canonical: int
    stats: dict[str, Any] | None
    error: str | None


ImportKind = Literal["price-history", "spot-advisor", "on-demand"]


class ImportOut(BaseModel):
    kind: ImportKind
    source: str
    counts: dict[str, int]
    consolidation: ConsolidationJobOut | None = None


class BackfillIn(BaseModel):
    region: str = Field(min_length=1, max_length=32)
    instance_types: list[str] = Field(min_length=1, max_length=50)
    start: datetime
    end: datetime

    @model_validator(mode="after")
    def _ordered(self) -> BackfillIn:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self


class BackfillOut(BaseModel):
    region: str
    instance_types: list[str]
    start: datetime
    end: datetime
    rows_read: int
    rows_staged: int
    duplicates_skipped: int
    pools_touched: int
