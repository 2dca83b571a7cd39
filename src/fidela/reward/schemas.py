"""API shapes of rewards, redemptions, vouchers and charities.

Catalogue entries, charities and pledges are posted in the JSON form the rules load
(``rules.load_reward``), so their problems point into the request body as sent.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Channel = Literal["store", "web", "app", "kiosk", "phone", "other"]
VoucherStatus = Literal["active", "used", "expired", "cancelled"]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Reward(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    code: str
    programme: str
    name: str
    kind: str
    cost_points: int
    stock: int | None
    active: bool
    version: int
    definition: dict[str, Any]
    created_at: datetime
    updated_at: datetime


class StockAdjustment(_In):
    delta: int = Field(description="Items or seats to add (negative to withdraw)")


class Traits(_In):
    """Visibility inputs. ``tier`` is used only when the programme runs no tier ladder (with
    a ladder the member's tier and its reward tags come from their membership); segments are
    always the member's current ones, looked up by the platform."""

    tier: str | None = Field(default=None, max_length=64)
    segments: list[str] = Field(
        default_factory=list,
        max_length=100,
        deprecated=True,
        description="Ignored (accepted so older clients are not refused): visibility uses "
        "the member's current segments",
    )
    reward_tags: list[str] = Field(default_factory=list, max_length=100)


class RedeemIn(Traits):
    customer_id: int
    channel: Channel
    points: int | None = Field(
        default=None, ge=1, description="Pay-with-points only: the points to use"
    )
    store_id: str | None = Field(default=None, max_length=100)


class CancelIn(_In):
    customer_id: int | None = Field(default=None, description="Checked against the redemption")


class Voucher(BaseModel):
    code: str
    reward_code: str
    customer_id: int
    status: VoucherStatus
    issued_at: datetime
    expires_at: datetime | None
    used_at: datetime | None
    cancelled_at: datetime | None
    value_minor: int | None
    currency: str | None
    discount_minor: int | None
    used_channel: str | None
    used_store_id: str | None
    used_order_ref: str | None


class Allocation(BaseModel):
    lot_id: int
    points: int


class Redemption(BaseModel):
    id: int
    reward_code: str
    customer_id: int
    programme: str
    points: int
    channel: str
    store_id: str | None
    status: str
    value_minor: int | None
    currency: str | None
    redeemed_at: datetime
    cancelled_at: datetime | None
    stock_left: int | None
    voucher: Voucher | None
    allocations: list[Allocation]


class Cancellation(BaseModel):
    redemption_id: int
    status: str
    points_restored: int
    points_expired: int
    restocked: int


class ConsumeIn(_In):
    channel: Channel
    customer_id: int | None = Field(
        default=None, description="The member presenting the code; omit to honour the bearer"
    )
    store_id: str | None = Field(default=None, max_length=100)
    order_ref: str | None = Field(default=None, max_length=200)
    order_total_minor: int | None = Field(default=None, ge=0)
    shipping_minor: int | None = Field(default=None, ge=0)
    currency: str | None = Field(default=None, min_length=3, max_length=3)


class VoucherUse(BaseModel):
    voucher: Voucher
    discount_minor: int | None
    currency: str | None


class Affordable(BaseModel):
    customer_id: int
    programme: str
    available_points: int
    rewards: list[Reward]


class Charity(BaseModel):
    code: str
    name: str
    currency: str
    definition: dict[str, Any]
    donations: int
    points_donated: int
    value_donated_minor: int
    pledged_minor: int


class DonateIn(_In):
    customer_id: int
    points: int = Field(description="Points to give, on the charity's grid")
    programme: str = Field(default="main", min_length=1, max_length=64)


class Donation(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    customer_id: int
    programme: str
    points: int
    value_minor: int
    currency: str
    donated_at: datetime


class Pledge(BaseModel):
    code: str
    charity: str
    definition: dict[str, Any]
