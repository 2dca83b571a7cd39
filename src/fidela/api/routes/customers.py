"""Customer profiles, identities, consent, merge, GDPR rights and the timeline."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from fidela.access.rules import Principal
from fidela.api.deps import DatabaseDep, NowDep, WiringDep, actor_of, scoped
from fidela.api.errors import PROBLEM_RESPONSES
from fidela.api.idempotent import IdempotencyKeyHeader, respond_once
from fidela.api.pagination import decode_cursor, encode_cursor
from fidela.customer import consent, gdpr, merge, service
from fidela.customer.rules import IdentityKind, age_on, normalise_identity
from fidela.customer.schemas import (
    AttributeDefinition,
    AttributeDefinitionIn,
    ConsentIn,
    ConsentRecord,
    ConsentRecorded,
    ConsentState,
    Customer,
    Customer360,
    CustomerCreate,
    CustomerPage,
    CustomerUpdate,
    GdprResult,
    IdentitiesIn,
    Identity,
    MergeIn,
    MergeResult,
)
from fidela.event import service as events
from fidela.event.schemas import Timeline, TimelineEntry
from fidela.wiring import Wiring

router = APIRouter(prefix="/v1/customers", tags=["Customers"], responses=PROBLEM_RESPONSES)
attributes_router = APIRouter(
    prefix="/v1/customer-attributes", tags=["Customers"], responses=PROBLEM_RESPONSES
)
consents_router = APIRouter(prefix="/v1/consents", tags=["Customers"], responses=PROBLEM_RESPONSES)
Read = Annotated[Principal, Depends(scoped("customers:read"))]
Write = Annotated[Principal, Depends(scoped("customers:write"))]


def _customer(customer: Any, now: datetime) -> Customer:
    model = Customer.model_validate(customer)
    if customer.birth_date is not None:
        model.age = age_on(customer.birth_date, now.date())
    return model


def _view(session: Session, customer_id: int, wiring: Wiring, now: datetime) -> Customer360:
    customer = service.get_customer(session, customer_id=customer_id)
    base = _customer(customer, now).model_dump()
    return Customer360(
        **base,
        identities=[
            Identity.model_validate(i)
            for i in service.list_identities(session, customer_id=customer.id)
        ],
        consents=[
            ConsentState.model_validate(c)
            for c in consent.current_consents(session, customer_id=customer.id)
        ],
        extensions={
            name: view(session, customer.id, now) for name, view in wiring.customer_views.items()
        },
    )


@router.post("", status_code=201, response_model=Customer360, summary="Create a customer profile")
def create_customer(
    payload: CustomerCreate,
    request: Request,
    principal: Write,
    database: DatabaseDep,
    wiring: WiringDep,
    now: NowDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> JSONResponse:
    with database.write() as session:

        def create() -> tuple[int, Any]:
            identities = service.collect_identities(payload.identities, wiring.policy)
            customer = service.create_customer(
                session, fields=payload, identities=identities, now=now
            )
            for item in payload.consents:
                consent.record_consent(
                    session,
                    customer_id=customer.id,
                    channel=item.channel,
                    purpose=item.purpose,
                    granted=item.granted,
                    source=item.source,
                    now=now,
                    occurred_at=item.occurred_at,
                    wording_version=item.wording_version,
                    proof=item.proof,
                    double_opt_in=item.double_opt_in,
                )
            return 201, _view(session, customer.id, wiring, now).model_dump(mode="json")

        return respond_once(
            session,
            request,
            payload,
            principal=principal,
            key=idempotency_key,
            now=now,
            operation=create,
        )


@router.get("", response_model=CustomerPage, summary="Search customers by identity or name")
def search_customers(
    _: Read,
    database: DatabaseDep,
    wiring: WiringDep,
    now: NowDep,
    email: str | None = None,
    phone: str | None = None,
    card: str | None = None,
    device_id: str | None = None,
    external_source: str | None = None,
    external_id: str | None = None,
    name: Annotated[str | None, Query(max_length=200)] = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> CustomerPage:
    given = [
        (IdentityKind.EMAIL, email, "", "/email"),
        (IdentityKind.PHONE, phone, "", "/phone"),
        (IdentityKind.CARD, card, "", "/card"),
        (IdentityKind.DEVICE, device_id, "", "/device_id"),
        (IdentityKind.EXTERNAL, external_id, external_source or "", "/external_id"),
    ]
    identity = next(
        (
            normalise_identity(
                kind, value, namespace=ns, default_region=wiring.policy.default_region, pointer=ptr
            )
            for kind, value, ns, ptr in given
            if value
        ),
        None,
    )
    after = int(decode_cursor(cursor).get("after", 0)) if cursor else 0
    with database.read() as session:
        rows = service.search_customers(
            session, name=name, identity=identity, after_id=after, limit=limit
        )
        items = [_customer(row, now) for row in rows]
    next_cursor = encode_cursor({"after": items[-1].id}) if len(items) == limit else None
    return CustomerPage(items=items, next_cursor=next_cursor)


@router.get("/{customer_id}", response_model=Customer360, summary="Customer 360")
def get_customer(
    customer_id: int, _: Read, database: DatabaseDep, wiring: WiringDep, now: NowDep
) -> Customer360:
    """Profile, identities, current consent, and what other contexts know (extensions).
    A merged profile's id answers with its survivor."""
    with database.read() as session:
        return _view(session, customer_id, wiring, now)


