"""Backfill from the cloud API: `describe_spot_price_history` for a region's pools over a period, staged as
IMPORT rows (idempotent per pool and timestamp), so gaps the agents did not report are filled."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import boto3
from sqlalchemy.orm import Session

from spectra.core.config import get_settings
from spectra.fleet.settings import service as settings_service
from spectra.spot.pricing import service
from spectra.spot.pricing.formats import PoolKey, SpotPriceRecord


def ec2_client(session: Session, region: str) -> Any:
    settings = get_settings()
    key_id = settings_service.global_value(session, "aws_access_key_id")
    secret = settings_service.secret(session, "aws_secret_access_key")
    credentials = {"aws_access_key_id": key_id, "aws_secret_access_key": secret} if key_id and secret else {}
    return boto3.client("ec2", region_name=region, endpoint_url=settings.aws_endpoint_url, **credentials)


def fetch(
    client: Any, region: str, instance_types: list[str], start: datetime, end: datetime, product: str = "Linux/UNIX"
) -> list[SpotPriceRecord]:
    records = []
    paginator = client.get_paginator("describe_spot_price_history")
    pages = paginator.paginate(
        InstanceTypes=instance_types, ProductDescriptions=[product], StartTime=start, EndTime=end
    )
    for page in pages:
        for row in page["SpotPriceHistory"]:
            at = row["Timestamp"]
            at = at.astimezone(UTC) if at.tzinfo else at.replace(tzinfo=UTC)
            pool = PoolKey(region, row["AvailabilityZone"], row["InstanceType"], row["ProductDescription"])
            records.append(SpotPriceRecord(pool, at, float(row["SpotPrice"])))
    return records


def backfill(
    session: Session,
    region: str,
    instance_types: list[str],
    start: datetime,
    end: datetime,
    now: datetime,
    client: Any = None,
) -> dict[str, Any]:
    records = fetch(client or ec2_client(session, region), region, instance_types, start, end)
    result = service.import_price_history(session, records, now, source="backfill")
    return {
        "region": region,
        "instance_types": instance_types,
        "start": start,
        "end": end,
        "rows_read": result.rows_read,
        "rows_staged": result.rows_staged,
        "duplicates_skipped": result.duplicates_skipped,
        "pools_touched": result.pools_touched,
    }
