"""Journey payloads of the API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class JourneyPublish(BaseModel):
    model_config = ConfigDict(extra="forbid")
    definition: dict[str, Any] = Field(description="The journey definition (JSON)")
    expected_version: int | None = Field(
        default=None, ge=0, description="The version being replaced; omit (or 0) to create"
    )
    active: bool = True


class Journey(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    code: str
    name: str
    version: int
    active: bool
    definition: dict[str, Any]
    created_at: datetime
    updated_at: datetime


class JourneyRun(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    journey_id: int
    version: int
    customer_id: int
    entry_key: str
    status: str
    step: str | None
    waiting_for: str | None
    next_wake_at: datetime | None
    history: list[dict[str, Any]]
    entered_at: datetime
    finished_at: datetime | None


class AdvisorTask(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    customer_id: int
    journey_id: int | None
    kind: str
    note: str
    status: str
    created_at: datetime
    due_at: datetime | None
