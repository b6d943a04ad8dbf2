"""Anomalies: raise/extend/dedupe, dismiss teaches suppression, filters, stats, tenant isolation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from spectra.carbon.anomalies import service
from spectra.core.clock import clock
from tests.factories import make_tenant

T0 = datetime(2026, 3, 2, 2, tzinfo=UTC)


def _raise(db: Session, client_id: str, start: datetime, hours: float = 2, kind: str = "runaway_process", **kw):
    clock.set_override(start + timedelta(hours=hours))
    return service.raise_anomaly(
        db, client_id=client_id, kind=kind, score=kw.get("score", 0.8), start=start,
        end=start + timedelta(hours=hours), evidence={"peak": 97.0}, co2e_kg=kw.get("co2e", 0.5),
        cost_usd=kw.get("cost", 2.0), instance_id=kw.get("instance", "i-1"), team_id=kw.get("team"),
    )  # fmt: skip


def test_open_anomaly_is_extended_not_duplicated(db: Session) -> None:
    tenant = make_tenant(db)
    first = _raise(db, tenant.id, T0)
    again = _raise(db, tenant.id, T0 + timedelta(hours=2), hours=1, score=0.95, co2e=0.7)
    assert first is not None and again is not None and first.id == again.id
    assert again.ended_at == T0 + timedelta(hours=3)
    assert again.score == 0.95 and again.co2e_kg == 0.7
    assert again.severity == "high"


def test_dismiss_teaches_the_pattern(db: Session) -> None:
    tenant = make_tenant(db)
    anomaly = _raise(db, tenant.id, T0)
    assert anomaly is not None and anomaly.pattern == "runaway_process:i-1:02-04"
    service.dismiss(db, anomaly, "nightly backup, expected")
    assert anomaly.status == "dismissed" and anomaly.note == "nightly backup, expected"
    # The next night at the same hours: quiet. At noon: raised. On another instance: raised.
    assert _raise(db, tenant.id, T0 + timedelta(days=1)) is None
    assert _raise(db, tenant.id, T0 + timedelta(days=1, hours=10)) is not None
    assert _raise(db, tenant.id, T0 + timedelta(days=1), instance="i-2") is not None


def test_closed_evidence_is_not_reraised(db: Session) -> None:
    tenant = make_tenant(db)
    anomaly = _raise(db, tenant.id, T0)
    assert anomaly is not None
    service.resolve(db, anomaly, "killed the process")
    assert _raise(db, tenant.id, T0 + timedelta(hours=1), hours=1) is None


def test_stats(db: Session) -> None:
    tenant = make_tenant(db)
    a = _raise(db, tenant.id, T0, co2e=0.5, cost=2.0)
    _raise(db, tenant.id, T0, kind="idle_waste", hours=30, instance="i-9", co2e=3.0, cost=20.0, score=0.6)
    assert a is not None
    service.resolve(db, a, None)
    stats = service.stats(db, tenant.id)
    assert (stats["total"], stats["open"], stats["resolved"]) == (2, 1, 1)
    assert stats["open_co2e_kg"] == 3.0 and stats["open_cost_usd"] == 20.0
    assert stats["by_kind"]["runaway_process"] == {"total": 1, "open": 0, "co2e_kg": 0.5, "cost_usd": 2.0}
    assert stats["by_severity"]["medium"] == 2


def test_routes(client, db: Session) -> None:
    tenant, other = make_tenant(db), make_tenant(db)
    a = _raise(db, tenant.id, T0, team="team-a")
    b = _raise(db, tenant.id, T0, kind="idle_waste", hours=30, instance="i-2")
    _raise(db, other.id, T0)
    assert a is not None and b is not None
    db.commit()
    h = tenant.headers
    page = client.get("/api/anomalies", headers=h).json()
    assert page["total"] == 2
    assert [x["id"] for x in client.get("/api/anomalies?kind=idle_waste", headers=h).json()["items"]] == [b.id]
    assert client.get("/api/anomalies?team=team-a", headers=h).json()["total"] == 1
    assert client.get("/api/anomalies?instance=i-2", headers=h).json()["total"] == 1
    late = client.get("/api/anomalies", params={"start": "2026-03-03T00:00:00Z"}, headers=h).json()
    assert [x["id"] for x in late["items"]] == [b.id]  # only the 30 h idle run reaches into 3 March
    assert client.get("/api/anomalies?kind=bogus", headers=h).status_code == 422

    # Another client sees nothing of ours and cannot act on it.
    assert client.get(f"/api/anomalies/{a.id}", headers=other.headers).status_code == 404
    assert client.post(f"/api/anomalies/{a.id}/resolve", json={}, headers=other.headers).status_code == 404

    dismissed = client.post(f"/api/anomalies/{a.id}/dismiss", json={"reason": "known batch"}, headers=h)
    assert dismissed.status_code == 200 and dismissed.json()["status"] == "dismissed"
    again = client.post(f"/api/anomalies/{a.id}/resolve", json={}, headers=h)
    assert again.status_code == 409 and again.json()["code"] == "anomaly_closed"
    assert client.post(f"/api/anomalies/{b.id}/dismiss", json={}, headers=h).status_code == 422
    stale = client.post(f"/api/anomalies/{b.id}/resolve", json={"version": 99}, headers=h)
    assert stale.status_code == 409 and stale.json()["code"] == "stale_version"
    stats = client.get("/api/anomalies/stats", headers=h).json()
    assert stats["dismissed"] == 1 and stats["open"] == 1
    assert client.get("/api/anomalies/stats", headers=other.headers).json()["total"] == 1


@pytest.mark.parametrize("kind", ["nope"])
def test_unknown_kind_is_refused(db: Session, kind: str) -> None:
    tenant = make_tenant(db)
    with pytest.raises(ValueError):
        _raise(db, tenant.id, T0, kind=kind)
