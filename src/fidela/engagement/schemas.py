"""API shapes of the engagement delivery side."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from fidela.engagement.rules import Channel


class BrandKitIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200, examples=["Café Lumière"])
    logo_url: str | None = Field(default=None, max_length=1000)
    colours: dict[str, str] = Field(
        default_factory=dict, examples=[{"primary": "#c0392b", "background": "#fdf6ec"}]
    )
    fonts: dict[str, str] = Field(default_factory=dict, examples=[{"body": "Georgia, serif"}])
    tone: str = Field(default="", max_length=500)
    signature: str = Field(default="", max_length=2000)
    legal_footer: str = Field(default="", max_length=4000)
    sender_name: str = Field(default="", max_length=200)
    sender_email: str = Field(default="", max_length=320)
    expected_version: int | None = Field(default=None, description="Compare-and-set guard")


class BrandKit(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    code: str
    name: str
    logo_url: str | None
    colours: dict[str, str]
    fonts: dict[str, str]
    tone: str
    signature: str
    legal_footer: str
    sender_name: str
    sender_email: str
    version: int
    updated_at: datetime


class TemplateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(min_length=1, max_length=100, pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    channel: Channel
    language: str = Field(examples=["fr", "en"])
    subject: str = Field(default="", max_length=2000)
    body: str = Field(
        min_length=1,
        examples=[
            "<p>Bonjour {{ customer.first_name }}, vous avez {{ points.balance }} points.</p>"
        ],
    )
    text_body: str = ""
    brand_kit: str = "default"
    expected_version: int | None = None


class Template(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    code: str
    channel: str
    language: str
    subject: str
    body: str
    text_body: str
    brand_kit: str
    version: int
    updated_at: datetime


class ContentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    subject: str = ""
    body: str = Field(min_length=1)
    text_body: str = ""


class PreviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    channel: Channel
    template: str | None = Field(default=None, description="Template code")
    content: ContentIn | None = None
    customer_id: int | None = Field(default=None, description="Personalise with this customer")
    language: str | None = None
    context: dict[str, Any] = Field(default_factory=dict)


class Preview(BaseModel):
    subject: str
    text: str
    html: str | None
    language: str | None


class TestSendIn(PreviewIn):
    address: str | None = Field(
        default=None, description="Where to send (default: the customer's own address)"
    )


class MessageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    customer_id: int
    channel: Channel
    key: str = Field(min_length=1, max_length=200, description="Idempotency key of the message")
    template: str | None = None
    content: ContentIn | None = None
    context: dict[str, Any] = Field(default_factory=dict)
    deliver_at: datetime | None = None
    expires_at: datetime | None = None
    transactional: bool = False


class Message(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    key: str
    customer_id: int | None
    channel: str
    template: str | None
    state: str
    transactional: bool
    campaign_id: int | None
    journey_id: int | None
    step: str | None
    variant: str | None
    language: str | None
    subject: str | None
    attempts: int
    error: str | None
    created_at: datetime
    deliver_at: datetime
    expires_at: datetime | None
    sent_at: datetime | None


class StatsRow(BaseModel):
    group: dict[str, Any]
    counts: dict[str, int]


class Stats(BaseModel):
    conversion_window_days: int
    rows: list[StatsRow]


class ProviderEventIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: str = Field(pattern="^(delivered|bounce|complaint)$")
    message_key: str | None = None
    address: str | None = None
    permanent: bool = True


class ProviderNotificationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    events: list[ProviderEventIn] = Field(min_length=1, max_length=1000)


class ProviderNotificationResult(BaseModel):
    processed: int
    suppressed: int
    unknown_message_keys: list[str]


class SuppressionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    channel: Channel
    address: str = Field(min_length=1, max_length=320)


class Suppression(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    channel: str
    address: str
    reason: str
    customer_id: int | None
    source: str
    created_at: datetime


class InboxItem(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    message_id: int
    title: str
    body: str
    created_at: datetime
    read_at: datetime | None


class Inbox(BaseModel):
    items: list[InboxItem]
    unread: int
