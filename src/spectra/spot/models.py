"""Every ORM model of the spot domain: agents, instances (the PRIMARY/REPLICA/ZOMBIE/TERMINATED state machine),
pools, commands, switch events, replicas, notifications, plus the price tiers and the model registry."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, CheckConstraint, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from spectra.core.db import Base, TimestampMixin, UUIDPrimaryKey, VersionMixin
from spectra.spot.agents.models import SpotActivity
from spectra.spot.decisions.models import MLDecision, MLModel
from spectra.spot.emergency.models import EmergencyEvent
from spectra.spot.notifications.models import PricingAlertRule
from spectra.spot.pricing.models import (
    ConsolidationJob,
    OnDemandPrice,
    PricingCanonical,
    PricingConsolidated,
    SpotAdvisorEntry,
    SpotPriceSnapshot,
)
from spectra.spot.training.models import MLTrainingDataset

INSTANCE_ROLES = ("PRIMARY", "REPLICA", "ZOMBIE", "TERMINATED")


class Pool(UUIDPrimaryKey, TimestampMixin, Base):
    """A spot capacity pool: one instance type in one availability zone for one product (OS)."""

    __tablename__ = "spot_pools"

    region: Mapped[str] = mapped_column(String(32), index=True)
    availability_zone: Mapped[str] = mapped_column(String(40))  # name (us-east-1f) or, from some exports, an AZ id
    instance_type: Mapped[str] = mapped_column(String(40), index=True)
    product_description: Mapped[str] = mapped_column(String(60), default="Linux/UNIX")
    on_demand_price: Mapped[float | None] = mapped_column(Float)  # USD/h, same region, type and OS
    interruption_bucket: Mapped[int | None] = mapped_column(Integer)  # Spot Advisor range index
    savings_pct: Mapped[int | None] = mapped_column(Integer)  # Spot Advisor savings vs on-demand
    boot_seconds_p50: Mapped[float | None] = mapped_column(Float)  # measured from replica/switch boots
    latest_price: Mapped[float | None] = mapped_column(Float)
    latest_price_at: Mapped[datetime | None]

    __table_args__ = (UniqueConstraint("region", "availability_zone", "instance_type", "product_description"),)


class Agent(UUIDPrimaryKey, TimestampMixin, VersionMixin, Base):
    """One agent installation. A re-installation registers again and gets a new id (v6 invariant)."""

    __tablename__ = "spot_agents"

    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    installation_id: Mapped[str] = mapped_column(String(64))
    logical_name: Mapped[str | None] = mapped_column(String(120))  # survives re-installation (hostname, tag)
    hostname: Mapped[str | None] = mapped_column(String(255))
    agent_version: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="online")  # online | stale | offline | deleted
    region: Mapped[str | None] = mapped_column(String(32))
    availability_zone: Mapped[str | None] = mapped_column(String(40))
    instance_type: Mapped[str | None] = mapped_column(String(40))
    product_description: Mapped[str] = mapped_column(String(60), default="Linux/UNIX")
    auto_switch_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    manual_replica_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    auto_terminate_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    terminate_wait_seconds: Mapped[int] = mapped_column(Integer, default=300)
    heartbeat_interval_seconds: Mapped[int] = mapped_column(Integer, default=30)
    last_heartbeat_at: Mapped[datetime | None]
    heartbeats_received: Mapped[int] = mapped_column(Integer, default=0)
    heartbeats_missed: Mapped[int] = mapped_column(Integer, default=0)
    config: Mapped[dict[str, Any] | None]

    __table_args__ = (
        UniqueConstraint("client_id", "installation_id"),
        # v6: manual replica mode and auto-switch are mutually exclusive.
        CheckConstraint("NOT (auto_switch_enabled AND manual_replica_enabled)", name="auto_switch_xor_replica"),
    )


class SpotInstance(UUIDPrimaryKey, TimestampMixin, VersionMixin, Base):
    """A cloud instance an agent runs on or manages; `role` is the v6 state machine."""

    __tablename__ = "spot_instances"

    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    agent_id: Mapped[str] = mapped_column(ForeignKey("spot_agents.id", ondelete="CASCADE"), index=True)
    cloud_instance_id: Mapped[str] = mapped_column(String(64), index=True)  # i-0abc…
    role: Mapped[str] = mapped_column(String(16), default="PRIMARY")  # PRIMARY | REPLICA | ZOMBIE | TERMINATED
    lifecycle: Mapped[str] = mapped_column(String(16), default="spot")  # spot | on_demand
    pool_id: Mapped[str | None] = mapped_column(ForeignKey("spot_pools.id", ondelete="SET NULL"), index=True)
    region: Mapped[str | None] = mapped_column(String(32))
    availability_zone: Mapped[str | None] = mapped_column(String(40))
    instance_type: Mapped[str | None] = mapped_column(String(40))
    launched_at: Mapped[datetime | None]
    role_changed_at: Mapped[datetime | None]
    terminated_at: Mapped[datetime | None]
    # The one stretch this instance served as PRIMARY (savings are measured against it).
    primary_since: Mapped[datetime | None]
    primary_until: Mapped[datetime | None]
    # Emergency tracking (v6): which notice is active, when the cloud will reclaim, where a replica boots fastest.
    notice_status: Mapped[str] = mapped_column(String(16), default="none")  # none | rebalance | termination
    notice_received_at: Mapped[datetime | None]
    notice_deadline: Mapped[datetime | None]
    fastest_boot_pool_id: Mapped[str | None] = mapped_column(String(32))
    spot_price: Mapped[float | None] = mapped_column(Float)
    on_demand_price: Mapped[float | None] = mapped_column(Float)
    power_watts: Mapped[float | None] = mapped_column(Float)
    tags: Mapped[dict[str, Any] | None]

    __table_args__ = (
        CheckConstraint("role IN ('PRIMARY', 'REPLICA', 'ZOMBIE', 'TERMINATED')", name="role_valid"),
        # Exactly one PRIMARY per agent: a partial unique index, enforced by both databases.
        Index(
            "uq_spot_instances_one_primary_per_agent",
            "agent_id",
            unique=True,
            sqlite_where=text("role = 'PRIMARY'"),
            postgresql_where=text("role = 'PRIMARY'"),
        ),
        UniqueConstraint("agent_id", "cloud_instance_id"),
    )


class Command(UUIDPrimaryKey, TimestampMixin, VersionMixin, Base):
    """An instruction queued for an agent; `request_id` makes issuing it idempotent at the database level."""

    __tablename__ = "spot_commands"

    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    agent_id: Mapped[str] = mapped_column(ForeignKey("spot_agents.id", ondelete="CASCADE"))
    instance_id: Mapped[str | None] = mapped_column(String(32))
    request_id: Mapped[str] = mapped_column(String(128), unique=True)
    # switch | create_replica | promote_replica | terminate | fallback_on_demand | return_to_spot | cleanup,
    # and on the carbon domain's request: migrate | resize | stop
    command_type: Mapped[str] = mapped_column(String(32))
    target_pool_id: Mapped[str | None] = mapped_column(String(32))
    target_mode: Mapped[str | None] = mapped_column(String(16))  # spot | on_demand
    payload: Mapped[dict[str, Any] | None]
    # pending | delivered | executed | failed | expired | cancelled
    status: Mapped[str] = mapped_column(String(16), default="pending")
    priority: Mapped[int] = mapped_column(Integer, default=50)  # emergency commands jump the queue
    issued_by: Mapped[str] = mapped_column(String(16), default="user")  # user | engine | emergency | admin | carbon
    delivered_at: Mapped[datetime | None]
    executed_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
    result: Mapped[dict[str, Any] | None]

    __table_args__ = (Index("ix_spot_commands_agent_status", "agent_id", "status", "priority"),)


class SwitchEvent(UUIDPrimaryKey, TimestampMixin, Base):
    """One completed (or failed) move of an agent's workload between pools or to/from on-demand."""

    __tablename__ = "spot_switch_events"

    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    agent_id: Mapped[str] = mapped_column(ForeignKey("spot_agents.id", ondelete="CASCADE"), index=True)
    command_id: Mapped[str | None] = mapped_column(String(32))
    request_id: Mapped[str | None] = mapped_column(String(128), unique=True)
    trigger: Mapped[str] = mapped_column(String(24))  # manual | engine | rebalance | termination | fallback
    old_instance_id: Mapped[str | None] = mapped_column(String(64))
    new_instance_id: Mapped[str | None] = mapped_column(String(64))
    from_pool_id: Mapped[str | None] = mapped_column(String(32))
    to_pool_id: Mapped[str | None] = mapped_column(String(32))
    from_mode: Mapped[str | None] = mapped_column(String(16))  # spot | on_demand
    to_mode: Mapped[str | None] = mapped_column(String(16))
    old_price: Mapped[float | None] = mapped_column(Float)
    new_price: Mapped[float | None] = mapped_column(Float)
    on_demand_price: Mapped[float | None] = mapped_column(Float)
    savings_per_hour: Mapped[float | None] = mapped_column(Float)
    downtime_seconds: Mapped[float | None] = mapped_column(Float)
    success: Mapped[bool] = mapped_column(Boolean, default=True)
    started_at: Mapped[datetime]
    completed_at: Mapped[datetime | None]
    user_id: Mapped[str | None] = mapped_column(String(80))
    pre_state: Mapped[dict[str, Any] | None]
    post_state: Mapped[dict[str, Any] | None]

    __table_args__ = (Index("ix_spot_switch_events_client_time", "client_id", "started_at"),)


