"""`spectra import intensity` (the carbon typer app) against the test database."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from spectra.carbon.cli import app
from spectra.carbon.intensity.models import CarbonIntensityHour


def test_import_intensity_files_and_reject_bad_ones(db: Session, tmp_path: Path) -> None:
    good = tmp_path / "ger_ci.csv"
    good.write_text("Time,Carbon Intensity\n2020-01-01 00:00:00,200\n2020-01-01 00:15:00,220\n2020-01-01 01:00:00,10\n")
    runner = CliRunner()
    result = runner.invoke(app, ["intensity", str(good), "--zone", "DE"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["zones"]["DE"]["hours"] == 2
    stored = db.scalars(select(CarbonIntensityHour).order_by(CarbonIntensityHour.hour)).all()
    assert [r.direct_g_per_kwh for r in stored] == [210.0, 10.0]

    bad = tmp_path / "bad.csv"
    bad.write_text("Time,Carbon Intensity\n2020-01-02 00:00:00,oops\n")
    result = runner.invoke(app, ["intensity", str(tmp_path), "--zone", "DE"])  # a folder: both files, one batch
    assert result.exit_code == 1
    assert "bad.csv:2 [Carbon Intensity]" in result.output
    assert db.scalar(select(func.count(CarbonIntensityHour.id))) == 2
    result = runner.invoke(app, ["intensity", str(good)])  # a series needs its zone
    assert result.exit_code == 1 and "zone" in result.output
