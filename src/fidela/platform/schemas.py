"""API shapes of platform resources (outbox messages, health)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


class OutboxMessage(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    topic: str
    key: str
    status: str
    attempts: int
    max_attempts: int
    available_at: datetime
    expires_at: datetime | None
    last_error: str | None
    created_at: datetime
    completed_at: datetime | None
    payload: dict[str, Any]


class OutboxPage(BaseModel):
    items: list[OutboxMessage]
    next_cursor: str | None


class Readiness(BaseModel):
    status: str
    database: str
    schema_revision: str | None
    expected_revision: str | None
