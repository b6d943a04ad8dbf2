"""Range queries read whole months from the monthly tables and the edges from the daily ones; both
must give the same sums as the days themselves."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy.orm import Session

from spectra.carbon.emissions import repository, service
from tests.carbon.factories import emission_row, store
from tests.factories import make_tenant
from tests.fleet.factories import make_instance


def test_plan_splits_whole_months_from_edges() -> None:
    months, ranges = repository.plan(date(2024, 1, 15), date(2024, 4, 10), newest=date(2024, 6, 1))
    assert months == [date(2024, 2, 1), date(2024, 3, 1)]
    assert ranges == [(date(2024, 1, 15), date(2024, 1, 31)), (date(2024, 4, 1), date(2024, 4, 10))]
    # The month of the newest stored day is whole once the range reaches that day.
    months, ranges = repository.plan(date(2024, 6, 1), date(2024, 6, 30), newest=date(2024, 6, 12))
    assert (months, ranges) == ([date(2024, 6, 1)], [])
    months, ranges = repository.plan(date(2024, 6, 1), date(2024, 6, 10), newest=date(2024, 6, 12))
    assert (months, ranges) == ([], [(date(2024, 6, 1), date(2024, 6, 10))])


def test_monthly_tables_follow_every_store_and_agree_with_the_days(db: Session) -> None:
    acme = make_tenant(db, teams=())
    a = make_instance(db, acme, tags={"team": "a"})
    b = make_instance(db, acme, region="eu-west-1", tags={"team": "b"})
    rows = [
        emission_row(inst, date(2024, m, d), co2e_location_g=float(m * 100 + d), kwh=1.0, embodied_g=1.0)
        for inst in (a, b)
        for m, d in ((1, 30), (1, 31), (2, 1), (2, 15), (3, 3))
    ]
    store(db, rows)
    # Storing a day replaces that whole day of the client: b's 15 February is gone with a's.
    store(db, [emission_row(a, date(2024, 2, 15), co2e_location_g=5000.0, kwh=2.0)])

    def by_days(first: date, last: date) -> float:
        return sum(r.co2e_location_g for inst in (a, b) for r in service.instance_days(db, inst.id, first, last))

    for first, last in ((date(2024, 1, 31), date(2024, 3, 3)), (date(2024, 2, 1), date(2024, 2, 29)),
                        (date(2024, 1, 1), date(2024, 12, 31)), (date(2024, 2, 2), date(2024, 2, 14))):  # fmt: skip
        [total] = service.totals(db, acme.id, first, last)
        assert total["co2e_location_g"] == pytest.approx(by_days(first, last)), (first, last)
        per_instance = service.by_instance(db, acme.id, first, last)
        assert sum(r["co2e_location_g"] for r in per_instance) == pytest.approx(by_days(first, last))

    feb = {r["team_id"]: r for r in service.totals(db, acme.id, date(2024, 2, 1), date(2024, 2, 29), ["team_id"])}
    assert feb[a.team_id]["co2e_location_g"] == 201 + 5000 and feb[a.team_id]["kwh"] == 3.0
    assert feb[b.team_id]["co2e_location_g"] == 201
    top = service.by_instance(db, acme.id, date(2024, 1, 1), date(2024, 3, 31), limit=1)
    assert [r["instance_id"] for r in top] == [a.id]
