"""API shapes of segments, their members and membership history."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

_EXAMPLE_DEFINITION: dict[str, Any] = {
    "all": [
        {"fact": "profile.age", "op": "between", "value": [25, 40]},
        {
            "fact": "consent",
            "params": {"channel": "email", "purpose": "marketing"},
            "op": "eq",
            "value": True,
        },
        {"fact": "orders.count", "params": {"within_days": 90}, "op": "gte", "value": 2},
    ]
}


class SegmentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    key: str = Field(
        min_length=1,
        max_length=100,
        pattern=r"^[a-z0-9][a-z0-9_.-]*$",
        examples=["young-email-buyers"],
    )
    name: str = Field(min_length=1, max_length=200, examples=["Young email buyers"])
    description: str = Field(default="", max_length=1000)
    definition: dict[str, Any] = Field(examples=[_EXAMPLE_DEFINITION])


class SegmentUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: int = Field(ge=1, description="the version you read (compare-and-set)")
    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=1000)
    definition: dict[str, Any] | None = None


class SegmentPreviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    definition: dict[str, Any] = Field(examples=[_EXAMPLE_DEFINITION])
    as_of: AwareDatetime | None = Field(default=None, description="default: now")


class SegmentPreview(BaseModel):
    count: int
    as_of: datetime


class Segment(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    key: str
    name: str
    description: str
    definition: dict[str, Any]
    version: int
    member_count: int
    refreshed_at: datetime | None
    created_at: datetime
    updated_at: datetime


class SegmentPage(BaseModel):
    items: list[Segment]
    next_cursor: str | None


class SegmentRefresh(BaseModel):
    segment_id: int
    members: int
    entered: int
    exited: int


class Membership(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    customer_id: int
    entered_at: datetime
    exited_at: datetime | None


class MemberPage(BaseModel):
    items: list[Membership]
    next_cursor: str | None
