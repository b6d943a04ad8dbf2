"""Notifications (list, read) and pricing alert rules evaluated on every price report."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from spectra.core.auth import Caller
from spectra.core.errors import NotFound, Unprocessable
from spectra.spot.models import Notification, Pool, PricingAlertRule
from spectra.spot.notifications.schemas import AlertRuleIn


def _visible(caller: Caller) -> Any:
    # Clients see their own; operators see every client's and the operator-only ones (client_id NULL).
    return True if caller.is_admin else Notification.client_id == caller.client_id


def list_notifications(session: Session, caller: Caller, unread_only: bool, limit: int) -> list[Notification]:
    stmt = select(Notification).where(_visible(caller)).order_by(Notification.created_at.desc()).limit(limit)
    if unread_only:
        stmt = stmt.where(Notification.read_at.is_(None))
    return list(session.scalars(stmt))


def mark_read(session: Session, caller: Caller, notification_id: str, now: datetime) -> Notification:
    row = session.get(Notification, notification_id)
    if row is None or (not caller.is_admin and row.client_id != caller.client_id):
        raise NotFound("notification not found")
    if row.read_at is None:
        row.read_at = now
        session.flush()
    return row


def mark_all_read(session: Session, caller: Caller, now: datetime) -> int:
    stmt = update(Notification).where(Notification.read_at.is_(None)).values(read_at=now)
    if not caller.is_admin:
        stmt = stmt.where(Notification.client_id == caller.client_id)
    result = session.execute(stmt.execution_options(synchronize_session=False))
    return int(getattr(result, "rowcount", 0) or 0)


def create_rule(session: Session, client_id: str, body: AlertRuleIn) -> PricingAlertRule:
    if body.threshold_price is None and body.threshold_pct_of_on_demand is None:
        raise Unprocessable(
            "give threshold_price or threshold_pct_of_on_demand",
            [{"field": "threshold_price", "msg": "one threshold is required"}],
        )
    rule = PricingAlertRule(client_id=client_id, **body.model_dump())
    session.add(rule)
    session.flush()
    return rule


def list_rules(session: Session, client_id: str) -> list[PricingAlertRule]:
    return list(session.scalars(select(PricingAlertRule).where(PricingAlertRule.client_id == client_id)))


def _matches(rule: PricingAlertRule, pool: Pool) -> bool:
    return (
        (rule.pool_id is None or rule.pool_id == pool.id)
        and (rule.instance_type is None or rule.instance_type == pool.instance_type)
        and (rule.region is None or rule.region == pool.region)
        and (rule.availability_zone is None or rule.availability_zone == pool.availability_zone)
    )


def _crossed(rule: PricingAlertRule, pool: Pool) -> float | None:
    """The threshold the pool's latest price crossed, or None."""
    price = pool.latest_price
    if price is None:
        return None
    threshold = rule.threshold_price
    if threshold is None and rule.threshold_pct_of_on_demand is not None and pool.on_demand_price:
        threshold = pool.on_demand_price * rule.threshold_pct_of_on_demand / 100
    if threshold is None:
        return None
    hit = price > threshold if rule.direction == "above" else price < threshold
    return threshold if hit else None


def evaluate_price_alerts(session: Session, pools: list[Pool], now: datetime) -> int:
    if not pools:
        return 0
    rules = list(session.scalars(select(PricingAlertRule).where(PricingAlertRule.enabled.is_(True))))
    fired = 0
    for rule in rules:
        if rule.last_triggered_at is not None and rule.last_triggered_at > now - timedelta(
            minutes=rule.cooldown_minutes
        ):
            continue
        for pool in pools:
            if not _matches(rule, pool):
                continue
            threshold = _crossed(rule, pool)
            if threshold is None:
                continue
            session.add(
                Notification(
                    client_id=rule.client_id,
                    kind="pricing_alert",
                    severity="warning" if rule.direction == "above" else "info",
                    title=f"{pool.instance_type} in {pool.availability_zone} is {rule.direction} {threshold:.4f} USD/h",
                    message=f"Rule '{rule.name}': spot price {pool.latest_price:.4f} USD/h at "
                    f"{pool.latest_price_at.isoformat() if pool.latest_price_at else 'now'}.",
                    entity_type="spot_pool",
                    entity_id=pool.id,
                    data={"rule_id": rule.id, "price": pool.latest_price, "threshold": threshold},
                )
            )
            rule.last_triggered_at = now
            fired += 1
            break
    return fired
