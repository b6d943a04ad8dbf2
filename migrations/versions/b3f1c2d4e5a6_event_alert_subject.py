"""capacity alerts: the subject of an event alert

Revision ID: b3f1c2d4e5a6
Revises: 7a77cbcda837
Create Date: 2026-12-04 22:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b3f1c2d4e5a6"
down_revision: str | None = "7a77cbcda837"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("capacity_alerts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("subject", sa.String(length=128), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("capacity_alerts", schema=None) as batch_op:
        batch_op.drop_column("subject")
