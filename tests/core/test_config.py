"""A bad configuration value stops start-up with one line naming the variable."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from spectra.core.config import ConfigError, load_settings

ROOT = Path(__file__).resolve().parents[2]


def test_bad_value_names_the_variable(monkeypatch) -> None:
    monkeypatch.setenv("SPECTRA_THRESHOLD_CPU", "lots")
    with pytest.raises(ConfigError, match="SPECTRA_THRESHOLD_CPU"):
        load_settings()


def test_lists_are_comma_separated(monkeypatch) -> None:
    monkeypatch.setenv("SPECTRA_AWS_REGIONS", "us-east-1, eu-west-1")
    assert load_settings().aws_regions == ["us-east-1", "eu-west-1"]


def test_cli_prints_one_line_and_exits_2() -> None:
    env = {**os.environ, "SPECTRA_METRICS_PROVIDER": "azure-maybe"}
    result = subprocess.run(
        [sys.executable, "-m", "spectra", "db", "upgrade"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    lines = [line for line in result.stderr.strip().splitlines() if line]
    assert len(lines) == 1 and "SPECTRA_METRICS_PROVIDER" in lines[0]


def test_env_example_documents_every_setting() -> None:
    from spectra.core.config import Settings

    documented = (ROOT / ".env.example").read_text()
    missing = [
        f"SPECTRA_{name.upper()}" for name in Settings.model_fields if f"SPECTRA_{name.upper()}" not in documented
    ]
    assert not missing, missing


def test_the_postgresql_pool_is_sized_by_the_settings(settings_env) -> None:
    """Every worker opens up to pool + overflow connections: the operator sizes them to the server's max_connections
    (4 workers at SQLAlchemy's 10 + 30 each exceeded PostgreSQL's default 100 under load)."""
    from spectra.core.db import make_engine

    settings_env(DATABASE_POOL_SIZE="3", DATABASE_MAX_OVERFLOW="2")
    engine = make_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")  # lazy: nothing connects
    try:
        assert engine.pool.size() == 3  # type: ignore[attr-defined]
        assert engine.pool._max_overflow == 2  # type: ignore[attr-defined]
    finally:
        engine.dispose()