class Replica(UUIDPrimaryKey, TimestampMixin, VersionMixin, Base):
    """A standby copy of an agent's PRIMARY: manual, policy-kept or created in an emergency."""

    __tablename__ = "spot_replicas"

    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    agent_id: Mapped[str] = mapped_column(ForeignKey("spot_agents.id", ondelete="CASCADE"), index=True)
    primary_instance_id: Mapped[str | None] = mapped_column(String(32))
    instance_id: Mapped[str | None] = mapped_column(String(32))  # SpotInstance row once it has booted
    pool_id: Mapped[str | None] = mapped_column(String(32))
    request_id: Mapped[str | None] = mapped_column(String(128), unique=True)
    kind: Mapped[str] = mapped_column(String(16), default="manual")  # manual | policy | emergency
    # launching | syncing | ready | promoted | terminated | failed
    status: Mapped[str] = mapped_column(String(16), default="launching")
    requested_at: Mapped[datetime]
    ready_at: Mapped[datetime | None]
    promoted_at: Mapped[datetime | None]
    terminated_at: Mapped[datetime | None]
    boot_seconds: Mapped[float | None] = mapped_column(Float)
    hourly_cost: Mapped[float | None] = mapped_column(Float)


class Notification(UUIDPrimaryKey, TimestampMixin, Base):
    """A message for a client's users (client_id set) or for the operators (client_id NULL)."""

    __tablename__ = "notifications"

    client_id: Mapped[str | None] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(40))  # switch | emergency | pricing_alert | agent_offline | ...
    severity: Mapped[str] = mapped_column(String(12), default="info")  # info | warning | critical
    title: Mapped[str] = mapped_column(String(200))
    message: Mapped[str] = mapped_column(Text)
    entity_type: Mapped[str | None] = mapped_column(String(40))
    entity_id: Mapped[str | None] = mapped_column(String(64))
    data: Mapped[dict[str, Any] | None]
    read_at: Mapped[datetime | None]

    __table_args__ = (Index("ix_notifications_client_read", "client_id", "read_at"),)


__all__ = [
    "INSTANCE_ROLES",
    "Agent",
    "Command",
    "ConsolidationJob",
    "EmergencyEvent",
    "MLDecision",
    "MLModel",
    "MLTrainingDataset",
    "Notification",
    "OnDemandPrice",
    "Pool",
    "PricingAlertRule",
    "PricingCanonical",
    "PricingConsolidated",
    "Replica",
    "SpotActivity",
    "SpotAdvisorEntry",
    "SpotInstance",
    "SpotPriceSnapshot",
    "SwitchEvent",
]
