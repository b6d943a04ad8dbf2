"""Queries of the agent protocol that must stay set-based at fleet scale: coalesced heartbeats, silent agents,
earlier installations on an instance, and agents' price reports."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, func, insert, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from spectra.core.db import new_id, utcnow
from spectra.spot.commands.repository import OPEN as OPEN_COMMANDS
from spectra.spot.models import Agent, Command, Pool, SpotInstance, SpotPriceSnapshot

# What a heartbeat reads and answers with, in one statement: the agent's liveness and config, and how many
# commands wait for it (the common beat is answered from this row, without loading the ORM object).
_HEARTBEAT_VIEW = select(
    Agent.id,
    Agent.client_id,
    Agent.status,
    Agent.agent_version,
    Agent.last_heartbeat_at,
    Agent.heartbeat_interval_seconds,
    Agent.auto_switch_enabled,
    Agent.manual_replica_enabled,
    Agent.auto_terminate_enabled,
    Agent.terminate_wait_seconds,
    Agent.config,
    select(func.count(Command.id))
    .where(Command.agent_id == Agent.id, Command.status.in_(OPEN_COMMANDS))
    .scalar_subquery()
    .label("open_commands"),
)

# Rows per INSERT statement: well below SQLite's and PostgreSQL's bound-parameter limits.
CHUNK = 500
# Serialises heartbeat writes of several API workers on PostgreSQL: one UPDATE locks many agent rows in an
# order the planner picks, and two such UPDATEs could deadlock. SQLite has a single writer anyway.
HEARTBEAT_FLUSH_LOCK = 0x5EC7_0A6E

# One statement for the whole batch, whatever its size, and the same text every time (prepared once). The
# newest time wins: a flush of older beats from another worker never moves `last_heartbeat_at` back; the
# counters add up. Neither `version` (the optimistic lock of config edits) nor `updated_at` move: liveness is
# not an edit.
_HEARTBEATS_POSTGRESQL = text(
    """
    UPDATE spot_agents AS agent SET
        last_heartbeat_at = GREATEST(agent.last_heartbeat_at, beat.beat_at),
        heartbeats_received = agent.heartbeats_received + beat.received,
        heartbeats_missed = agent.heartbeats_missed + beat.missed
    FROM unnest(
        CAST(:agent_ids AS varchar[]), CAST(:beat_ats AS timestamptz[]), CAST(:received AS int[]),
        CAST(:missed AS int[])
    ) AS beat(agent_id, beat_at, received, missed)
    WHERE agent.id = beat.agent_id
    """
)
# SQLite stores these times as text in one fixed format, so max() of two of them is the later time.
_HEARTBEATS_SQLITE = text(
    """
    UPDATE spot_agents SET
        last_heartbeat_at = max(coalesce(last_heartbeat_at, beat.beat_at), beat.beat_at),
        heartbeats_received = heartbeats_received + beat.received,
        heartbeats_missed = heartbeats_missed + beat.missed
    FROM (
        SELECT json_extract(value, '$[0]') AS agent_id, json_extract(value, '$[1]') AS beat_at,
               json_extract(value, '$[2]') AS received, json_extract(value, '$[3]') AS missed
        FROM json_each(:beats)
    ) AS beat
    WHERE spot_agents.id = beat.agent_id
    """
)


def heartbeat_view(session: Session, agent_id: str) -> Any:
    """The agent's heartbeat view (a row with attribute access), or None."""
    return session.execute(_HEARTBEAT_VIEW.where(Agent.id == agent_id)).one_or_none()


@dataclass
class PendingBeat:
    """Heartbeats of one agent not yet written: the newest time and how many beats and misses it adds."""

    agent_id: str
    last_at: datetime
    received: int = 0
    missed: int = 0


