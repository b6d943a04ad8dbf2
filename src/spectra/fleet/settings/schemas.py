"""Settings shapes. Every key is declared here: an unknown key is a 422, not a silently stored typo."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

# Keys whose values are never returned, only whether they are set (masked).
SECRET_KEYS = frozenset(
    {
        "electricitymaps_api_key",
        "watttime_password",
        "cloudflare_api_token",
        "aws_access_key_id",
        "aws_secret_access_key",
    }
)
PROVIDERS = {"electricitymaps", "watttime", "stored"}


class GlobalSettingsIn(BaseModel):
    """Platform-wide settings (admins). A secret set to null or "" is cleared."""

    model_config = ConfigDict(extra="forbid")

    electricitymaps_api_key: str | None = Field(default=None, max_length=500)
    watttime_username: str | None = Field(default=None, max_length=200)
    watttime_password: str | None = Field(default=None, max_length=500)
    cloudflare_api_token: str | None = Field(default=None, max_length=500)
    aws_access_key_id: str | None = Field(default=None, max_length=128)
    aws_secret_access_key: str | None = Field(default=None, max_length=500)
    aws_regions: list[str] | None = Field(default=None, max_length=40, description="Regions the inventory sync reads")
    aws_inventory_client_id: str | None = Field(
        default=None, max_length=32, description="The client that owns the AWS account the inventory sync reads"
    )
    intensity_providers: list[str] | None = Field(default=None, description="Live intensity providers, in order")

    @field_validator("aws_regions")
    @classmethod
    def _regions(cls, value: list[str] | None) -> list[str] | None:
        if value is not None:
            for region in value:
                if not region or len(region) > 40 or not region.replace("-", "").isalnum():
                    raise ValueError(f"not a region code: {region!r}")
        return value

    @field_validator("intensity_providers")
    @classmethod
    def _providers(cls, value: list[str] | None) -> list[str] | None:
        if value is not None:
            unknown = [p for p in value if p not in PROVIDERS]
            if unknown:
                raise ValueError(f"unknown providers {unknown}; choose from {sorted(PROVIDERS)}")
        return value


class ClientSettingsIn(BaseModel):
    """Settings of one client."""

    model_config = ConfigDict(extra="forbid")

    scope1_co2e_kg_per_month: float | None = Field(
        default=None, ge=0, description="On-site fuel (Scope 1) per month, reported pro rata; 0 when unset"
    )
    default_utilisation: float | None = Field(
        default=None, gt=0, le=1, description="CPU utilisation assumed where no metrics exist (default 0.5)"
    )
    budget_alert_pcts: list[int] | None = Field(
        default=None, description="Budget notification thresholds in % of the budget (default 80, 100)"
    )

    @field_validator("budget_alert_pcts")
    @classmethod
    def _pcts(cls, value: list[int] | None) -> list[int] | None:
        if value is not None:
            if not value or len(value) > 5 or any(p < 1 or p > 500 for p in value):
                raise ValueError("1 to 5 thresholds between 1 and 500")
            return sorted(set(value))
        return value


class SettingsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    global_: GlobalSettingsIn | None = Field(default=None, alias="global")
    client: ClientSettingsIn | None = None


class SettingValue(BaseModel):
    value: Any = Field(description="The value; for a secret, a mask such as '••••1a2b'")
    secret: bool = False
    is_set: bool
    source: str | None = Field(description="database | environment | default | null (unset)")


class SettingsOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    client_id: str | None
    global_: dict[str, SettingValue] | None = Field(default=None, alias="global", serialization_alias="global")
    client: dict[str, SettingValue] | None = None
