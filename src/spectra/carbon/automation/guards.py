"""Guard-rails of automatic actions: mode, maintenance window and a change budget per day.

Like Karpenter's disruption budgets: an automatic change happens only inside the client's maintenance
window (when one is set) and only while fewer than `daily_change_budget` automatic changes were
applied since midnight UTC. In `recommend` mode nothing is applied: the action is recorded as a
recommendation and announced instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

MODES = ("off", "recommend", "apply")


@dataclass(frozen=True)
class MaintenanceWindow:
    days: frozenset[int]  # 0 = Monday … 6 = Sunday (UTC), the day the window opens
    start: time
    hours: float

    def contains(self, at: datetime) -> bool:
        """True when `at` (UTC) falls inside a window; windows may run past midnight."""
        for back in (0, 1, 2, 3, 4, 5, 6, 7):
            day = (at - timedelta(days=back)).date()
            if day.weekday() not in self.days:
                continue
            opens = datetime.combine(day, self.start, tzinfo=at.tzinfo)
            if opens <= at < opens + timedelta(hours=self.hours):
                return True
        return False

    def as_dict(self) -> dict[str, Any]:
        return {"days": sorted(self.days), "start": self.start.strftime("%H:%M"), "hours": self.hours}


def parse_window(raw: dict[str, Any] | None) -> MaintenanceWindow | None:
    """`{"days": [5, 6], "start": "02:00", "hours": 4}` → a window; None means any time."""
    if not raw:
        return None
    days = frozenset(int(d) for d in raw.get("days", range(7)))
    if not days or any(d < 0 or d > 6 for d in days):
        raise ValueError("days must be weekday numbers 0 (Monday) … 6 (Sunday)")
    hours = float(raw.get("hours", 0))
    if not 0 < hours <= 168:
        raise ValueError("hours must be in (0, 168]")
    start = time.fromisoformat(str(raw.get("start", "00:00")))
    return MaintenanceWindow(days, start, hours)


def day_start(now: datetime) -> datetime:
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


@dataclass(frozen=True)
class Gate:
    apply: bool  # False: record as a recommendation only
    reason: str


def gate(mode: str, window: MaintenanceWindow | None, used_today: int, budget: int, now: datetime) -> Gate:
    """May an automatic change be applied now? If not, why (the action is then only recommended)."""
    if mode != "apply":
        return Gate(False, "recommend-only mode")
    if window is not None and not window.contains(now):
        return Gate(False, "outside the maintenance window")
    if used_today >= budget:
        return Gate(False, f"daily change budget of {budget} used up")
    return Gate(True, f"inside the guard-rails ({used_today + 1} of {budget} changes today)")
