"""`spectra import instance-types` (the fleet typer app) against the test database."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy.orm import Session
from typer.testing import CliRunner

from spectra.fleet.catalog import service
from spectra.fleet.cli import app

EXPORT = (
    '"Name","API Name","Memory","vCPUs","Linux On Demand cost"\n'
    '"M4 L","m4.large","8.0 GiB","2 vCPUs","$0.1 hourly"\n'
    '"M4 XL","m4.xlarge","16.0 GiB","4 vCPUs","unavailable"\n'
)


def test_import_instance_types_needs_a_region_when_the_export_has_none(db: Session, tmp_path: Path) -> None:
    path = tmp_path / "old.csv"
    path.write_text(EXPORT)
    runner = CliRunner()
    result = runner.invoke(app, ["instance-types", str(path)])
    assert result.exit_code == 1 and "region" in result.output
    result = runner.invoke(app, ["instance-types", str(path), "--region", "eu-west-1"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert (summary["region"], summary["types"], summary["prices"]) == ("eu-west-1", 2, 1)
    assert service.on_demand_price(db, "m4.large", "eu-west-1").on_demand_usd_per_hour == 0.1  # type: ignore[union-attr]
