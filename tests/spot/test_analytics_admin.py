"""Analytics, exports, alerts, bulk actions and the zombie job, against hand-worked numbers."""

from __future__ import annotations

import csv
import io
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from spectra.core.clock import clock
from spectra.spot.agents.tasks import zombie_cleanup
from spectra.spot.analytics.csv_safe import safe_cell, to_csv
from spectra.spot.models import Command, SpotInstance
from tests.factories import make_tenant
from tests.spot.spot_factories import register_agent, report_prices

DAY = datetime(2026, 3, 2, tzinfo=UTC)


def test_savings_against_on_demand_hand_worked(client, db: Session) -> None:
    t = make_tenant(db)
    clock.set_override(DAY + timedelta(hours=6))
    a = register_agent(client, t.headers, spot_price=0.04, on_demand_price=0.096)
    aid = a["agent_id"]
    report_prices(client, t.headers, aid, {"us-east-1a": 0.04, "us-east-1b": 0.03})
    clock.set_override(DAY + timedelta(hours=12))
    client.post(
        f"/api/agents/{aid}/switch-report",
        json={
            "new_instance_id": "i-0cheap",
            "new_availability_zone": "us-east-1b",
            "price": 0.03,
            "downtime_seconds": 4,
        },
        headers=t.headers,
    )
    clock.set_override(DAY + timedelta(hours=13))
    client.post(
        f"/api/agents/{aid}/termination-report", json={"instance_ids": [a["cloud_instance_id"]]}, headers=t.headers
    )
    clock.set_override(DAY + timedelta(hours=18))
    body = client.get(f"/api/client/{t.id}/savings?days=1", headers=t.headers).json()
    # Old: alive 06→13 h at 0.04 = 0.28, PRIMARY 06→12 h. New: alive and PRIMARY 12→18 h at 0.03 = 0.18.
    # Baseline: 12 h as PRIMARY × 0.096 = 1.152. Savings = 1.152 − 0.46 = 0.692.
    assert body["daily"] == [
        {"date": "2026-03-02", "actual_cost_usd": 0.46, "on_demand_baseline_usd": 1.152, "savings_usd": 0.692}
    ]
    assert body["total_savings_usd"] == 0.692 and body["savings_pct"] == round(100 * 0.692 / 1.152, 2)
    per = {p["cloud_instance_id"]: p["savings_usd"] for p in body["per_instance"]}
    assert per == {a["cloud_instance_id"]: round(0.576 - 0.28, 4), "i-0cheap": round(0.576 - 0.18, 4)}
    exported = list(
        csv.reader(io.StringIO(client.get(f"/api/client/{t.id}/export/savings?days=1", headers=t.headers).text))
    )
    assert exported == [
        ["date", "actual_cost_usd", "on_demand_baseline_usd", "savings_usd"],
        ["2026-03-02", "0.46", "1.152", "0.692"],
    ]


def test_downtime_analytics_percentiles(client, db: Session) -> None:
    t = make_tenant(db)
    a = register_agent(client, t.headers)
    for i, seconds in enumerate([2, 4, 6, 8, 30]):
        client.post(
            f"/api/agents/{a['agent_id']}/switch-report",
            json={"new_instance_id": f"i-0n{i}", "downtime_seconds": seconds},
            headers=t.headers,
        )
    body = client.get(f"/api/client/{t.id}/analytics/downtime", headers=t.headers).json()
    # p95 by linear interpolation: rank 0.95 × 4 = 3.8 → 8 + 0.8 × (30 − 8) = 25.6.
    assert body["p95_seconds"] == 25.6 and body["avg_seconds"] == 10.0
    assert (body["min_seconds"], body["max_seconds"], body["success_rate"]) == (2, 30, 1.0)
    assert body["meets_target"] is False


def test_csv_exports_cannot_run_formulas(client, db: Session, admin_headers) -> None:
    assert safe_cell("=1+1") == "'=1+1" and safe_cell("@SUM(A1)") == "'@SUM(A1)" and safe_cell("\tx") == "'\tx"
    assert safe_cell(-3.5) == -3.5 and safe_cell("plain") == "plain" and safe_cell(None) == ""
    assert to_csv(["a"], [["+cmd"]]).splitlines() == ["a", "'+cmd"]
    t = make_tenant(db, name='=HYPERLINK("http://evil")')
    a = register_agent(client, t.headers)
    client.post(
        f"/api/agents/{a['agent_id']}/switch-report",
        json={"new_instance_id": "i-0x", "trigger": "=cmd|' /C calc'!A0"},
        headers=t.headers,
    )
    history = client.get(f"/api/client/{t.id}/export/switch-history", headers=t.headers).text
    assert "'=cmd|" in history and ",=cmd" not in history
    stats = client.get("/api/admin/export/global-stats", headers=admin_headers).text
    assert "'=HYPERLINK" in stats


