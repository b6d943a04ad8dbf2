"""The simulated cloud: launches, interruption notices two minutes ahead, reclaim, exact cost."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from spectra.sim.cloud import SimCloud
from spectra.sim.prices import BootTimeModel, Interruption, PricePath
from spectra.spot.pricing.formats import PoolKey

T0 = datetime(2024, 1, 1, tzinfo=UTC)
A = PoolKey("us-east-1", "us-east-1a", "m5.large")
B = PoolKey("us-east-1", "us-east-1b", "m5.large")


@pytest.fixture()
def cloud() -> SimCloud:
    paths = {
        A: PricePath(A, [T0, T0 + timedelta(hours=2)], [0.04, 0.08]),
        B: PricePath(B, [T0], [0.05]),
    }
    interruptions = {A: [Interruption(T0 + timedelta(hours=3), A)], B: []}
    return SimCloud(paths, lambda pool: 0.096, interruptions, BootTimeModel(seed=1), T0)


def test_launch_is_idempotent_by_client_token(cloud: SimCloud) -> None:
    first = cloud.launch(A, "spot", "req-1")
    assert cloud.launch(A, "spot", "req-1") is first
    assert cloud.launch(A, "spot", "req-2").id != first.id
    assert first.ready_at > first.launched_at


def test_notices_then_reclaim(cloud: SimCloud) -> None:
    inst = cloud.launch(A, "spot", "r")
    assert cloud.notice(inst.id) is None
    cloud.advance_to(T0 + timedelta(hours=2, minutes=51))
    assert cloud.notice(inst.id).kind == "rebalance"
    cloud.advance_to(T0 + timedelta(hours=2, minutes=58, seconds=30))
    notice = cloud.notice(inst.id)
    assert notice.kind == "termination" and notice.deadline == T0 + timedelta(hours=3)
    reclaimed = cloud.advance_to(T0 + timedelta(hours=3, minutes=1))
    assert [r.id for r in reclaimed] == [inst.id] and inst.interrupted
    assert inst.terminated_at == T0 + timedelta(hours=3)
    assert cloud.notice(inst.id) is None


def test_instances_launched_after_an_interruption_are_not_hit_by_it(cloud: SimCloud) -> None:
    cloud.advance_to(T0 + timedelta(hours=4))
    late = cloud.launch(A, "spot", "late")
    assert cloud.advance_to(T0 + timedelta(hours=10)) == [] and late.terminated_at is None


def test_cost_integrates_the_price_path(cloud: SimCloud) -> None:
    spot = cloud.launch(A, "spot", "s")
    on_demand = cloud.launch(A, "on-demand", "o")
    cloud.advance_to(T0 + timedelta(hours=2, minutes=30))
    assert cloud.cost(spot.id) == pytest.approx(2 * 0.04 + 0.5 * 0.08)
    assert cloud.cost(on_demand.id) == pytest.approx(2.5 * 0.096)
    cloud.terminate(on_demand.id)
    cloud.advance_to(T0 + timedelta(hours=5))
    assert cloud.cost(on_demand.id) == pytest.approx(2.5 * 0.096)


def test_without_a_rebalance_lead_only_the_termination_notice_comes(cloud: SimCloud) -> None:
    cloud.rebalance_lead = None
    inst = cloud.launch(A, "spot", "r")
    cloud.advance_to(T0 + timedelta(hours=2, minutes=51))
    assert cloud.notice(inst.id) is None
    cloud.advance_to(T0 + timedelta(hours=2, minutes=58))
    notice = cloud.notice(inst.id)
    assert notice is not None and notice.kind == "termination"
