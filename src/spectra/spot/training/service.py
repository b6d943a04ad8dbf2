"""Training datasets and decision performance. Services never commit.

A **training dataset** is an immutable, versioned export of the canonical price layer (one row per pool and
time bucket: the features the decision engine and risk models read) joined with what happened next:

- `interruptions_past_30d`: termination notices in the pool over the 30 days before the bucket (a feature),
- `interrupted_within_h` (label): 1 when a termination notice hit the pool within the label horizon after the
  bucket, 0 when none did, empty when that future has not happened yet,
- `price_change_within_h` (label): mean price over the horizon ÷ the bucket's price − 1 (empty when unknown).

The first five feature columns are exactly the inputs an uploaded interruption-risk model receives, in order
(`RISK_FEATURES`), so a model trained on `interrupted_within_h` can be uploaded back and activated.

**Performance** replays logged decisions against the consolidated prices that followed them: what the chosen
pool really cost over the horizon versus staying put and versus the best pool in hindsight, how far the price
at decision time was from what was then paid, and how well the interruption probabilities it used were
calibrated (Brier score over the horizon).
"""

from __future__ import annotations

import bisect
import csv
import gzip
import hashlib
import io
import math
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from spectra.core.audit import record_audit
from spectra.core.errors import NotFound, Unprocessable
from spectra.spot.decisions.models import MLDecision
from spectra.spot.decisions.registry import RISK_FEATURES
from spectra.spot.training import repository
from spectra.spot.training.models import MLTrainingDataset

MAX_ROWS = 2_000_000  # one export held in memory and in one row: larger ones must be cut by time or filter
PAST_WINDOW = timedelta(days=30)
HOURS_PER_MONTH = 730.0
MOVES = {"switch", "return_to_spot"}

ID_COLUMNS = ("pool_id", "region", "availability_zone", "instance_type", "product_description", "bucket_start")
EXTRA_FEATURES = ("interruption_bucket", "on_demand_price", "interpolated", "interruptions_past_30d")
LABELS = ("interrupted_within_h", "price_change_within_h")


def columns() -> list[dict[str, str]]:
    described = [{"name": c, "role": "id"} for c in ID_COLUMNS]
    described += [{"name": c, "role": "risk_feature"} for c in RISK_FEATURES]
    described += [{"name": c, "role": "feature"} for c in EXTRA_FEATURES]
    described += [{"name": c, "role": "label"} for c in LABELS]
    return described


def _cell(value: Any) -> Any:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, float):
        return repr(round(value, 10))
    return value


def _pool_rows(
    rows: list[Any], notices: list[datetime], start: datetime, end: datetime, horizon: timedelta, now: datetime
) -> Iterable[tuple[list[Any], int | None]]:
    """Rows of one pool (time-ordered) with their lifecycle columns; yields (cells, interrupted label)."""
    times = [r.bucket_start for r in rows]
    prices = np.array([r.price for r in rows], dtype=float)
    cumulative = np.concatenate([[0.0], np.cumsum(prices)])
    for i, row in enumerate(rows):
        at = row.bucket_start
        if at < start or at >= end:
            continue  # rows past the window only serve the labels of rows inside it
        past = bisect.bisect_left(notices, at) - bisect.bisect_left(notices, at - PAST_WINDOW)
        known = at + horizon <= now
        interrupted: int | None = None
        change: float | None = None
        if known:
            interrupted = int(bisect.bisect_right(notices, at + horizon) > bisect.bisect_right(notices, at))
            last = bisect.bisect_right(times, at + horizon)
            if last > i + 1 and row.price > 0:
                change = float((cumulative[last] - cumulative[i + 1]) / (last - i - 1) / row.price - 1.0)
        cells = [
            row.pool_id,
            row.region,
            row.availability_zone,
            row.instance_type,
            row.product_description,
            at.isoformat(),
            row.price,
            row.volatility,
            row.hours_since_change,
            row.interruption_probability,
            row.on_demand_ratio,
            row.interruption_bucket,
            row.on_demand_price,
            row.interpolated,
            past,
            interrupted,
            change,
        ]
        yield [_cell(c) for c in cells], interrupted


