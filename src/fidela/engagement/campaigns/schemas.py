"""Campaign payloads of the API."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class ContentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    subject: str = Field(default="", max_length=500)
    body: str = Field(min_length=1, max_length=200_000)
    text_body: str = Field(default="", max_length=200_000)


class VariantIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,49}$", examples=["a"])
    weight: int = Field(default=1, ge=1, le=10_000)
    template: str | None = Field(default=None, max_length=100)
    content: ContentIn | None = None
    channel: str | None = Field(default=None, examples=["email", "sms", "preferred"])
    offer: str | None = Field(default=None, max_length=100, examples=["SPRING10"])


class CampaignCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "code": "spring-sale",
                    "name": "Spring sale",
                    "audience": {"filters": {"country": "FR"}},
                    "channel": "preferred",
                    "variants": [
                        {"name": "a", "template": "spring-a"},
                        {"name": "b", "template": "spring-b", "offer": "SPRING10"},
                    ],
                    "holdout_bp": 1000,
                    "local_date": "2027-03-20",
                    "local_time": "10:00",
                }
            ]
        },
    )
    code: str = Field(max_length=100)
    name: str = Field(min_length=1, max_length=200)
    audience: dict[str, Any] = Field(
        description="{customer_ids: [...]} or {segment: key} or {filters: {country: FR}}"
    )
    channel: str | None = Field(default=None, description="A channel, or preferred")
    template: str | None = Field(default=None, max_length=100)
    content: ContentIn | None = None
    variants: list[VariantIn] = Field(default_factory=list, max_length=8)
    holdout_bp: int = Field(default=0, ge=0, le=9999, description="Held-out basis points")
    send_at: AwareDatetime | None = None
    local_date: date | None = None
    local_time: time | None = None
    expires_after_hours: int | None = Field(default=None, ge=1, le=24 * 30)
    transactional: bool = False


class Campaign(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    code: str
    name: str
    status: str
    channel: str | None
    audience: dict[str, Any]
    variants: list[dict[str, Any]]
    holdout_bp: int
    send_at: datetime | None
    local_date: str | None
    local_time: str | None
    expires_after_hours: int | None
    transactional: bool
    winner: str | None
    stats: dict[str, Any]
    version: int
    created_at: datetime
    updated_at: datetime
    planned_at: datetime | None
