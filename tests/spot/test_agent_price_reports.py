"""Agents' price reports are staged set-based: a large batch with new pools lands in one go with each pool's
newest price, a bad row refuses the whole batch and names it, and agents reporting a new pool at once all
succeed with one pool."""

from __future__ import annotations

import random
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from spectra.core.db import session_scope
from spectra.spot.models import Pool, SpotPriceSnapshot
from tests.factories import make_tenant
from tests.spot.spot_factories import register_agent

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
ZONES = ("us-east-1a", "us-east-1b", "us-east-1c")


def _price(zone: str, instance_type: str, price: float, at: datetime) -> dict:
    return {
        "instance_type": instance_type,
        "availability_zone": zone,
        "region": "us-east-1",
        "price": price,
        "observed_at": at.isoformat(),
    }


def _staged(session: Session, agent_id: str) -> int:
    return int(
        session.scalar(
            select(func.count()).select_from(SpotPriceSnapshot).where(SpotPriceSnapshot.agent_id == agent_id)
        )
        or 0
    )


def test_a_large_batch_with_new_pools_is_staged_with_each_pools_newest_price(client, db: Session) -> None:
    tenant = make_tenant(db)
    agent = register_agent(client, tenant.headers)
    types = [f"ld{i}.large" for i in range(50)]
    # 50 types × 3 zones = 150 new pools, 4 observations each, in shuffled order: the newest one must win.
    prices = [
        _price(zone, instance_type, round(0.01 + i / 100 + step / 1000, 4), T0 + timedelta(minutes=5 * step))
        for i, instance_type in enumerate(types)
        for zone in ZONES
        for step in range(4)
    ]
    random.Random(3).shuffle(prices)
    response = client.post(
        f"/api/agents/{agent['agent_id']}/pricing-report", json={"prices": prices}, headers=tenant.headers
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"accepted": 600, "pools": 150, "alerts_triggered": 0}
    assert _staged(db, agent["agent_id"]) == 600
    pools = db.scalars(select(Pool).where(Pool.instance_type.in_(types))).all()
    assert len(pools) == 150
    for pool in pools:
        i = types.index(pool.instance_type)
        assert pool.latest_price == round(0.01 + i / 100 + 3 / 1000, 4)
        assert pool.latest_price_at == T0 + timedelta(minutes=15)
    rows = db.scalars(select(SpotPriceSnapshot).where(SpotPriceSnapshot.agent_id == agent["agent_id"])).all()
    assert {(r.reporter_role, r.source, r.instance_id) for r in rows} == {
        ("PRIMARY", "agent", agent["cloud_instance_id"])
    }


def test_a_bad_row_refuses_the_whole_batch_and_changes_nothing(client, db: Session) -> None:
    tenant = make_tenant(db)
    agent = register_agent(client, tenant.headers)
    pools_before = db.scalar(select(func.count()).select_from(Pool))
    prices = [_price("us-east-1a", f"bad{i}.large", 0.02, T0) for i in range(10)]
    prices[7]["observed_at"] = "2026-03-02T12:00:00"  # no UTC offset
    response = client.post(
        f"/api/agents/{agent['agent_id']}/pricing-report", json={"prices": prices}, headers=tenant.headers
    )
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "prices[7].observed_at" in response.text
    assert _staged(db, agent["agent_id"]) == 0
    assert db.scalar(select(func.count()).select_from(Pool)) == pools_before


def test_agents_reporting_a_new_pool_at_once_all_succeed_with_one_pool(live_server) -> None:
    with session_scope() as session:
        tenant = make_tenant(session)
    with httpx.Client(base_url=live_server.url, headers=tenant.headers, timeout=60) as http:
        ids = [register_agent(http, tenant.headers)["agent_id"] for _ in range(6)]

    def report(agent_id: str) -> int:
        prices = [_price(zone, "race1.large", 0.05, datetime.now(UTC)) for zone in ZONES]
        with httpx.Client(base_url=live_server.url, headers=tenant.headers, timeout=60) as http:
            return http.post(f"/api/agents/{agent_id}/pricing-report", json={"prices": prices}).status_code

    with ThreadPoolExecutor(6) as pool:
        assert list(pool.map(report, ids)) == [200] * 6
    with session_scope(read_only=True) as session:
        pools = session.scalar(select(func.count()).select_from(Pool).where(Pool.instance_type == "race1.large"))
        staged = session.scalar(
            select(func.count()).select_from(SpotPriceSnapshot).where(SpotPriceSnapshot.agent_id.in_(ids))
        )
    assert (pools, staged) == (3, 18)


def test_reports_queued_on_a_pool_row_do_not_deadlock_the_worker_threads(committed_client, committed) -> None:
    """Every agent of a region updates the same pool rows, so reports queue on the row lock in worker threads. A
    report must commit on the thread it ran on: were its commit to need another thread (a request dependency's
    teardown), and every thread held a report waiting for that lock, nothing would ever move again."""
    import threading

    import anyio.to_thread
    import pytest
    from sqlalchemy import text

    if committed.dialect.name != "postgresql":
        pytest.skip("row locks that wait: PostgreSQL (SQLite's writers queue in the write gate instead)")
    from tests.spot.spot_factories import report_prices

    with session_scope() as session:
        tenant = make_tenant(session)
    agent_id = register_agent(committed_client, tenant.headers)["agent_id"]
    pool_ids = report_prices(committed_client, tenant.headers, agent_id, {"us-east-1a": 0.03})
    portal = committed_client.portal
    assert portal is not None
    limiter = portal.call(anyio.to_thread.current_default_thread_limiter)
    tokens = limiter.total_tokens
    portal.call(setattr, limiter, "total_tokens", 2)
    answers: list[int] = []
    try:
        with committed.connect() as blocker:
            blocker.execute(text("UPDATE spot_pools SET updated_at = now() WHERE id = :id"), {"id": pool_ids[0]})

            def report() -> None:
                body = {"prices": [{"instance_type": "m5.large", "availability_zone": "us-east-1a", "price": 0.031}]}
                answer = committed_client.post(
                    f"/api/agents/{agent_id}/pricing-report", json=body, headers=tenant.headers
                )
                answers.append(answer.status_code)

            reporters = [threading.Thread(target=report, daemon=True) for _ in range(3)]
            for reporter in reporters:
                reporter.start()
            time.sleep(1.0)  # both worker threads now wait on the row lock, the third report for a thread
            assert answers == []
            blocker.rollback()
        for reporter in reporters:
            reporter.join(timeout=20)
        assert answers == [200, 200, 200]
    finally:
        portal.call(setattr, limiter, "total_tokens", tokens)
