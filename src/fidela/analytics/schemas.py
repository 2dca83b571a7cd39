"""API shapes of analytics snapshots."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class SnapshotMeta(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    kind: str = Field(examples=["rfm"])
    as_of: str = Field(
        description="Only data before this instant counts (YYYY-MM-DD = midnight UTC)",
        examples=["2026-11-22"],
    )
    params: dict[str, Any] = Field(description="The parameters the snapshot was computed with")
    engine: str = Field(examples=["duckdb"], description="duckdb, postgres or spark")
    computed_at: datetime
    duration_ms: int
    row_count: int = Field(description="Per-customer rows stored with the snapshot (RFM)")


class Snapshot(SnapshotMeta):
    payload: dict[str, Any] = Field(
        description="The result; its `units` member states the unit of every number "
        "(money in integer minor units, rates as fractions with 6 decimals)"
    )


class SnapshotList(BaseModel):
    items: list[SnapshotMeta]


class CustomerRfm(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    customer_id: int
    as_of: str
    orders: int
    frequency: int = Field(description="Purchase days after the first")
    recency: int = Field(description="Days from the first to the last purchase day")
    age_days: int = Field(description="Days from the first purchase day to as_of")
    days_since_last: int
    total_minor: int = Field(description="Order value before as_of, integer minor units")
    repeat_value_minor: int
    r: int = Field(ge=1, le=5)
    f: int = Field(ge=1, le=5)
    m: int = Field(ge=1, le=5)
    segment: str = Field(examples=["champions"])
    value_segment: str = Field(examples=["vip"])
    preferred_channel: str | None
