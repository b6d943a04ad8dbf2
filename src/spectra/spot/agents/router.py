"""Agent protocol routes (v5 paths) and a client's view of its agents."""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any

import anyio
import anyio.to_thread
from fastapi import APIRouter, Depends, Query, status
from starlette.concurrency import run_in_threadpool

from spectra.core import write_gate
from spectra.core.auth import Caller, CallerDep, unconnected_caller
from spectra.core.clock import clock
from spectra.core.config import get_settings
from spectra.core.db import SessionDep, session_scope
from spectra.core.errors import PROBLEM_RESPONSES, ServiceUnavailable
from spectra.core.events import broker
from spectra.spot.agents import heartbeats, service
from spectra.spot.agents.schemas import (
    AgentConfig,
    AgentConfigUpdate,
    AgentOut,
    AgentRegister,
    CleanupReport,
    Heartbeat,
    HeartbeatOut,
    InstanceTermination,
    PricingReport,
    PricingReportOut,
    RegisterOut,
    SwitchEventOut,
    SwitchReport,
    TerminationReport,
)
from spectra.spot.commands import service as commands
from spectra.spot.commands.schemas import CommandOut, SwitchRequest
from spectra.spot.instances import repository as inst_repo
from spectra.spot.instances import service as instances


@contextlib.asynccontextmanager
async def _flush_heartbeats_on_shutdown(_: Any) -> AsyncIterator[None]:
    yield
    # A graceful stop writes the coalesced heartbeats still in memory (a crash loses at most one interval).
    await run_in_threadpool(heartbeats.flusher.stop)


router = APIRouter(
    prefix="/api/agents", tags=["spot: agents"], responses=PROBLEM_RESPONSES, lifespan=_flush_heartbeats_on_shutdown
)
client_router = APIRouter(prefix="/api/client", tags=["spot: agents"], responses=PROBLEM_RESPONSES)


# A heartbeat only reads in the usual case (it is coalesced in memory): a burst of registrations queued on
# SQLite's single writer must not hold it up. Its rare write takes the gate itself (write_gate.hold()).
write_gate.ungated("POST", r"/api/agents/[^/]+/heartbeat")
# Registration is a write, but queues in its own lane first (below) and then takes the gate itself, as bulk.
write_gate.ungated("POST", r"/api/agents/register")
# Price reports are the fleet's steady telemetry: commands and their acknowledgements pass before them.
write_gate.bulk("POST", r"/api/agents/[^/]+/pricing-report")


def _register(caller: Caller, body: AgentRegister) -> RegisterOut:
    # Its own transaction, begun inside the write gate (see `register`).
    with session_scope() as session:
        agent, inst, created = service.register(session, caller, body, clock.now())
        return RegisterOut(
            agent_id=agent.id,
            created=created,
            instance_id=inst.id,
            role=inst.role,
            config=AgentConfig.model_validate(agent),
            agent=AgentOut.model_validate(agent),
        )


# One registration at a time per process enters SQLite's write gate; the others wait here. A fleet booting at
# once then holds the gate's queue at one registration, so a command or a config edit waits for one, not for
# the whole burst. PostgreSQL has no gate: registrations run side by side.
#
# The lane's queue is bounded: past REGISTRATION_QUEUE waiting, a registration is answered 503 with Retry-After at
# once (agents back off with jitter and come again) rather than queued for longer than its client waits, so a
# fleet larger than the server can register in one interval is told so instead of timing out and retrying.
REGISTRATION_QUEUE = 64
REGISTRATION_RETRY_AFTER_SECONDS = 2


class _RegistrationLane:
    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.queued = 0

    async def __aenter__(self) -> None:
        if self.queued >= REGISTRATION_QUEUE:
            raise ServiceUnavailable(
                f"{self.queued} registrations are already waiting; retry shortly",
                code="registrations_busy",
                retry_after_seconds=REGISTRATION_RETRY_AFTER_SECONDS,
            )
        self.queued += 1
        try:
            await self.lock.acquire()
        finally:
            self.queued -= 1

    async def __aexit__(self, *exc: object) -> None:
        self.lock.release()


