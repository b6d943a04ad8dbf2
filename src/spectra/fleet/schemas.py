"""Fleet request/response shapes."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class ClientCreate(BaseModel):
    name: str = Field(min_length=1, max_length=120)
    email: str | None = Field(default=None, max_length=200)
    teams: list[str] = Field(default_factory=list, description="Teams to create with the client")


class ClientOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    email: str | None
    status: str
    token_prefix: str
    token_created_at: datetime
    created_at: datetime
    version: int


class ClientUpdate(BaseModel):
    version: int = Field(description="The version you read; a stale one is refused with 409")
    email: str | None = Field(default=None, max_length=200)
    status: str | None = Field(default=None, pattern="^(active|suspended)$")


class ClientWithToken(ClientOut):
    token: str = Field(description="Shown once; Spectra keeps only its hash")


class TokenInfo(BaseModel):
    client_id: str
    token_prefix: str
    token_created_at: datetime
    revealable: bool = False
    detail: str = "Tokens are stored hashed and cannot be shown again; regenerate to get a new one."


class ClientValidation(BaseModel):
    valid: bool
    client_id: str
    name: str
    status: str


class TeamIn(BaseModel):
    name: str = Field(min_length=1, max_length=120)
    cost_center: str | None = Field(default=None, max_length=60)


class TeamUpdate(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=120)
    cost_center: str | None = Field(default=None, max_length=60)


class TeamOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    client_id: str
    name: str
    cost_center: str | None
    created_at: datetime
