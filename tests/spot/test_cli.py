"""`spectra spot …` commands against the test database (schema already there, so no migration step)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from spectra.spot import cli
from spectra.spot.models import ConsolidationJob, Pool, SpotPriceSnapshot

CSV = (
    "Timestamp,InstanceType,ProductDescription,SpotPrice,AvailabilityZone\n"
    "2024-03-01 12:20:00+00:00,m5.large,Linux/UNIX,0.120,us-east-1a\n"
    "2024-03-01 12:00:00+00:00,m5.large,Linux/UNIX,0.100,us-east-1a\n"
)


@pytest.fixture()
def runner(db: Session, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setattr(cli, "_session_ready", lambda: None)
    return CliRunner()


def test_import_prices_then_again_is_idempotent(runner: CliRunner, db: Session, tmp_path: Path) -> None:
    path = tmp_path / "prices.csv"
    path.write_text(CSV)
    first = runner.invoke(cli.spot_app, ["import-prices", str(path)])
    assert first.exit_code == 0, first.output
    assert '"rows_staged": 2' in first.output
    again = runner.invoke(cli.spot_app, ["import-prices", str(path), "--no-consolidate"])
    assert '"duplicates_skipped": 2' in again.output
    assert db.query(SpotPriceSnapshot).count() == 2
    assert db.query(ConsolidationJob).filter_by(trigger="import", status="succeeded").count() == 1


def test_bad_file_exits_1_naming_line_and_field(runner: CliRunner, db: Session, tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(CSV + "2024-03-01 12:25:00+00:00,m5.large,Linux/UNIX,lots,us-east-1a\n")
    result = runner.invoke(cli.spot_app, ["import-prices", str(path)])
    assert result.exit_code == 1
    assert '"line": 4' in result.output and '"field": "SpotPrice"' in result.output
    assert db.query(Pool).count() == 0


def test_on_demand_import_needs_a_region(runner: CliRunner, db: Session, tmp_path: Path) -> None:
    path = tmp_path / "od.csv"
    path.write_text('"API Name","Linux On Demand cost"\n"m5.large","$0.096 hourly"\n')
    missing = runner.invoke(cli.spot_app, ["import-on-demand", str(path)])
    assert missing.exit_code == 2  # typer: required option
    done = runner.invoke(cli.spot_app, ["import-on-demand", str(path), "--region", "us-east-1"])
    assert done.exit_code == 0, done.output
    assert '"prices_created": 1' in done.output


def test_consolidate_command_prints_the_job(runner: CliRunner, db: Session) -> None:
    result = runner.invoke(cli.spot_app, ["consolidate"])
    assert result.exit_code == 0, result.output
    assert '"status": "succeeded"' in result.output
