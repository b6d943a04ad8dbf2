"""The dashboard's figures, hand-worked from stored days, budgets and a recorded action."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy.orm import Session

from spectra.carbon.actions import service as actions_service
from spectra.carbon.budgets import service as budgets_service
from spectra.carbon.budgets.schemas import BudgetCreate
from spectra.carbon.dashboard import service
from spectra.carbon.dashboard.schemas import RegionIntensity
from spectra.core.auth import Caller
from spectra.core.clock import clock
from tests.carbon.factories import emission_row, store
from tests.factories import make_tenant
from tests.fleet.factories import make_instance

NOW = datetime(2024, 3, 15, 12, tzinfo=UTC)
ADMIN = Caller("admin", None, "admin", "x")


def fixed_intensity(_session: Session, regions: list[str], now: datetime) -> list[RegionIntensity]:
    return [RegionIntensity(region=r, zone=f"Z-{r}", g_per_kwh=100.0, at=now) for r in regions]


def _fleet(db: Session):
    acme = make_tenant(db, teams=())
    web = make_instance(db, acme, region="eu-west-1", tags={"team": "web"}, name="web-1")
    ml = make_instance(db, acme, region="us-east-1", tags={"team": "ml"}, name="gpu-1")
    store(
        db,
        [
            emission_row(web, date(2024, 3, 15), co2e_location_g=1000, co2e_market_g=500, embodied_g=200,
                         kwh=4, cost_usd=1, instance_hours=12),
            emission_row(ml, date(2024, 3, 15), co2e_location_g=3000, co2e_market_g=3000, embodied_g=800,
                         kwh=10, cost_usd=3, instance_hours=12),
            emission_row(ml, date(2024, 3, 2), co2e_location_g=5000, co2e_market_g=4000, embodied_g=1000,
                         kwh=12, cost_usd=5, instance_hours=24),
            emission_row(ml, date(2024, 2, 28), co2e_location_g=99_000, kwh=1),  # last month
        ],
    )  # fmt: skip
    return acme, web, ml


def test_dashboard_figures(db: Session) -> None:
    acme, web, ml = _fleet(db)
    clock.set_override(NOW)
    budgets_service.create_budget(db, BudgetCreate(team_id=ml.team_id, budget_co2e_kg=10), ADMIN)
    budgets_service.create_budget(db, BudgetCreate(team_id=web.team_id, budget_co2e_kg=100), ADMIN)
    actions_service.record_action(
        db, client_id=acme.id, kind="rightsizing", origin="manual", request_id="r1", entity_type="instance",
        entity_id=ml.id, summary="resize", instance_id=ml.id, co2e_kg_per_hour=0.5, cost_usd_per_hour=0.1,
        effective_from=datetime(2024, 3, 15, 2, tzinfo=UTC),
    )  # fmt: skip

    d = service.build(db, acme.id, NOW, intensity=fixed_intensity)
    assert (d.today.co2e_kg, d.today.co2e_market_kg, d.today.kwh, d.today.cost_usd) == (5.0, 4.5, 14.0, 4.0)
    assert d.month.co2e_kg == 11.0  # 4.2 + 6.8 today and 2 March, not February
    assert (d.by_scope.scope2_location_kg, d.by_scope.scope2_market_kg, d.by_scope.scope3_kg) == (9.0, 7.5, 2.0)
    assert d.by_scope.scope1_kg == 0.0
    assert [(s.name, s.co2e_kg, s.share) for s in d.by_team] == [("ml", 9.8, 0.8909), ("web", 1.2, 0.1091)]
    assert [(s.key, s.co2e_kg) for s in d.by_region] == [("us-east-1", 9.8), ("eu-west-1", 1.2)]
    assert [(e.name, e.co2e_kg, e.team_name) for e in d.top_emitters] == [("gpu-1", 9.8, "ml"), ("web-1", 1.2, "web")]
    assert [i.region for i in d.intensity] == ["eu-west-1", "us-east-1"]
    assert (d.budgets.on_track, d.budgets.at_risk, d.budgets.over) == (1, 0, 1)
    assert d.budgets.budgets[0].team_name == "ml" and d.budgets.budgets[0].status == "over"
    assert d.savings["co2e_kg"] == pytest.approx(0.5 * 10)  # 02:00 to 12:00
    assert d.savings["actions"] == 1
    assert len(d.last_30_days) == 30 and d.last_30_days[-1].co2e_kg == 5.0
    assert d.last_30_days[-14].day == date(2024, 3, 2) and d.last_30_days[-14].co2e_kg == 6.0
    assert d.last_computed_day == date(2024, 3, 15)


def test_an_empty_client_gets_zeros(db: Session) -> None:
    globex = make_tenant(db)
    clock.set_override(NOW)
    d = service.build(db, globex.id, NOW, intensity=fixed_intensity)
    assert d.month.co2e_kg == 0.0 and d.by_team == [] and d.top_emitters == [] and d.intensity == []
    assert d.budgets.budgets == [] and d.savings["co2e_kg"] == 0.0
