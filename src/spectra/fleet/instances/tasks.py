"""Inventory and cost sync jobs (they do nothing until AWS credentials and an owning client are set)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from spectra.core.jobs import job
from spectra.fleet.instances import aws_sync


@job("fleet.aws_inventory", every=timedelta(minutes=15))
def aws_inventory(session: Session, now: datetime) -> dict[str, Any]:
    """Sync EC2 instances of the configured regions (DescribeInstances; tags → team)."""
    config = aws_sync.configured(session)
    if isinstance(config, str):
        return {"skipped": config}
    return aws_sync.sync_inventory(session, config)


@job("fleet.aws_costs", every=timedelta(hours=6))
def aws_costs(session: Session, now: datetime) -> dict[str, Any]:
    """Fetch daily per-instance EC2 cost from Cost Explorer for the days it keeps resource data."""
    config = aws_sync.configured(session)
    if isinstance(config, str):
        return {"skipped": config}
    last = now.date()
    first = last - timedelta(days=aws_sync.RESOURCE_DATA_DAYS - 1)
    result = aws_sync.sync_costs(session, config, first, last)
    return {**result, "first_day": first.isoformat(), "last_day": last.isoformat()}
