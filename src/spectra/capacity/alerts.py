"""Alert rules over forecasts and current values: pending → firing → resolved, with dedup, grouping,
cooldown and silences; notifications go through the shared channels.

Rules, per resource and thresholded metric (THRESHOLD_CPU / THRESHOLD_MEM):
* `<metric>_forecast` (warning): the default forecast crosses the threshold within ALERT_LOOKAHEAD_MIN;
* `<metric>_current` (critical): the latest value (no older than three poll intervals) is at/over it.
A condition must hold on two evaluations at least one poll interval apart before it fires (pending
first), so one noisy sample does not page anyone. One open alert per (tenant, resource, rule): repeated
evaluations update it (dedup). Alerts that start firing in one evaluation are sent as one message per
rule (grouping). An alert whose key was notified less than ALERT_COOLDOWN_MIN ago, or that matches an
active silence, is recorded but not sent.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy.orm import Session

from spectra.capacity import channels, repository
from spectra.capacity.models import Alert, ForecastRecord, Resource, Silence
from spectra.capacity.schemas import SilenceIn
from spectra.core.audit import record_audit
from spectra.core.clock import clock
from spectra.core.config import get_settings
from spectra.core.errors import NotFound, Unprocessable
from spectra.core.events import publish


def _hhmm(text: str) -> time:
    hours, minutes = (int(p) for p in text.split(":"))
    return time(hours, minutes)


def silence_active(silence: Silence, now: datetime) -> bool:
    if now < silence.starts_at or (silence.ends_at is not None and now >= silence.ends_at):
        return False
    window = silence.recurring
    if not window:
        return True
    start, end, days = _hhmm(window["start"]), _hhmm(window["end"]), set(window["days"])
    t = now.time()
    if start <= end:
        return now.weekday() in days and start <= t < end
    # overnight window: belongs to the day it starts on
    if t >= start:
        return now.weekday() in days
    return t < end and (now.weekday() - 1) % 7 in days


def matching_silence(session: Session, alert: Alert, resource_id: str | None, now: datetime) -> Silence | None:
    for silence in repository.silences(session, alert.client_id):
        if silence.rule not in (None, alert.rule):
            continue
        if silence.resource_id not in (None, resource_id):
            continue
        if silence_active(silence, now):
            return silence
    return None


def _conditions(
    forecasts: Sequence[ForecastRecord], latest: dict[str, tuple[datetime, float]], now: datetime
) -> dict[str, dict[str, Any]]:
    """rule → {"holds": bool, ...details} for every rule of this resource."""
    settings = get_settings()
    limits = {"cpu": settings.threshold_cpu, "memory": settings.threshold_mem}
    fresh_after = now - 3 * timedelta(minutes=settings.poll_interval_minutes)
    out: dict[str, dict[str, Any]] = {}
    seasonal = {f.metric: f for f in forecasts if f.method == "seasonal"}
    for metric, limit in limits.items():
        fc = seasonal.get(metric)
        soon = (
            fc is not None
            and not fc.already_breached
            and fc.minutes_to_breach is not None
            and fc.minutes_to_breach <= settings.alert_lookahead_min
        )
        out[f"{metric}_forecast"] = {
            "holds": soon,
            "metric": metric,
            "kind": "forecast",
            "severity": "warning",
            "threshold": limit,
            "value": fc.current if fc else None,
            "breach_at": fc.breach_at if soon and fc else None,
            "detail": (
                f"forecast to reach {limit:g}% in {fc.minutes_to_breach:g} min "
                f"(confidence {fc.confidence:.0%}, {fc.method})"
                if soon and fc and fc.minutes_to_breach is not None
                else ""
            ),
        }
        current = latest.get(metric)
        over = current is not None and current[0] >= fresh_after and current[1] >= limit
        out[f"{metric}_current"] = {
            "holds": over,
            "metric": metric,
            "kind": "current",
            "severity": "critical",
            "threshold": limit,
            "value": current[1] if current else None,
            "breach_at": None,
            "detail": f"at {current[1]:g}% (threshold {limit:g}%)" if over and current else "",
        }
    return out


def evaluate(
    session: Session, resource: Resource, forecasts: Sequence[ForecastRecord], notify: bool = True
) -> list[Alert]:
    """Advance every rule of one resource; returns the alerts whose state changed."""
    now = clock.now()
    settings = get_settings()
    hold_for = timedelta(minutes=settings.poll_interval_minutes)
    latest = repository.latest_values(session, resource.id)
    tenant = resource.client_id or "platform"
    changed: list[Alert] = []
    to_notify: list[Alert] = []
    for rule, cond in _conditions(forecasts, latest, now).items():
        key = f"{tenant}:{resource.resource_id}:{rule}"
        alert = repository.open_alert(session, key)
        if cond["holds"]:
            if alert is None:
                alert = Alert(
                    client_id=resource.client_id,
                    resource_pk=resource.id,
                    rule=rule,
                    metric=cond["metric"],
                    kind=cond["kind"],
                    severity=cond["severity"],
                    state="pending",
                    dedup_key=key,
                    group_key=f"{tenant}:{rule}",
                    message=f"{resource.resource_id} {cond['metric']} {cond['detail']}",
                    value=cond["value"],
                    threshold=cond["threshold"],
                    breach_at=cond["breach_at"],
                    started_at=now,
                    deliveries=[],
                )
                session.add(alert)
                changed.append(alert)
                continue
            alert.value, alert.breach_at = cond["value"], cond["breach_at"]
            alert.message = f"{resource.resource_id} {cond['metric']} {cond['detail']}"
            if alert.state == "pending" and now - alert.started_at >= hold_for:
                alert.state, alert.fired_at = "firing", now
                changed.append(alert)
                to_notify.append(alert)
        elif alert is not None:
            was_firing = alert.state == "firing"
            alert.state, alert.resolved_at = "resolved", now
            changed.append(alert)
            if was_firing:
                publish(session, "capacity.alert.resolved", _event(alert, resource), alert.client_id)
    session.flush()
    if notify and to_notify:
        send_grouped(session, to_notify, {resource.id: resource.resource_id}, now)
    return changed


def _event(alert: Alert, resource: Resource | None) -> dict[str, Any]:
    return {
        "alert_id": alert.id,
        "rule": alert.rule,
        "state": alert.state,
        "severity": alert.severity,
        "resource_id": resource.resource_id if resource else None,
        "message": alert.message,
    }


def send_grouped(session: Session, alerts: Sequence[Alert], names: dict[str, str], now: datetime) -> None:
    """Notify newly firing alerts, one message per rule group, skipping silenced and cooling-down ones."""
    settings = get_settings()
    cooldown = timedelta(minutes=settings.alert_cooldown_min)
    groups: dict[str, list[Alert]] = defaultdict(list)
    for alert in alerts:
        resource_id = names.get(alert.resource_pk or "") or alert.subject
        silence = matching_silence(session, alert, resource_id, now)
        if silence is not None:
            alert.silenced_by = silence.id
            alert.deliveries = [_skipped(f"silenced by {silence.id}", now)]
            continue
        last = repository.last_notified(session, alert.dedup_key)
        if last is not None and now - last < cooldown:
            alert.deliveries = [_skipped(f"cooldown: last notified {last.isoformat()}", now)]
            continue
        groups[alert.group_key].append(alert)
        publish(session, "capacity.alert.firing", {"alert_id": alert.id, "rule": alert.rule}, alert.client_id)
    for members in groups.values():
        worst = "critical" if any(a.severity == "critical" for a in members) else members[0].severity
        rule = members[0].rule.replace("_", " ")
        subject = f"{rule}: {len(members)} resource{'s' if len(members) > 1 else ''}"
        text = "\n".join(f"• {a.message}" for a in members)
        deliveries = [d.as_dict() for d in channels.deliver(channels.Message(subject, text, worst), settings)]
        for alert in members:
            alert.deliveries = deliveries
            if any(d["status"] == "sent" for d in deliveries):
                alert.last_notified_at = now
    session.flush()


def _skipped(reason: str, now: datetime) -> dict[str, Any]:
    return {"channel": "all", "status": "skipped", "attempts": 0, "error": reason, "at": now.isoformat()}


def send_test_alert(session: Session, client_id: str | None, message: str) -> Alert:
    """Send a test message to every configured channel and record it like any alert."""
    now = clock.now()
    deliveries = [d.as_dict() for d in channels.deliver(channels.Message("Test alert", message, "info"))]
    alert = Alert(
        client_id=client_id,
        resource_pk=None,
        rule="test",
        metric=None,
        kind="test",
        severity="info",
        state="resolved",
        dedup_key=f"{client_id or 'platform'}:test:{now.isoformat()}",
        group_key="test",
        message=message,
        value=None,
        threshold=None,
        breach_at=None,
        started_at=now,
        fired_at=now,
        resolved_at=now,
        last_notified_at=now if any(d["status"] == "sent" for d in deliveries) else None,
        deliveries=deliveries,
    )
    session.add(alert)
    session.flush()
    return alert


def _silence_state(s: Silence) -> dict[str, Any]:
    return {"resource_id": s.resource_id, "rule": s.rule, "starts_at": s.starts_at, "ends_at": s.ends_at,
            "recurring": s.recurring, "reason": s.reason}  # fmt: skip


def create_silence(session: Session, client_id: str | None, body: SilenceIn, actor: str) -> Silence:
    starts = body.starts_at or clock.now()
    if body.ends_at is None and body.recurring is None:
        raise Unprocessable(
            "a silence needs an end time or a recurring window", errors=[{"field": "ends_at", "msg": "missing"}]
        )
    if body.ends_at is not None and body.ends_at <= starts:
        raise Unprocessable("ends_at must be after starts_at", errors=[{"field": "ends_at", "msg": "too early"}])
    if body.recurring is not None and any(not 0 <= d <= 6 for d in body.recurring.days):
        raise Unprocessable("days are 0 (Monday) .. 6", errors=[{"field": "recurring.days", "msg": "out of range"}])
    silence = Silence(
        client_id=client_id,
        resource_id=body.resource_id,
        rule=body.rule,
        starts_at=starts,
        ends_at=body.ends_at,
        recurring=body.recurring.model_dump() if body.recurring else None,
        reason=body.reason,
        created_by=actor,
    )
    session.add(silence)
    session.flush()
    record_audit(session, "capacity.silence.create", "silence", silence.id, None, _silence_state(silence),
                 client_id=client_id)  # fmt: skip
    return silence


def delete_silence(session: Session, client_id: str | None, silence_id: str) -> None:
    silence = repository.silence(session, silence_id)
    if silence is None or silence.client_id != client_id:
        raise NotFound("silence not found")
    record_audit(session, "capacity.silence.delete", "silence", silence.id, _silence_state(silence), None,
                 client_id=client_id)  # fmt: skip
    session.delete(silence)
    session.flush()
