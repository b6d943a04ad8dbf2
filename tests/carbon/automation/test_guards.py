"""Guard-rails: maintenance windows (including past midnight), budget and mode."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from spectra.carbon.automation.guards import gate, parse_window

# 2026-03-07 is a Saturday (weekday 5).
SAT_0300 = datetime(2026, 3, 7, 3, 0, tzinfo=UTC)


def test_window_contains() -> None:
    window = parse_window({"days": [5], "start": "02:00", "hours": 4})
    assert window is not None
    assert window.contains(SAT_0300)
    assert not window.contains(datetime(2026, 3, 7, 6, 0, tzinfo=UTC))  # end is exclusive
    assert not window.contains(datetime(2026, 3, 8, 3, 0, tzinfo=UTC))  # Sunday


def test_window_past_midnight() -> None:
    window = parse_window({"days": [4], "start": "22:00", "hours": 6})  # Friday 22:00 → Saturday 04:00
    assert window is not None
    assert window.contains(SAT_0300)
    assert window.contains(datetime(2026, 3, 6, 23, 0, tzinfo=UTC))
    assert not window.contains(datetime(2026, 3, 7, 4, 30, tzinfo=UTC))


@pytest.mark.parametrize(
    "raw", [{"days": [7], "hours": 1}, {"days": [1], "hours": 0}, {"days": [1], "start": "25:00", "hours": 1}]
)
def test_bad_windows(raw: dict) -> None:
    with pytest.raises(ValueError):
        parse_window(raw)


def test_gate_order() -> None:
    window = parse_window({"days": [5], "start": "02:00", "hours": 4})
    assert gate("recommend", None, 0, 5, SAT_0300).reason == "recommend-only mode"
    assert not gate("apply", window, 0, 5, datetime(2026, 3, 9, 3, tzinfo=UTC)).apply
    assert gate("apply", window, 4, 5, SAT_0300).apply
    refused = gate("apply", window, 5, 5, SAT_0300)
    assert not refused.apply and "budget of 5" in refused.reason
    assert gate("apply", None, 0, 1, SAT_0300).apply
