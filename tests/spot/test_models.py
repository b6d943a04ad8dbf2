"""Database-level invariants of the spot tables (both SQLite and PostgreSQL enforce them)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from spectra.spot.models import Agent, Command, Pool, SpotInstance
from tests.factories import make_tenant


def _agent(db: Session, client_id: str, installation: str = "inst-1") -> Agent:
    agent = Agent(client_id=client_id, installation_id=installation, hostname="web-1")
    db.add(agent)
    db.flush()
    return agent


def _instance(agent: Agent, cloud_id: str, role: str) -> SpotInstance:
    return SpotInstance(client_id=agent.client_id, agent_id=agent.id, cloud_instance_id=cloud_id, role=role)


def test_one_primary_per_agent_is_enforced_by_the_database(db: Session) -> None:
    tenant = make_tenant(db)
    agent = _agent(db, tenant.id)
    db.add_all([_instance(agent, "i-1", "PRIMARY"), _instance(agent, "i-2", "REPLICA")])
    db.flush()
    with db.begin_nested():
        db.add(_instance(agent, "i-3", "PRIMARY"))
        with pytest.raises(IntegrityError):
            db.flush()


def test_many_non_primary_rows_and_primaries_of_other_agents_are_allowed(db: Session) -> None:
    tenant = make_tenant(db)
    first, second = _agent(db, tenant.id, "a"), _agent(db, tenant.id, "b")
    db.add_all(
        [
            _instance(first, "i-1", "PRIMARY"),
            _instance(first, "i-2", "ZOMBIE"),
            _instance(first, "i-3", "ZOMBIE"),
            _instance(first, "i-4", "TERMINATED"),
            _instance(second, "i-5", "PRIMARY"),
        ]
    )
    db.flush()
    assert db.query(SpotInstance).filter_by(role="PRIMARY").count() == 2


def test_unknown_role_is_refused(db: Session) -> None:
    tenant = make_tenant(db)
    agent = _agent(db, tenant.id)
    with db.begin_nested():
        db.add(_instance(agent, "i-1", "LEADER"))
        with pytest.raises(IntegrityError):
            db.flush()


def test_auto_switch_and_manual_replica_are_mutually_exclusive(db: Session) -> None:
    tenant = make_tenant(db)
    with db.begin_nested():
        db.add(Agent(client_id=tenant.id, installation_id="x", auto_switch_enabled=True, manual_replica_enabled=True))
        with pytest.raises(IntegrityError):
            db.flush()


def test_command_request_id_is_unique(db: Session) -> None:
    tenant = make_tenant(db)
    agent = _agent(db, tenant.id)
    db.add(Command(client_id=tenant.id, agent_id=agent.id, request_id="req-1", command_type="switch"))
    db.flush()
    with db.begin_nested():
        db.add(Command(client_id=tenant.id, agent_id=agent.id, request_id="req-1", command_type="switch"))
        with pytest.raises(IntegrityError):
            db.flush()


def test_pool_key_is_unique(db: Session) -> None:
    db.add(Pool(region="us-east-1", availability_zone="us-east-1a", instance_type="m5.large"))
    db.flush()
    with db.begin_nested():
        db.add(Pool(region="us-east-1", availability_zone="us-east-1a", instance_type="m5.large"))
        with pytest.raises(IntegrityError):
            db.flush()
    stored = db.query(Pool).one()
    assert stored.product_description == "Linux/UNIX"
    assert stored.created_at <= datetime.now(UTC)
