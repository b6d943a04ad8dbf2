"""ml training datasets

Revision ID: 9f86208d9f92
Revises: 8ba17da7c853
Create Date: 2026-12-04 21:57:52.305875
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import spectra.core.db

revision: str = "9f86208d9f92"
down_revision: str | None = "8ba17da7c853"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ml_training_datasets",
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("dataset_version", sa.Integer(), nullable=False),
        sa.Column("window_start", spectra.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("window_end", spectra.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("label_horizon_hours", sa.Integer(), nullable=False),
        sa.Column(
            "filters", sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"), nullable=False
        ),
        sa.Column(
            "columns", sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"), nullable=False
        ),
        sa.Column("row_count", sa.Integer(), nullable=False),
        sa.Column("pool_count", sa.Integer(), nullable=False),
        sa.Column("positive_labels", sa.Integer(), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=True),
        sa.Column("created_by", sa.String(length=80), nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("created_at", spectra.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", spectra.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ml_training_datasets")),
        sa.UniqueConstraint("name", "dataset_version", name=op.f("uq_ml_training_datasets_name_dataset_version")),
    )


def downgrade() -> None:
    op.drop_table("ml_training_datasets")
