"""Command routes: pending commands (long-poll) and the agent's execution report."""

from __future__ import annotations

import asyncio
import time
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from starlette.concurrency import run_in_threadpool

from spectra.core.auth import Caller, CallerDep, unconnected_caller
from spectra.core.clock import clock
from spectra.core.db import SessionDep, session_scope
from spectra.core.errors import PROBLEM_RESPONSES
from spectra.core.events import broker
from spectra.spot.commands import service
from spectra.spot.commands.schemas import CommandAck, CommandExecuted, CommandOut
from spectra.spot.instances import service as instances

router = APIRouter(prefix="/api/agents", tags=["spot: commands"], responses=PROBLEM_RESPONSES)


def _take(caller: Caller, agent_id: str) -> list[CommandOut]:
    now = clock.now()
    with session_scope(read_only=True) as session:
        agent = instances.get_agent(session, agent_id, caller)
        if not service.has_deliverable(session, agent, now):
            return []
    with session_scope() as session:
        agent = instances.get_agent(session, agent_id, caller)
        return [CommandOut.model_validate(c) for c in service.take_deliverable(session, agent, now)]


@router.get("/{agent_id}/pending-commands", response_model=list[CommandOut])
async def pending_commands(
    agent_id: str,
    caller: Annotated[Caller, Depends(unconnected_caller)],
    wait: Annotated[
        float,
        Query(ge=0, le=service.MAX_WAIT_SECONDS, description="Long-poll: hold up to this many seconds for a command"),
    ] = 0,
) -> list[CommandOut]:
    """Commands for the agent, highest priority first (marked delivered). With `wait`, the request is held
    until a command is issued (it arrives within a second of being issued) or the wait runs out."""
    # A waiting poll holds no database connection and costs nothing until an event about this agent wakes it
    # (core/events.py: keyed waiters), so every agent of a fleet may hold one.
    deadline = time.monotonic() + wait
    while True:
        remaining = deadline - time.monotonic()
        # Register as a waiter before looking, so a command committed in between still wakes us.
        waiter = asyncio.ensure_future(broker.wait(max(0.0, remaining), key=agent_id))
        await asyncio.sleep(0)
        found = await run_in_threadpool(_take, caller, agent_id)
        if found or remaining <= 0:
            waiter.cancel()
            return found
        if not await waiter:
            return []  # nothing about this agent happened while it waited


@router.post("/{agent_id}/commands/{command_id}/executed", response_model=CommandAck)
def command_executed(
    agent_id: str, command_id: str, body: CommandExecuted, caller: CallerDep, session: SessionDep
) -> CommandAck:
    """Report a command's outcome. Reporting twice records it once and changes nothing the second time."""
    agent = instances.get_agent(session, agent_id, caller)
    result = dict(body.result)
    if body.message:
        result.setdefault("message", body.message)
    cmd, changed = service.mark_executed(session, agent, command_id, body.success, result, clock.now())
    return CommandAck(command=CommandOut.model_validate(cmd), changed=changed)
