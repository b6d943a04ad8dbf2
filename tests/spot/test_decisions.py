"""decide / switch-recommendation through the API, and the model registry (upload, activate, fallback)."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime

import numpy as np
import skops.io as sio
from fastapi.testclient import TestClient
from sklearn.dummy import DummyRegressor
from sklearn.tree import DecisionTreeRegressor
from sqlalchemy.orm import Session

from spectra.core.models import AuditLog, EventLog
from spectra.spot.models import Command, MLDecision
from spectra.spot.pricing import service as pricing
from spectra.spot.pricing.formats import parse_spot_advisor
from tests.factories import make_tenant
from tests.spot.spot_factories import register_agent, report_prices

NOW = datetime(2024, 3, 1, tzinfo=UTC)


def _fleet(client: TestClient, db: Session, prices: dict[str, float]) -> tuple[object, dict, list[str]]:
    tenant = make_tenant(db)
    agent = register_agent(client, tenant.headers, zone="us-east-1a", spot_price=prices["us-east-1a"])
    pools = report_prices(client, tenant.headers, agent["agent_id"], prices)
    return tenant, agent, pools


def test_switch_recommendation_names_the_cheaper_pool_and_writes_nothing(client: TestClient, db: Session) -> None:
    tenant, agent, pools = _fleet(client, db, {"us-east-1a": 0.040, "us-east-1b": 0.020})
    response = client.get(f"/api/agents/{agent['agent_id']}/switch-recommendation", headers=tenant.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    # default policy: a move costs 0.1 h of on-demand (0.0096 USD) over 12 h = 0.0008 USD/h; saving ≫ margin
    assert body["action"] == "switch"
    assert body["target_pool_id"] == pools[1]
    assert body["target_pool"]["availability_zone"] == "us-east-1b"
    assert body["expected_cost_per_hour"] == 0.02
    assert body["current_cost_per_hour"] == 0.04
    assert body["on_demand_price"] == 0.096
    assert [c["availability_zone"] for c in body["candidates"]] == ["us-east-1b", "us-east-1a"]
    assert body["decision_id"] is None and body["command_id"] is None
    assert db.query(MLDecision).count() == 0


def test_decide_logs_the_decision_and_queues_the_switch(client: TestClient, db: Session) -> None:
    tenant, agent, pools = _fleet(client, db, {"us-east-1a": 0.040, "us-east-1b": 0.020})
    response = client.post(f"/api/agents/{agent['agent_id']}/decide", headers=tenant.headers, json={})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["action"] == "switch"
    logged = db.get(MLDecision, body["decision_id"])
    assert logged is not None and logged.action == "switch" and logged.executed
    command = db.get(Command, body["command_id"])
    assert command is not None
    assert (command.command_type, command.target_pool_id, command.issued_by) == ("switch", pools[1], "engine")
    assert command.request_id == f"decision:{body['decision_id']}"
    event = db.query(EventLog).filter_by(topic="spot.decision").one()
    assert event.client_id == tenant.id  # type: ignore[attr-defined]
    assert (event.payload["action"], event.payload["command_id"]) == ("switch", body["command_id"])


def test_decide_stays_when_the_saving_is_under_the_margin(client: TestClient, db: Session) -> None:
    tenant, agent, _ = _fleet(client, db, {"us-east-1a": 0.040, "us-east-1b": 0.039})
    body = client.post(f"/api/agents/{agent['agent_id']}/decide", headers=tenant.headers).json()
    assert body["action"] == "stay"
    assert body["command_id"] is None
    assert db.query(Command).filter_by(issued_by="engine").count() == 0


def test_decisions_are_tenant_scoped(client: TestClient, db: Session) -> None:
    _, agent, _ = _fleet(client, db, {"us-east-1a": 0.040, "us-east-1b": 0.020})
    other = make_tenant(db)
    assert client.post(f"/api/agents/{agent['agent_id']}/decide", headers=other.headers).status_code == 404
    assert (
        client.get(f"/api/agents/{agent['agent_id']}/switch-recommendation", headers=other.headers).status_code == 404
    )


def test_every_pool_risky_means_on_demand(client: TestClient, db: Session) -> None:
    tenant, agent, _ = _fleet(client, db, {"us-east-1a": 0.040, "us-east-1b": 0.020})
    advisor = {
        "ranges": [{"index": 4, "label": ">20%"}],
        "spot_advisor": {"us-east-1": {"Linux": {"m5.large": {"r": 4, "s": 60}}}},
    }
    pricing.import_spot_advisor(db, parse_spot_advisor(json.dumps(advisor)), NOW)
    body = client.get(f"/api/agents/{agent['agent_id']}/switch-recommendation", headers=tenant.headers).json()
    assert body["action"] == "fallback_on_demand"
    assert all(c["interruption_probability"] == 0.25 for c in body["candidates"])


def test_engine_upload_validates_activates_and_falls_back(
    client: TestClient, db: Session, admin_headers: dict[str, str]
) -> None:
    bad = client.post(
        "/api/admin/decision-engine/upload",
        headers=admin_headers,
        json={"name": "cautious", "version": "1", "policy": {"hysteresis_pct": -1, "warp": 9}},
    )
    assert bad.status_code == 422
    assert {e["field"] for e in bad.json()["errors"]} == {"policy.hysteresis_pct", "policy.warp"}

    uploaded = client.post(
        "/api/admin/decision-engine/upload",
        headers=admin_headers,
        json={"name": "cautious", "version": "1", "policy": {"hysteresis_pct": 0.9}, "activate": True},
    )
    assert uploaded.status_code == 201, uploaded.text
    assert uploaded.json()["status"] == "active"
    duplicate = client.post(
        "/api/admin/decision-engine/upload", headers=admin_headers, json={"name": "cautious", "version": "1"}
    )
    assert duplicate.status_code == 409

    tenant, agent, _ = _fleet(client, db, {"us-east-1a": 0.040, "us-east-1b": 0.020})
    url = f"/api/agents/{agent['agent_id']}/switch-recommendation"
    cautious = client.get(url, headers=tenant.headers).json()
    assert cautious["action"] == "stay"  # a 90 % hysteresis margin swallows the saving
    assert cautious["engine_model_id"] == uploaded.json()["id"]

    audited = db.query(AuditLog).filter_by(action="ml_model.activate", entity_id=uploaded.json()["id"]).one()
    assert audited.post_state is not None and audited.post_state["status"] == "active"
    fallback = client.post("/api/admin/ml-models/fallback", headers=admin_headers, json={"kind": "decision_engine"})
    assert fallback.status_code == 200
    assert fallback.json()["using"] == "built-in default"
    assert client.get(url, headers=tenant.headers).json()["action"] == "switch"
    again = client.post("/api/admin/ml-models/fallback", headers=admin_headers, json={"kind": "decision_engine"})
    assert again.status_code == 409

    sessions = client.get("/api/admin/ml-models/sessions", headers=admin_headers).json()
    assert sessions[0]["models"][0]["name"] == "cautious"
    assert client.get("/api/admin/ml-models/sessions", headers=tenant.headers).status_code == 403


def _skops(model: object) -> bytes:
    return sio.dumps(model)


def test_risk_model_upload_activation_changes_the_decision(
    client: TestClient, db: Session, admin_headers: dict[str, str]
) -> None:
    risky = DummyRegressor(strategy="constant", constant=0.3).fit(np.zeros((2, 5)), [0.3, 0.3])
    uploaded = client.post(
        "/api/admin/ml-models/upload",
        headers=admin_headers,
        files={"file": ("risk.skops", io.BytesIO(_skops(risky)), "application/octet-stream")},
        data={"name": "pessimist", "version": "1", "framework": "skops"},
    )
    assert uploaded.status_code == 201, uploaded.text
    model = uploaded.json()
    assert model["status"] == "uploaded"
    assert model["validation"]["smoke_predictions"] == [0.3, 0.3]

    tenant, agent, _ = _fleet(client, db, {"us-east-1a": 0.040, "us-east-1b": 0.020})
    url = f"/api/agents/{agent['agent_id']}/switch-recommendation"
    assert client.get(url, headers=tenant.headers).json()["action"] == "switch"  # uploaded, not active yet
    activated = client.post("/api/admin/ml-models/activate", headers=admin_headers, json={"model_id": model["id"]})
    assert activated.json()["status"] == "active"
    body = client.get(url, headers=tenant.headers).json()
    assert body["action"] == "fallback_on_demand"  # the model says 30 %/month everywhere, over the 20 % limit
    assert body["risk_model_id"] == model["id"]

    tree = DecisionTreeRegressor(max_depth=2).fit(np.random.default_rng(1).random((20, 5)), np.full(20, 0.01))
    second = client.post(
        "/api/admin/ml-models/upload",
        headers=admin_headers,
        files={"file": ("tree.skops", io.BytesIO(_skops(tree)), "application/octet-stream")},
        data={"name": "tree", "version": "1"},
    )
    assert second.status_code == 201, second.text
    client.post("/api/admin/ml-models/activate", headers=admin_headers, json={"model_id": second.json()["id"]})
    assert client.get(url, headers=tenant.headers).json()["action"] == "switch"
    back = client.post("/api/admin/ml-models/fallback", headers=admin_headers, json={"kind": "interruption_risk"})
    assert back.json()["active"]["id"] == model["id"]


def test_unloadable_models_are_rejected(client: TestClient, db: Session, admin_headers: dict[str, str]) -> None:
    onnx = client.post(
        "/api/admin/ml-models/upload",
        headers=admin_headers,
        files={"file": ("m.onnx", io.BytesIO(b"not a model"), "application/octet-stream")},
        data={"name": "junk", "version": "1", "framework": "onnx"},
    )
    assert onnx.status_code == 422
    assert "ONNX" in onnx.json()["detail"]
    skops_junk = client.post(
        "/api/admin/ml-models/upload",
        headers=admin_headers,
        files={"file": ("m.skops", io.BytesIO(b"PK\x03\x04junk"), "application/octet-stream")},
        data={"name": "junk", "version": "2", "framework": "skops"},
    )
    assert skops_junk.status_code == 422


def test_the_engine_sweep_decides_for_auto_switch_agents_once(client: TestClient, db: Session) -> None:
    from spectra import registry
    from spectra.core import jobs
    from spectra.spot.models import Agent

    tenant, first, pools = _fleet(client, db, {"us-east-1a": 0.040, "us-east-1b": 0.020})
    second = register_agent(client, tenant.headers, zone="us-east-1a", spot_price=0.040)
    manual = register_agent(client, tenant.headers, zone="us-east-1a", spot_price=0.040)
    manual_agent = db.get(Agent, manual["agent_id"])
    assert manual_agent is not None
    manual_agent.auto_switch_enabled = False
    db.flush()

    registry.load_tasks()

    def sweep(session: Session, now: datetime) -> dict:
        *_, last = jobs.get_job("spot.engine_sweep").func(session, now)  # type: ignore[misc]  # steps
        return last

    result = sweep(db, NOW)
    assert result == {"agents": 2, "decided": 2, "commands": 2, "skipped": 0, "errors": 0}
    queued = db.query(Command).filter_by(issued_by="engine").all()
    assert {c.agent_id for c in queued} == {first["agent_id"], second["agent_id"]}
    assert {c.target_pool_id for c in queued} == {pools[1]}
    # The moves are in flight: the next sweep leaves those agents alone.
    assert sweep(db, NOW)["skipped"] == 2
    assert db.query(Command).filter_by(issued_by="engine").count() == 2


def test_the_sweep_goes_in_steps_and_decides_each_agent_once(client: TestClient, db: Session) -> None:
    from spectra.spot.decisions import service as decisions

    tenant, first, _pools = _fleet(client, db, {"us-east-1a": 0.040, "us-east-1b": 0.020})
    others = [register_agent(client, tenant.headers, zone="us-east-1a", spot_price=0.040) for _ in range(4)]
    steps = list(decisions.sweep(db, NOW, step=2))
    # 5 agents, 2 per step: three steps (the last one short), counts accumulated, every agent decided once.
    assert [s["agents"] for s in steps] == [2, 4, 5]
    assert steps[-1] == {"agents": 5, "decided": 5, "commands": 5, "skipped": 0, "errors": 0}
    queued = db.query(Command).filter_by(issued_by="engine").all()
    assert sorted(c.agent_id for c in queued) == sorted([first["agent_id"], *(a["agent_id"] for a in others)])


def test_a_sweep_step_reads_the_pools_and_the_fleet_once(client: TestClient, db: Session, monkeypatch) -> None:
    """Agents of a step share their pools, on-demand price and client's fleet: read once per step, not per agent
    (the fleet counts scan the client's whole fleet, so per agent a sweep grew with the square of the fleet)."""
    from spectra.spot.decisions import repository
    from spectra.spot.decisions import service as decisions

    tenant, _first, _pools = _fleet(client, db, {"us-east-1a": 0.040, "us-east-1b": 0.020})
    for _ in range(5):
        register_agent(client, tenant.headers, zone="us-east-1a", spot_price=0.040)
    reads: list[str] = []
    for name in ("candidate_pools", "fleet_counts", "active_model"):
        original = getattr(repository, name)
        monkeypatch.setattr(
            repository, name, lambda *a, _name=name, _original=original, **k: reads.append(_name) or _original(*a, **k)
        )
    steps = list(decisions.sweep(db, NOW, step=3))
    assert steps[-1] == {"agents": 6, "decided": 6, "commands": 6, "skipped": 0, "errors": 0}
    # Two steps: the pools, the fleet and the engine configuration once each per step (the risk model, looked up
    # with the candidates, once per step too).
    assert sorted(reads) == sorted(["candidate_pools", "fleet_counts", "active_model", "active_model"] * 2)


def test_policy_replica_is_queued_in_another_pool(client: TestClient, db: Session) -> None:
    from spectra.spot.models import Agent, Replica

    tenant, agent, pools = _fleet(client, db, {"us-east-1a": 0.040, "us-east-1b": 0.041})
    row = db.get(Agent, agent["agent_id"])
    assert row is not None
    row.config = {"policy": {"min_replicas": 1}}
    db.flush()
    body = client.post(f"/api/agents/{agent['agent_id']}/decide", headers=tenant.headers).json()
    assert body["action"] == "create_replica"
    assert body["target_pool_id"] == pools[1]
    command = db.get(Command, body["command_id"])
    assert command is not None and command.command_type == "create_replica"
    replica = db.query(Replica).filter_by(agent_id=agent["agent_id"]).one()
    assert (replica.kind, replica.pool_id, replica.status) == ("policy", pools[1], "launching")
    # One replica on the way is enough: deciding again queues nothing new.
    again = client.post(f"/api/agents/{agent['agent_id']}/decide", headers=tenant.headers).json()
    assert again["command_id"] is None
    assert db.query(Replica).filter_by(agent_id=agent["agent_id"]).count() == 1


def test_prices_reported_after_the_last_consolidation_win(client: TestClient, db: Session) -> None:
    from spectra.core.clock import clock

    tenant, agent, pools = _fleet(client, db, {"us-east-1a": 0.040, "us-east-1b": 0.020})
    job = pricing.run_consolidation(db, clock.now())
    assert job.status == "succeeded" and job.rows_canonical >= 2
    url = f"/api/agents/{agent['agent_id']}/switch-recommendation"
    assert client.get(url, headers=tenant.headers).json()["target_pool_id"] == pools[1]
    report_prices(client, tenant.headers, agent["agent_id"], {"us-east-1a": 0.040, "us-east-1b": 0.060})
    body = client.get(url, headers=tenant.headers).json()
    assert body["action"] == "stay"
    assert {c["availability_zone"]: c["price"] for c in body["candidates"]} == {"us-east-1a": 0.04, "us-east-1b": 0.06}


def test_the_sweep_job_thinks_without_the_write_lock_and_a_later_command_wins(
    committed_client: TestClient, monkeypatch
) -> None:
    """The job reads and evaluates a step in a read-only transaction (on SQLite, the only write lock stays free for
    heartbeats and commands meanwhile), then writes the outcomes after checking each agent again: a move an operator
    queued in between is not doubled by the engine."""
    from spectra import registry
    from spectra.core import db as core_db
    from spectra.core import jobs
    from spectra.core.db import session_scope
    from spectra.spot.decisions import service as decisions

    with session_scope() as session:
        tenant = make_tenant(session)
    first = register_agent(committed_client, tenant.headers, zone="us-east-1a", spot_price=0.040)
    report_prices(committed_client, tenant.headers, first["agent_id"], {"us-east-1a": 0.040, "us-east-1b": 0.020})
    second = register_agent(committed_client, tenant.headers, zone="us-east-1a", spot_price=0.040)
    writer_held: list[bool] = []
    real = decisions.evaluate

    def evaluate(session: Session, agent, *args, **kwargs):  # type: ignore[no-untyped-def]
        writer_held.append(core_db._sqlite_writer.locked())
        evaluation = real(session, agent, *args, **kwargs)
        if agent.id == second["agent_id"]:
            # An operator moves this agent while the engine is still thinking about it.
            issued = committed_client.post(
                f"/api/agents/{agent.id}/issue-switch-command",
                json={"target_mode": "on_demand", "reason": "operator"},
                headers=tenant.headers,
            )
            assert issued.status_code == 202, issued.text
        return evaluation

    monkeypatch.setattr(decisions, "evaluate", evaluate)
    registry.load_tasks()
    run = jobs.run_job("spot.engine_sweep", "manual", now=NOW)
    assert run is not None and run.status == "succeeded", run.error if run else None
    assert run.result == {"agents": 2, "decided": 1, "commands": 1, "skipped": 1, "errors": 0}
    assert writer_held == [False, False]
    with session_scope(read_only=True) as session:
        queued = session.query(Command).filter_by(agent_id=second["agent_id"]).all()
        assert queued and all(c.issued_by != "engine" for c in queued)
        assert session.query(MLDecision).filter_by(agent_id=first["agent_id"]).count() == 1