_registration_lanes: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _RegistrationLane] = (
    weakref.WeakKeyDictionary()
)


def _registration_lane() -> contextlib.AbstractAsyncContextManager[Any]:
    # A request the gate already let in (it carried an idempotency key) must not queue behind one waiting for it.
    if not get_settings().is_sqlite or write_gate.held():
        return contextlib.nullcontext()
    loop = asyncio.get_running_loop()
    lane = _registration_lanes.get(loop)
    if lane is None:
        lane = _registration_lanes[loop] = _RegistrationLane()
    return lane


@router.post("/register", response_model=RegisterOut)
async def register(body: AgentRegister, caller: Annotated[Caller, Depends(unconnected_caller)]) -> RegisterOut:
    """Register an agent installation. The same `installation_id` gets the same agent back; a new
    installation (or none given) always gets a new agent id."""
    async with _registration_lane(), write_gate.hold(write_gate.BULK):
        return await run_in_threadpool(_register, caller, body)


def _heartbeat_out(agent: Any, now: datetime, missed: int, pending: int, status: str | None = None) -> HeartbeatOut:
    return HeartbeatOut(
        agent_id=agent.id,
        status=status or agent.status,
        server_time=now,
        missed_since_last=missed,
        pending_commands=pending,
        config=AgentConfig.model_validate(agent),
    )


def _buffered_heartbeat(caller: Caller, agent_id: str, body: Heartbeat, now: datetime) -> HeartbeatOut | None:
    # One read of one row; the connection is taken and returned within this one worker-thread call.
    with session_scope(read_only=True) as session:
        view = service.heartbeat_view(session, agent_id, caller)
    counted = service.buffer_heartbeat(view, body, now)
    if counted is None:
        return None
    missed, pending, status = counted
    return _heartbeat_out(view, now, missed, pending, status)


def _written_heartbeat(caller: Caller, agent_id: str, body: Heartbeat, now: datetime) -> HeartbeatOut:
    # A transaction of its own, begun inside the write gate.
    with session_scope() as session:
        agent = instances.get_agent(session, agent_id, caller)
        missed, pending = service.heartbeat(session, agent, body, now)
        return _heartbeat_out(agent, now, missed, pending)


# Heartbeats are many and short: a few threads answer them all, in turn. Dozens of threads each doing a little
# would share the GIL with the request that holds SQLite's single writer (a registration, a price report, a
# command), and every time it waits on the database it would queue behind all of them to run again.
HEARTBEAT_THREADS = 4
_heartbeat_limiters: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, anyio.CapacityLimiter] = (
    weakref.WeakKeyDictionary()
)


def _heartbeat_threads() -> anyio.CapacityLimiter:
    loop = asyncio.get_running_loop()
    limiter = _heartbeat_limiters.get(loop)
    if limiter is None:
        limiter = _heartbeat_limiters[loop] = anyio.CapacityLimiter(HEARTBEAT_THREADS)
    return limiter


def _refreshed(caller: Caller, agent_id: str, answer: HeartbeatOut) -> HeartbeatOut:
    """A held beat's answer after an event about its agent: its open commands and config as they are now."""
    with session_scope(read_only=True) as session:
        view = service.heartbeat_view(session, agent_id, caller)
    return answer.model_copy(
        update={"pending_commands": int(view.open_commands), "config": AgentConfig.model_validate(view)}
    )


