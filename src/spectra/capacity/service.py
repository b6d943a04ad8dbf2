"""Capacity rules: ingest metric batches (all or nothing), roll them up (a job), query them, forecast breaches.

Other domains use this module (never the repository or models): `utilisation(...)` for a resource's
series, `notify(...)` (alerts.py, through here) for the shared channels.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import TypeAdapter, ValidationError
from sqlalchemy.orm import Session

from spectra.capacity import repository
from spectra.capacity.channels import configured
from spectra.capacity.forecasting import Forecast, ForecastConfig, forecast_breach
from spectra.capacity.models import RESOLUTION_SECONDS, ForecastRecord, Resource
from spectra.capacity.schemas import MetricPointIn
from spectra.core.auth import Caller
from spectra.core.clock import clock
from spectra.core.config import get_settings
from spectra.core.db import new_id, utcnow
from spectra.core.errors import NotFound, Unprocessable

MAX_BATCH = 10_000
PERCENT_METRICS = ("cpu", "memory", "disk")
FUTURE_TOLERANCE = timedelta(minutes=5)
RANGES = {"1h": timedelta(hours=1), "6h": timedelta(hours=6), "24h": timedelta(hours=24), "7d": timedelta(days=7)}
BUCKETS = {resolution: timedelta(seconds=seconds) for resolution, seconds in RESOLUTION_SECONDS.items()}
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def bucket_start(ts: datetime, resolution: str) -> datetime:
    size = BUCKETS[resolution]
    return EPOCH + size * ((ts - EPOCH) // size)


def thresholds() -> dict[str, float]:
    settings = get_settings()
    return {"cpu": settings.threshold_cpu, "memory": settings.threshold_mem}


# --------------------------------------------------------------------------- ingest


@dataclass
class IngestResult:
    accepted: int
    duplicates: int
    resources: list[str]


# One validation call for the whole batch; rows are re-validated one by one only when it fails.
_POINT_LIST = TypeAdapter(list[MetricPointIn])
_POINT = TypeAdapter(MetricPointIn)


def _validate(rows: list[Any], now: datetime) -> list[MetricPointIn]:
    """Every row checked; any bad row rejects the whole batch, each named by its index."""
    if len(rows) > MAX_BATCH:
        raise Unprocessable(f"at most {MAX_BATCH} points per batch", errors=[{"field": "points", "msg": "too many"}])
    errors: list[dict[str, Any]] = []
    parsed: list[MetricPointIn | None]
    try:
        parsed = list(_POINT_LIST.validate_python(rows))
    except ValidationError:
        parsed = []
        for i, raw in enumerate(rows):
            try:
                parsed.append(_POINT.validate_python(raw))
            except ValidationError as exc:
                parsed.append(None)
                for err in exc.errors():
                    field = ".".join(str(p) for p in err["loc"]) or "point"
                    errors.append({"row": i, "field": field, "msg": err["msg"]})
    latest_allowed = now + FUTURE_TOLERANCE
    seen: dict[tuple[str, str, datetime], int] = {}
    for i, point in enumerate(parsed):
        if point is None:
            continue
        value = point["value"]
        problem = None
        if not math.isfinite(value):
            problem = ("value", "must be a finite number")
        elif point["metric"] in PERCENT_METRICS:
            if not 0.0 <= value <= 100.0:
                problem = ("value", f"{point['metric']} is a percentage: 0..100")
        elif value < 0:
            problem = ("value", "must not be negative")
        if problem is None:
            if point["ts"] > latest_allowed:
                problem = ("ts", "is in the future")
            else:
                key = (point["resource_id"], point["metric"], point["ts"])
                first = seen.setdefault(key, i)
                if first != i:
                    problem = ("ts", f"duplicates row {first} (same resource, metric and time)")
        if problem:
            errors.append({"row": i, "field": problem[0], "msg": problem[1]})
    if errors:
        errors.sort(key=lambda e: e["row"])  # stable: a row's own errors keep their order
        raise Unprocessable(f"{len({e['row'] for e in errors})} of {len(rows)} points are invalid", errors=errors)
    return parsed  # type: ignore[return-value]  # no None left once there are no errors


def ingest(session: Session, client_id: str | None, rows: list[Any], provider: str = "agent") -> IngestResult:
    """Store a batch of points for `client_id` (None: the platform's collectors). All or nothing.

    A point already stored (same resource, metric and time) is skipped, so a re-sent batch changes nothing.
    Set-based: a few statements per batch whatever its size (the resources, then the raw points, see
    `repository.insert_points`). Roll-ups are not written here: `roll_up` (a job) builds them from the raw points.
    """
    points = _validate(rows, clock.now())
    if not points:
        return IngestResult(0, 0, [])
    # Per resource: its first point (provider and name) and its latest time.
    firsts: dict[str, MetricPointIn] = {}
    latest: dict[str, datetime] = {}
    for p in points:
        if p["resource_id"] not in firsts:
            firsts[p["resource_id"]] = p
            latest[p["resource_id"]] = p["ts"]
        elif p["ts"] > latest[p["resource_id"]]:
            latest[p["resource_id"]] = p["ts"]
    pk_of = _resources(session, client_id, firsts, latest, provider)

    rows_to_store: list[tuple[str, str, datetime, float]] = [
        (pk_of[p["resource_id"]], p["metric"], p["ts"], p["value"]) for p in points
    ]
    accepted = repository.insert_points(session, rows_to_store)
    return IngestResult(accepted, len(points) - accepted, sorted(pk_of))


def _resources(
    session: Session,
    client_id: str | None,
    firsts: dict[str, MetricPointIn],
    latest: dict[str, datetime],
    provider: str,
) -> dict[str, str]:
    """The batch's resources (external id -> pk), created on first sight, their last_seen_at and name updated."""
    pk_of = repository.resource_keys(session, client_id, list(firsts))
    missing = [rid for rid in firsts if rid not in pk_of]
    if missing:
        now = utcnow()
        repository.create_resources(
            session,
            [
                {
                    "id": new_id(),
                    "client_id": client_id,
                    "resource_id": rid,
                    "provider": firsts[rid].get("provider") or provider,
                    "name": firsts[rid].get("name"),
                    "created_at": now,
                    "updated_at": now,
                }
                for rid in missing
            ],
        )
        # A concurrent batch may have created some of them first: read back whichever row won.
        pk_of.update(repository.resource_keys(session, client_id, missing))
    repository.touch_resources(
        session, {pk_of[rid]: (latest[rid], firsts[rid].get("name") or None) for rid in firsts}, utcnow()
    )
    repository.expire_loaded(session, Resource, list(pk_of.values()))
    return pk_of


# --------------------------------------------------------------------------- roll-ups

# Points a roll-up run reads per chunk, about (a run holds SQLite's write lock; the next run goes on from there).
ROLLUP_CHUNK_POINTS = 50_000
# How far behind the database's clock a run's watermark stays, at least: a point is stamped (`ingested_at`) while
# its transaction runs, so points stamped just before the run's clock reading may not be visible to it yet.
ROLLUP_SETTLE = timedelta(seconds=1)
# ...and at most: a transaction open longer holds the watermark back no further than this. A point whose
# transaction commits more than this after stamping it is rolled up only when its bucket is touched again or
# retention finishes its hour (`apply_retention`), never lost.
ROLLUP_LOOKBACK = timedelta(minutes=5)
COARSEST = max(RESOLUTION_SECONDS, key=RESOLUTION_SECONDS.__getitem__)


def roll_up(session: Session, max_points: int | None = None) -> dict[str, Any]:
    """Bring the 5-minute and hourly roll-ups up to date with the raw points stored since the last run.

    Every bucket a newly stored point falls in is recomputed from the raw points (count, sum, min, max replaced,
    never added to), so re-processing a bucket changes nothing and a crash at any point loses nothing: the
    watermark moves in the same transaction as the roll-ups. A run reads a chunk of about `max_points` (default
    ROLLUP_CHUNK_POINTS) points stored before the last second, and when that reaches the last second, a chunk
    of the newest ones. `caught_up`: no point stored before the last second waits (else run again soon);
    `complete`: every point this run could see is counted. Runs take turns (the state row is locked until
    commit).
    """
    state = repository.rollup_state(session, lock=True)
    assert state is not None
    limit = max_points or ROLLUP_CHUNK_POINTS
    now, oldest_writer = repository.database_clock(session)
    # Points stamped up to `settled` are all visible to this run: no transaction that could still add one is open.
    settled = now - ROLLUP_SETTLE
    if oldest_writer is not None:
        settled = min(settled, oldest_writer - ROLLUP_SETTLE)
    settled = max(settled, now - ROLLUP_LOOKBACK)
    # Points that arrived for buckets retention has finished: added to them once, and removed.
    late = repository.move_to_rollups(session, None, state.horizon, replace=False) if state.horizon else 0
    buckets = {resolution: 0 for resolution in RESOLUTION_SECONDS}

    def recompute(after: datetime | None, until: datetime) -> tuple[datetime, int]:
        end, points = repository.ingested_after(session, after, until, limit)
        if points:
            for resolution, written in repository.recompute_rollups(session, after, end, state.horizon).items():
                buckets[resolution] += written
        return end, points

    # What has settled, a chunk at a time (the watermark follows)...
    start = state.watermark
    end, points = recompute(start, settled) if start is None or start < settled else (settled, 0)
    caught_up = end >= settled
    complete = False
    if caught_up:
        # ...then a chunk of the newest points too (read again by the next run, once they have settled).
        tail_end, tail = recompute(settled if start is None else max(start, settled), now)
        points += tail
        complete = tail_end >= now
    if state.watermark is None or end > state.watermark:
        state.watermark = min(end, settled)
    state.updated_at = now
    session.flush()
    return {
        "points": points,
        "late_points": late,
        "buckets": buckets,
        "watermark": state.watermark.isoformat() if state.watermark else None,
        "caught_up": caught_up,
        "complete": complete,
    }


def _merge_unrolled(
    session: Session, resource: Resource, source: str, start: datetime, end: datetime, stored: dict[Any, list[Any]]
) -> None:
    """Make `stored` ((metric, bucket) -> [count, total, min, max] of the `source` tier) count the resource's
    points that the roll-up job has not counted yet: their buckets are aggregated from the raw points here
    (or, for a bucket retention finished, the stored aggregate plus the raw points still waiting)."""
    state = repository.rollup_state(session)
    watermark, horizon = (state.watermark, state.horizon) if state is not None else (None, None)
    pending = repository.unrolled_points(session, resource.id, watermark, horizon, start, end)
    if not pending:
        return
    touched = {(metric, bucket_start(ts, source)) for metric, ts in pending}
    first = min(bucket for _, bucket in touched)
    last = max(bucket for _, bucket in touched) + BUCKETS[source]
    fresh: dict[tuple[str, datetime], list[Any]] = {}
    for p in repository.raw_points(session, resource.id, None, first, last - timedelta(microseconds=1)):
        key = (p.metric, bucket_start(p.ts, source))
        if key not in touched:
            continue
        agg = fresh.get(key)
        if agg is None:
            fresh[key] = [1, p.value, p.value, p.value]
        else:
            agg[0] += 1
            agg[1] += p.value
            agg[2] = min(agg[2], p.value)
            agg[3] = max(agg[3], p.value)
    for key, agg in fresh.items():
        before = stored.get(key)
        if before is not None and horizon is not None and key[1] < horizon:
            agg = [before[0] + agg[0], before[1] + agg[1], min(before[2], agg[2]), max(before[3], agg[3])]
        stored[key] = agg


# --------------------------------------------------------------------------- queries


def scope(caller: Caller) -> str | None:
    """Whose resources a caller sees: a client its own; an admin the platform's (and any, by id)."""
    return None if caller.is_admin else caller.client_id


def get_resource(session: Session, caller: Caller, resource_id: str | None) -> Resource:
    """The resource a caller asked for (or its first one when none is named)."""
    owner = scope(caller)
    if resource_id is None:
        found = repository.resources(session, owner)
        if not found:
            raise NotFound("no resources reported yet")
        return found[0]
    resource = repository.resource_by_external(session, owner, resource_id)
    if resource is None and caller.is_admin:
        matches = [r for r in repository.resources(session, None, all_tenants=True) if r.resource_id == resource_id]
        resource = matches[0] if len(matches) == 1 else None
    if resource is None:
        raise NotFound(f"resource {resource_id!r} not found")
    return resource


def list_resources(session: Session, caller: Caller) -> list[dict[str, Any]]:
    out = []
    limits = thresholds()
    for r in repository.resources(session, scope(caller), all_tenants=caller.is_admin):
        latest = repository.latest_values(session, r.id)
        out.append(
            {
                "resource_id": r.resource_id,
                "client_id": r.client_id,
                "provider": r.provider,
                "name": r.name,
                "last_seen_at": r.last_seen_at,
                "latest": {m: {"ts": ts, "value": v} for m, (ts, v) in latest.items()},
                "over_threshold": sorted(m for m, (_, v) in latest.items() if m in limits and v >= limits[m]),
            }
        )
    return out


def window(range_: str | None, start: datetime | None, end: datetime | None) -> tuple[datetime, datetime]:
    now = clock.now()
    if start is not None or end is not None:
        end = end or now
        start = start or end - RANGES["1h"]
        if start.tzinfo is None or end.tzinfo is None:
            raise Unprocessable("start and end need a UTC offset", errors=[{"field": "start", "msg": "naive"}])
        if start >= end:
            raise Unprocessable("start must be before end", errors=[{"field": "start", "msg": "after end"}])
        return start, end
    key = range_ or "1h"
    if key not in RANGES:
        raise Unprocessable(f"range must be one of {', '.join(RANGES)}", errors=[{"field": "range", "msg": key}])
    return now - RANGES[key], now


def series(
    session: Session, resource: Resource, start: datetime, end: datetime, max_points: int = 500
) -> dict[str, Any]:
    """Each metric between start and end, from the finest store that covers the span, downsampled to
    at most `max_points` buckets (mean, with min and max kept so peaks are not averaged away)."""
    span = end - start
    settings = get_settings()
    now = clock.now()
    raw_kept_from = now - timedelta(days=settings.metrics_retention_raw_days)
    five_kept_from = now - timedelta(days=settings.metrics_retention_5m_days)
    if span <= timedelta(hours=6) and start >= raw_kept_from:
        source = "raw"
    elif span <= timedelta(days=3) and start >= five_kept_from:
        source = "5m"
    else:
        source = "1h"
    rows: dict[str, list[tuple[datetime, float, float, float, int]]] = defaultdict(list)
    if source == "raw":
        for p in repository.raw_points(session, resource.id, None, start, end):
            rows[p.metric].append((p.ts, p.value, p.value, p.value, 1))
    else:
        first = bucket_start(start, source)
        stored: dict[Any, list[Any]] = {
            (r.metric, r.bucket): [r.count, r.total, r.minimum, r.maximum]
            for r in repository.rollups(session, resource.id, source, first, end)
        }
        # Roll-ups trail ingest by up to one job interval: the newest minutes come from the raw points.
        _merge_unrolled(session, resource, source, first, end, stored)
        for (metric, bucket), (count, total, lo, hi) in sorted(stored.items(), key=lambda item: item[0][1]):
            rows[metric].append((bucket, total, lo, hi, count))
    step = max(span / max(max_points, 1), timedelta(seconds=1))
    metrics: dict[str, list[dict[str, Any]]] = {}
    for metric, items in sorted(rows.items()):
        buckets: dict[int, list[float]] = {}
        for ts, total, lo, hi, count in items:
            idx = int((ts - start) / step)
            b = buckets.setdefault(idx, [0.0, 0.0, math.inf, -math.inf])
            b[0] += total if source != "raw" else total * count
            b[1] += count
            b[2] = min(b[2], lo)
            b[3] = max(b[3], hi)
        metrics[metric] = [
            {
                "ts": start + step * idx,
                "value": round(b[0] / b[1], 4),
                "min": round(b[2], 4),
                "max": round(b[3], 4),
                "samples": int(b[1]),
            }
            for idx, b in sorted(buckets.items())
        ]
    return {
        "resource_id": resource.resource_id,
        "start": start,
        "end": end,
        "source": source,
        "bucket_seconds": round(step.total_seconds(), 3),
        "metrics": metrics,
    }


def utilisation(
    session: Session, client_id: str | None, resource_id: str, metric: str, start: datetime, end: datetime
) -> list[tuple[datetime, float]]:
    """Raw samples of one resource's metric (for other domains: carbon reads CPU utilisation here)."""
    resource = repository.resource_by_external(session, client_id, resource_id)
    if resource is None:
        return []
    return [(p.ts, p.value) for p in repository.raw_points(session, resource.id, metric, start, end)]


# --------------------------------------------------------------------------- forecasts


def _history(session: Session, resource: Resource, metric: str, now: datetime) -> tuple[list[datetime], list[float]]:
    """Up to 8 days of history (the seasonal method looks back up to a week plus a day): raw where
    kept, 5-minute means before that. Every raw point counts at once, rolled up or not: roll-ups are read only
    before the first raw point, where retention has finished the buckets."""
    start = now - timedelta(days=8)
    raw = repository.raw_points(session, resource.id, metric, start, now)
    first_raw = raw[0].ts if raw else now
    older = [
        (r.bucket, r.total / r.count)
        for r in repository.rollups(session, resource.id, "5m", start, first_raw)
        if r.metric == metric and r.bucket < first_raw - timedelta(minutes=5)
    ]
    stamps = [t for t, _ in older] + [p.ts for p in raw]
    values = [v for _, v in older] + [p.value for p in raw]
    return stamps, values


def compute_forecasts(session: Session, resource: Resource, store: bool = True) -> list[ForecastRecord]:
    """Both methods for every thresholded metric of a resource; stored when `store`."""
    now = clock.now()
    settings = get_settings()
    cfg = ForecastConfig(horizon_minutes=settings.forecast_horizon_hours * 60.0)
    out: list[ForecastRecord] = []
    for metric, threshold in thresholds().items():
        stamps, values = _history(session, resource, metric, now)
        if len(values) < 2:
            continue
        for method in ("seasonal", "linear"):
            fc = forecast_breach(stamps, values, threshold, method=method, cfg=cfg)
            record = _record(resource, metric, fc, now)
            if store:
                session.add(record)
            out.append(record)
    if store:
        session.flush()
    return out


def _record(resource: Resource, metric: str, fc: Forecast, now: datetime) -> ForecastRecord:
    return ForecastRecord(
        resource_pk=resource.id,
        metric=metric,
        method=fc.method,
        threshold=fc.threshold,
        generated_at=now,
        data_until=fc.generated_at,
        breach_at=fc.breach_at,
        minutes_to_breach=fc.minutes_to_breach,
        confidence=fc.confidence,
        points_used=fc.points_used,
        current=fc.current,
        already_breached=fc.already_breached,
        path=[
            {"ts": p.at.isoformat(), "value": round(p.value, 3), "lower": round(p.lower, 3), "upper": round(p.upper, 3)}
            for p in fc.path
        ],
    )


def forecasts_for(session: Session, resource: Resource) -> list[ForecastRecord]:
    """The latest stored forecasts; computed on the spot (not stored) when none were stored yet."""
    stored = repository.latest_forecasts(session, resource.id)
    return stored or compute_forecasts(session, resource, store=False)


def config() -> dict[str, Any]:
    settings = get_settings()
    return {
        "metrics_provider": settings.metrics_provider,
        "poll_interval_minutes": settings.poll_interval_minutes,
        "thresholds": thresholds(),
        "alert_lookahead_min": settings.alert_lookahead_min,
        "alert_cooldown_min": settings.alert_cooldown_min,
        "forecast_horizon_hours": settings.forecast_horizon_hours,
        "forecast_methods": {"default": "seasonal", "baseline": "linear"},
        "retention_days": {
            "raw": settings.metrics_retention_raw_days,
            "5m": settings.metrics_retention_5m_days,
            "1h": settings.metrics_retention_1h_days,
        },
        "rollup_interval_seconds": settings.metrics_rollup_interval_seconds,
        "channels": {name: name in configured(settings) for name in ("slack", "email")},
        "aws": {"region": settings.aws_region, "resource_ids": settings.aws_resource_ids},
        "gcp": {"project_id": settings.gcp_project_id, "instance_ids": settings.gcp_instance_ids},
    }


def apply_retention(session: Session, now: datetime) -> dict[str, int]:
    """Remove raw points, roll-ups and forecasts past their retention.

    Raw points go a whole hour at a time, and never before they are counted: the hours that leave retention get
    their buckets set to exactly the raw points removed, in the same statement (so a point not rolled up yet is
    counted then), and the horizon moves past them (see `RollupState`). 5-minute roll-ups are kept at least as
    long as raw points, because the hourly tier is summed from them."""
    settings = get_settings()
    state = repository.rollup_state(session, lock=True)
    assert state is not None
    horizon = bucket_start(now - timedelta(days=settings.metrics_retention_raw_days), COARSEST)
    raw = 0
    if state.horizon is not None:
        raw += repository.move_to_rollups(session, None, state.horizon, replace=False)
    if state.horizon is None or horizon > state.horizon:
        raw += repository.move_to_rollups(session, state.horizon, horizon, replace=True)
        state.horizon = horizon
        session.flush()
    five_minutes = min(now - timedelta(days=settings.metrics_retention_5m_days), state.horizon)
    return {
        "raw": raw,
        "5m": repository.delete_rollups_before(session, "5m", five_minutes),
        "1h": repository.delete_rollups_before(session, "1h", now - timedelta(days=settings.metrics_retention_1h_days)),
        "forecasts": repository.delete_forecasts_before(session, now - timedelta(days=2)),
    }


# --------------------------------------------------------------------------- notifications (shared)


def notify(subject: str, text: str, severity: str = "warning") -> list[dict[str, Any]]:
    """Send a message on every configured channel (Slack, e-mail); other domains notify through here.

    Returns one delivery record per channel: {"channel", "status": sent|failed|skipped, "attempts", ...}.
    """
    from spectra.capacity.channels import Message, deliver

    return [d.as_dict() for d in deliver(Message(subject, text, severity))]
