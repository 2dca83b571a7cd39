"""Campaigns: create, schedule, plan (queue the messages), cancel, and read the results of
their A/B/n test and holdout."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse

from fidela.access.rules import Principal
from fidela.api.deps import DatabaseDep, NowDep, scoped
from fidela.api.errors import PROBLEM_RESPONSES
from fidela.api.idempotent import IdempotencyKeyHeader, respond_once
from fidela.engagement.campaigns import service
from fidela.engagement.campaigns.schemas import Campaign, CampaignCreate
from fidela.engagement.campaigns.service import CampaignSpec

router = APIRouter(prefix="/v1/campaigns", tags=["Campaigns"], responses=PROBLEM_RESPONSES)
Read = Annotated[Principal, Depends(scoped("engagement:read"))]
Write = Annotated[Principal, Depends(scoped("engagement:write"))]


def spec_of(payload: CampaignCreate) -> CampaignSpec:
    return CampaignSpec(
        code=payload.code,
        name=payload.name,
        audience=payload.audience,
        channel=payload.channel,
        template=payload.template,
        content=payload.content.model_dump() if payload.content else None,
        variants=[v.model_dump(exclude_none=True) for v in payload.variants],
        holdout_bp=payload.holdout_bp,
        send_at=payload.send_at,
        local_date=payload.local_date,
        local_time=payload.local_time,
        expires_after_hours=payload.expires_after_hours,
        transactional=payload.transactional,
    )


def _out(campaign: Any) -> dict[str, Any]:
    return Campaign.model_validate(campaign).model_dump(mode="json")


@router.post("", status_code=201, response_model=Campaign, summary="Create a campaign (draft)")
def create_campaign(
    payload: CampaignCreate,
    request: Request,
    principal: Write,
    database: DatabaseDep,
    now: NowDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> JSONResponse:
    with database.write() as session:

        def create() -> tuple[int, Any]:
            return 201, _out(service.create_campaign(session, spec=spec_of(payload), now=now))

        return respond_once(
            session,
            request,
            payload,
            principal=principal,
            key=idempotency_key,
            now=now,
            operation=create,
        )


@router.get("", response_model=list[Campaign], summary="The latest campaigns")
def list_campaigns(
    _: Read, database: DatabaseDep, limit: Annotated[int, Query(ge=1, le=200)] = 50
) -> list[dict[str, Any]]:
    with database.read() as session:
        return [_out(c) for c in service.list_campaigns(session, limit=limit)]


@router.get("/{code}", response_model=Campaign, summary="One campaign")
def get_campaign(code: str, _: Read, database: DatabaseDep) -> dict[str, Any]:
    with database.read() as session:
        return _out(service.get_campaign(session, code))


@router.post("/{code}/schedule", response_model=Campaign, summary="Plan it when its time comes")
def schedule_campaign(code: str, _: Write, database: DatabaseDep, now: NowDep) -> dict[str, Any]:
    with database.write() as session:
        return _out(service.schedule_campaign(session, code=code, now=now))


@router.post("/{code}/cancel", response_model=Campaign, summary="Cancel a draft or scheduled one")
def cancel_campaign(code: str, _: Write, database: DatabaseDep, now: NowDep) -> dict[str, Any]:
    with database.write() as session:
        return _out(service.cancel_campaign(session, code=code, now=now))


@router.post("/{code}/plan", summary="Queue the campaign's messages now")
def plan_campaign(code: str, _: Write, database: DatabaseDep, now: NowDep) -> dict[str, Any]:
    """Audience → global control group → consent and channel → quiet hours and caps in each
    recipient's timezone → A/B/n and holdout → messages queued (each waits for its own send
    time). Consent is checked again when each message is sent."""
    with database.write() as session:
        return service.plan_campaign(session, code=code, now=now).as_dict()


@router.get("/{code}/results", summary="Conversion and revenue per arm, with statistics")
def campaign_results(
    code: str,
    _: Write,
    database: DatabaseDep,
    declare_winner: bool = False,
    confidence: Annotated[float, Query(gt=0.5, lt=1)] = 0.95,
) -> dict[str, Any]:
    """Each arm against the control (the holdout, else the first variant): conversion and
    revenue per recipient, absolute and relative lift with confidence intervals, z and Welch
    tests, Bayesian chance to beat control, and a sample-ratio-mismatch check. With
    ``declare_winner`` a clear winner is recorded on the campaign."""
    with database.write() as session:
        results = service.campaign_results(
            session, code=code, declare_winner=declare_winner, confidence=confidence
        )
        return dataclasses.asdict(results)
