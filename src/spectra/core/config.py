"""One settings class for the whole product (env prefix SPECTRA_, `.env` supported)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


def _split_csv(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SPECTRA_", env_file=".env", env_file_encoding="utf-8", extra="ignore")

    # --- server and storage
    database_url: str = Field(
        default="sqlite:///./var/spectra.db",
        description="SQLAlchemy URL: sqlite:///path or postgresql+psycopg://user@host/db",
    )
    database_pool_size: int = Field(
        default=5, ge=1, description="PostgreSQL connections each process keeps open (SQLite: a local pool of 20)"
    )
    database_max_overflow: int = Field(
        default=10,
        ge=0,
        description="PostgreSQL connections a process may open beyond its pool under load. Every process (each "
        "worker, the scheduler) may hold pool + overflow + 1 (its LISTEN): keep the sum under max_connections",
    )
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    log_level: Literal["debug", "info", "warning", "error", "critical"] = "info"
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    admin_token: SecretStr | None = Field(
        default=None, description="Admin bearer token; generated and printed once when unset"
    )
    run_scheduler: bool = Field(default=True, description="Run periodic jobs inside `spectra serve`")
    scheduler_lease_seconds: int = Field(default=30, ge=5)
    idempotency_ttl_hours: int = Field(default=24, ge=1)
    event_retention_days: int = Field(default=7, ge=1)
    sse_heartbeat_seconds: float = Field(default=15.0, gt=0)
    event_watch_seconds: float = Field(
        default=1.0,
        ge=0,
        le=60,
        description="SQLite: how often a server reads the events other processes published, to wake the agents "
        "they concern; 0 turns it off (this process then wakes long-polls for its own events only)",
    )
    metrics_public: bool = Field(default=False, description="Serve /metrics without the admin token")

    # --- clock
    sim_clock_enabled: bool = Field(
        default=False, description="Use the simulated clock (advanced by POST /api/admin/tick)"
    )
    sim_clock_start: str | None = Field(
        default=None, description="ISO 8601 start of the simulated clock (default: now)"
    )
    sim_clock_speed: float = Field(
        default=0.0, ge=0, description="Initial speed of the simulated clock: 0 frozen, 1 real time, 60 fast"
    )

    # --- carbon
    csv_dir: Path = Field(default=Path("data/electricitymaps"), description="CSV files imported at seed")
    shared_data_dir: Path | None = Field(
        default=None, description="Folder of public datasets used by the demo (../shared/data if present)"
    )
    electricitymaps_api_key: SecretStr | None = None
    electricitymaps_api_url: str = "https://api.electricitymap.org/v3"
    watttime_username: str | None = None
    watttime_password: SecretStr | None = None
    watttime_api_url: str = "https://api.watttime.org"
    watttime_regions: str = Field(
        default="",
        description="Electricity Maps zone → WattTime region, e.g. US-CAL-CISO=CAISO_NORTH,US-MIDA-PJM=PJM_DC",
    )
    intensity_providers: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["electricitymaps", "watttime", "stored"]
    )
    cloudflare_api_token: SecretStr | None = None
    cloudflare_api_url: str = "https://api.cloudflare.com/client/v4"
    http_timeout_seconds: float = Field(default=10.0, gt=0)

    # --- capacity (AutoScale seed variables)
    metrics_provider: Literal["local", "aws", "gcp", "none"] = "local"
    poll_interval_minutes: int = Field(default=5, ge=1)
    threshold_cpu: float = Field(default=90.0, gt=0, le=100)
    threshold_mem: float = Field(default=90.0, gt=0, le=100)
    alert_lookahead_min: int = Field(default=60, ge=1)
    alert_cooldown_min: int = Field(default=30, ge=0)
    forecast_horizon_hours: int = Field(default=6, ge=1)
    metrics_retention_raw_days: int = Field(default=7, ge=1)
    metrics_retention_5m_days: int = Field(default=35, ge=1)
    metrics_retention_1h_days: int = Field(default=400, ge=1)
    # How often the roll-up job runs: 5-minute and hourly roll-ups trail ingest by at most this.
    metrics_rollup_interval_seconds: int = Field(default=60, ge=5, le=3600)

    # --- cloud providers
    aws_region: str = "us-east-1"
    aws_regions: Annotated[list[str], NoDecode] = Field(default_factory=list)
    aws_resource_ids: Annotated[list[str], NoDecode] = Field(default_factory=list)
    aws_access_key_id: str | None = None
    aws_secret_access_key: SecretStr | None = None
    aws_endpoint_url: str | None = Field(default=None, description="Override for tests or local clouds")
    gcp_project_id: str | None = None
    gcp_instance_ids: Annotated[list[str], NoDecode] = Field(default_factory=list)

    # --- notification channels
    slack_webhook_url: SecretStr | None = None
    smtp_host: str | None = None
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_from: str | None = None
    smtp_to: Annotated[list[str], NoDecode] = Field(default_factory=list)
    smtp_starttls: bool = True

    # --- spot
    pricing_consolidation_hours: int = Field(default=12, ge=1)
    heartbeat_interval_seconds: int = Field(default=30, ge=1)
    heartbeat_flush_seconds: float = Field(
        default=1.0,
        ge=0,
        le=60,
        description="Heartbeats are coalesced in memory and written this often; 0 writes each at once",
    )
    zombie_max_age_days: int = Field(default=30, ge=1)

    # --- demo
    demo_seed: int = 42

    @field_validator(
        "cors_origins",
        "intensity_providers",
        "aws_regions",
        "aws_resource_ids",
        "gcp_instance_ids",
        "smtp_to",
        mode="before",
    )
    @classmethod
    def _csv_lists(cls, value: object) -> object:
        return _split_csv(value)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


class ConfigError(RuntimeError):
    """A configuration value is invalid; the message names the variable."""


def load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else "?"
        raise ConfigError(
            f"invalid configuration: SPECTRA_{field.upper()}: {first['msg']} (got {first.get('input')!r})"
        ) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()


def reset_settings_cache() -> None:
    get_settings.cache_clear()
