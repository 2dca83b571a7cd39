"""API shapes of customers, identities and consent."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from fidela.customer.rules import AttributeType, ConsentChannel, ConsentPurpose

Gender = Literal["female", "male", "other", "unknown"]
ChannelPreference = Literal["email", "sms", "push", "in_app", "postal", "phone"]


class ExternalIdIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    source: str = Field(min_length=1, max_length=100, examples=["shopify"])
    id: str = Field(min_length=1, max_length=200, examples=["gid://shopify/Customer/42"])


class IdentitiesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: str | None = Field(default=None, max_length=320, examples=["jeanne.martin@example.com"])
    phone: str | None = Field(default=None, max_length=40, examples=["+33612345678"])
    card: str | None = Field(default=None, max_length=64, examples=["2900001234567"])
    device_ids: list[str] = Field(default_factory=list, max_length=20)
    external_ids: list[ExternalIdIn] = Field(default_factory=list, max_length=20)


class ProfileFields(BaseModel):
    model_config = ConfigDict(extra="forbid")
    first_name: str | None = Field(default=None, max_length=100)
    last_name: str | None = Field(default=None, max_length=100)
    gender: Gender | None = None
    birth_date: date | None = None
    city: str | None = Field(default=None, max_length=100)
    country: str | None = Field(default=None, pattern=r"^[A-Z]{2}$", examples=["FR"])
    language: str | None = Field(default=None, examples=["fr"])
    timezone: str | None = Field(default=None, examples=["Europe/Paris"])
    preferred_channel: ChannelPreference | None = None
    signup_at: AwareDatetime | None = None
    signup_channel: str | None = Field(default=None, max_length=32, examples=["store"])
    tags: dict[str, list[str]] | None = Field(
        default=None, examples=[{"interests": ["running", "coffee"], "motivations": ["price"]}]
    )
    attributes: dict[str, Any] | None = None
    last_device: str | None = Field(default=None, max_length=200)
    last_store_id: str | None = Field(default=None, max_length=100)
    last_location: str | None = Field(default=None, max_length=200)


class ConsentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    channel: ConsentChannel
    purpose: ConsentPurpose
    granted: bool
    source: str = Field(min_length=1, max_length=100, examples=["web-signup-form"])
    occurred_at: AwareDatetime | None = None
    wording_version: str | None = Field(default=None, max_length=100, examples=["2026-09-v3"])
    proof: dict[str, Any] = Field(default_factory=dict, examples=[{"ip": "203.0.113.7"}])
    double_opt_in: bool = False


class CustomerCreate(ProfileFields):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "first_name": "Jeanne",
                    "last_name": "Martin",
                    "language": "fr",
                    "timezone": "Europe/Paris",
                    "identities": {"email": "jeanne.martin@example.com", "phone": "+33612345678"},
                    "consents": [
                        {
                            "channel": "email",
                            "purpose": "marketing",
                            "granted": True,
                            "source": "web-signup-form",
                            "wording_version": "2026-09-v3",
                        }
                    ],
                }
            ]
        },
    )
    identities: IdentitiesIn = Field(default_factory=IdentitiesIn)
    consents: list[ConsentIn] = Field(default_factory=list)


class CustomerUpdate(ProfileFields):
    version: int | None = Field(
        default=None,
        description="If given, the update applies only to this version (409 otherwise).",
    )


class Identity(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    kind: str
    namespace: str
    value: str
    verified: bool
    created_at: datetime


class ConsentState(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    channel: str
    purpose: str
    status: str
    since: datetime


class ConsentRecord(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    channel: str
    purpose: str
    status: str
    source: str
    wording_version: str | None
    proof: dict[str, Any]
    occurred_at: datetime
    recorded_at: datetime


class ConsentRecorded(BaseModel):
    record: ConsentRecord
    confirmation_token: str | None = Field(
        default=None,
        description="Double opt-in: send this token to the person (confirmation link); "
        "POST it to /v1/consents/confirm. Shown once.",
    )


class Customer(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    status: str
    merged_into_id: int | None
    first_name: str | None
    last_name: str | None
    gender: str | None
    birth_date: date | None
    age: int | None = None
    city: str | None
    country: str | None
    language: str | None
    timezone: str | None
    preferred_channel: str | None
    signup_at: datetime | None
    signup_channel: str | None
    tags: dict[str, list[str]]
    attributes: dict[str, Any]
    last_device: str | None
    last_store_id: str | None
    last_location: str | None
    profiling_restricted: bool
    created_at: datetime
    updated_at: datetime
    version: int


class Customer360(Customer):
    identities: list[Identity]
    consents: list[ConsentState]
    extensions: dict[str, Any] = Field(
        default_factory=dict,
        description="What other contexts know: loyalty, segments, scores... one key each.",
    )


class CustomerPage(BaseModel):
    items: list[Customer]
    next_cursor: str | None


class AttributeDefinitionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(examples=["shoe_size"])
    type: AttributeType
    description: str = Field(default="", max_length=500)


class AttributeDefinition(AttributeDefinitionIn):
    model_config = ConfigDict(from_attributes=True)
    created_at: datetime


class MergeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    merged_id: int = Field(description="The profile merged into the one in the path.")
    reason: str = Field(default="", max_length=500)


class MergeResult(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    survivor_id: int
    merged_id: int
    actor: str
    reason: str
    moved: dict[str, int]
    merged_at: datetime


class GdprResult(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    customer_id: int
    kind: str
    actor: str
    requested_at: datetime
    completed_at: datetime | None
    details: dict[str, Any]