@router.post("/{agent_id}/heartbeat", response_model=HeartbeatOut)
async def heartbeat(
    agent_id: str,
    body: Heartbeat,
    caller: Annotated[Caller, Depends(unconnected_caller)],
    wait: Annotated[
        float,
        Query(
            ge=0,
            le=commands.MAX_WAIT_SECONDS,
            description="Long-poll: when no command is open, hold the answer up to this many seconds until one is",
        ),
    ] = 0,
) -> HeartbeatOut:
    """Heartbeat; answers with the agent's current config and how many commands wait for it. With `wait`, the
    beat doubles as the agent's long-poll: an agent beats again as soon as the answer comes, so a fleet makes one
    request per heartbeat interval and still hears of a command (or a config change) within a second of it."""
    # Liveness is written within SPECTRA_HEARTBEAT_FLUSH_SECONDS (heartbeats.py); a status change at once.
    now = clock.now()
    # Waiting before the beat reads the open commands, so a command issued in between still wakes it. A waiting
    # beat holds no database connection and is woken only by an event about its agent (core/events.py).
    waiter = asyncio.ensure_future(broker.wait(wait, key=agent_id)) if wait > 0 else None
    try:
        await asyncio.sleep(0)
        answer = await anyio.to_thread.run_sync(
            _buffered_heartbeat, caller, agent_id, body, now, limiter=_heartbeat_threads()
        )
        if answer is None:
            async with write_gate.hold():
                answer = await run_in_threadpool(_written_heartbeat, caller, agent_id, body, now)
        if waiter is None or answer.pending_commands or answer.status == "replaced":
            return answer
        if await waiter:  # a command issued, a config changed, a notice handled
            answer = await anyio.to_thread.run_sync(_refreshed, caller, agent_id, answer, limiter=_heartbeat_threads())
        return answer
    finally:
        if waiter is not None:
            waiter.cancel()


@router.get("/{agent_id}/config", response_model=AgentConfig)
def get_config(agent_id: str, caller: CallerDep, session: SessionDep) -> AgentConfig:
    """The agent's configuration (auto-switch, manual replica mode, termination policy, heartbeat interval)."""
    return AgentConfig.model_validate(instances.get_agent(session, agent_id, caller))


@router.patch("/{agent_id}/config", response_model=AgentOut)
def update_config(agent_id: str, body: AgentConfigUpdate, caller: CallerDep, session: SessionDep) -> AgentOut:
    """Change the configuration (send the version you read). Auto-switch and manual replica mode exclude each other."""
    agent = instances.get_agent(session, agent_id, caller)
    return AgentOut.model_validate(service.update_config(session, agent, body))


@router.get("/{agent_id}", response_model=AgentOut)
def get_agent(agent_id: str, caller: CallerDep, session: SessionDep) -> AgentOut:
    """One agent."""
    return AgentOut.model_validate(instances.get_agent(session, agent_id, caller))


@router.get("/{agent_id}/instances-to-terminate")
def instances_to_terminate(agent_id: str, caller: CallerDep, session: SessionDep) -> list[dict[str, Any]]:
    """ZOMBIE instances past the grace period and released replicas the agent should terminate."""
    agent = instances.get_agent(session, agent_id, caller)
    return service.instances_to_terminate(session, agent, clock.now())


@router.post("/{agent_id}/termination-report")
def termination_report(
    agent_id: str, body: TerminationReport, caller: CallerDep, session: SessionDep
) -> dict[str, Any]:
    """The agent terminated these instances (ZOMBIEs, released replicas): each becomes TERMINATED."""
    agent = instances.get_agent(session, agent_id, caller)
    results = service.terminated(session, agent, body.instance_ids, body.reason or "terminated by agent", clock.now())
    return {"results": results}


@router.post("/{agent_id}/termination")
def termination(agent_id: str, body: InstanceTermination, caller: CallerDep, session: SessionDep) -> dict[str, Any]:
    """The cloud terminated one of the agent's instances; a PRIMARY is replaced at once (replica or on-demand)."""
    agent = instances.get_agent(session, agent_id, caller)
    now = body.terminated_at or clock.now()
    return service.own_instance_terminated(
        session, agent, body.instance_id, body.reason or "terminated by the cloud", now
    )