@router.patch("/{customer_id}", response_model=Customer, summary="Update a profile")
def update_customer(
    customer_id: int, payload: CustomerUpdate, _: Write, database: DatabaseDep, now: NowDep
) -> Customer:
    with database.write() as session:
        customer = service.update_customer(
            session,
            customer_id=customer_id,
            fields=payload,
            expected_version=payload.version,
            now=now,
        )
        return _customer(customer, now)


@router.post("/{customer_id}/identities", response_model=list[Identity], summary="Add identities")
def add_identities(
    customer_id: int,
    payload: IdentitiesIn,
    _: Write,
    database: DatabaseDep,
    wiring: WiringDep,
    now: NowDep,
) -> list[Identity]:
    with database.write() as session:
        identities = service.collect_identities(payload, wiring.policy, pointer="")
        rows = service.add_identities(
            session, customer_id=customer_id, identities=identities, now=now
        )
        return [Identity.model_validate(row) for row in rows]


@router.get("/{customer_id}/consents", response_model=list[ConsentState], summary="Current consent")
def current_consents(customer_id: int, _: Read, database: DatabaseDep) -> list[ConsentState]:
    with database.read() as session:
        customer = service.get_customer(session, customer_id=customer_id)
        return [
            ConsentState.model_validate(c)
            for c in consent.current_consents(session, customer_id=customer.id)
        ]


@router.get(
    "/{customer_id}/consents/history", response_model=list[ConsentRecord], summary="Consent history"
)
def consent_history(customer_id: int, _: Read, database: DatabaseDep) -> list[ConsentRecord]:
    with database.read() as session:
        customer = service.get_customer(session, customer_id=customer_id)
        return [
            ConsentRecord.model_validate(c)
            for c in consent.consent_history(session, customer_id=customer.id)
        ]


@router.post(
    "/{customer_id}/consents",
    status_code=201,
    response_model=ConsentRecorded,
    summary="Record consent",
)
def record_consent(
    customer_id: int, payload: ConsentIn, _: Write, database: DatabaseDep, now: NowDep
) -> ConsentRecorded:
    with database.write() as session:
        recorded = consent.record_consent(
            session,
            customer_id=customer_id,
            channel=payload.channel,
            purpose=payload.purpose,
            granted=payload.granted,
            source=payload.source,
            now=now,
            occurred_at=payload.occurred_at,
            wording_version=payload.wording_version,
            proof=payload.proof,
            double_opt_in=payload.double_opt_in,
        )
        return ConsentRecorded(
            record=ConsentRecord.model_validate(recorded.record),
            confirmation_token=recorded.confirmation_token,
        )


class ConfirmIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    token: str = Field(min_length=10, max_length=200)
    proof: dict[str, Any] = Field(default_factory=dict, examples=[{"ip": "203.0.113.7"}])


