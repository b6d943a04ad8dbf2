"""Spot jobs: mark silent agents stale/offline, expire commands, terminate old ZOMBIEs."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from spectra.core.config import get_settings
from spectra.core.jobs import job
from spectra.spot.agents import service
from spectra.spot.commands import repository as cmd_repo
from spectra.spot.commands import service as commands
from spectra.spot.instances import repository as inst_repo
from spectra.spot.instances import service as instances


@job("spot.agent_liveness", timedelta(seconds=30), "Mark agents that stopped sending heartbeats stale, then offline")
def agent_liveness(session: Session, now: datetime) -> dict[str, Any]:
    result = service.mark_silent_agents(session, now)
    result["commands_expired"] = cmd_repo.expire(session, now)
    return result


@job("spot.zombie_cleanup", timedelta(hours=1), "Queue a terminate command for ZOMBIE instances past the maximum age")
def zombie_cleanup(session: Session, now: datetime) -> dict[str, Any]:
    cutoff = now - timedelta(days=get_settings().zombie_max_age_days)
    queued = 0
    for inst in inst_repo.zombies_older_than(session, cutoff):
        agent = instances.get_agent(session, inst.agent_id)
        # One request id per instance: a second run finds the first command instead of queuing another.
        _, created = commands.issue(
            session,
            agent,
            "terminate",
            request_id=f"zombie-cleanup:{inst.id}",
            instance_id=inst.id,
            payload={"instance": inst.cloud_instance_id, "reason": "zombie older than the maximum age"},
            issued_by="engine",
            now=now,
        )
        queued += int(created)
    return {"cutoff": cutoff.isoformat(), "terminate_commands_queued": queued}