@router.post("/{agent_id}/cleanup-report")
def cleanup_report(agent_id: str, body: CleanupReport, caller: CallerDep, session: SessionDep) -> dict[str, Any]:
    """What a cleanup pass removed (instances, volumes, snapshots) and what failed."""
    agent = instances.get_agent(session, agent_id, caller)
    return service.cleanup_report(session, agent, body, clock.now())


@router.get("/{agent_id}/replica-config")
def replica_config(agent_id: str, caller: CallerDep, session: SessionDep) -> dict[str, Any]:
    """How many replicas to keep, where a new one should go, and the open ones."""
    return service.replica_config(session, instances.get_agent(session, agent_id, caller))


@router.post("/{agent_id}/issue-switch-command", response_model=CommandOut, status_code=status.HTTP_202_ACCEPTED)
def issue_switch_command(agent_id: str, body: SwitchRequest, caller: CallerDep, session: SessionDep) -> CommandOut:
    """Queue a switch of the agent's PRIMARY to a pool (or to on-demand). Idempotent by `X-Request-ID`;
    one switch per agent at a time (409 while one is in flight)."""
    agent = instances.get_agent(session, agent_id, caller)
    cmd, _ = commands.request_switch(
        session,
        agent,
        target_pool_id=body.pool(),
        target_mode=body.mode(),
        reason=body.reason,
        issued_by="admin" if caller.is_admin else "user",
    )
    return CommandOut.model_validate(cmd)


@router.get("/{agent_id}/statistics")
def statistics(agent_id: str, caller: CallerDep, session: SessionDep) -> dict[str, Any]:
    """Switches, downtime p95, savings, heartbeat miss rate, instances by role."""
    return service.statistics(session, instances.get_agent(session, agent_id, caller), clock.now())


def _pricing_report(caller: Caller, agent_id: str, body: PricingReport) -> PricingReportOut:
    # Begun and committed on one worker thread. Every agent of a region updates the same pools' rows, so a report
    # waits for the one before it to commit; committed from a request dependency, that commit would need a second
    # thread, and with every thread of the pool waiting on the row lock it would never get one (a deadlock seen on
    # PostgreSQL under a 10,000-agent fleet).
    with session_scope() as session:
        agent = instances.get_agent(session, agent_id, caller)
        accepted, pools, alerts = service.pricing_report(session, agent, body, clock.now())
        return PricingReportOut(accepted=accepted, pools=pools, alerts_triggered=alerts)


@router.post("/{agent_id}/pricing-report", response_model=PricingReportOut)
async def pricing_report(
    agent_id: str, body: PricingReport, caller: Annotated[Caller, Depends(unconnected_caller)]
) -> PricingReportOut:
    """A batch of observed spot prices (up to 5000), staged for consolidation; pools' latest prices update."""
    return await run_in_threadpool(_pricing_report, caller, agent_id, body)


@router.post("/{agent_id}/switch-report", response_model=SwitchEventOut)
def switch_report(agent_id: str, body: SwitchReport, caller: CallerDep, session: SessionDep) -> SwitchEventOut:
    """The agent finished a switch: the new instance becomes PRIMARY, the old one a ZOMBIE. Repeats are no-ops."""
    agent = instances.get_agent(session, agent_id, caller)
    event = commands.complete_switch(session, agent, body.model_dump(mode="python", exclude_none=True), clock.now())
    return SwitchEventOut.model_validate(event)


@client_router.get("/{client_id}/agents", response_model=list[AgentOut])
def client_agents(
    client_id: str, caller: CallerDep, session: SessionDep, status: str | None = Query(default=None)
) -> list[AgentOut]:
    """The client's agents (online, stale, offline, replaced)."""
    scope = caller.scope_client_id(client_id)
    return [AgentOut.model_validate(a) for a in inst_repo.list_agents(session, scope, status)]
