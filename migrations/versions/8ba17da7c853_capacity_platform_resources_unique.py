"""capacity: one platform resource per resource id (partial unique index)

Revision ID: 8ba17da7c853
Revises: b3f1c2d4e5a6
Create Date: 2026-12-04 22:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "8ba17da7c853"
down_revision: str | None = "b3f1c2d4e5a6"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("capacity_resources", schema=None) as batch_op:
        batch_op.create_index(
            "uq_capacity_resources_platform_resource_id",
            ["resource_id"],
            unique=True,
            sqlite_where=sa.text("client_id IS NULL"),
            postgresql_where=sa.text("client_id IS NULL"),
        )


def downgrade() -> None:
    with op.batch_alter_table("capacity_resources", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_capacity_resources_platform_resource_id",
            sqlite_where=sa.text("client_id IS NULL"),
            postgresql_where=sa.text("client_id IS NULL"),
        )
