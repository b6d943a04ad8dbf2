"""Latency between regions (measured or modelled)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Float, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from spectra.core.db import Base


class LatencyMetric(Base):
    """Round-trip latency from users near `from_region` to `to_region`; `source` says how it was obtained."""

    __tablename__ = "latency_metrics"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    from_region: Mapped[str] = mapped_column(String(64), index=True)
    to_region: Mapped[str] = mapped_column(String(64))
    rtt_ms: Mapped[float] = mapped_column(Float)
    source: Mapped[str] = mapped_column(String(24))  # modelled | cloudflare_radar
    measured_at: Mapped[datetime]
    details: Mapped[dict[str, Any]]

    __table_args__ = (UniqueConstraint("from_region", "to_region", "source"),)
