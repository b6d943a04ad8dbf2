"""The seeds' endpoint paths are the public API contract: every one must be in the OpenAPI schema."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

SEED_PATHS = Path(__file__).resolve().parents[1] / ".." / "shared" / "tools" / "seed_paths"
LISTS = sorted(p.stem for p in SEED_PATHS.glob("*.txt")) if SEED_PATHS.exists() else []


def _shape(path: str) -> str:
    return re.sub(r"<[^>]+>|\{[^}]+\}", "{}", path.rstrip("/") or "/")


@pytest.mark.skipif(not LISTS, reason="seed path lists not found beside the repository")
@pytest.mark.parametrize("name", LISTS)
def test_seed_paths_are_served(app, name: str) -> None:
    have = {(m.upper(), _shape(p)) for p, ops in app.openapi()["paths"].items() for m in ops}
    lines = [line.split(None, 1) for line in (SEED_PATHS / f"{name}.txt").read_text().splitlines() if line.strip()]
    missing = [f"{m} {p}" for m, p in lines if (m, _shape(p)) not in have]
    assert not missing, f"{name}: missing {missing}"
