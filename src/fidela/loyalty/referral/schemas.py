"""API shapes of referral programmes, codes and referrals."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

ReferralStatus = Literal["claimed", "rewarded", "held", "limit_reached", "rejected"]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ReferralProgrammeIn(_In):
    trigger: Literal["signup", "first_purchase"] = "first_purchase"
    referrer_points: int = Field(default=0, ge=0)
    referee_points: int = Field(default=0, ge=0)
    max_rewards_per_referrer: int | None = Field(default=None, ge=1)
    burst_max: int = Field(default=10, ge=1, description="Hold above this many completions…")
    burst_window_hours: int = Field(default=168, ge=1, description="…within this window")
    active: bool = True
    version: int | None = Field(default=None, description="Required to replace existing terms")


class ReferralProgramme(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    programme: str
    trigger: str
    referrer_points: int
    referee_points: int
    max_rewards_per_referrer: int | None
    burst_max: int
    burst_window_hours: int
    active: bool
    version: int
    updated_at: datetime


class ReferralCode(BaseModel):
    customer_id: int
    code: str
    link: str
    created_at: datetime


class ClaimIn(_In):
    code: str = Field(min_length=1, max_length=100)
    referee_customer_id: int
    programme: str | None = Field(default=None, max_length=64)
    source: str | None = Field(
        default=None, max_length=200, description="Where the referee came from (IP address…)"
    )


class ReviewIn(_In):
    approve: bool


class Referral(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    programme: str
    referrer_id: int
    referee_id: int
    source: str | None
    status: ReferralStatus
    reasons: list[dict[str, Any]]
    claimed_at: datetime
    completed_at: datetime | None
    referrer_points: int
    referee_points: int
    reviewed_at: datetime | None
    reviewed_by: str | None


class ReferralPage(BaseModel):
    items: list[Referral]
    next_cursor: str | None
