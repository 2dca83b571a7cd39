"""Referral: programme terms, members' codes and links, claims, and the review queue."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse

from fidela.access.rules import Principal
from fidela.api.deps import DatabaseDep, NowDep, actor_of, get_settings, scoped
from fidela.api.errors import PROBLEM_RESPONSES
from fidela.api.idempotent import IdempotencyKeyHeader, respond_once
from fidela.api.pagination import decode_cursor, encode_cursor
from fidela.loyalty.referral import service
from fidela.loyalty.referral.schemas import (
    ClaimIn,
    Referral,
    ReferralCode,
    ReferralPage,
    ReferralProgramme,
    ReferralProgrammeIn,
    ReferralStatus,
    ReviewIn,
)
from fidela.platform.settings import Settings

router = APIRouter(tags=["Referral"], responses=PROBLEM_RESPONSES)
Read = Annotated[Principal, Depends(scoped("loyalty:read"))]
Write = Annotated[Principal, Depends(scoped("loyalty:write"))]
SettingsDep = Annotated[Settings, Depends(get_settings)]


@router.put(
    "/v1/referral-programmes/{programme}",
    response_model=ReferralProgramme,
    summary="Set a programme's referral terms",
)
def configure(
    programme: str, payload: ReferralProgrammeIn, _: Write, database: DatabaseDep, now: NowDep
) -> ReferralProgramme:
    """Creates the terms, or replaces them when ``version`` is the one read (else 409)."""
    terms = service.ProgrammeTerms(
        programme=programme,
        trigger=payload.trigger,
        referrer_points=payload.referrer_points,
        referee_points=payload.referee_points,
        max_rewards_per_referrer=payload.max_rewards_per_referrer,
        burst_max=payload.burst_max,
        burst_window_hours=payload.burst_window_hours,
        active=payload.active,
    )
    with database.write() as session:
        row = service.configure_programme(
            session, terms=terms, expected_version=payload.version, now=now
        )
        return ReferralProgramme.model_validate(row)


@router.get(
    "/v1/referral-programmes/{programme}",
    response_model=ReferralProgramme,
    summary="A programme's referral terms",
)
def get_programme(programme: str, _: Read, database: DatabaseDep) -> ReferralProgramme:
    with database.read() as session:
        return ReferralProgramme.model_validate(service.get_programme(session, programme=programme))


@router.post(
    "/v1/members/{customer_id}/referral-code",
    response_model=ReferralCode,
    summary="The member's referral code and link (created on first ask)",
)
def referral_code(
    customer_id: int, _: Write, database: DatabaseDep, settings: SettingsDep, now: NowDep
) -> ReferralCode:
    with database.write() as session:
        code = service.code_for(session, customer_id=customer_id, now=now)
        return ReferralCode(
            customer_id=code.customer_id,
            code=code.code,
            link=service.link_for(code.code, settings.public_url),
            created_at=code.created_at,
        )


@router.post(
    "/v1/referrals", status_code=201, response_model=Referral, summary="Claim a referral code"
)
def claim(
    payload: ClaimIn,
    request: Request,
    principal: Write,
    database: DatabaseDep,
    now: NowDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> JSONResponse:
    """The referee came with a code (a ``customer.signed_up`` event with ``referral_code``
    does the same). Under the ``signup`` trigger the referral completes at once."""
    with database.write() as session:

        def run() -> tuple[int, Any]:
            referral = service.claim(
                session,
                code=payload.code,
                referee_id=payload.referee_customer_id,
                programme=payload.programme,
                source=payload.source,
                now=now,
            )
            session.refresh(referral)
            return 201, Referral.model_validate(referral).model_dump(mode="json")

        return respond_once(
            session,
            request,
            payload,
            principal=principal,
            key=idempotency_key,
            now=now,
            operation=run,
        )


@router.get("/v1/referrals", response_model=ReferralPage, summary="Referrals (the review queue)")
def list_referrals(
    _: Read,
    database: DatabaseDep,
    status: ReferralStatus | None = None,
    referrer_id: int | None = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> ReferralPage:
    after = int(decode_cursor(cursor).get("after", 0)) if cursor else 0
    with database.read() as session:
        items = [
            Referral.model_validate(row)
            for row in service.list_referrals(
                session, status=status, referrer_id=referrer_id, after_id=after, limit=limit
            )
        ]
    next_cursor = encode_cursor({"after": items[-1].id}) if len(items) == limit else None
    return ReferralPage(items=items, next_cursor=next_cursor)


@router.post(
    "/v1/referrals/{referral_id}/review",
    response_model=Referral,
    summary="Approve or reject a held referral",
)
def review(
    referral_id: int, payload: ReviewIn, principal: Write, database: DatabaseDep, now: NowDep
) -> Referral:
    with database.write() as session:
        referral = service.review(
            session,
            referral_id=referral_id,
            approve=payload.approve,
            actor=actor_of(principal),
            now=now,
        )
        return Referral.model_validate(referral)
