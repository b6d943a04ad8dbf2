"""Carbon accounting factories: stored emission days through the service's store path."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy.orm import Session

from spectra.carbon.emissions import service as emissions
from spectra.fleet.instances.models import Instance


def emission_row(instance: Instance, day: date, **values: float) -> dict[str, Any]:
    """One instance-day; unspecified totals are 0. Grams and kWh as stored."""
    row: dict[str, Any] = {
        "instance_id": instance.id,
        "client_id": instance.client_id,
        "team_id": instance.team_id,
        "region": instance.region,
        "instance_type": instance.instance_type,
        "day": day,
        "utilisation": 0.5,
        "utilisation_source": "default",
        "intensity_g_per_kwh": None,
        "computed_at": datetime(2024, 1, 1, tzinfo=UTC),
        **{f: 0.0 for f in emissions.TOTAL_FIELDS},
    }
    row.update(values)
    return row


def store(session: Session, rows: list[dict[str, Any]]) -> None:
    """Store rows, grouped by day (replacing whatever those days of those clients held)."""
    by_client_day: dict[tuple[str, date], list[dict[str, Any]]] = {}
    for row in rows:
        by_client_day.setdefault((row["client_id"], row["day"]), []).append(row)
    for (client_id, day), group in by_client_day.items():
        emissions.store_days(session, [day], group, client_id=client_id)
    session.flush()
