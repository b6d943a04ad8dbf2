"""The one table of instance role changes. Every role change in Spectra goes through `check_transition`.

    (new) ──launch_primary──▶ PRIMARY ──demote──▶ ZOMBIE ──terminate──▶ TERMINATED
    (new) ──launch_replica──▶ REPLICA ──promote─▶ PRIMARY
    PRIMARY / REPLICA ──terminate──▶ TERMINATED        (interrupted, or a replica discarded)

TERMINATED is final; a ZOMBIE never serves again; a PRIMARY never steps down to REPLICA (it would
silently double the serving capacity the agent believes it has).
"""

from __future__ import annotations

from enum import StrEnum

from spectra.core.errors import Conflict


class Role(StrEnum):
    PRIMARY = "PRIMARY"
    REPLICA = "REPLICA"
    ZOMBIE = "ZOMBIE"
    TERMINATED = "TERMINATED"


# (from, to) → the name of the transition; None as "from" is an instance that does not exist yet.
TRANSITIONS: dict[tuple[Role | None, Role], str] = {
    (None, Role.PRIMARY): "launch_primary",
    (None, Role.REPLICA): "launch_replica",
    (Role.REPLICA, Role.PRIMARY): "promote",
    (Role.PRIMARY, Role.ZOMBIE): "demote",
    (Role.PRIMARY, Role.TERMINATED): "terminate",
    (Role.REPLICA, Role.TERMINATED): "terminate",
    (Role.ZOMBIE, Role.TERMINATED): "terminate",
}

ALL_STATES: tuple[Role | None, ...] = (None, *Role)


class InvalidTransition(Conflict):
    code = "invalid_transition"

    def __init__(self, current: Role | None, target: Role) -> None:
        name = current.value if current is not None else "NEW"
        super().__init__(
            f"an instance cannot move from {name} to {target.value}", from_state=name, to_state=target.value
        )


def check_transition(current: Role | str | None, target: Role | str) -> str:
    """The transition's name, or InvalidTransition (409 naming both states)."""
    src = Role(current) if current is not None else None
    dst = Role(target)
    name = TRANSITIONS.get((src, dst))
    if name is None:
        raise InvalidTransition(src, dst)
    return name
