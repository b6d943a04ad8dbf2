"""Platform events that people must hear about become alerts, routed through the same rules and channels as
capacity alerts: budget thresholds, spot emergencies, carbon anomalies, automation notices, agents going offline.

An alert is written inside the transaction that publishes its event (`events.on_publish`), so it exists exactly
when the fact does, even if the process dies right after the commit. Delivery happens after the commit, in the
`capacity.event_alerts` job (every minute, and at once in the process that runs the scheduler): silences,
cooldown and grouping apply as for capacity alerts, and every attempt is recorded on the alert.

Topics are matched by name only: this module knows what other domains publish, never their code.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from spectra.capacity import alerts, repository
from spectra.capacity.models import Alert
from spectra.core.clock import clock
from spectra.core.events import Event, on_publish, subscribe
from spectra.core.jobs import run_soon

JOB_NAME = "capacity.event_alerts"
SEVERITY_RANK = {"info": 0, "warning": 1, "critical": 2}
QUEUE_WINDOW = timedelta(days=1)  # an event alert still unsent after a day is stale news: it is not sent late


@dataclass(frozen=True)
class Route:
    """How one topic becomes (or ends) an alert."""

    rule: str  # what silences name (`rule`), and the grouping of one message
    subject: Callable[[dict[str, Any]], str]  # what the alert is about (silences' `resource_id`)
    message: Callable[[dict[str, Any]], str] | None = None  # None: this topic resolves the open alert
    severity: Callable[[dict[str, Any]], str] = lambda _p: "warning"
    key: Callable[[dict[str, Any]], str] | None = None  # dedup key part; default: the subject
    notice_for: timedelta | None = None  # a notice (no resolving event) resolves by itself after this long
    when: Callable[[dict[str, Any]], bool] = lambda _p: True


def _get(payload: dict[str, Any], field: str, default: str = "?") -> str:
    value = payload.get(field)
    return default if value in (None, "") else str(value)


def _when(p: dict[str, Any], field: str) -> str:
    """A timestamp of the payload as people read it (minutes, UTC), or as it came when it is not one."""
    value = _get(p, field)
    try:
        return datetime.fromisoformat(value).astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    except ValueError:
        return value


def _budget_message(p: dict[str, Any]) -> str:
    team = p.get("team_name") or p.get("team_id")
    return (
        f"Team {team} has used {p.get('pct_used', 0):.0f}% of its Q{p.get('quarter')} {p.get('year')} carbon budget "
        f"({p.get('consumed_co2e_kg', 0):,.1f} of {p.get('budget_co2e_kg', 0):,.1f} kgCO2e; projected "
        f"{p.get('projected_co2e_kg', 0):,.1f} kgCO2e by the quarter's end)."
    )


def _anomaly_message(p: dict[str, Any]) -> str:
    kind = _get(p, "kind").replace("_", " ")
    return (
        f"{kind} on {_get(p, 'instance_id', 'the fleet')} (score {float(p.get('score') or 0):.2f}): "
        f"about {float(p.get('co2e_kg') or 0):.2f} kgCO2e and ${float(p.get('cost_usd') or 0):.2f} at stake."
    )


def _emergency(fallback: str) -> Callable[[dict[str, Any]], str]:
    def message(p: dict[str, Any]) -> str:
        return f"{_get(p, 'message', fallback)} (agent {_get(p, 'agent_id')}, deadline {_when(p, 'notice_deadline')})"

    return message


def _agent(p: dict[str, Any]) -> str:
    return _get(p, "agent_id")


def _emergency_event(p: dict[str, Any]) -> str:
    return _get(p, "emergency_event_id")


def _anomaly_subject(p: dict[str, Any]) -> str:
    return _get(p, "instance_id", "fleet")


def _anomaly(p: dict[str, Any]) -> str:
    return _get(p, "anomaly_id")


ROUTES: dict[str, Route] = {
    "budget.threshold": Route(
        rule="budget_threshold",
        subject=lambda p: _get(p, "team_name", _get(p, "team_id")),
        key=lambda p: f"{_get(p, 'budget_id')}:{_get(p, 'threshold_pct')}",
        message=_budget_message,
        severity=lambda p: "critical" if float(p.get("threshold_pct") or 0) >= 100 else "warning",
        notice_for=timedelta(days=1),
    ),
    "emergency.rebalance": Route("spot_emergency", _agent, _emergency("rebalance notice"), key=_emergency_event),
    "emergency.termination": Route(
        "spot_emergency", _agent, _emergency("termination notice"), lambda _p: "critical", _emergency_event
    ),
    "emergency.failover": Route(
        "spot_emergency", _agent, _emergency("on-demand fail-over"), lambda _p: "critical", _emergency_event
    ),
    "emergency.resolved": Route("spot_emergency", _agent, key=_emergency_event),
    "carbon.anomaly.detected": Route(
        rule="carbon_anomaly",
        subject=_anomaly_subject,
        key=_anomaly,
        message=_anomaly_message,
        severity=lambda p: "critical" if p.get("severity") in ("high", "critical") else "warning",
    ),
    "carbon.anomaly.resolved": Route("carbon_anomaly", _anomaly_subject, key=_anomaly),
    "carbon.anomaly.dismissed": Route("carbon_anomaly", _anomaly_subject, key=_anomaly),
    "carbon.automation.notice": Route(
        rule="automation_notice",
        subject=lambda p: _get(p, "instance_id"),
        message=lambda p: (
            f"Spectra will stop idle instance {_get(p, 'instance_id')} after {_when(p, 'act_after')}: idle for "
            f"{float(p.get('idle_hours') or 0):.0f} h. Dismiss its idle-waste anomaly or use it to keep it running."
        ),
        notice_for=timedelta(days=1),
    ),
    "carbon.action.applied": Route(
        rule="automation_action",
        subject=lambda p: _get(p, "instance_id", _get(p, "entity_id")),
        key=lambda p: _get(p, "action_id"),
        message=lambda p: f"Spectra automation: {_get(p, 'summary')} (action {_get(p, 'action_id')}).",
        severity=lambda _p: "info",
        notice_for=timedelta(0),
        when=lambda p: p.get("origin") == "automatic",  # people are told what the automation did, not what they did
    ),
    "spot.agent.offline": Route(
        rule="agent_offline",
        subject=_agent,
        message=lambda p: f"Agent {_get(p, 'agent_id')} stopped heartbeating: {_get(p, 'message', 'offline')}.",
    ),
    "spot.agent.online": Route("agent_offline", _agent),
}


def _dedup_key(client_id: str | None, route: Route, payload: dict[str, Any]) -> str:
    part = route.key(payload) if route.key else route.subject(payload)
    return f"{client_id or 'platform'}:event:{route.rule}:{part}"[:200]


def record(session: Session, event: Event) -> Alert | None:
    """Open, escalate or resolve the alert an event stands for (inside the event's own transaction)."""
    route = ROUTES.get(event.topic)
    if route is None or not route.when(event.payload):
        return None
    now = clock.now()  # the platform clock (simulated in the demo), like every other alert
    key = _dedup_key(event.client_id, route, event.payload)
    alert = repository.open_alert(session, key)
    if route.message is None:  # a resolving topic
        if alert is not None:
            alert.state, alert.resolved_at = "resolved", now
            session.flush()
        return alert
    severity = route.severity(event.payload)
    message = route.message(event.payload)
    if alert is not None:
        alert.message = message
        if SEVERITY_RANK[severity] > SEVERITY_RANK[alert.severity]:
            # Worse news (a rebalance became a termination) is told again, cooldown or not.
            alert.severity, alert.deliveries, alert.last_notified_at = severity, [], None
        session.flush()
        return alert
    alert = Alert(
        client_id=event.client_id,
        resource_pk=None,
        subject=route.subject(event.payload)[:128],
        rule=route.rule,
        metric=None,
        kind="event",
        severity=severity,
        state="firing",
        dedup_key=key,
        group_key=f"{event.client_id or 'platform'}:{route.rule}",
        message=message,
        value=None,
        threshold=None,
        breach_at=None,
        started_at=now,
        fired_at=now,
        deliveries=[],
    )
    session.add(alert)
    session.flush()
    return alert


def deliver(session: Session, now: datetime | None = None) -> dict[str, int]:
    """Send every event alert not sent yet (grouped, silences and cooldown applied); lapse delivered notices."""
    now = now or clock.now()
    firing = repository.event_alerts_firing(session)
    queued = [a for a in firing if not a.deliveries and a.fired_at is not None and a.fired_at >= now - QUEUE_WINDOW]
    if queued:
        alerts.send_grouped(session, queued, {}, now)
    lapsed = 0
    for alert in firing:
        notice_for = NOTICE_FOR.get(alert.rule)
        fired = alert.fired_at or alert.started_at
        told = bool(alert.deliveries) and notice_for is not None and fired + notice_for <= now
        if told or (fired < now - QUEUE_WINDOW and not alert.deliveries):
            alert.state, alert.resolved_at = "resolved", now
            lapsed += 1
    session.flush()
    return {"queued": len(queued), "sent": sum(1 for a in queued if alert_sent(a)), "lapsed": lapsed}


NOTICE_FOR = {r.rule: r.notice_for for r in ROUTES.values() if r.notice_for is not None}


def alert_sent(alert: Alert) -> bool:
    return any(d.get("status") == "sent" for d in alert.deliveries)


def _wake(_event: Event) -> None:
    run_soon(JOB_NAME)


_registered = False


def register() -> None:
    """Route the topics above (once per process)."""
    global _registered
    if _registered:
        return
    for topic in ROUTES:
        on_publish(topic, record)
        subscribe(topic, _wake)
    _registered = True
