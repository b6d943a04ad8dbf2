"""The role table, exhaustively: every (from, to) pair is either allowed with its name or refused with 409."""

from __future__ import annotations

import itertools

import pytest

from spectra.spot.instances.state_machine import ALL_STATES, InvalidTransition, Role, check_transition

ALLOWED = {
    (None, Role.PRIMARY): "launch_primary",
    (None, Role.REPLICA): "launch_replica",
    (Role.REPLICA, Role.PRIMARY): "promote",
    (Role.PRIMARY, Role.ZOMBIE): "demote",
    (Role.PRIMARY, Role.TERMINATED): "terminate",
    (Role.REPLICA, Role.TERMINATED): "terminate",
    (Role.ZOMBIE, Role.TERMINATED): "terminate",
}
PAIRS = list(itertools.product(ALL_STATES, list(Role)))


def test_every_pair_is_covered() -> None:
    assert len(PAIRS) == 5 * 4


@pytest.mark.parametrize(("src", "dst"), PAIRS, ids=[f"{s.value if s else 'NEW'}->{d.value}" for s, d in PAIRS])
def test_transition(src: Role | None, dst: Role) -> None:
    if (src, dst) in ALLOWED:
        assert check_transition(src, dst) == ALLOWED[(src, dst)]
        assert check_transition(src.value if src else None, dst.value) == ALLOWED[(src, dst)]
    else:
        with pytest.raises(InvalidTransition) as info:
            check_transition(src, dst)
        err = info.value
        assert err.status == 409 and err.code == "invalid_transition"
        assert err.extra == {"from_state": src.value if src else "NEW", "to_state": dst.value}
        assert (src.value if src else "NEW") in err.detail and dst.value in err.detail


def test_terminated_is_final_and_zombie_never_serves_again() -> None:
    for dst in Role:
        with pytest.raises(InvalidTransition):
            check_transition(Role.TERMINATED, dst)
    with pytest.raises(InvalidTransition):
        check_transition(Role.ZOMBIE, Role.PRIMARY)
