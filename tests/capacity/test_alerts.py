"""Alert rules: pending → firing → resolved, dedup, grouping, cooldown, silences (fixed and recurring)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from spectra.capacity import alerts, channels, repository, service
from spectra.capacity.models import Alert, Silence
from spectra.core.clock import clock
from spectra.core.models import AuditLog
from tests.factories import make_tenant

T0 = datetime(2026, 3, 9, 10, 0, tzinfo=UTC)  # a Monday


class Outbox:
    def __init__(self) -> None:
        self.messages: list[channels.Message] = []

    def deliver(self, message: channels.Message, settings: object = None) -> list[channels.Delivery]:
        self.messages.append(message)
        return [channels.Delivery("slack", "sent", 1, None, clock.now())]


@pytest.fixture()
def outbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[Outbox]:
    box = Outbox()
    monkeypatch.setattr(channels, "deliver", box.deliver)
    yield box


def _report(db: Session, client_id: str, resource: str, at: datetime, cpu: float) -> None:
    service.ingest(db, client_id, [{"resource_id": resource, "metric": "cpu", "ts": at, "value": cpu}])


def _evaluate(db: Session, client_id: str, resource_id: str, at: datetime) -> list[Alert]:
    clock.set_override(at)
    resource = repository.resource_by_external(db, client_id, resource_id)
    assert resource is not None
    return alerts.evaluate(db, resource, service.compute_forecasts(db, resource))


def _open(db: Session, rule: str) -> list[Alert]:
    return list(db.scalars(select(Alert).where(Alert.rule == rule, Alert.state.in_(("pending", "firing")))).all())


def test_current_value_alert_lifecycle(db: Session, outbox: Outbox) -> None:
    tenant = make_tenant(db)
    clock.set_override(T0)
    _report(db, tenant.id, "web-1", T0, 95.0)
    _evaluate(db, tenant.id, "web-1", T0)
    [alert] = _open(db, "cpu_current")
    assert alert.state == "pending" and alert.severity == "critical"
    assert outbox.messages == []  # one sample does not page anyone

    t1 = T0 + timedelta(minutes=5)
    _report(db, tenant.id, "web-1", t1, 96.0)
    _evaluate(db, tenant.id, "web-1", t1)
    assert alert.state == "firing" and alert.fired_at == t1
    assert len(outbox.messages) == 1 and "web-1" in outbox.messages[0].text
    assert alert.last_notified_at == t1 and alert.deliveries[0]["status"] == "sent"

    t2 = t1 + timedelta(minutes=5)
    _report(db, tenant.id, "web-1", t2, 97.0)
    _evaluate(db, tenant.id, "web-1", t2)
    assert len(_open(db, "cpu_current")) == 1  # still the same alert (dedup), no new message
    assert len(outbox.messages) == 1

    t3 = t2 + timedelta(minutes=5)
    _report(db, tenant.id, "web-1", t3, 40.0)
    _evaluate(db, tenant.id, "web-1", t3)
    assert alert.state == "resolved" and alert.resolved_at == t3


def test_pending_that_clears_never_fires(db: Session, outbox: Outbox) -> None:
    tenant = make_tenant(db)
    _report(db, tenant.id, "web-1", T0, 95.0)
    _evaluate(db, tenant.id, "web-1", T0)
    _report(db, tenant.id, "web-1", T0 + timedelta(minutes=5), 30.0)
    _evaluate(db, tenant.id, "web-1", T0 + timedelta(minutes=5))
    [alert] = db.scalars(select(Alert).where(Alert.rule == "cpu_current")).all()
    assert alert.state == "resolved" and alert.fired_at is None
    assert outbox.messages == []


def test_forecast_rule_fires_on_a_ramp(db: Session, outbox: Outbox) -> None:
    tenant = make_tenant(db)
    # +1 % per 5 min: at 80 % the 90 % threshold is 50 min away, within the 60 min lookahead
    for k in range(13):
        _report(db, tenant.id, "web-1", T0 + timedelta(minutes=5 * k), 68.0 + k)
    _evaluate(db, tenant.id, "web-1", T0 + timedelta(minutes=60))
    _report(db, tenant.id, "web-1", T0 + timedelta(minutes=65), 81.0)
    _evaluate(db, tenant.id, "web-1", T0 + timedelta(minutes=65))
    [alert] = _open(db, "cpu_forecast")
    assert alert.state == "firing" and alert.severity == "warning"
    assert alert.breach_at is not None and alert.breach_at > T0 + timedelta(minutes=65)
    assert "forecast to reach 90%" in alert.message


def test_grouping_one_message_per_rule(db: Session, outbox: Outbox) -> None:
    tenant = make_tenant(db)
    for name in ("web-1", "web-2"):
        for k in range(2):
            _report(db, tenant.id, name, T0 + timedelta(minutes=5 * k), 95.0)
    clock.set_override(T0)
    firing = []
    for name in ("web-1", "web-2"):
        resource = repository.resource_by_external(db, tenant.id, name)
        assert resource is not None
        alerts.evaluate(db, resource, [], notify=False)
    clock.set_override(T0 + timedelta(minutes=5))
    names = {}
    for name in ("web-1", "web-2"):
        resource = repository.resource_by_external(db, tenant.id, name)
        assert resource is not None
        names[resource.id] = name
        firing += [a for a in alerts.evaluate(db, resource, [], notify=False) if a.state == "firing"]
    alerts.send_grouped(db, firing, names, T0 + timedelta(minutes=5))
    assert len(outbox.messages) == 1
    assert "2 resources" in outbox.messages[0].subject
    assert "web-1" in outbox.messages[0].text and "web-2" in outbox.messages[0].text


def test_cooldown_suppresses_a_quick_refire(db: Session, outbox: Outbox, settings_env) -> None:  # type: ignore[no-untyped-def]
    settings_env(ALERT_COOLDOWN_MIN="30")
    tenant = make_tenant(db)
    values = [95, 95, 40, 95, 95]  # fires at +5, resolves at +10, fires again at +20 (within 30 min)
    for k, v in enumerate(values):
        at = T0 + timedelta(minutes=5 * k)
        _report(db, tenant.id, "web-1", at, float(v))
        _evaluate(db, tenant.id, "web-1", at)
    assert len(outbox.messages) == 1
    [second] = _open(db, "cpu_current")
    assert second.state == "firing"
    assert second.deliveries[0]["status"] == "skipped" and "cooldown" in second.deliveries[0]["error"]


def _silence(db: Session, client_id: str, **kwargs: object) -> Silence:
    silence = Silence(client_id=client_id, starts_at=T0 - timedelta(days=1), reason="", created_by="t", **kwargs)
    db.add(silence)
    db.flush()
    return silence


def test_fixed_silence_mutes_until_its_end(db: Session, outbox: Outbox) -> None:
    tenant = make_tenant(db)
    silence = _silence(db, tenant.id, resource_id="web-1", ends_at=T0 + timedelta(hours=1))
    for k in range(2):
        at = T0 + timedelta(minutes=5 * k)
        _report(db, tenant.id, "web-1", at, 95.0)
        _evaluate(db, tenant.id, "web-1", at)
    [alert] = _open(db, "cpu_current")
    assert alert.state == "firing" and alert.silenced_by == silence.id
    assert outbox.messages == []


def test_recurring_window_rules() -> None:
    weekday_night = Silence(
        starts_at=T0 - timedelta(days=30), ends_at=None, recurring={"days": [0], "start": "22:00", "end": "02:00"}
    )
    monday_23 = datetime(2026, 3, 9, 23, 0, tzinfo=UTC)
    tuesday_01 = datetime(2026, 3, 10, 1, 0, tzinfo=UTC)
    tuesday_23 = datetime(2026, 3, 10, 23, 0, tzinfo=UTC)
    monday_12 = datetime(2026, 3, 9, 12, 0, tzinfo=UTC)
    assert alerts.silence_active(weekday_night, monday_23)
    assert alerts.silence_active(weekday_night, tuesday_01)  # the Monday night window runs into Tuesday
    assert not alerts.silence_active(weekday_night, tuesday_23)
    assert not alerts.silence_active(weekday_night, monday_12)
    daytime = Silence(starts_at=T0, ends_at=None, recurring={"days": [0, 1], "start": "09:00", "end": "17:00"})
    assert alerts.silence_active(daytime, monday_12)
    assert not alerts.silence_active(daytime, T0 - timedelta(days=7))  # before the silence starts


def test_silence_api_and_alert_history(client: TestClient, db: Session, outbox: Outbox) -> None:
    tenant = make_tenant(db)
    clock.set_override(T0)
    bad = client.post("/api/silences", json={"rule": "cpu_current"}, headers=tenant.headers)
    assert bad.status_code == 422
    made = client.post(
        "/api/silences",
        json={"rule": "cpu_current", "recurring": {"days": [0], "start": "09:00", "end": "11:00"}},
        headers=tenant.headers,
    )
    assert made.status_code == 201, made.text
    assert [s["id"] for s in client.get("/api/silences", headers=tenant.headers).json()] == [made.json()["id"]]
    other = make_tenant(db)
    assert client.delete(f"/api/silences/{made.json()['id']}", headers=other.headers).status_code == 404
    r = client.post("/api/test-alert", json={"message": "hello"}, headers=tenant.headers)
    assert r.status_code == 200
    assert r.json()["deliveries"][0]["status"] == "sent" and outbox.messages[-1].text == "hello"
    history = client.get("/api/alerts?limit=5", headers=tenant.headers).json()
    assert [a["rule"] for a in history] == ["test"]
    assert client.get("/api/alerts", headers=other.headers).json() == []
    assert client.delete(f"/api/silences/{made.json()['id']}", headers=tenant.headers).status_code == 204
    actions = db.scalars(select(AuditLog.action).where(AuditLog.entity_id == made.json()["id"])).all()
    assert sorted(actions) == ["capacity.silence.create", "capacity.silence.delete"]
