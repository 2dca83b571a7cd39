"""API shapes of API keys."""

from __future__ import annotations

from datetime import datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"name": "pos-store-12", "scopes": ["events:write", "loyalty:read"]}]
        },
    )

    name: str = Field(min_length=1, max_length=100)
    scopes: list[str] = Field(min_length=1)
    expires_at: AwareDatetime | None = None


class ApiKey(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    prefix: str = Field(description="The public part of the key, shown in listings")
    scopes: list[str]
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None


class ApiKeyIssued(ApiKey):
    token: str | None = Field(
        description="The secret key, shown once at creation; null when an idempotent replay "
        "returns the creation response again (only its hash is stored)."
    )