def create_dataset(
    session: Session,
    *,
    name: str,
    start: datetime,
    end: datetime,
    regions: list[str],
    instance_types: list[str],
    label_horizon_hours: int,
    notes: str | None,
    actor: str,
    now: datetime,
) -> MLTrainingDataset:
    """Export the canonical layer for start <= bucket < end as the next version of `name`."""
    if end <= start:
        raise Unprocessable("end must be after start", errors=[{"field": "end", "msg": "must be after start"}])
    if start >= now:
        raise Unprocessable("the window starts in the future", errors=[{"field": "start", "msg": "in the future"}])
    horizon = timedelta(hours=label_horizon_hours)
    rows_in_window = repository.count_canonical(session, start, end, regions, instance_types)
    if rows_in_window == 0:
        raise Unprocessable(
            "no canonical price rows in this window: import prices or let agents report, then run a consolidation "
            "(POST /api/admin/consolidation-jobs)",
            errors=[{"field": "start", "msg": "no canonical rows between start and end"}],
        )
    if rows_in_window > MAX_ROWS:
        raise Unprocessable(
            f"{rows_in_window:,} rows is more than one export holds ({MAX_ROWS:,}): shorten the window or filter",
            errors=[{"field": "end", "msg": "too many rows"}],
        )
    notices: dict[str, list[datetime]] = defaultdict(list)
    for pool_id, at in repository.terminations(session, start - PAST_WINDOW, end + horizon):
        notices[pool_id].append(at)

    buffer = io.BytesIO()
    row_count = positives = 0
    pools: set[str] = set()
    # mtime=0: the same rows always give the same bytes (and the same sha256).
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as packed:
        text = io.TextIOWrapper(packed, encoding="utf-8", newline="")
        writer = csv.writer(text)
        writer.writerow([c["name"] for c in columns()])
        current: list[Any] = []

        def flush() -> None:
            nonlocal row_count, positives
            if not current:
                return
            pool_id = current[0].pool_id
            for cells, interrupted in _pool_rows(current, notices.get(pool_id, []), start, end, horizon, now):
                writer.writerow(cells)
                row_count += 1
                positives += interrupted or 0
                pools.add(pool_id)
            current.clear()

        for row in repository.canonical_rows(session, start, end + horizon, regions, instance_types):
            if current and row.pool_id != current[0].pool_id:
                flush()
            current.append(row)
        flush()
        text.flush()
        text.detach()
    content = buffer.getvalue()
    dataset = MLTrainingDataset(
        name=name,
        dataset_version=repository.latest_version(session, name) + 1,
        window_start=start,
        window_end=end,
        label_horizon_hours=label_horizon_hours,
        filters={"regions": sorted(regions), "instance_types": sorted(instance_types)},
        columns=columns(),
        row_count=row_count,
        pool_count=len(pools),
        positive_labels=positives,
        size_bytes=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
        content=content,
        created_by=actor,
        notes=notes,
    )
    session.add(dataset)
    session.flush()
    record_audit(
        session, "ml_training_dataset.create", "ml_training_dataset", dataset.id, None,
        {"name": name, "version": dataset.dataset_version, "rows": row_count, "sha256": dataset.sha256},
    )  # fmt: skip
    return dataset


def list_datasets(session: Session, name: str | None, limit: int) -> list[MLTrainingDataset]:
    return list(repository.datasets(session, name, limit))


def get_dataset(session: Session, dataset_id: str, with_content: bool = False) -> MLTrainingDataset:
    dataset = repository.dataset(session, dataset_id, with_content)
    if dataset is None:
        raise NotFound("training dataset not found")
    return dataset


def file_name(dataset: MLTrainingDataset) -> str:
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in dataset.name)
    return f"{safe}-v{dataset.dataset_version}.csv.gz"


# --------------------------------------------------------------------------- performance


def step_mean(series: list[tuple[datetime, float]], start: datetime, end: datetime) -> float | None:
    """Time-weighted mean of a price that holds from each point to the next, over start … end; None when no
    price is known at `start` or after it within the window."""
    if not series or end <= start:
        return None
    times = [t for t, _ in series]
    i = bisect.bisect_right(times, start) - 1
    total = 0.0
    covered = 0.0
    at = start
    price = series[i][1] if i >= 0 else None
    for t, value in series[i + 1 :]:
        if t >= end:
            break
        if price is not None:
            total += price * (t - at).total_seconds()
            covered += (t - at).total_seconds()
        at, price = t, value
    if price is not None:
        total += price * (end - at).total_seconds()
        covered += (end - at).total_seconds()
    return total / covered if covered > 0 else None


def _chosen_pool(decision: MLDecision) -> str | None:
    """The pool the decision put the instance in for the next hours (None = on-demand)."""
    current = ((decision.inputs or {}).get("instance") or {}).get("pool_id")
    if decision.action in MOVES:
        return decision.target_pool_id
    if decision.action == "fallback_on_demand":
        return None
    return current


