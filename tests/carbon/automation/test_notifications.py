"""Automation messages for the notification channels."""

from __future__ import annotations

from datetime import UTC, datetime

from spectra.carbon.automation.notifications import message_for
from spectra.core.events import Event

AT = datetime(2026, 3, 7, tzinfo=UTC)


def test_notice_and_automatic_actions_are_told_manual_ones_are_not() -> None:
    notice = Event(1, "carbon.automation.notice", "c", AT,
                   {"instance_id": "i-1", "idle_hours": 30.2, "act_after": "2026-03-07T07:00:00+00:00"})  # fmt: skip
    subject, text, severity = message_for(notice)  # type: ignore[misc]
    assert "i-1" in subject and "30 h" in text and "2026-03-07T07:00" in text and severity == "warning"
    auto = Event(
        2, "carbon.action.applied", "c", AT, {"origin": "automatic", "summary": "stop idle i-1", "action_id": "a"}
    )
    assert message_for(auto) is not None and "stop idle i-1" in message_for(auto)[0]  # type: ignore[index]
    manual = Event(3, "carbon.action.applied", "c", AT, {"origin": "manual", "summary": "x", "action_id": "b"})
    assert message_for(manual) is None
