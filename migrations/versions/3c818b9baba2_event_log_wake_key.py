"""event log: wake key

An event may name the waiters it concerns (an agent's id): only that agent's long-poll is woken by it, instead
of every waiter on every event. Existing events keep no key (they wake unkeyed waiters only, as all did).

Revision ID: 3c818b9baba2
Revises: 1461f53e278c
Create Date: 2026-12-05 07:29:17.714733
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "3c818b9baba2"
down_revision: str | None = "1461f53e278c"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("event_log", schema=None) as batch_op:
        batch_op.add_column(sa.Column("wake_key", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("event_log", schema=None) as batch_op:
        batch_op.drop_column("wake_key")
