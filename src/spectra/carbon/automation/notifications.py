"""Automatic actions reach people on the configured channels (Slack, e-mail), after the change commits."""

from __future__ import annotations

import logging

from spectra.capacity import service as capacity_service
from spectra.core.events import Event, subscribe

log = logging.getLogger("spectra.carbon.automation")

TOPICS = ("carbon.automation.notice", "carbon.action.applied")


def message_for(event: Event) -> tuple[str, str, str] | None:
    """(subject, text, severity) for an event worth telling people about, else None."""
    payload = event.payload
    if event.topic == "carbon.automation.notice":
        return (
            f"Spectra will stop idle instance {payload.get('instance_id')}",
            f"It has been idle for {payload.get('idle_hours', 0):.0f} h. Unless the idle-waste anomaly is dismissed "
            f"or the instance is used again, automation stops it after {payload.get('act_after')}.",
            "warning",
        )
    if event.topic == "carbon.action.applied" and payload.get("origin") == "automatic":
        return (f"Spectra automation: {payload.get('summary')}", f"Recorded action {payload.get('action_id')}.", "info")
    return None


def _deliver(event: Event) -> None:
    message = message_for(event)
    if message is None:
        return
    deliveries = capacity_service.notify(*message)
    failed = [d for d in deliveries if d.get("status") == "failed"]
    if failed:
        log.warning("automation notification for %s failed on %s", event.topic, [d.get("channel") for d in failed])


_registered = False


def register() -> None:
    global _registered
    if not _registered:
        for topic in TOPICS:
            subscribe(topic, _deliver)
        _registered = True
