"""Versioned training datasets (the v6 seed's `ml_training_datasets`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, deferred, mapped_column

from spectra.core.db import Base, TimestampMixin, UUIDPrimaryKey


class MLTrainingDataset(UUIDPrimaryKey, TimestampMixin, Base):
    """One immutable export: canonical features of every pool and bucket in a window, with lifecycle labels.

    The file itself (gzip-compressed CSV) is stored in the row, so a dataset survives restarts and backups with
    the database and its `sha256` lets a model upload say exactly what it was trained on."""

    __tablename__ = "ml_training_datasets"

    name: Mapped[str] = mapped_column(String(120))
    dataset_version: Mapped[int] = mapped_column(Integer)  # 1, 2, … per name
    window_start: Mapped[datetime]
    window_end: Mapped[datetime]
    label_horizon_hours: Mapped[int] = mapped_column(Integer)
    filters: Mapped[dict[str, Any]]
    columns: Mapped[list[Any]]
    row_count: Mapped[int] = mapped_column(Integer)
    pool_count: Mapped[int] = mapped_column(Integer)
    positive_labels: Mapped[int] = mapped_column(Integer)  # rows with an interruption within the horizon
    size_bytes: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes] = deferred(mapped_column(LargeBinary))
    created_by: Mapped[str] = mapped_column(String(80))
    notes: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (UniqueConstraint("name", "dataset_version"),)