def test_pricing_alert_notifies_once_per_cooldown(client, db: Session) -> None:
    t = make_tenant(db)
    a = register_agent(client, t.headers)
    rule = client.post(
        f"/api/client/{t.id}/pricing-alerts",
        json={"name": "cheap m5", "instance_type": "m5.large", "direction": "below", "threshold_price": 0.035},
        headers=t.headers,
    )
    assert rule.status_code == 201
    first = client.post(
        f"/api/agents/{a['agent_id']}/pricing-report",
        json={"prices": [{"instance_type": "m5.large", "availability_zone": "us-east-1b", "price": 0.03}]},
        headers=t.headers,
    ).json()
    second = client.post(
        f"/api/agents/{a['agent_id']}/pricing-report",
        json={"prices": [{"instance_type": "m5.large", "availability_zone": "us-east-1b", "price": 0.029}]},
        headers=t.headers,
    ).json()
    assert (first["alerts_triggered"], second["alerts_triggered"]) == (1, 0)
    notes = [
        n
        for n in client.get("/api/notifications?unread=true", headers=t.headers).json()
        if n["kind"] == "pricing_alert"
    ]
    assert len(notes) == 1 and notes[0]["data"]["price"] == 0.03
    assert client.post("/api/notifications/mark-all-read", headers=t.headers).json()["marked"] >= 1
    assert client.get("/api/notifications?unread=true", headers=t.headers).json() == []
    no_threshold = client.post(f"/api/client/{t.id}/pricing-alerts", json={"name": "x"}, headers=t.headers)
    assert no_threshold.status_code == 422


def test_bulk_execute_reports_each_item(client, db: Session, admin_headers) -> None:
    t = make_tenant(db)
    a = register_agent(client, t.headers)
    body = {
        "operations": [
            {"action": "set_agent_config", "agent_id": a["agent_id"], "config": {"terminate_wait_seconds": 60}},
            {"action": "force_switch", "agent_id": "nope"},
            {"action": "reboot_everything"},
        ]
    }
    out = client.post("/api/admin/bulk/execute", json=body, headers=admin_headers).json()
    assert (out["succeeded"], out["failed"]) == (1, 2)
    assert [r["ok"] for r in out["results"]] == [True, False, False]
    assert out["results"][1]["status"] == 404 and out["results"][2]["code"] == "unknown_action"
    assert client.get(f"/api/agents/{a['agent_id']}/config", headers=t.headers).json()["terminate_wait_seconds"] == 60


def test_zombie_cleanup_queues_one_terminate_per_old_zombie(client, db: Session) -> None:
    t = make_tenant(db)
    clock.set_override(DAY)
    a = register_agent(client, t.headers)
    client.post(f"/api/agents/{a['agent_id']}/switch-report", json={"new_instance_id": "i-0new"}, headers=t.headers)
    assert zombie_cleanup(db, DAY + timedelta(days=29))["terminate_commands_queued"] == 0
    assert zombie_cleanup(db, DAY + timedelta(days=31))["terminate_commands_queued"] == 1
    assert zombie_cleanup(db, DAY + timedelta(days=32))["terminate_commands_queued"] == 0
    zombie = db.scalar(select(SpotInstance).where(SpotInstance.cloud_instance_id == a["cloud_instance_id"]))
    cmds = db.scalars(
        select(Command).where(Command.command_type == "terminate", Command.instance_id == zombie.id)
    ).all()
    assert len(cmds) == 1
    db.commit()
    clock.set_override(None)
    done = client.post(
        f"/api/agents/{a['agent_id']}/commands/{cmds[0].id}/executed", json={"success": True}, headers=t.headers
    ).json()
    assert done["changed"] is True
    db.refresh(zombie)
    assert zombie.role == "TERMINATED"


def test_long_poll_waits_then_returns_empty(client, db: Session) -> None:
    t = make_tenant(db)
    a = register_agent(client, t.headers)
    started = time.monotonic()
    assert client.get(f"/api/agents/{a['agent_id']}/pending-commands?wait=0.4", headers=t.headers).json() == []
    assert time.monotonic() - started >= 0.35


def test_operational_metrics_and_health_summary(client, db: Session, admin_headers) -> None:
    t = make_tenant(db)
    clock.set_override(DAY)
    a = register_agent(client, t.headers)
    interval = a["config"]["heartbeat_interval_seconds"]
    clock.set_override(DAY + timedelta(seconds=interval))
    client.post(f"/api/agents/{a['agent_id']}/heartbeat", json={}, headers=t.headers)
    clock.set_override(DAY + timedelta(seconds=3 * interval))
    client.post(f"/api/agents/{a['agent_id']}/heartbeat", json={}, headers=t.headers)  # one missed
    ops = client.get("/api/admin/metrics/operational", headers=admin_headers).json()
    assert ops["heartbeat"]["received"] >= 2 and ops["heartbeat"]["missed"] >= 1
    summary = client.get("/api/admin/agents/health-summary", headers=admin_headers).json()
    mine = next(r for r in summary["agents"] if r["agent_id"] == a["agent_id"])
    assert mine["miss_rate"] == round(1 / 3, 6)
