"""Platform events become alerts in their own transaction and reach the shared channels through the job:
budget thresholds, spot emergencies, anomalies, automation, agents offline."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from spectra.capacity import event_alerts
from spectra.capacity.models import Alert, Silence
from spectra.core.clock import clock
from spectra.core.events import publish
from tests.factories import make_tenant
from tests.spot.spot_factories import register_agent

T0 = datetime(2026, 3, 9, 10, 0, tzinfo=UTC)

BUDGET = {
    "budget_id": "b1",
    "team_id": "t1",
    "team_name": "payments",
    "year": 2026,
    "quarter": 1,
    "threshold_pct": 80,
    "pct_used": 83.4,
    "consumed_co2e_kg": 834.0,
    "budget_co2e_kg": 1000.0,
    "projected_co2e_kg": 1210.5,
    "status": "at_risk",
}


class _Webhook(HTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.bodies: list[dict[str, Any]] = []


class _Handler(BaseHTTPRequestHandler):
    server: _Webhook

    def do_POST(self) -> None:
        self.server.bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: object) -> None:
        return


@pytest.fixture()
def slack(settings_env) -> Iterator[_Webhook]:  # type: ignore[no-untyped-def]
    server = _Webhook()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings_env(SLACK_WEBHOOK_URL=f"http://127.0.0.1:{server.server_address[1]}/hook")
    yield server
    server.shutdown()
    server.server_close()


def _alerts(db: Session, rule: str) -> list[Alert]:
    return list(db.scalars(select(Alert).where(Alert.rule == rule).order_by(Alert.started_at)))


def test_budget_threshold_is_an_alert_in_the_same_transaction_and_reaches_slack(
    client: TestClient, db: Session, slack: _Webhook
) -> None:
    tenant = make_tenant(db)
    clock.set_override(T0)
    publish(db, "budget.threshold", BUDGET, client_id=tenant.id)
    [alert] = _alerts(db, "budget_threshold")  # written before any commit, by the publishing transaction
    assert (alert.client_id, alert.kind, alert.state, alert.severity) == (tenant.id, "event", "firing", "warning")
    assert alert.subject == "payments" and alert.deliveries == []
    assert "834.0 of 1,000.0 kgCO2e" in alert.message and "83%" in alert.message

    result = event_alerts.deliver(db, T0 + timedelta(seconds=5))
    assert result == {"queued": 1, "sent": 1, "lapsed": 0}
    assert [d["status"] for d in alert.deliveries] == ["sent"] and alert.last_notified_at is not None
    [body] = slack.bodies
    assert "budget threshold" in body["text"] and "payments" in body["text"]
    assert event_alerts.deliver(db, T0 + timedelta(minutes=1))["queued"] == 0  # sent once, not every minute

    # The threshold is a notice: it lapses a day after it was told.
    assert event_alerts.deliver(db, T0 + timedelta(days=1, seconds=1))["lapsed"] == 1
    assert alert.state == "resolved"

    listed = client.get("/api/alerts", headers=tenant.headers).json()
    assert [(a["rule"], a["resource_id"], a["kind"]) for a in listed] == [("budget_threshold", "payments", "event")]
    other = make_tenant(db)
    assert client.get("/api/alerts", headers=other.headers).json() == []


def test_an_event_rolled_back_leaves_no_alert(db: Session) -> None:
    tenant = make_tenant(db)
    with db.begin_nested() as savepoint:
        publish(db, "budget.threshold", BUDGET, client_id=tenant.id)
        assert len(_alerts(db, "budget_threshold")) == 1
        savepoint.rollback()
    assert _alerts(db, "budget_threshold") == []


def test_spot_emergency_escalates_is_retold_and_resolves_through_the_api(
    client: TestClient, db: Session, slack: _Webhook
) -> None:
    tenant = make_tenant(db)
    agent = register_agent(client, tenant.headers)
    aid = agent["agent_id"]
    client.post(f"/api/agents/{aid}/rebalance-notice", json={}, headers=tenant.headers)
    [alert] = _alerts(db, "spot_emergency")
    assert (alert.severity, alert.subject, alert.client_id) == ("warning", aid, tenant.id)
    event_alerts.deliver(db)
    assert len(slack.bodies) == 1 and "rebalance" in slack.bodies[0]["text"]

    # The rebalance turns into a termination: the same alert, now critical, is told again despite the cooldown.
    client.post(f"/api/agents/{aid}/termination-notice", json={}, headers=tenant.headers)
    assert [a.id for a in _alerts(db, "spot_emergency")] == [alert.id]
    db.refresh(alert)
    assert alert.severity == "critical" and alert.deliveries == []
    event_alerts.deliver(db)
    assert len(slack.bodies) == 2 and slack.bodies[1]["text"].startswith(":red_circle:")  # Slack's critical mark

    # Resolving the emergency resolves the alert.
    publish(db, "emergency.resolved", {"agent_id": aid, "emergency_event_id": _event_id(db, tenant.id)},
            client_id=tenant.id)  # fmt: skip
    db.refresh(alert)
    assert alert.state == "resolved"


def _event_id(db: Session, client_id: str) -> str:
    from spectra.spot.emergency.models import EmergencyEvent

    return db.scalars(select(EmergencyEvent.id).where(EmergencyEvent.client_id == client_id)).one()


def test_a_silence_on_the_rule_and_subject_mutes_the_message_but_keeps_the_alert(db: Session, slack: _Webhook) -> None:
    tenant = make_tenant(db)
    clock.set_override(T0)
    db.add(Silence(client_id=tenant.id, resource_id="i-0idle", rule="carbon_anomaly", starts_at=T0 - timedelta(hours=1),
                   ends_at=T0 + timedelta(hours=1), reason="known batch host", created_by="ops"))  # fmt: skip
    for anomaly_id, instance in (("a1", "i-0idle"), ("a2", "i-0other")):
        publish(db, "carbon.anomaly.detected",
                {"anomaly_id": anomaly_id, "kind": "idle_waste", "instance_id": instance, "severity": "medium",
                 "score": 0.91, "co2e_kg": 1.5, "cost_usd": 3.2}, client_id=tenant.id)  # fmt: skip
    event_alerts.deliver(db, T0)
    muted, told = _alerts(db, "carbon_anomaly")
    assert muted.subject == "i-0idle" and muted.silenced_by is not None
    assert muted.deliveries[0]["status"] == "skipped"
    assert told.deliveries[0]["status"] == "sent"
    [body] = slack.bodies
    assert "i-0other" in body["text"] and "i-0idle" not in body["text"] and "idle waste" in body["text"]

    publish(db, "carbon.anomaly.dismissed", {"anomaly_id": "a2", "instance_id": "i-0other"}, client_id=tenant.id)
    db.refresh(told)
    assert told.state == "resolved"


def test_people_hear_what_automation_did_not_what_they_did(db: Session) -> None:
    tenant = make_tenant(db)
    publish(db, "carbon.action.applied", {"origin": "manual", "summary": "x", "action_id": "m1"}, client_id=tenant.id)
    assert _alerts(db, "automation_action") == []
    publish(db, "carbon.action.applied",
            {"origin": "automatic", "summary": "stop idle i-1", "action_id": "a1", "instance_id": "i-1"},
            client_id=tenant.id)  # fmt: skip
    [alert] = _alerts(db, "automation_action")
    assert alert.severity == "info" and "stop idle i-1" in alert.message
    publish(db, "carbon.automation.notice",
            {"kind": "idle_stop", "instance_id": "i-2", "act_after": "2026-03-10T07:00:00+00:00", "idle_hours": 30.2},
            client_id=tenant.id)  # fmt: skip
    [notice] = _alerts(db, "automation_notice")
    assert "i-2" in notice.message and "30 h" in notice.message and "after 2026-03-10 07:00 UTC" in notice.message


def test_agent_offline_opens_and_online_closes(db: Session) -> None:
    tenant = make_tenant(db)
    publish(db, "spot.agent.offline", {"agent_id": "ag1", "message": "no heartbeat for 10 min"}, client_id=tenant.id)
    publish(db, "spot.agent.offline", {"agent_id": "ag1", "message": "still nothing"}, client_id=tenant.id)
    [alert] = _alerts(db, "agent_offline")  # one alert per agent, not one per event (dedup)
    assert alert.state == "firing" and "still nothing" in alert.message
    publish(db, "spot.agent.online", {"agent_id": "ag1"}, client_id=tenant.id)
    assert alert.state == "resolved"


def test_unsent_alerts_do_not_go_out_a_day_late(db: Session) -> None:
    tenant = make_tenant(db)
    clock.set_override(T0)
    publish(db, "spot.agent.offline", {"agent_id": "ag9"}, client_id=tenant.id)
    result = event_alerts.deliver(db, T0 + timedelta(days=2))
    assert result["queued"] == 0 and result["lapsed"] == 1
    [alert] = _alerts(db, "agent_offline")
    assert alert.state == "resolved" and alert.deliveries == []