def apply_heartbeats(session: Session, beats: Sequence[PendingBeat]) -> int:
    """Write a batch of heartbeats in one set-based UPDATE; returns the rows updated (unknown agents, e.g.
    deleted meanwhile, are skipped)."""
    if not beats:
        return 0
    dialect = session.get_bind().dialect
    if dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": HEARTBEAT_FLUSH_LOCK})
        result = session.execute(
            _HEARTBEATS_POSTGRESQL,
            {
                "agent_ids": [b.agent_id for b in beats],
                "beat_ats": [b.last_at for b in beats],
                "received": [b.received for b in beats],
                "missed": [b.missed for b in beats],
            },
        )
    else:
        # The column's own conversion, so the text compares with what the ORM stored.
        stored = cast(Table, Agent.__table__).c.last_heartbeat_at.type.dialect_impl(dialect).bind_processor(dialect)
        assert stored is not None
        rows = [[b.agent_id, stored(b.last_at), b.received, b.missed] for b in beats]
        result = session.execute(_HEARTBEATS_SQLITE, {"beats": json.dumps(rows)})
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def revive(session: Session, agent_ids: Sequence[str]) -> list[tuple[str, str]]:
    """Set these agents online where they were stale or offline; (id, client id) of those that were. Like a
    heartbeat, this is not a config edit: the version does not move."""
    revived: list[tuple[str, str]] = []
    ids = sorted(agent_ids)
    for start in range(0, len(ids), CHUNK):
        stmt = (
            update(Agent)
            .where(Agent.id.in_(ids[start : start + CHUNK]), Agent.status.in_(("stale", "offline")))
            .values(status="online")
            .returning(Agent.id, Agent.client_id)
            .execution_options(synchronize_session=False)
        )
        revived.extend((agent_id, client_id) for agent_id, client_id in session.execute(stmt))
    return revived


def silent_agents(session: Session, now: datetime, after_intervals: int) -> list[Agent]:
    """Online or stale agents whose last heartbeat may be `after_intervals` of their own interval old. The cut
    uses the shortest interval in the fleet, so the database returns only candidates, not every agent."""
    watched = Agent.status.in_(("online", "stale"))
    shortest = session.scalar(select(func.min(Agent.heartbeat_interval_seconds)).where(watched))
    if shortest is None:
        return []
    cutoff = now - timedelta(seconds=after_intervals * max(1, int(shortest)))
    return list(
        session.scalars(
            select(Agent)
            .where(
                watched,
                Agent.last_heartbeat_at.is_not(None),
                Agent.last_heartbeat_at <= cutoff,
            )
            .order_by(Agent.id)
        )
    )


def installations_on(
    session: Session, client_id: str, cloud_instance_id: str, except_agent_id: str
) -> list[tuple[Agent, SpotInstance]]:
    """The client's other, not yet replaced agents whose PRIMARY is this cloud instance (one query, however
    many agents the client has)."""
    stmt = (
        select(Agent, SpotInstance)
        .join(SpotInstance, SpotInstance.agent_id == Agent.id)
        .where(
            Agent.client_id == client_id,
            Agent.id != except_agent_id,
            Agent.status != "replaced",
            SpotInstance.role == "PRIMARY",
            SpotInstance.cloud_instance_id == cloud_instance_id,
        )
    )
    return [(agent, inst) for agent, inst in session.execute(stmt)]


PoolKey = tuple[str, str, str, str]  # region, availability zone, instance type, product description


def pools_for(session: Session, keys: Iterable[PoolKey]) -> dict[PoolKey, Pool]:
    """The pools of these keys that exist, in one query (filtered by each key part, then exactly here)."""
    wanted = set(keys)
    if not wanted:
        return {}
    stmt = select(Pool).where(
        Pool.region.in_({k[0] for k in wanted}),
        Pool.availability_zone.in_({k[1] for k in wanted}),
        Pool.instance_type.in_({k[2] for k in wanted}),
        Pool.product_description.in_({k[3] for k in wanted}),
    )
    found = {}
    for pool in session.scalars(stmt):
        key = (pool.region, pool.availability_zone, pool.instance_type, pool.product_description)
        if key in wanted:
            found[key] = pool
    return found


def ensure_pools(session: Session, keys: Iterable[PoolKey]) -> dict[PoolKey, Pool]:
    """Get or create the pools of these keys. A concurrent creator's row wins (ON CONFLICT DO NOTHING on the
    pool's unique key), so two agents reporting a new pool at once both succeed."""
    wanted = set(keys)
    pools = pools_for(session, wanted)
    missing = sorted(wanted - set(pools))
    if missing:
        now = utcnow()
        rows = [
            {
                "id": new_id(),
                "region": region,
                "availability_zone": zone,
                "instance_type": instance_type,
                "product_description": product,
                "created_at": now,
                "updated_at": now,
            }
            for region, zone, instance_type, product in missing
        ]
        dialect = session.get_bind().dialect.name
        make_insert: Any = pg_insert if dialect == "postgresql" else sqlite_insert
        for start in range(0, len(rows), CHUNK // 4):
            session.execute(make_insert(Pool).on_conflict_do_nothing(), rows[start : start + CHUNK // 4])
        pools.update(pools_for(session, missing))
    return pools


def stage_prices(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Insert staging rows set-based (one multi-row INSERT per chunk), without loading them back."""
    for start in range(0, len(rows), CHUNK // 2):
        session.execute(insert(SpotPriceSnapshot), list(rows[start : start + CHUNK // 2]))
