"""Shared by the capacity tests: run the roll-up job for real, and the roll-ups it must produce."""

from __future__ import annotations

import time
from collections import defaultdict
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from spectra.capacity import service, tasks
from spectra.capacity.models import MetricPoint, MetricRollup
from spectra.core import jobs

Key = tuple[str, str, str, datetime]
Aggregate = tuple[int, float, float, float]


def run_rollups(limit: int = 1000) -> list[dict[str, Any]]:
    """Run the roll-up job through the job runner (each run its own transaction, recorded) until every stored
    point is counted; the runs' results."""
    results = []
    for _ in range(limit):
        run = jobs.run_job(tasks.ROLLUPS, "manual")
        assert run is not None and run.status == "succeeded", run.error if run else None
        assert run.result is not None
        results.append(run.result)
        if run.result["complete"]:
            return results
        if run.result["caught_up"]:  # more of the newest points than a run reads: let them settle
            time.sleep(service.ROLLUP_SETTLE.total_seconds())
    raise AssertionError(f"the roll-up job did not catch up in {limit} runs")


def stored_rollups(db: Session) -> dict[Key, Aggregate]:
    rows = db.execute(
        select(
            MetricRollup.resource_pk,
            MetricRollup.metric,
            MetricRollup.resolution,
            MetricRollup.bucket,
            MetricRollup.count,
            MetricRollup.total,
            MetricRollup.minimum,
            MetricRollup.maximum,
        )
    )
    return {(pk, m, res, b): (n, total, lo, hi) for pk, m, res, b, n, total, lo, hi in rows}


def from_scratch(db: Session) -> dict[Key, Aggregate]:
    """Every stored raw point aggregated anew into both tiers (the definition the roll-ups must meet)."""
    groups: dict[Key, list[float]] = defaultdict(list)
    for pk, metric, ts, value in db.execute(
        select(MetricPoint.resource_pk, MetricPoint.metric, MetricPoint.ts, MetricPoint.value)
    ):
        for resolution in service.BUCKETS:
            groups[(pk, metric, resolution, service.bucket_start(ts, resolution))].append(value)
    return {key: (len(v), sum(v), min(v), max(v)) for key, v in groups.items()}


def assert_same(stored: dict[Key, Aggregate], expected: dict[Key, Aggregate]) -> None:
    assert stored.keys() == expected.keys()
    for key, (n, total, lo, hi) in expected.items():
        assert stored[key] == (n, pytest.approx(total), lo, hi), key


def assert_rollups_match_points(db: Session) -> None:
    assert_same(stored_rollups(db), from_scratch(db))
