"""Carbon actions on AWS: a migration, rightsizing or idle stop the carbon domain asks for becomes a command for
the agent that manages the instance, and the agent's report goes back to the carbon domain's services.

The carbon domain publishes `carbon.migration.requested`, `carbon.rightsizing.requested` and
`carbon.instance.stop_requested` (it never imports spot). A request is queued once — the command's request id
is derived from the carbon request id — and only while carbon still waits for it. When no agent can act, carbon
hears so at once, with the reason. A command no agent took within an hour expires and is reported failed; the
agent's report (success or failure) reaches carbon in the transaction that records it.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from spectra.carbon.automation import service as automation
from spectra.carbon.migrations import service as migrations
from spectra.carbon.rightsizing import service as rightsizing
from spectra.core.db import utcnow
from spectra.core.errors import SpectraError
from spectra.spot import activity
from spectra.spot.carbon_actions import repository
from spectra.spot.commands import repository as cmd_repo
from spectra.spot.commands import service as commands
from spectra.spot.instances import repository as inst_repo
from spectra.spot.instances import service as instances
from spectra.spot.instances.state_machine import Role
from spectra.spot.models import Agent, Command, SpotInstance
from spectra.spot.pricing import service as pricing

log = logging.getLogger("spectra.spot.carbon_actions")

# topic → (carbon kind, command type)
TOPICS: dict[str, tuple[str, str]] = {
    "carbon.migration.requested": ("migration", "migrate"),
    "carbon.rightsizing.requested": ("rightsizing", "resize"),
    "carbon.instance.stop_requested": ("idle_stop", "stop"),
}
ISSUER = "carbon"
EXECUTABLE_CLOUDS = ("aws",)
LIVE_AGENT_STATUSES = ("online", "stale")  # a stale agent may be back within minutes; an offline one is gone
# Not taken by the agent within this long: the request has failed (carbon's own migration timeout is 6 h).
COMMAND_TTL = timedelta(hours=1)
# Taken but never reported: carbon is told it failed this long after the command expired.
REPORT_GRACE = timedelta(hours=5)
# Requests whose in-process handler never ran (the server stopped between commit and delivery) are picked
# up from the event log by the sweep once they are this old, and up to a day back.
RECONCILE_DELAY = timedelta(minutes=2)
RECONCILE_WINDOW = timedelta(days=1)


@dataclass(frozen=True)
class CarbonRequest:
    kind: str  # migration | rightsizing | idle_stop
    command_type: str  # migrate | resize | stop
    client_id: str
    request_id: str
    provider_id: str | None
    cloud: str | None
    payload: dict[str, Any]

    @property
    def reference(self) -> dict[str, Any]:
        """What the carbon domain needs to find its request again when the outcome is known."""
        ref: dict[str, Any] = {"kind": self.kind, "client_id": self.client_id, "request_id": self.request_id}
        if self.kind == "migration":
            ref["migration_id"] = self.payload["migration_id"]
        elif self.kind == "rightsizing":
            ref["recommendation_id"] = self.payload["recommendation_id"]
        return ref


REQUIRED = {
    "migration": ("migration_id", "to_region"),
    "rightsizing": ("recommendation_id", "to_type"),
    "idle_stop": (),
}


def request_from_event(topic: str, client_id: str | None, payload: dict[str, Any]) -> CarbonRequest | None:
    """The request an event carries, or None when it is not one (or lacks what is needed to act or answer)."""
    if topic not in TOPICS or not client_id or not payload.get("request_id"):
        return None
    kind, command_type = TOPICS[topic]
    if any(not payload.get(key) for key in REQUIRED[kind]):
        return None
    return CarbonRequest(
        kind=kind,
        command_type=command_type,
        client_id=client_id,
        request_id=str(payload["request_id"]),
        provider_id=payload.get("provider_id"),
        cloud=payload.get("cloud"),
        payload=payload,
    )


def command_request_id(request: CarbonRequest) -> str:
    """One command per carbon request: the carbon request id, scoped to its tenant and kind, within 128 chars."""
    scoped = f"carbon:{request.kind}:{request.client_id}:{request.request_id}"
    if len(scoped) > 128:
        digest = hashlib.sha256(request.request_id.encode()).hexdigest()
        scoped = f"carbon:{request.kind}:{request.client_id}:{digest}"
    return scoped


def managing_agent(session: Session, client_id: str, provider_id: str | None) -> tuple[Agent, SpotInstance] | str:
    """The live agent whose PRIMARY is this instance, or why there is none (said to the carbon domain)."""
    if not provider_id:
        return "the instance has no cloud instance id, so no agent can be found for it"
    rows = repository.instances_with_agents(session, client_id, provider_id)
    if not rows:
        return (
            f"no spot agent manages instance {provider_id}: run `spectra agent run --cloud aws` on it "
            "(or beside it with --instance-id)"
        )
    primaries = [(inst, agent) for inst, agent in rows if inst.role == Role.PRIMARY]
    if not primaries:
        inst, agent = rows[0]
        return (
            f"instance {provider_id} is a {inst.role} of agent {agent.id}; only an agent's PRIMARY is changed "
            "on the carbon domain's request"
        )
    for inst, agent in primaries:
        if agent.status in LIVE_AGENT_STATUSES:
            return agent, inst
    inst, agent = primaries[0]
    seen = agent.last_heartbeat_at.isoformat() if agent.last_heartbeat_at else "never"
    return f"the agent of instance {provider_id} ({agent.id}) is {agent.status}; last heartbeat {seen}"


def _awaiting(session: Session, request: CarbonRequest) -> bool:
    if request.kind == "migration":
        return migrations.awaiting_executor(session, request.payload["migration_id"])
    if request.kind == "rightsizing":
        return rightsizing.awaiting_executor(session, request.payload["recommendation_id"])
    return automation.idle_stop_awaiting(session, request.client_id, request.request_id)


def _report(session: Session, ref: dict[str, Any], succeeded: bool, error: str | None, outcome: dict[str, Any]) -> None:
    """Tell the carbon domain how its request ended (its services record it, idempotently)."""
    kind = ref["kind"]
    if kind == "migration":
        migrations.report_result(
            session, ref["migration_id"], succeeded, error,
            provider_id=outcome.get("provider_id"), zone=outcome.get("zone"),
        )  # fmt: skip
    elif kind == "rightsizing":
        rightsizing.report_result(
            session, ref["recommendation_id"], succeeded, error, instance_type=outcome.get("instance_type"),
            provider_id=outcome.get("provider_id"), zone=outcome.get("zone"),
        )  # fmt: skip
    else:
        automation.report_idle_stop(session, ref["client_id"], ref["request_id"], succeeded, error)


def _command_payload(request: CarbonRequest, agent: Agent, inst: SpotInstance) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "carbon": request.reference,
        "cloud_instance_id": inst.cloud_instance_id,
        "region": inst.region or agent.region,
        "availability_zone": inst.availability_zone or agent.availability_zone,
        "instance_type": inst.instance_type or agent.instance_type,
        "lifecycle": inst.lifecycle,
    }
    if request.kind == "migration":
        payload["target_region"] = request.payload["to_region"]
        payload["reason"] = f"carbon migration {request.payload['migration_id']}"
    elif request.kind == "rightsizing":
        payload["target_type"] = request.payload["to_type"]
        payload["reason"] = f"rightsizing {request.payload.get('from_type')} → {request.payload['to_type']}"
    else:
        payload["reason"] = "idle instance stopped by automation"
    return payload


def handle(session: Session, request: CarbonRequest, now: datetime) -> dict[str, Any]:
    """Queue the request's command for the managing agent, or report at once why nobody can carry it out.
    Safe to repeat: a request already queued, or no longer awaited by carbon, changes nothing."""
    command_rid = command_request_id(request)
    existing = cmd_repo.by_request_id(session, command_rid)
    if existing is not None:
        return {"outcome": "queued_before", "command_id": existing.id}
    if not _awaiting(session, request):
        return {"outcome": "not_awaited"}
    found: tuple[Agent, SpotInstance] | str
    if request.cloud not in EXECUTABLE_CLOUDS:
        found = f"no agent changes {request.cloud or 'unknown'} instances: change it by hand"
    else:
        found = managing_agent(session, request.client_id, request.provider_id)
    if isinstance(found, str):
        _report(session, request.reference, False, found, {})
        activity.record(
            session, f"carbon.{request.kind}.refused", f"{request.kind} of {request.provider_id} not executed: {found}",
            client_id=request.client_id, severity="warning",
            data={"request_id": request.request_id, "kind": request.kind},
        )  # fmt: skip
        return {"outcome": "failed", "error": found}
    agent, inst = found
    try:
        with session.begin_nested():
            cmd, created = commands.issue(
                session, agent, request.command_type, request_id=command_rid, instance_id=inst.id,
                payload=_command_payload(request, agent, inst), issued_by=ISSUER, ttl=COMMAND_TTL, now=now,
            )  # fmt: skip
    except IntegrityError:  # a concurrent handler of the same request queued it first
        queued = cmd_repo.by_request_id(session, command_rid)
        return {"outcome": "queued_before", "command_id": queued.id if queued else None}
    return {"outcome": "queued" if created else "queued_before", "command_id": cmd.id, "agent_id": agent.id}


def _outcome(command_type: str, result: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """What carbon is told about a successful command, or why the report cannot count as a success."""
    if command_type == "migrate":
        if not result.get("new_instance_id"):
            return {}, "the agent reported the migration without the new instance id"
        return {"provider_id": result["new_instance_id"], "zone": result.get("new_availability_zone")}, None
    if command_type == "resize":
        if not result.get("new_instance_type"):
            return {}, "the agent reported the resize without the new instance type"
        outcome = {"instance_type": result["new_instance_type"]}
        if result.get("method") == "replaced":
            if not result.get("new_instance_id"):
                return {}, "the agent reported a replacement without the new instance id"
            outcome |= {"provider_id": result["new_instance_id"], "zone": result.get("new_availability_zone")}
        return outcome, None
    return {}, None


def _follow_replacement(session: Session, agent: Agent, cmd: Command, result: dict[str, Any], now: datetime) -> None:
    """The instance was replaced (migrated, or resized by replacement): the new one becomes the agent's PRIMARY
    like after a switch, and the old one, which the agent terminates, TERMINATED."""
    old_id = str(result.get("old_instance_id") or (cmd.payload or {}).get("cloud_instance_id") or "")
    commands.complete_switch(
        session,
        agent,
        {
            "command_id": cmd.id,
            "new_instance_id": result["new_instance_id"],
            "old_instance_id": old_id,
            "region": result.get("region") or agent.region,
            "new_availability_zone": result.get("new_availability_zone"),
            "new_instance_type": result.get("new_instance_type") or agent.instance_type,
            "lifecycle": result.get("lifecycle"),
            "reason": (cmd.payload or {}).get("reason") or cmd.command_type,
        },
        now,
    )
    if result.get("region") and agent.region != result["region"]:
        agent.region = str(result["region"])
        session.flush()
    old = inst_repo.instance_by_cloud_id(session, agent.id, old_id)
    if old is not None and old.role == Role.ZOMBIE and result.get("old_instance_terminated"):
        instances.set_role(session, old, Role.TERMINATED, reason=f"replaced by {result['new_instance_id']}", now=now)


def _resized_in_place(session: Session, agent: Agent, cmd: Command, new_type: str) -> None:
    inst = inst_repo.get_instance(session, cmd.instance_id) if cmd.instance_id else None
    if inst is None:
        return
    pool = inst_repo.ensure_pool(
        session, inst.region or agent.region or "", inst.availability_zone or agent.availability_zone or "",
        new_type, agent.product_description,
    )  # fmt: skip
    if pool.on_demand_price is None:
        pricing.fill_reference(session, pool)
    pre = instances.instance_state(inst)
    inst.instance_type, inst.pool_id = new_type, pool.id
    inst.on_demand_price = pool.on_demand_price or inst.on_demand_price
    if inst.role == Role.PRIMARY:
        agent.instance_type = new_type
    session.flush()
    activity.record(
        session, "instance.resized", f"{inst.cloud_instance_id} resized to {new_type} in place",
        client_id=agent.client_id, agent_id=agent.id, instance_id=inst.id, data={"command_id": cmd.id},
        audit=("spot_instance", inst.id, pre, instances.instance_state(inst)),
    )  # fmt: skip


def _apply_spot_effects(session: Session, agent: Agent, cmd: Command, result: dict[str, Any], now: datetime) -> None:
    if cmd.command_type == "migrate" or (cmd.command_type == "resize" and result.get("method") == "replaced"):
        _follow_replacement(session, agent, cmd, result, now)
    elif cmd.command_type == "resize":
        _resized_in_place(session, agent, cmd, str(result["new_instance_type"]))
    elif cmd.command_type == "stop":
        activity.record(
            session, "instance.stopped",
            f"{(cmd.payload or {}).get('cloud_instance_id')} stopped on the carbon domain's request",
            client_id=agent.client_id, agent_id=agent.id, instance_id=cmd.instance_id, data={"command_id": cmd.id},
        )  # fmt: skip


def command_finished(
    session: Session, agent: Agent, cmd: Command, success: bool, result: dict[str, Any], now: datetime
) -> None:
    """The agent reported a carbon command: follow the change in the spot records, then tell carbon. Both happen in
    the transaction that records the report; what carbon no longer accepts (it gave up waiting) is logged."""
    ref = dict((cmd.payload or {})["carbon"])
    outcome: dict[str, Any] = {}
    error: str | None = None
    if success:
        outcome, error = _outcome(cmd.command_type, result)
        success = error is None
    if success:
        try:
            with session.begin_nested():
                _apply_spot_effects(session, agent, cmd, result, now)
        except SpectraError as exc:
            activity.record(
                session, "carbon.spot_records_behind",
                f"{cmd.command_type} done, but the spot records could not follow: {exc.detail}",
                client_id=agent.client_id, agent_id=agent.id, severity="warning", data={"command_id": cmd.id},
            )  # fmt: skip
    else:
        error = error or str(result.get("message") or result.get("error") or "the agent reported a failure")
    try:
        with session.begin_nested():
            _report(session, ref, success, error, outcome)
    except SpectraError as exc:
        activity.record(
            session, "carbon.outcome_refused",
            f"the carbon domain did not take the outcome of {cmd.command_type} {cmd.id}: {exc.detail}",
            client_id=agent.client_id, agent_id=agent.id, severity="warning",
            data={"command_id": cmd.id, "success": success},
        )  # fmt: skip


def sweep(session: Session, now: datetime) -> dict[str, int]:
    """Tell carbon about commands that lapsed, and carry out requests whose event handler never ran."""
    lapsed = 0
    for cmd in repository.expired_commands(session, ISSUER, now - RECONCILE_WINDOW - REPORT_GRACE):
        ref = (cmd.payload or {}).get("carbon")
        if not ref or (cmd.result or {}).get("carbon_reported"):
            continue
        if cmd.delivered_at is None:
            why = f"the agent did not take the {cmd.command_type} command within {COMMAND_TTL}"
        elif cmd.expires_at is not None and cmd.expires_at + REPORT_GRACE <= now:
            why = f"the agent took the {cmd.command_type} command but never reported its outcome"
        else:
            continue  # taken: the agent may still report
        try:
            with session.begin_nested():
                _report(session, ref, False, why, {})
        except SpectraError as exc:
            log.info("carbon no longer waits for command %s: %s", cmd.id, exc.detail)
        cmd.result = {**(cmd.result or {}), "carbon_reported": "failed", "error": why}
        session.flush()
        lapsed += 1
    handled = 0
    wall = utcnow()  # the event log is stamped with wall-clock time, not the platform clock
    for row in repository.published(session, tuple(TOPICS), wall - RECONCILE_WINDOW, wall - RECONCILE_DELAY):
        request = request_from_event(row.topic, row.client_id, row.payload)
        if request is not None and handle(session, request, now)["outcome"] in ("queued", "failed"):
            handled += 1
    return {"lapsed_reported": lapsed, "requests_caught_up": handled}
