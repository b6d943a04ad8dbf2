"""Carbon-aware decisions: the carbon price through the API (power from the CCF model, intensity from the carbon
domain), pools of similar instance types, missing data, and the engine's per-pool carbon term."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from spectra.carbon.emissions.coefficients import instance_coefficients, it_power_w
from spectra.carbon.intensity import service as intensity_service
from spectra.carbon.intensity.parsing import IntensityRecord
from spectra.core.clock import clock
from spectra.fleet.catalog import service as catalog_service
from spectra.spot.decisions.engine import (
    Action,
    ClientPolicy,
    CostMinimisingEngine,
    DecisionContext,
    FleetState,
    InstanceState,
    PoolCandidate,
)
from spectra.spot.models import Agent, Command, MLDecision
from tests.factories import Tenant, make_tenant
from tests.spot.spot_factories import register_agent

NOW = datetime(2024, 3, 1, 12, tzinfo=UTC)
ZONE = "US-MIDA-PJM"  # us-east-1's grid zone in the fleet reference
# m5.large (Skylake) and m6i.large (Ice Lake): 2 vCPUs and 8 GiB each, x86_64; CCF gives Ice Lake fewer watts.
OWN, CLEANER = "m5.large", "m6i.large"
# A small instance's emissions cost ~1 % of its spot price at a social cost of carbon (~200 USD/t), and these two
# types differ by ~5 % in power: only a price this high turns that into a move (on a grid at 800 g/kWh).
HIGH_PRICE = 20_000.0
GRID = 800.0


@pytest.fixture(autouse=True)
def _fixed_clock() -> Iterator[None]:
    clock.set_override(NOW)
    yield
    clock.set_override(None)


def _store_intensity(db: Session, value: float = GRID, days: int = 14) -> None:
    hours = [NOW - timedelta(hours=h) for h in range(1, days * 24 + 1)]
    intensity_service.store_records(db, [("grid.csv", [IntensityRecord(ZONE, h, value) for h in hours])])


def _fleet(client: TestClient, db: Session, policy: dict[str, Any]) -> tuple[Tenant, str]:
    """An m5.large agent in us-east-1a at 0.040 USD/h; m6i.large in 1b at 0.039, too little to move for (the move's
    amortised cost is 0.0008 USD/h and the hysteresis margin 3 %)."""
    tenant = make_tenant(db)
    agent = register_agent(client, tenant.headers, zone="us-east-1a", instance_type=OWN, spot_price=0.040)
    prices = [(OWN, "us-east-1a", 0.040), (OWN, "us-east-1c", 0.046), (CLEANER, "us-east-1b", 0.039)]
    body = {
        "prices": [
            {"instance_type": t, "availability_zone": z, "region": "us-east-1", "price": p, "on_demand_price": 0.096}
            for t, z, p in prices
        ]
    }
    response = client.post(f"/api/agents/{agent['agent_id']}/pricing-report", json=body, headers=tenant.headers)
    assert response.status_code == 200, response.text
    _set_policy(db, agent["agent_id"], policy)
    return tenant, agent["agent_id"]


def _recommend(client: TestClient, tenant: Tenant, agent_id: str) -> dict[str, Any]:
    response = client.get(f"/api/agents/{agent_id}/switch-recommendation", headers=tenant.headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


def _set_policy(db: Session, agent_id: str, policy: dict[str, Any]) -> None:
    row = db.get(Agent, agent_id)
    assert row is not None
    row.config = {"policy": policy}
    db.flush()


def _pool_type(body: dict[str, Any], pool_id: str | None) -> str | None:
    return next((c["instance_type"] for c in body["candidates"] if c["pool_id"] == pool_id), None)


def test_a_high_carbon_price_moves_the_instance_to_the_cleaner_type(client: TestClient, db: Session) -> None:
    _store_intensity(db)
    tenant, agent_id = _fleet(client, db, {"similar_instance_types": True})

    unpriced = _recommend(client, tenant, agent_id)
    # The other type's pool is a little cheaper, under the hysteresis margin: nothing to gain without a carbon price.
    assert unpriced["action"] == "stay" and _pool_type(unpriced, unpriced["target_pool_id"]) == OWN
    assert unpriced["carbon"] is None
    assert {c["instance_type"] for c in unpriced["candidates"]} == {OWN, CLEANER}
    assert all(c["carbon_cost_per_hour"] is None for c in unpriced["candidates"])

    _set_policy(db, agent_id, {"similar_instance_types": True, "carbon_price_usd_per_tonne": HIGH_PRICE})
    priced = _recommend(client, tenant, agent_id)
    assert priced["action"] == "switch"
    assert _pool_type(priced, priced["target_pool_id"]) == CLEANER

    carbon = priced["carbon"]
    assert carbon["price_usd_per_tonne"] == HIGH_PRICE and carbon["notes"] == []
    assert carbon["power_source"] == "ccf_model"
    (region,) = carbon["regions"]
    assert (region["region"], region["zone"]) == ("us-east-1", ZONE)
    assert region["intensity_g_per_kwh"] == pytest.approx(GRID, rel=0.02)  # a flat history forecasts flat
    assert region["hours"] == 12  # the amortisation window: the hours a move is paid back over
    watts = carbon["power_watts"]
    assert 0 < watts[CLEANER] < watts[OWN]
    # USD/h = W / 1000 × g/kWh / 1e6 × USD/t, for the end state and for where it runs now
    intensity = region["intensity_g_per_kwh"]
    assert carbon["cost_per_hour"] == pytest.approx(watts[CLEANER] / 1000 * intensity / 1e6 * HIGH_PRICE, rel=1e-3)
    assert carbon["current_cost_per_hour"] == pytest.approx(watts[OWN] / 1000 * intensity / 1e6 * HIGH_PRICE, rel=1e-3)
    assert f"emissions cost {carbon['cost_per_hour']:.4f} USD/h" in priced["reason"]
    assert f"(now {carbon['current_cost_per_hour']:.4f} USD/h) at 20000 USD/tCO2e" in priced["reason"]
    by_type = {c["instance_type"]: c for c in priced["candidates"] if c["price"] < 0.045}
    assert by_type[CLEANER]["carbon_cost_per_hour"] < by_type[OWN]["carbon_cost_per_hour"]
    assert by_type[OWN]["expected_cost_per_hour"] == pytest.approx(0.040 + by_type[OWN]["carbon_cost_per_hour"])


def test_power_is_grid_draw_from_the_ccf_model(client: TestClient, db: Session) -> None:
    _store_intensity(db)
    tenant, agent_id = _fleet(client, db, {"similar_instance_types": True, "carbon_price_usd_per_tonne": 100.0})
    watts = _recommend(client, tenant, agent_id)["carbon"]["power_watts"]
    pue = catalog_service.get_region(db, "us-east-1").pue
    for name in (OWN, CLEANER):
        # CCF at the client's default 50 % CPU: vCPUs × (min + 0.5 × (max − min)) W + memory above the baseline,
        # times the data centre's PUE
        view = catalog_service.get_instance_type(db, name)
        expected = it_power_w(view, instance_coefficients(view, "aws"), 0.5) * pue
        assert watts[name] == pytest.approx(expected, rel=1e-3)
    assert watts[CLEANER] < watts[OWN]  # Ice Lake: 0.74–3.50 W/vCPU, Skylake: 0.65–4.26


def test_a_stated_power_is_it_power_and_scales_the_other_types(client: TestClient, db: Session) -> None:
    _store_intensity(db)
    tenant, agent_id = _fleet(client, db, {"similar_instance_types": True, "carbon_price_usd_per_tonne": 100.0})
    model = _recommend(client, tenant, agent_id)["carbon"]["power_watts"]
    response = client.post(f"/api/agents/{agent_id}/decide", headers=tenant.headers, json={"power_watts": 20.0})
    assert response.status_code == 200, response.text
    carbon = response.json()["carbon"]
    pue = catalog_service.get_region(db, "us-east-1").pue
    assert carbon["power_source"] == "stated"
    assert carbon["power_watts"][OWN] == pytest.approx(20.0 * pue, rel=1e-3)
    assert carbon["power_watts"][CLEANER] == pytest.approx(20.0 * pue * model[CLEANER] / model[OWN], rel=1e-3)
    bad = client.post(f"/api/agents/{agent_id}/decide", headers=tenant.headers, json={"power_watts": -5})
    assert bad.status_code == 422
    assert bad.headers["content-type"].startswith("application/problem+json")


def test_a_zero_carbon_price_changes_nothing(client: TestClient, db: Session) -> None:
    _store_intensity(db)
    tenant, agent_id = _fleet(client, db, {"similar_instance_types": True})
    without = _recommend(client, tenant, agent_id)
    _set_policy(db, agent_id, {"similar_instance_types": True, "carbon_price_usd_per_tonne": 0})
    zero = _recommend(client, tenant, agent_id)
    volatile = ("latency_ms", "context_ms", "policy")
    assert {k: v for k, v in zero.items() if k not in volatile} == {
        k: v for k, v in without.items() if k not in volatile
    }
    assert zero["policy"]["carbon_price_usd_per_tonne"] == 0


def test_without_intensity_the_term_is_zero_and_the_reason_says_so(client: TestClient, db: Session) -> None:
    tenant, agent_id = _fleet(client, db, {"similar_instance_types": True, "carbon_price_usd_per_tonne": HIGH_PRICE})
    body = _recommend(client, tenant, agent_id)
    assert body["action"] == "stay"  # as without a carbon price
    assert f"no intensity for {ZONE}" in body["reason"]
    assert body["carbon"]["notes"] == [f"no intensity for {ZONE}"]
    assert body["carbon"]["regions"][0]["intensity_g_per_kwh"] is None
    assert all(c["carbon_cost_per_hour"] == 0 for c in body["candidates"])
    assert "emissions cost 0.0000 USD/h" in body["reason"]


def test_decide_logs_the_carbon_inputs_and_queues_the_move_to_the_similar_type(client: TestClient, db: Session) -> None:
    _store_intensity(db)
    tenant, agent_id = _fleet(client, db, {"similar_instance_types": True, "carbon_price_usd_per_tonne": HIGH_PRICE})
    response = client.post(f"/api/agents/{agent_id}/decide", headers=tenant.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["action"] == "switch" and _pool_type(body, body["target_pool_id"]) == CLEANER
    # The policy allows similar types, and m6i.large is m5.large's size: the switch is queued, to that type.
    command = db.get(Command, body["command_id"])
    assert command is not None and command.command_type == "switch" and "not queued" not in body["reason"]
    assert command.payload is not None and command.payload["target"]["instance_type"] == CLEANER
    logged = db.get(MLDecision, body["decision_id"])
    assert logged is not None and logged.executed and logged.reason == body["reason"]
    assert logged.inputs is not None
    carbon = logged.inputs["carbon"]
    assert carbon["cost_per_hour"] == pytest.approx(body["carbon"]["cost_per_hour"])
    assert carbon["regions"][0]["zone"] == ZONE
    candidates = {c["pool_id"]: c for c in logged.inputs["candidates"]}
    target = candidates[body["target_pool_id"]]
    assert target["instance_type"] == CLEANER and target["power_watts"] > 0
    assert target["carbon_intensity_g_per_kwh"] == pytest.approx(carbon["regions"][0]["intensity_g_per_kwh"], rel=1e-3)
    assert logged.inputs["instance"]["power_watts"] == pytest.approx(carbon["power_watts"][OWN], rel=1e-3)


def test_a_carbon_priced_move_within_the_type_is_queued(client: TestClient, db: Session) -> None:
    # Without similar types the carbon term is the same for every pool of the region: the cheaper pool still wins,
    # the move is queued, and the reason states its emissions cost.
    _store_intensity(db)
    tenant, agent_id = _fleet(client, db, {"carbon_price_usd_per_tonne": 200.0})
    body = client.post(
        f"/api/agents/{agent_id}/pricing-report",
        headers=tenant.headers,
        json={
            "prices": [{"instance_type": OWN, "availability_zone": "us-east-1c", "region": "us-east-1", "price": 0.02}]
        },
    )
    assert body.status_code == 200, body.text
    decided = client.post(f"/api/agents/{agent_id}/decide", headers=tenant.headers).json()
    assert decided["action"] == "switch" and decided["command_id"] is not None
    assert {c["instance_type"] for c in decided["candidates"]} == {OWN}
    assert "at 200 USD/tCO2e" in decided["reason"]
    command = db.get(Command, decided["command_id"])
    assert command is not None and (command.payload or {})["target"]["availability_zone"] == "us-east-1c"


def test_one_intensity_outlook_per_region_per_sweep(
    client: TestClient, db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    from spectra import registry
    from spectra.core import jobs

    _store_intensity(db)
    calls: list[str] = []
    real = intensity_service.outlook

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(args[1])
        return real(*args, **kwargs)

    monkeypatch.setattr(intensity_service, "outlook", counted)
    policy = {"similar_instance_types": True, "carbon_price_usd_per_tonne": 50.0, "min_saving_usd_per_hour": 1.0}
    tenant, first = _fleet(client, db, policy)
    second = register_agent(client, tenant.headers, zone="us-east-1a", instance_type=OWN, spot_price=0.040)
    _set_policy(db, second["agent_id"], policy)

    _recommend(client, tenant, first)
    assert calls == [ZONE]  # one region among the candidates: one outlook for the decision
    calls.clear()
    registry.load_tasks()
    *_, result = jobs.get_job("spot.engine_sweep").func(db, NOW)  # type: ignore[misc]  # a job in steps
    assert result["decided"] == 2 and result["errors"] == 0
    assert calls == [ZONE]  # shared by the sweep's decisions, all made at the same instant
    logged = db.query(MLDecision).filter_by(agent_id=second["agent_id"]).one()
    assert (logged.inputs or {})["carbon"]["regions"][0]["zone"] == ZONE


def test_similar_types_need_the_same_size_and_architecture(client: TestClient, db: Session) -> None:
    tenant = make_tenant(db)
    agent = register_agent(client, tenant.headers, zone="us-east-1a", instance_type=OWN, spot_price=0.040)
    kinds = [OWN, CLEANER, "m6g.large", "c5.large", "m5.xlarge", "t3.large"]  # arm64, 4 GiB, 4 vCPUs, burstable
    body = {
        "prices": [
            {"instance_type": t, "availability_zone": "us-east-1b", "region": "us-east-1", "price": 0.03} for t in kinds
        ]
    }
    assert client.post(f"/api/agents/{agent['agent_id']}/pricing-report", json=body, headers=tenant.headers).is_success
    _set_policy(db, agent["agent_id"], {"similar_instance_types": True})
    candidates = _recommend(client, tenant, agent["agent_id"])["candidates"]
    assert {c["instance_type"] for c in candidates} == {OWN, CLEANER}


def test_policy_values_are_validated(client: TestClient, db: Session, admin_headers: dict[str, str]) -> None:
    bad = client.post(
        "/api/admin/decision-engine/upload",
        headers=admin_headers,
        json={
            "name": "carbon",
            "version": "1",
            "policy": {"similar_instance_types": "yes", "carbon_price_usd_per_tonne": -1},
        },
    )
    assert bad.status_code == 422
    assert {e["field"] for e in bad.json()["errors"]} == {
        "policy.similar_instance_types",
        "policy.carbon_price_usd_per_tonne",
    }
    tenant, agent_id = _fleet(client, db, {"carbon_price_usd_per_tonne": "lots"})
    refused = client.get(f"/api/agents/{agent_id}/switch-recommendation", headers=tenant.headers)
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "policy.carbon_price_usd_per_tonne"
    assert db.query(MLDecision).count() == 0


# --------------------------------------------------------------------------- the engine alone

ENGINE = CostMinimisingEngine()


def _context(price: float, *candidates: PoolCandidate, intensity: float | None = 400.0) -> DecisionContext:
    return DecisionContext(
        instance=InstanceState("i-1", "spot", "A", None, 0, 100.0, "r", "big"),
        candidates=candidates,
        on_demand_price=1.0,
        policy=ClientPolicy(
            carbon_price_usd_per_tonne=price,
            interruption_cost_usd=0.0,
            switch_cost_usd=0.0,
            hysteresis_pct=0.0,
            min_saving_usd_per_hour=0.0,
        ),
        fleet=FleetState(size=1, pool_counts={"A": 1}),
        on_demand_carbon_intensity_g_per_kwh=intensity,
    )


def test_engine_prices_each_pool_at_its_own_power() -> None:
    own = PoolCandidate("A", 0.50, carbon_intensity_g_per_kwh=400.0, instance_type="big")
    frugal = PoolCandidate("B", 0.505, carbon_intensity_g_per_kwh=400.0, instance_type="small", power_watts=50.0)
    # 100 W × 400 g/kWh = 40 g/h; at 500 USD/t that is 0.02 USD/h, 0.01 USD/h for the 50 W type
    decision = ENGINE.decide(_context(500.0, own, frugal))
    assert decision.action == Action.SWITCH and decision.target_pool_id == "B"
    assert decision.carbon_cost_per_hour == pytest.approx(0.01)
    assert decision.current_carbon_cost_per_hour == pytest.approx(0.02)
    assert decision.reason.endswith("emissions cost 0.0100 USD/h (now 0.0200 USD/h) at 500 USD/tCO2e")
    unpriced = ENGINE.decide(_context(0.0, own, frugal))
    assert unpriced.action == Action.STAY and unpriced.carbon_cost_per_hour is None
    assert "emissions" not in unpriced.reason


def test_engine_falls_back_with_on_demand_emissions_in_the_reason() -> None:
    dear = PoolCandidate("A", 1.2, carbon_intensity_g_per_kwh=400.0)
    decision = ENGINE.decide(_context(500.0, dear))
    assert decision.action == Action.FALLBACK_ON_DEMAND
    assert decision.carbon_cost_per_hour == pytest.approx(0.02)  # on-demand, same grid, the instance's 100 W
    assert "emissions cost 0.0200 USD/h (now 0.0200 USD/h)" in decision.reason


def test_engine_keeps_replicas_in_the_instance_type() -> None:
    policy = ClientPolicy(min_replicas=1)
    context = DecisionContext(
        instance=InstanceState("i-1", "spot", "A", None, 0, 0.0, "r", "big"),
        candidates=[
            PoolCandidate("A", 0.5, instance_type="big"),
            PoolCandidate("B", 0.49, instance_type="small"),  # cheaper, but under the hysteresis margin
            PoolCandidate("C", 0.6, instance_type="big"),
        ],
        on_demand_price=1.0,
        policy=policy,
        fleet=FleetState(size=1, pool_counts={"A": 1}),
    )
    decision = ENGINE.decide(context)
    assert decision.action == Action.CREATE_REPLICA and decision.target_pool_id == "C"
