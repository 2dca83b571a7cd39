"""API shapes of events."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from fidela.customer.schemas import IdentitiesIn, ProfileFields


class CustomerRef(IdentitiesIn):
    """Who the event is about: a Fidela customer id, or identities to match (by the
    configured priority) or to create a profile with."""

    id: int | None = Field(default=None, description="A Fidela customer id")
    external_id: str | None = Field(
        default=None, max_length=200, description="The customer's id in this event's source"
    )
    profile: ProfileFields | None = Field(
        default=None, description="Profile data used if a new profile is created"
    )


class EventIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "type": "order.completed",
                    "source": "pos",
                    "external_id": "T-0012-000451",
                    "occurred_at": "2026-11-02T10:31:00+01:00",
                    "customer": {"card": "2900001234567"},
                    "data": {
                        "currency": "EUR",
                        "channel": "store",
                        "store_id": "S012",
                        "lines": [
                            {
                                "product_id": "P-1001",
                                "category": "shoes",
                                "quantity": 1,
                                "unit_price_minor": 8990,
                            }
                        ],
                        "payments": [{"method": "card", "amount_minor": 8990}],
                    },
                }
            ]
        },
    )

    type: str = Field(max_length=100, examples=["order.completed"])
    source: str = Field(max_length=100, examples=["pos"])
    external_id: str = Field(min_length=1, max_length=200)
    occurred_at: AwareDatetime
    customer: CustomerRef | None = None
    data: dict[str, Any] = Field(default_factory=dict)


class EventResult(BaseModel):
    event_id: int
    type: str
    source: str
    external_id: str
    customer_id: int | None
    customer_created: bool = False
    effects: dict[str, Any] = Field(default_factory=dict)
    identity_conflicts: list[dict[str, Any]] = Field(default_factory=list)
    replayed: bool = Field(default=False, description="True when this is a replay's answer")


class Problem(BaseModel):
    code: str
    title: str
    detail: str
    errors: list[dict[str, str]] = Field(default_factory=list)


class BatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    events: list[dict[str, Any]] = Field(
        description="Up to 1,000 events, each shaped like the single-event body."
    )


class BatchItem(BaseModel):
    index: int
    status: Literal["accepted", "duplicate", "rejected"]
    result: EventResult | None = None
    problem: Problem | None = None


class BatchResult(BaseModel):
    accepted: int
    duplicates: int
    rejected: int
    items: list[BatchItem]


class TimelineEntry(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    type: str
    source: str
    external_id: str
    occurred_at: datetime
    received_at: datetime
    data: dict[str, Any]


class Timeline(BaseModel):
    items: list[TimelineEntry]
    next_cursor: str | None


class EventSchemaIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "json_schema": {
                        "type": "object",
                        "properties": {
                            "workshop": {"type": "string"},
                            "seats": {"type": "integer"},
                        },
                        "required": ["workshop"],
                    },
                    "description": "Booked a workshop",
                }
            ]
        },
    )
    json_schema: dict[str, Any]
    description: str = Field(default="", max_length=500)
    version: int | None = Field(default=None, description="Compare-and-set on update")


class EventSchema(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    type: str
    json_schema: dict[str, Any]
    description: str
    version: int
    created_at: datetime
    updated_at: datetime
