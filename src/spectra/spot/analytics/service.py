"""Savings, switch history, charts, downtime analytics and operational metrics.

Savings method (USD): for each instance and each day, actual cost = hours alive that day × its hourly price
(spot price, or on-demand price for on-demand instances; replicas and zombies cost money too), and the
on-demand baseline = hours it served as PRIMARY that day × the on-demand price of its type. Savings =
baseline − actual. Instances without a known on-demand price are left out of both sides and counted.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from spectra.spot.analytics import repository
from spectra.spot.emergency import repository as emergency_repo
from spectra.spot.instances import service as instances
from spectra.spot.models import ConsolidationJob, MLDecision, SpotInstance
from spectra.spot.numbers import overlap_hours, percentile

DOWNTIME_TARGET_P95_SECONDS = 10.0


def _day_start(at: datetime) -> datetime:
    return at.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def _instance_day(inst: SpotInstance, start: datetime, end: datetime, now: datetime) -> tuple[float, float] | None:
    """(actual cost, on-demand baseline) of one instance inside [start, end), or None if not computable."""
    price = instances.hourly_price(inst)
    if inst.on_demand_price is None or price is None or inst.launched_at is None:
        return None
    alive = overlap_hours(inst.launched_at, inst.terminated_at or now, start, end)
    serving = 0.0
    if inst.primary_since is not None:
        serving = overlap_hours(inst.primary_since, inst.primary_until or inst.terminated_at or now, start, end)
    return alive * price, serving * inst.on_demand_price


def savings(session: Session, client_id: str | None, days: int, now: datetime) -> dict[str, Any]:
    first = _day_start(now) - timedelta(days=days - 1)
    rows = repository.instances_alive_between(session, client_id, first, now)
    daily: list[dict[str, Any]] = []
    per_instance: dict[str, dict[str, Any]] = {}
    skipped: set[str] = set()
    for d in range(days):
        start = first + timedelta(days=d)
        end = min(start + timedelta(days=1), now)
        actual = baseline = 0.0
        for inst in rows:
            part = _instance_day(inst, start, end, now) if end > start else (0.0, 0.0)
            if part is None:
                skipped.add(inst.id)
                continue
            actual += part[0]
            baseline += part[1]
            acc = per_instance.setdefault(
                inst.id,
                {
                    "instance_id": inst.id,
                    "cloud_instance_id": inst.cloud_instance_id,
                    "role": inst.role,
                    "actual_cost_usd": 0.0,
                    "on_demand_baseline_usd": 0.0,
                },
            )
            acc["actual_cost_usd"] += part[0]
            acc["on_demand_baseline_usd"] += part[1]
        daily.append(
            {
                "date": start.date().isoformat(),
                "actual_cost_usd": round(actual, 4),
                "on_demand_baseline_usd": round(baseline, 4),
                "savings_usd": round(baseline - actual, 4),
            }
        )
    for acc in per_instance.values():
        acc["savings_usd"] = round(acc["on_demand_baseline_usd"] - acc["actual_cost_usd"], 4)
        acc["actual_cost_usd"] = round(acc["actual_cost_usd"], 4)
        acc["on_demand_baseline_usd"] = round(acc["on_demand_baseline_usd"], 4)
    total_actual = float(sum(d["actual_cost_usd"] for d in daily))
    total_baseline = float(sum(d["on_demand_baseline_usd"] for d in daily))
    return {
        "client_id": client_id,
        "days": days,
        "currency": "USD",
        "method": "baseline = hours as PRIMARY × on-demand price; actual = hours alive × hourly price",
        "total_actual_cost_usd": round(total_actual, 4),
        "total_on_demand_baseline_usd": round(total_baseline, 4),
        "total_savings_usd": round(total_baseline - total_actual, 4),
        "savings_pct": round(100 * (total_baseline - total_actual) / total_baseline, 2) if total_baseline else None,
        "daily": daily,
        "per_instance": sorted(per_instance.values(), key=lambda a: -a["savings_usd"]),
        "instances_without_prices": len(skipped),
    }


def downtime(session: Session, client_id: str | None, hours: int, now: datetime) -> dict[str, Any]:
    events = repository.switch_events(session, client_id, since=now - timedelta(hours=hours))
    times = [e.downtime_seconds for e in events if e.downtime_seconds is not None]
    p95 = percentile(times, 95)
    ok = len([e for e in events if e.success])
    return {
        "window_hours": hours,
        "switches": len(events),
        "successful": ok,
        "success_rate": round(ok / len(events), 4) if events else None,
        "measured": len(times),
        "p95_seconds": round(p95, 3) if p95 is not None else None,
        "avg_seconds": round(sum(times) / len(times), 3) if times else None,
        "min_seconds": min(times) if times else None,
        "max_seconds": max(times) if times else None,
        "target_p95_seconds": DOWNTIME_TARGET_P95_SECONDS,
        "meets_target": p95 < DOWNTIME_TARGET_P95_SECONDS if p95 is not None else None,
    }


def charts(session: Session, client_id: str, days: int, now: datetime) -> dict[str, Any]:
    money = savings(session, client_id, days, now)
    first = _day_start(now) - timedelta(days=days - 1)
    switches = repository.switch_events(session, client_id, since=first)
    per_day: dict[str, int] = {d["date"]: 0 for d in money["daily"]}
    downtime_day: dict[str, list[float]] = {d["date"]: [] for d in money["daily"]}
    for e in switches:
        key = e.started_at.date().isoformat()
        per_day[key] = per_day.get(key, 0) + 1
        if e.downtime_seconds is not None:
            downtime_day.setdefault(key, []).append(e.downtime_seconds)
    from spectra.spot.instances import repository as inst_repo

    return {
        "savings_by_day": [
            {
                "date": d["date"],
                "savings_usd": d["savings_usd"],
                "actual_cost_usd": d["actual_cost_usd"],
                "on_demand_baseline_usd": d["on_demand_baseline_usd"],
            }
            for d in money["daily"]
        ],
        "switches_by_day": [{"date": k, "switches": v} for k, v in sorted(per_day.items())],
        "downtime_p95_by_day": [{"date": k, "p95_seconds": percentile(v, 95)} for k, v in sorted(downtime_day.items())],
        "instances_by_role": inst_repo.count_instances_by_role(session, client_id),
    }


def switch_rows(session: Session, client_id: str | None, days: int, now: datetime) -> list[Any]:
    return repository.switch_events(session, client_id, since=now - timedelta(days=days))


def operational(session: Session, now: datetime, hours: int) -> dict[str, Any]:
    """v6 success criteria, measured: heartbeat miss rate, emergency promotion, decision latency, consolidation lag,
    switch downtime."""
    since = now - timedelta(hours=hours)
    received, missed = repository.heartbeat_totals(session)
    emergencies = emergency_repo.events(session, None, since)
    promotions = [e.promotion_seconds for e in emergencies if e.promotion_seconds is not None]
    from sqlalchemy import select

    latencies = [float(v) for v in session.scalars(select(MLDecision.latency_ms).where(MLDecision.decided_at >= since))]
    last_job = session.scalar(
        select(ConsolidationJob)
        .where(ConsolidationJob.status == "succeeded")
        .order_by(ConsolidationJob.started_at.desc())
        .limit(1)
    )
    lag = None
    if last_job is not None:
        lag = (now - (last_job.window_end or last_job.finished_at or last_job.started_at)).total_seconds()
    miss_rate = missed / (received + missed) if received + missed else None
    return {
        "window_hours": hours,
        "heartbeat": {
            "received": received,
            "missed": missed,
            "miss_rate": round(miss_rate, 6) if miss_rate is not None else None,
            "target": 0.05,
            "meets_target": miss_rate < 0.05 if miss_rate is not None else None,
        },
        "emergency_promotion": {
            "count": len(promotions),
            "p50_seconds": percentile(promotions, 50),
            "p95_seconds": percentile(promotions, 95),
            "within_120s_pct": round(100 * sum(p <= 120 for p in promotions) / len(promotions), 2)
            if promotions
            else None,
            "target_pct": 99.0,
        },
        "decision_latency_ms": {
            "count": len(latencies),
            "p50": percentile(latencies, 50),
            "p95": percentile(latencies, 95),
            "p99": percentile(latencies, 99),
            "target_ms": 500.0,
        },
        "consolidation": {
            "last_succeeded_job_id": last_job.id if last_job else None,
            "lag_seconds": round(lag, 1) if lag is not None else None,
        },
        "switch_downtime": downtime(session, None, hours, now),
    }
