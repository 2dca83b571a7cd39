"""The typed catalogue of events: what ``data`` each event type carries.

Money is in integer minor units (``*_minor``) with an ISO 4217 ``currency``: exact, and the
same convention as the rest of the API. Types not listed here are refused, except
``custom.*`` types, validated against the JSON schema registered for them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

Channel = Literal["store", "web", "app", "kiosk", "phone", "marketplace", "social", "other"]


class Data(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OrderLine(Data):
    line_no: int | None = Field(
        default=None, ge=1, description="Defaults to the position (1-based)"
    )
    product_id: str = Field(min_length=1, max_length=100)
    sku: str | None = Field(default=None, max_length=100)
    name: str | None = Field(default=None, max_length=300)
    category: str | None = Field(default=None, max_length=100)
    quantity: int = Field(gt=0, le=100_000)
    unit_price_minor: int = Field(ge=0)
    discount_minor: int = Field(default=0, ge=0)


class Payment(Data):
    method: Literal["card", "cash", "points", "gift_card", "voucher", "transfer", "other"]
    amount_minor: int = Field(ge=0)
    points: int | None = Field(default=None, ge=0, description="Points spent (method points)")


class OrderCompleted(Data):
    currency: str = Field(min_length=3, max_length=3, examples=["EUR"])
    channel: Channel = "store"
    store_id: str | None = Field(default=None, max_length=100)
    lines: list[OrderLine] = Field(min_length=1, max_length=500)
    shipping_minor: int = Field(default=0, ge=0)
    discount_minor: int = Field(default=0, ge=0)
    total_minor: int | None = Field(
        default=None, ge=0, description="If given, must equal lines + shipping - discount"
    )
    payments: list[Payment] = Field(default_factory=list, max_length=20)
    coupon_codes: list[str] = Field(default_factory=list, max_length=20)


class ReturnLine(Data):
    line_no: int = Field(ge=1)
    quantity: int = Field(gt=0)


class OrderReturned(Data):
    order_id: str = Field(min_length=1, max_length=200, description="The order's external id")
    order_source: str | None = Field(
        default=None, max_length=100, description="The order's source, if not this event's"
    )
    currency: str | None = Field(default=None, min_length=3, max_length=3)
    lines: list[ReturnLine] = Field(default_factory=list, max_length=500)
    amount_minor: int | None = Field(
        default=None, gt=0, description="Amount refunded, when no lines are given"
    )
    refund_method: Literal["original", "card", "points", "store_credit", "cash"] = "original"
    reason: str | None = Field(default=None, max_length=200)

    @model_validator(mode="after")
    def lines_or_amount(self) -> OrderReturned:
        if not self.lines and self.amount_minor is None:
            raise ValueError("give the returned lines or an amount_minor")
        return self


class CartLine(Data):
    product_id: str = Field(min_length=1, max_length=100)
    category: str | None = Field(default=None, max_length=100)
    quantity: int = Field(gt=0)
    unit_price_minor: int = Field(ge=0)


class CartUpdated(Data):
    cart_id: str = Field(min_length=1, max_length=200)
    currency: str = Field(min_length=3, max_length=3)
    lines: list[CartLine] = Field(default_factory=list, max_length=500)
    value_minor: int = Field(ge=0)
    channel: Channel = "web"


class CartAbandoned(CartUpdated):
    pass


class PageViewed(Data):
    url: str = Field(min_length=1, max_length=2000)
    title: str | None = Field(default=None, max_length=500)
    product_id: str | None = Field(default=None, max_length=100)
    category: str | None = Field(default=None, max_length=100)
    session_id: str | None = Field(default=None, max_length=200)
    referrer: str | None = Field(default=None, max_length=2000)
    channel: Literal["web", "app"] = "web"


class AppOpened(Data):
    platform: Literal["ios", "android", "web", "other"] = "other"
    app_version: str | None = Field(default=None, max_length=50)
    session_id: str | None = Field(default=None, max_length=200)
    first_open: bool = False


class Login(Data):
    channel: Literal["web", "app", "store", "kiosk", "phone", "other"] = "web"
    method: Literal["password", "sso", "magic_link", "passkey", "card", "other"] = "password"
    device_id: str | None = Field(default=None, max_length=200)
    ip: str | None = Field(default=None, max_length=64)
    success: bool = True


class EmailOpened(Data):
    message_id: str = Field(min_length=1, max_length=200)
    campaign_id: str | None = Field(default=None, max_length=200)


class EmailClicked(EmailOpened):
    url: str = Field(min_length=1, max_length=2000)


class ReviewPosted(Data):
    product_id: str = Field(min_length=1, max_length=100)
    rating: int = Field(ge=1, le=5)
    title: str | None = Field(default=None, max_length=300)
    body: str | None = Field(default=None, max_length=10_000)
    language: str | None = Field(default=None, max_length=8)
    order_id: str | None = Field(default=None, max_length=200)


class SocialShared(Data):
    network: str = Field(min_length=1, max_length=50, examples=["instagram"])
    url: str | None = Field(default=None, max_length=2000)
    product_id: str | None = Field(default=None, max_length=100)


class Referral(Data):
    code: str = Field(min_length=1, max_length=100)
    referrer_customer_id: int | None = None
    referee_email: str | None = Field(default=None, max_length=320)
    order_id: str | None = Field(default=None, max_length=200)


class SupportInteraction(Data):
    channel: Literal["chat", "email", "phone", "social", "store", "other"]
    topic: str = Field(min_length=1, max_length=100)
    complaint: bool = False
    response_time_seconds: int | None = Field(default=None, ge=0)
    resolved: bool | None = None
    agent: str | None = Field(default=None, max_length=100)
    notes: str | None = Field(default=None, max_length=10_000)


class SurveyAnswered(Data):
    survey: Literal["nps", "csat", "ces", "exit", "other"]
    score: int
    comment: str | None = Field(default=None, max_length=10_000)
    language: str | None = Field(default=None, max_length=8)
    survey_id: str | None = Field(default=None, max_length=200)

    @model_validator(mode="after")
    def score_in_range(self) -> SurveyAnswered:
        low, high = {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7)}.get(self.survey, (0, 100))
        if not low <= self.score <= high:
            raise ValueError(f"a {self.survey} score is between {low} and {high}")
        return self


class NewsletterChange(Data):
    list_id: str | None = Field(default=None, max_length=100)
    reason: str | None = Field(default=None, max_length=500)


class CustomerSignedUp(Data):
    channel: Channel = "web"
    referral_code: str | None = Field(default=None, max_length=100)


class EventAttended(Data):
    event_name: str = Field(min_length=1, max_length=200)
    store_id: str | None = Field(default=None, max_length=100)
    attended_at: AwareDatetime | None = None


@dataclass(frozen=True)
class EventType:
    name: str
    data: type[Data]
    requires_customer: bool
    description: str


CATALOGUE: dict[str, EventType] = {
    entry.name: entry
    for entry in (
        EventType("order.completed", OrderCompleted, False, "A purchase on any channel"),
        EventType("order.returned", OrderReturned, False, "A return or refund of an order"),
        EventType("cart.updated", CartUpdated, False, "A cart's content changed"),
        EventType("cart.abandoned", CartAbandoned, False, "A cart left without an order"),
        EventType("page.viewed", PageViewed, False, "A web or app page view"),
        EventType("app.opened", AppOpened, False, "The mobile app was opened"),
        EventType("login", Login, True, "The customer signed in"),
        EventType("email.opened", EmailOpened, True, "A marketing email was opened"),
        EventType("email.clicked", EmailClicked, True, "A link in an email was clicked"),
        EventType("review.posted", ReviewPosted, True, "A product review"),
        EventType("social.shared", SocialShared, True, "A share on a social network"),
        EventType("referral.invited", Referral, True, "A member invited someone"),
        EventType("referral.signed_up", Referral, True, "A referee signed up with a code"),
        EventType("referral.converted", Referral, True, "A referee made a first purchase"),
        EventType("support.interaction", SupportInteraction, True, "A contact with support"),
        EventType("survey.answered", SurveyAnswered, True, "An NPS, CSAT or other answer"),
        EventType("newsletter.subscribed", NewsletterChange, True, "Opted in to a newsletter"),
        EventType("newsletter.unsubscribed", NewsletterChange, True, "Left a newsletter"),
        EventType("customer.signed_up", CustomerSignedUp, True, "Joined the programme"),
        EventType("event.attended", EventAttended, True, "Attended an in-store or brand event"),
    )
}

CUSTOM_PREFIX = "custom."


def describe_catalogue() -> list[dict[str, Any]]:
    return [
        {
            "type": entry.name,
            "description": entry.description,
            "requires_customer": entry.requires_customer,
            "data_schema": entry.data.model_json_schema(),
        }
        for entry in CATALOGUE.values()
    ]
