"""Admin: recompute stored emissions for a date range (after importing older intensity, or a catalogue fix)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field, model_validator

from spectra.carbon.emissions import service
from spectra.core.auth import AdminDep
from spectra.core.clock import clock
from spectra.core.db import SessionDep
from spectra.core.errors import PROBLEM_RESPONSES

router = APIRouter(prefix="/api/admin/emissions", tags=["admin: emissions"], responses=PROBLEM_RESPONSES)
MAX_DAYS = 366


class RecomputeIn(BaseModel):
    start: date = Field(description="First UTC day")
    end: date = Field(description="Last UTC day, inclusive (days after today are ignored)")

    @model_validator(mode="after")
    def _range(self) -> RecomputeIn:
        if self.end < self.start:
            raise ValueError("end is before start")
        if (self.end - self.start).days >= MAX_DAYS:
            raise ValueError(f"at most {MAX_DAYS} days at once")
        return self


class RecomputeOut(BaseModel):
    days: list[str]
    instance_days: int


@router.post("/recompute", response_model=RecomputeOut)
def recompute(body: RecomputeIn, _: AdminDep, session: SessionDep) -> dict[str, Any]:
    """Compute and store every day of the range again from the stored intensity and metrics."""
    now = clock.now()
    last = min(body.end, now.date())
    days = [body.start + timedelta(days=i) for i in range((last - body.start).days + 1)]
    return service.compute_days(session, days, now)
