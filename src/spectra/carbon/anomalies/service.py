"""Anomaly rules: raise (deduplicated, suppressed patterns skipped), list, stats, resolve, dismiss."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from spectra.capacity.detection import StreamingDetector
from spectra.carbon.anomalies import repository
from spectra.carbon.anomalies.models import Anomaly, AnomalySuppression
from spectra.carbon.anomalies.rules import KINDS, pattern_key, suppressed_by
from spectra.core.audit import record_audit
from spectra.core.auth import Caller
from spectra.core.clock import clock
from spectra.core.errors import Conflict, NotFound, StaleVersion, Unprocessable
from spectra.core.events import publish

TITLES = {
    "runaway_process": "Runaway process: sustained abnormal CPU",
    "idle_waste": "Idle waste: running with near-zero use",
    "carbon_spike": "Carbon spike: emission rate far above expectation",
    "cost_anomaly": "Cost anomaly: spend far above expectation",
}


def severity(score: float, co2e_kg: float, cost_usd: float) -> str:
    if score >= 0.9 or co2e_kg >= 10 or cost_usd >= 100:
        return "high"
    if score >= 0.75 or co2e_kg >= 1 or cost_usd >= 10:
        return "medium"
    return "low"


def _state(a: Anomaly) -> dict[str, Any]:
    return {"status": a.status, "kind": a.kind, "score": a.score, "note": a.note, "version": a.version}


def raise_anomaly(
    session: Session,
    *,
    client_id: str,
    kind: str,
    score: float,
    start: datetime,
    end: datetime,
    evidence: dict[str, Any],
    co2e_kg: float,
    cost_usd: float,
    instance_id: str | None = None,
    team_id: str | None = None,
    region: str | None = None,
) -> Anomaly | None:
    """Record a finding. An open anomaly of the same kind on the same instance is extended instead of
    duplicated; a finding overlapping a closed one is not raised again; dismissed patterns stay quiet."""
    if kind not in KINDS:
        raise ValueError(f"unknown anomaly kind {kind}")
    now = clock.now()
    pattern = pattern_key(kind, instance_id, start, end)
    if suppressed_by(pattern, repository.suppression_patterns(session, client_id, now)) is not None:
        return None
    current = repository.open_for(session, client_id, instance_id, kind)
    if current is not None and start <= current.ended_at + timedelta(hours=1):
        current.ended_at = max(current.ended_at, end)
        current.score = max(current.score, score)
        current.evidence = {**current.evidence, **evidence, "extended_at": now.isoformat()}
        current.co2e_kg = max(current.co2e_kg, co2e_kg)
        current.cost_usd = max(current.cost_usd, cost_usd)
        current.severity = severity(current.score, current.co2e_kg, current.cost_usd)
        session.flush()
        return current
    if repository.overlapping(session, client_id, instance_id, kind, start, end) is not None:
        return None  # already reported (and closed) for this evidence
    anomaly = Anomaly(
        client_id=client_id,
        instance_id=instance_id,
        team_id=team_id,
        region=region,
        kind=kind,
        status="open",
        severity=severity(score, co2e_kg, cost_usd),
        score=round(float(score), 4),
        title=TITLES[kind] + (f" on {instance_id}" if instance_id else ""),
        started_at=start,
        ended_at=end,
        detected_at=now,
        pattern=pattern,
        evidence=evidence,
        co2e_kg=round(co2e_kg, 4),
        cost_usd=round(cost_usd, 4),
    )
    session.add(anomaly)
    session.flush()
    publish(
        session,
        "carbon.anomaly.detected",
        {"anomaly_id": anomaly.id, "kind": kind, "instance_id": instance_id, "severity": anomaly.severity,
         "score": anomaly.score, "co2e_kg": anomaly.co2e_kg, "cost_usd": anomaly.cost_usd},
        client_id=client_id,
    )  # fmt: skip
    return anomaly


def get_anomaly(session: Session, anomaly_id: str, caller: Caller) -> Anomaly:
    anomaly = repository.get(session, anomaly_id)
    if anomaly is None:
        raise NotFound("anomaly not found")
    caller.ensure_tenant(anomaly.client_id, "anomaly")
    return anomaly


def list_anomalies(
    session: Session, client_id: str | None, limit: int, offset: int, **filters: Any
) -> tuple[list[Anomaly], int]:
    if filters.get("start") and filters.get("end") and filters["end"] <= filters["start"]:
        raise Unprocessable("end must be after start", errors=[{"field": "end", "msg": "must be after start"}])
    return repository.list_anomalies(session, client_id, limit, offset, **filters)


def stats(session: Session, client_id: str | None, **filters: Any) -> dict[str, Any]:
    by_kind = {k: {"total": 0, "open": 0, "co2e_kg": 0.0, "cost_usd": 0.0} for k in KINDS}
    by_status = {"open": 0, "resolved": 0, "dismissed": 0}
    by_severity = {"low": 0, "medium": 0, "high": 0}
    open_co2e = open_cost = 0.0
    for kind, status, sev, count, co2e, cost in repository.stats_rows(session, client_id, **filters):
        bucket = by_kind.setdefault(kind, {"total": 0, "open": 0, "co2e_kg": 0.0, "cost_usd": 0.0})
        bucket["total"] += count
        bucket["co2e_kg"] += float(co2e)
        bucket["cost_usd"] += float(cost)
        by_status[status] = by_status.get(status, 0) + count
        by_severity[sev] = by_severity.get(sev, 0) + count
        if status == "open":
            bucket["open"] += count
            open_co2e += float(co2e)
            open_cost += float(cost)
    return {
        "total": sum(by_status.values()),
        "open": by_status["open"],
        "resolved": by_status["resolved"],
        "dismissed": by_status["dismissed"],
        "by_kind": {
            k: {**v, "co2e_kg": round(v["co2e_kg"], 4), "cost_usd": round(v["cost_usd"], 4)} for k, v in by_kind.items()
        },
        "by_severity": by_severity,
        "open_co2e_kg": round(open_co2e, 4),
        "open_cost_usd": round(open_cost, 4),
    }


def _close(session: Session, anomaly: Anomaly, status: str, note: str | None, version: int | None) -> Anomaly:
    if version is not None and version != anomaly.version:
        raise StaleVersion("anomaly", anomaly.version)
    if anomaly.status != "open":
        raise Conflict(f"anomaly is {anomaly.status}, only an open one can be {status}", code="anomaly_closed")
    pre = _state(anomaly)
    anomaly.status, anomaly.note, anomaly.resolved_at = status, note, clock.now()
    session.flush()
    record_audit(session, f"anomaly.{status}", "anomaly", anomaly.id, pre, _state(anomaly), client_id=anomaly.client_id)
    publish(
        session,
        f"carbon.anomaly.{status}",
        {"anomaly_id": anomaly.id, "kind": anomaly.kind, "instance_id": anomaly.instance_id},
        client_id=anomaly.client_id,
    )
    return anomaly


def resolve(session: Session, anomaly: Anomaly, note: str | None, version: int | None = None) -> Anomaly:
    return _close(session, anomaly, "resolved", note, version)


def dismiss(
    session: Session, anomaly: Anomaly, reason: str, version: int | None = None, suppress_days: int | None = None
) -> Anomaly:
    """Dismiss with a reason; the anomaly's pattern is remembered so the detector does not repeat it."""
    _close(session, anomaly, "dismissed", reason, version)
    band = anomaly.evidence.get("series_band")
    if anomaly.instance_id and isinstance(band, list) and len(band) == 2:
        low, high = float(band[0]), float(band[1])
        margin = 0.1 * max(abs(high - low), abs(high), 1e-9)
        hours = None if anomaly.pattern.endswith(":all") else sorted(_pattern_hours(anomaly.pattern))
        teach_detector(session, f"{SERIES_OF[anomaly.kind]}:{anomaly.instance_id}", low - margin, high + margin, hours)
    if repository.suppression(session, anomaly.client_id, anomaly.pattern) is None:
        session.add(
            AnomalySuppression(
                client_id=anomaly.client_id,
                pattern=anomaly.pattern,
                kind=anomaly.kind,
                instance_id=anomaly.instance_id,
                reason=reason,
                anomaly_id=anomaly.id,
                expires_at=clock.now() + timedelta(days=suppress_days) if suppress_days else None,
            )
        )
        session.flush()
    return anomaly


SERIES_OF = {"runaway_process": "cpu", "idle_waste": "cpu", "carbon_spike": "co2e", "cost_anomaly": "cost"}


def _pattern_hours(pattern: str) -> set[int]:
    first, last = (int(p) for p in pattern.rsplit(":", 1)[1].split("-"))
    out, hour = {first}, first
    while hour != last:
        hour = (hour + 1) % 24
        out.add(hour)
    return out


def teach_detector(session: Session, series: str, low: float, high: float, hours: list[int] | None) -> bool:
    """Pass a dismissal to the shared detector of that series: values in the band are normal from now on."""
    row = repository.detector_state(session, series)
    if row is None or not row.state:
        return False
    detector = StreamingDetector.from_state(row.state)
    detector.suppress({"low": low, "high": high, "hours": hours})
    row.state = detector.to_state()
    session.flush()
    return True


def open_idle_waste(session: Session, client_id: str, idle_since: datetime) -> list[Anomaly]:
    return repository.open_idle_since(session, client_id, idle_since)