@consents_router.post("/confirm", response_model=ConsentRecord, summary="Confirm a double opt-in")
def confirm_consent(
    payload: ConfirmIn, _: Write, database: DatabaseDep, now: NowDep
) -> ConsentRecord:
    with database.write() as session:
        return ConsentRecord.model_validate(
            consent.confirm_consent(session, token=payload.token, now=now, proof=payload.proof)
        )


@router.post(
    "/{customer_id}/merge", response_model=MergeResult, summary="Merge a profile into this one"
)
def merge_customers(
    customer_id: int,
    payload: MergeIn,
    principal: Write,
    database: DatabaseDep,
    wiring: WiringDep,
    now: NowDep,
) -> MergeResult:
    """Moves all history of ``merged_id`` here; idempotent."""
    with database.write() as session:
        record = merge.merge_customers(
            session,
            survivor_id=customer_id,
            merged_id=payload.merged_id,
            actor=actor_of(principal),
            reason=payload.reason,
            now=now,
            handlers=wiring.merge_handlers,
        )
        return MergeResult.model_validate(record)


@router.get("/{customer_id}/export", summary="GDPR export: everything held about the person")
def export_customer(
    customer_id: int, principal: Write, database: DatabaseDep, now: NowDep
) -> dict[str, Any]:
    with database.write() as session:
        return gdpr.export_customer(
            session, customer_id=customer_id, actor=actor_of(principal), now=now
        )


@router.post(
    "/{customer_id}/erase", response_model=GdprResult, summary="GDPR erasure (pseudonymisation)"
)
def erase_customer(
    customer_id: int, principal: Write, database: DatabaseDep, wiring: WiringDep, now: NowDep
) -> GdprResult:
    with database.write() as session:
        request = gdpr.erase_customer(
            session,
            customer_id=customer_id,
            actor=actor_of(principal),
            now=now,
            policy=wiring.policy,
        )
        return GdprResult.model_validate(request)


class RestrictionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    restricted: bool = True


@router.post("/{customer_id}/restriction", response_model=GdprResult, summary="Restrict profiling")
def restrict_profiling(
    customer_id: int, payload: RestrictionIn, principal: Write, database: DatabaseDep, now: NowDep
) -> GdprResult:
    with database.write() as session:
        request = gdpr.restrict_profiling(
            session,
            customer_id=customer_id,
            restricted=payload.restricted,
            actor=actor_of(principal),
            now=now,
        )
        return GdprResult.model_validate(request)


@router.get("/{customer_id}/timeline", response_model=Timeline, summary="Cross-channel timeline")
def timeline(
    customer_id: int,
    _: Read,
    database: DatabaseDep,
    types: Annotated[list[str] | None, Query(description="Only these event types")] = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> Timeline:
    before = None
    if cursor:
        position = decode_cursor(cursor)
        before = (datetime.fromisoformat(str(position["at"])), int(position["id"]))
    with database.read() as session:
        rows = events.customer_timeline(
            session, customer_id=customer_id, types=types, before=before, limit=limit
        )
        items = [TimelineEntry.model_validate(row) for row in rows]
    next_cursor = (
        encode_cursor({"at": items[-1].occurred_at.isoformat(), "id": items[-1].id})
        if len(items) == limit
        else None
    )
    return Timeline(items=items, next_cursor=next_cursor)


@attributes_router.get(
    "", response_model=list[AttributeDefinition], summary="Declared custom attributes"
)
def list_attributes(_: Read, database: DatabaseDep) -> list[AttributeDefinition]:
    with database.read() as session:
        return [AttributeDefinition.model_validate(d) for d in service.list_attributes(session)]


@attributes_router.put("", response_model=AttributeDefinition, summary="Declare a custom attribute")
def define_attribute(
    payload: AttributeDefinitionIn, _: Write, database: DatabaseDep, now: NowDep
) -> AttributeDefinition:
    with database.write() as session:
        return AttributeDefinition.model_validate(
            service.define_attribute(
                session,
                name=payload.name,
                kind=payload.type,
                description=payload.description,
                now=now,
            )
        )