def performance(
    session: Session,
    *,
    model_id: str | None,
    engine: str | None,
    start: datetime,
    end: datetime,
    horizon_hours: float,
    now: datetime,
    limit: int = 5000,
) -> dict[str, Any]:
    """Logged decisions in start … end scored against the consolidated prices of the `horizon_hours` after each."""
    if end <= start:
        raise Unprocessable("end must be after start", errors=[{"field": "end", "msg": "must be after start"}])
    horizon = timedelta(hours=horizon_hours)
    logged = repository.decisions(session, model_id, engine, start, end, limit)
    ripe = [d for d in logged if d.decided_at + horizon <= now]
    pool_ids: set[str] = set()
    for d in ripe:
        pool_ids.update(c["pool_id"] for c in (d.inputs or {}).get("candidates", []) if c.get("pool_id"))
        chosen = _chosen_pool(d)
        if chosen:
            pool_ids.add(chosen)
    first = min((d.decided_at for d in ripe), default=start)
    last = max((d.decided_at for d in ripe), default=start)
    prices = repository.consolidated_prices(session, sorted(pool_ids), first - timedelta(days=1), last + horizon)
    notices: dict[str, list[datetime]] = defaultdict(list)
    for pool_id, at in repository.terminations(session, first, last + horizon):
        notices[pool_id].append(at)

    savings, regrets, forecast_errors, briers = [], [], [], []
    no_worse = moves = moves_paid = unpriced = 0
    actions: dict[str, int] = defaultdict(int)
    for d in ripe:
        actions[d.action] += 1
        inputs = d.inputs or {}
        on_demand = inputs.get("on_demand_price")
        window = (d.decided_at, d.decided_at + horizon)

        def realised(pool_id: str | None, window: tuple[datetime, datetime] = window, od: Any = on_demand) -> Any:
            return od if pool_id is None else step_mean(prices.get(pool_id, []), *window)

        chosen_pool = _chosen_pool(d)
        stay_pool = (inputs.get("instance") or {}).get("pool_id")
        chosen, stay = realised(chosen_pool), realised(stay_pool)
        options = [realised(c["pool_id"]) for c in inputs.get("candidates", [])] + [on_demand]
        known = [o for o in options if o is not None]
        if chosen is None or stay is None or not known:
            unpriced += 1
            continue
        saving = stay - chosen
        savings.append(saving)
        regrets.append(chosen - min(known))
        no_worse += saving >= -1e-12
        if d.action in MOVES:
            moves += 1
            moves_paid += saving > 1e-12
        quoted = next((c for c in inputs.get("candidates", []) if c.get("pool_id") == chosen_pool), None)
        if quoted is not None:
            forecast_errors.append(abs(quoted["price"] - chosen))
            monthly = quoted.get("interruption_probability")
            if monthly is not None:
                p = 1.0 - (1.0 - min(max(float(monthly), 0.0), 1.0)) ** (horizon_hours / HOURS_PER_MONTH)
                hit = any(window[0] <= t < window[1] for t in notices.get(chosen_pool or "", []))
                briers.append((p - float(hit)) ** 2)
    evaluated = len(savings)

    def mean(values: list[float]) -> float | None:
        return round(float(np.mean(values)), 6) if values else None

    return {
        "model_id": model_id,
        "engine": engine,
        "start": start,
        "end": end,
        "horizon_hours": horizon_hours,
        "decisions_logged": len(logged),
        "decisions_waiting": len(logged) - len(ripe),
        "decisions_unpriced": unpriced,
        "decisions_evaluated": evaluated,
        "actions": dict(actions),
        "realised_saving_usd_per_hour": mean(savings),
        "share_no_worse_than_staying": round(no_worse / evaluated, 4) if evaluated else None,
        "moves": moves,
        "share_of_moves_that_paid": round(moves_paid / moves, 4) if moves else None,
        "regret_usd_per_hour": mean(regrets),
        "price_at_decision_mae_usd": mean(forecast_errors),
        "interruption_brier": mean(briers),
        "method": (
            f"each decision's chosen pool (its target for a move, its current pool otherwise, on-demand for a "
            f"fall-back) priced as the time-weighted mean consolidated price over the {horizon_hours:g} h after it, "
            "against staying in the pool it was in and against the cheapest candidate in hindsight; the Brier score "
            "compares the chosen pool's monthly interruption probability, scaled to the horizon, with termination "
            "notices in that pool over the horizon"
        ),
    }
