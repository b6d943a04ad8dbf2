"""Training dataset and decision-performance API shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class DatasetIn(BaseModel):
    name: str = Field(min_length=1, max_length=120, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$",
                      description="Datasets of one name are versioned 1, 2, …")  # fmt: skip
    start: datetime = Field(description="First time bucket exported (inclusive)")
    end: datetime = Field(description="End of the window (exclusive)")
    regions: list[str] = Field(default_factory=list, max_length=50, description="Only these regions (default all)")
    instance_types: list[str] = Field(default_factory=list, max_length=200, description="Only these types")
    label_horizon_hours: int = Field(
        default=24, ge=1, le=24 * 30, description="How far ahead the labels look (interruption, price change)"
    )
    notes: str | None = Field(default=None, max_length=2000)


class DatasetColumn(BaseModel):
    name: str
    role: str = Field(description="id, risk_feature (a risk model's inputs, in this order), feature or label")


class DatasetOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    dataset_version: int
    window_start: datetime
    window_end: datetime
    label_horizon_hours: int
    filters: dict[str, Any]
    columns: list[DatasetColumn]
    row_count: int
    pool_count: int
    positive_labels: int = Field(description="Rows whose pool got a termination notice within the horizon")
    size_bytes: int
    sha256: str
    created_by: str
    created_at: datetime
    notes: str | None
    download_url: str = ""


class PerformanceOut(BaseModel):
    model_id: str | None
    engine: str | None
    start: datetime
    end: datetime
    horizon_hours: float
    decisions_logged: int
    decisions_waiting: int = Field(description="Logged less than the horizon ago: their outcome is not known yet")
    decisions_unpriced: int = Field(description="No consolidated price for the chosen or the current pool")
    decisions_evaluated: int
    actions: dict[str, int]
    realised_saving_usd_per_hour: float | None = Field(description="Mean of (staying − chosen) realised USD/h")
    share_no_worse_than_staying: float | None
    moves: int
    share_of_moves_that_paid: float | None
    regret_usd_per_hour: float | None = Field(description="Mean of (chosen − cheapest candidate in hindsight)")
    price_at_decision_mae_usd: float | None = Field(description="|price quoted at decision − realised mean|")
    interruption_brier: float | None = Field(description="Brier score of the interruption probability used")
    method: str
