"""Capacity start-up: report the collector's state in /api/health; route platform events to alerts."""

from spectra.capacity import event_alerts, poll_status
from spectra.core.health import register_health_check


def startup() -> None:
    register_health_check("capacity_collector", poll_status.health)
    event_alerts.register()
