"""Backfill of the staging tier from EC2 describe_spot_price_history (moto), idempotent."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from moto import mock_aws
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from spectra.spot.pricing.models import SpotPriceSnapshot
from tests.factories import make_tenant


@pytest.fixture()
def aws(monkeypatch) -> Iterator[None]:
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(key, value)
    with mock_aws():
        yield


def _staged(db: Session) -> int:
    return int(db.scalar(select(func.count()).select_from(SpotPriceSnapshot)) or 0)


def test_backfill_stages_cloud_prices_once(client, db: Session, admin_headers, aws: None) -> None:
    body = {
        "region": "us-east-1",
        "instance_types": ["m5.large"],
        "start": "2000-01-01T00:00:00Z",
        "end": "2030-01-01T00:00:00Z",
    }
    first = client.post("/api/admin/pricing/backfill", json=body, headers=admin_headers)
    assert first.status_code == 200, first.text
    summary = first.json()
    assert summary["rows_read"] > 0 and summary["rows_staged"] > 0 and summary["pools_touched"] >= 1
    staged = _staged(db)
    again = client.post("/api/admin/pricing/backfill", json=body, headers=admin_headers).json()
    assert again["rows_staged"] == 0 and _staged(db) == staged
    sources = set(db.scalars(select(SpotPriceSnapshot.source)))
    assert sources == {"backfill"}


def test_backfill_validates_and_needs_admin(client, db: Session, admin_headers) -> None:
    bad = client.post(
        "/api/admin/pricing/backfill",
        headers=admin_headers,
        json={
            "region": "us-east-1",
            "instance_types": ["m5.large"],
            "start": "2024-02-01T00:00:00Z",
            "end": "2024-01-01T00:00:00Z",
        },
    )
    assert bad.status_code == 422
    tenant = make_tenant(db)
    assert client.post("/api/admin/pricing/backfill", headers=tenant.headers, json={}).status_code == 403
