"""The reward catalogue, redemption on every channel, vouchers at the till, the member's
affordable rewards and vouchers, charities, donations and pledges."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from fidela.access.rules import Principal
from fidela.api.deps import DatabaseDep, NowDep, WiringDep, actor_of, scoped
from fidela.api.errors import PROBLEM_RESPONSES
from fidela.api.idempotent import IdempotencyKeyHeader, respond_once
from fidela.kernel.errors import FieldProblem, InvalidInput
from fidela.kernel.money import Money, parse_currency
from fidela.loyalty import members, programmes
from fidela.reward import charity as charity_service
from fidela.reward import service
from fidela.reward.models import RewardVoucher
from fidela.reward.schemas import (
    Affordable,
    Allocation,
    CancelIn,
    Cancellation,
    Charity,
    ConsumeIn,
    DonateIn,
    Donation,
    Pledge,
    RedeemIn,
    Redemption,
    Reward,
    StockAdjustment,
    Voucher,
    VoucherStatus,
    VoucherUse,
)
from fidela.wiring import Wiring

router = APIRouter(tags=["Rewards"], responses=PROBLEM_RESPONSES)
Read = Annotated[Principal, Depends(scoped("rewards:read"))]
Write = Annotated[Principal, Depends(scoped("rewards:write"))]
JsonForm = Annotated[
    dict[str, Any],
    Body(description="The JSON form of the entry (see docs); unknown fields are refused"),
]


def _voucher(voucher: RewardVoucher, reward_code: str, now: datetime) -> Voucher:
    return Voucher(
        code=voucher.code,
        reward_code=reward_code,
        customer_id=voucher.customer_id,
        status=service.voucher_status(voucher, now),
        issued_at=voucher.issued_at,
        expires_at=voucher.expires_at,
        used_at=voucher.used_at,
        cancelled_at=voucher.cancelled_at,
        value_minor=voucher.value_minor,
        currency=voucher.currency,
        discount_minor=voucher.discount_minor,
        used_channel=voucher.used_channel,
        used_store_id=voucher.used_store_id,
        used_order_ref=voucher.used_order_ref,
    )


def _split(payload: dict[str, Any], *names: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The envelope fields (programme, active, version) apart from the entry's JSON form."""
    return (
        {name: payload[name] for name in names if name in payload},
        {key: value for key, value in payload.items() if key not in names},
    )


def _envelope_bool(value: Any, pointer: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidInput(f"{pointer}: true or false", [FieldProblem(pointer, "true or false")])
    return value


# ------------------------------------------------------------------------------ catalogue


@router.post("/v1/rewards", status_code=201, response_model=Reward, summary="Add a reward")
def create_reward(payload: JsonForm, _: Write, database: DatabaseDep, now: NowDep) -> Reward:
    """The reward's JSON form plus ``programme`` (default ``main``) and ``active``."""
    envelope, data = _split(payload, "programme", "active")
    programme = envelope.get("programme", "main")
    if not isinstance(programme, str):
        raise InvalidInput("/programme: a string", [FieldProblem("/programme", "a string")])
    with database.write() as session:
        row = service.create_reward(
            session,
            programme=programme,
            data=data,
            active=_envelope_bool(envelope.get("active", True), "/active"),
            now=now,
        )
        return Reward.model_validate(row)


@router.get("/v1/rewards", response_model=list[Reward], summary="The catalogue")
def list_rewards(
    _: Read,
    database: DatabaseDep,
    programme: Annotated[str | None, Query(max_length=64)] = None,
    active_only: bool = False,
) -> list[Reward]:
    with database.read() as session:
        return [
            Reward.model_validate(row)
            for row in service.list_rewards(session, programme=programme, active_only=active_only)
        ]


@router.get("/v1/rewards/{code}", response_model=Reward, summary="One reward")
def get_reward(code: str, _: Read, database: DatabaseDep) -> Reward:
    with database.read() as session:
        return Reward.model_validate(service.get_reward(session, code=code))


@router.put("/v1/rewards/{code}", response_model=Reward, summary="Replace a reward's terms")
def update_reward(
    code: str, payload: JsonForm, _: Write, database: DatabaseDep, now: NowDep
) -> Reward:
    """The JSON form without ``stock``, plus ``version`` (as read: a stale one is a 409) and
    ``active``."""
    envelope, data = _split(payload, "version", "active")
    version = envelope.get("version")
    if isinstance(version, bool) or not isinstance(version, int):
        raise InvalidInput(
            "/version: the version read", [FieldProblem("/version", "required, an integer")]
        )
    with database.write() as session:
        row = service.update_reward(
            session,
            code=code,
            data=data,
            expected_version=version,
            active=_envelope_bool(envelope.get("active", True), "/active"),
            now=now,
        )
        return Reward.model_validate(row)


@router.post("/v1/rewards/{code}/stock", response_model=Reward, summary="Adjust the stock")
def adjust_stock(
    code: str, payload: StockAdjustment, _: Write, database: DatabaseDep, now: NowDep
) -> Reward:
    with database.write() as session:
        return Reward.model_validate(
            service.adjust_stock(session, code=code, delta=payload.delta, now=now)
        )


# ----------------------------------------------------------------------------- redemption


def _traits(
    session: Session,
    wiring: Wiring,
    *,
    customer_id: int,
    programme: str,
    now: datetime,
    tier: str | None,
    tags: list[str],
) -> service.MemberTraits:
    """The member's tier and its reward tags from their tier membership when the programme
    runs a ladder (the caller's ``tier`` is then ignored); otherwise the tier the caller
    resolved. Segments are always the member's own, looked up now: a caller claiming a
    segment never widens what the member sees."""
    segments = wiring.member_segments(session, customer_id, now)
    try:
        standing = members.member_tier(
            session, customer_id=customer_id, programme=programme, now=now
        )
        ladder = programmes.get_programme(session, code=programme).ladder
    except (programmes.ProgrammeNotFound, members.NoTiers):
        return service.MemberTraits(tier, segments, frozenset(tags))
    granted = (
        frozenset() if ladder is None else ladder.level(standing.tier_code).benefits.reward_tags
    )
    return service.MemberTraits(standing.tier_code, segments, frozenset(tags) | granted)


@router.post(
    "/v1/rewards/{code}/redemptions",
    status_code=201,
    response_model=Redemption,
    summary="Redeem a reward (POS, web, app, kiosk)",
)
def redeem(
    code: str,
    payload: RedeemIn,
    request: Request,
    principal: Write,
    database: DatabaseDep,
    wiring: WiringDep,
    now: NowDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> JSONResponse:
    """Spends the points (soonest-expiring lots first), takes one item of stock and issues a
    voucher code, all or nothing. Retry with the same ``Idempotency-Key``. A reward shown
    only to some segments is checked against the member's current segments."""
    with database.write() as session:

        def run() -> tuple[int, Any]:
            traits = _traits(
                session,
                wiring,
                customer_id=payload.customer_id,
                programme=service.get_reward(session, code=code).programme,
                now=now,
                tier=payload.tier,
                tags=payload.reward_tags,
            )
            done = service.redeem(
                session,
                customer_id=payload.customer_id,
                reward_code=code,
                channel=payload.channel,
                now=now,
                traits=traits,
                points=payload.points,
                store_id=payload.store_id,
                actor=actor_of(principal),
            )
            r = done.redemption
            body = Redemption(
                id=r.id,
                reward_code=done.reward.code,
                customer_id=r.customer_id,
                programme=r.programme,
                points=r.points,
                channel=r.channel,
                store_id=r.store_id,
                status=r.status,
                value_minor=r.value_minor,
                currency=r.currency,
                redeemed_at=r.redeemed_at,
                cancelled_at=r.cancelled_at,
                stock_left=done.reward.stock,
                voucher=None
                if done.voucher is None
                else _voucher(done.voucher, done.reward.code, now),
                allocations=[Allocation(lot_id=lot, points=n) for lot, n in done.allocations],
            )
            return 201, body.model_dump(mode="json")

        return respond_once(
            session,
            request,
            payload,
            principal=principal,
            key=idempotency_key,
            now=now,
            operation=run,
        )


@router.post(
    "/v1/redemptions/{redemption_id}/cancel",
    response_model=Cancellation,
    summary="Cancel a redemption",
)
def cancel(
    redemption_id: int,
    payload: CancelIn,
    request: Request,
    principal: Write,
    database: DatabaseDep,
    now: NowDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> JSONResponse:
    """The points return to the lots they came from (with their expiry), the stock gets its
    item back, the voucher is voided. A used or expired voucher cannot be cancelled."""
    with database.write() as session:

        def run() -> tuple[int, Any]:
            done = service.cancel_redemption(
                session,
                redemption_id=redemption_id,
                customer_id=payload.customer_id,
                now=now,
                actor=actor_of(principal),
            )
            body = Cancellation(
                redemption_id=done.redemption.id,
                status=done.redemption.status,
                points_restored=done.restored,
                points_expired=done.expired,
                restocked=done.restocked,
            )
            return 200, body.model_dump(mode="json")

        return respond_once(
            session,
            request,
            payload,
            principal=principal,
            key=idempotency_key,
            now=now,
            operation=run,
        )


# -------------------------------------------------------------------------------- vouchers


@router.get("/v1/vouchers/{code}", response_model=Voucher, summary="Look a voucher code up")
def lookup_voucher(code: str, _: Read, database: DatabaseDep, now: NowDep) -> Voucher:
    """Any spelling people type is accepted (case, dashes, O for 0, I or L for 1)."""
    with database.read() as session:
        voucher, reward_code = service.find_voucher(session, code=code)
        return _voucher(voucher, reward_code, now)


@router.post(
    "/v1/vouchers/{code}/consume", response_model=VoucherUse, summary="Use a voucher (one use)"
)
def consume_voucher(
    code: str,
    payload: ConsumeIn,
    request: Request,
    principal: Write,
    database: DatabaseDep,
    now: NowDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> JSONResponse:
    """With ``order_total_minor`` and ``currency`` the discount is computed (minimum and
    currency checked); without, the code is honoured as it is (free product, booking)."""
    order_total = shipping = None
    if payload.order_total_minor is not None or payload.shipping_minor is not None:
        if payload.currency is None:
            raise InvalidInput(
                "/currency: required with an order total",
                [FieldProblem("/currency", "required with order_total_minor")],
            )
        currency = parse_currency(payload.currency)
        if payload.order_total_minor is None:
            raise InvalidInput(
                "/order_total_minor: required with shipping_minor",
                [FieldProblem("/order_total_minor", "required with shipping_minor")],
            )
        order_total = Money(payload.order_total_minor, currency)
        if payload.shipping_minor is not None:
            shipping = Money(payload.shipping_minor, currency)
    with database.write() as session:

        def run() -> tuple[int, Any]:
            used = service.consume_voucher(
                session,
                code=code,
                now=now,
                channel=payload.channel,
                customer_id=payload.customer_id,
                store_id=payload.store_id,
                order_ref=payload.order_ref,
                order_total=order_total,
                shipping=shipping,
            )
            body = VoucherUse(
                voucher=_voucher(used.voucher, used.reward_code, now),
                discount_minor=None if used.discount is None else used.discount.minor,
                currency=None if used.discount is None else used.discount.currency,
            )
            return 200, body.model_dump(mode="json")

        return respond_once(
            session,
            request,
            payload,
            principal=principal,
            key=idempotency_key,
            now=now,
            operation=run,
        )


# ---------------------------------------------------------------------------------- member


@router.get(
    "/v1/members/{customer_id}/rewards/affordable",
    response_model=Affordable,
    summary="Rewards the member can redeem now",
)
def affordable(
    customer_id: int,
    _: Read,
    database: DatabaseDep,
    wiring: WiringDep,
    now: NowDep,
    programme: Annotated[str, Query(min_length=1, max_length=64)] = "main",
    tier: Annotated[str | None, Query(max_length=64)] = None,
    segment: Annotated[
        list[str] | None,
        Query(
            deprecated=True,
            description="Ignored: the member's current segments are looked up",
        ),
    ] = None,
    reward_tag: Annotated[list[str] | None, Query()] = None,
) -> Affordable:
    """Visible to the member (their current segments; ``tier`` and ``reward_tag`` as
    resolved by the caller when the programme runs no ladder), in their window, in stock,
    within the member's limits, and affordable from the spendable balance; cheapest first."""
    del segment  # accepted so that older clients are not refused; never trusted
    with database.read() as session:
        available, rows = service.affordable(
            session,
            customer_id=customer_id,
            programme=programme,
            now=now,
            traits=_traits(
                session,
                wiring,
                customer_id=customer_id,
                programme=programme,
                now=now,
                tier=tier,
                tags=reward_tag or [],
            ),
        )
        return Affordable(
            customer_id=customer_id,
            programme=programme,
            available_points=available,
            rewards=[Reward.model_validate(row) for row in rows],
        )


@router.get(
    "/v1/members/{customer_id}/vouchers",
    response_model=list[Voucher],
    summary="The member's voucher codes",
)
def member_vouchers(
    customer_id: int,
    _: Read,
    database: DatabaseDep,
    now: NowDep,
    status: VoucherStatus | None = None,
) -> list[Voucher]:
    with database.read() as session:
        return [
            _voucher(voucher, reward_code, now)
            for voucher, reward_code, _status in service.member_vouchers(
                session, customer_id=customer_id, now=now, status=status
            )
        ]


# -------------------------------------------------------------------------------- charity


def _charity(totals: charity_service.CharityTotals) -> Charity:
    row = totals.charity
    return Charity(
        code=row.code,
        name=row.name,
        currency=row.currency,
        definition=row.definition,
        donations=totals.donations,
        points_donated=totals.points,
        value_donated_minor=totals.value_minor,
        pledged_minor=totals.pledged_minor,
    )


@router.post("/v1/charities", status_code=201, response_model=Charity, summary="Add a charity")
def create_charity(payload: JsonForm, _: Write, database: DatabaseDep, now: NowDep) -> Charity:
    with database.write() as session:
        row = charity_service.create_charity(session, data=payload, now=now)
        return _charity(charity_service.charity(session, code=row.code))


@router.get("/v1/charities", response_model=list[Charity], summary="Charities and their totals")
def list_charities(_: Read, database: DatabaseDep) -> list[Charity]:
    with database.read() as session:
        return [_charity(totals) for totals in charity_service.charities(session)]


@router.get("/v1/charities/{code}", response_model=Charity, summary="One charity and its totals")
def get_charity(code: str, _: Read, database: DatabaseDep) -> Charity:
    with database.read() as session:
        return _charity(charity_service.charity(session, code=code))


@router.post(
    "/v1/charities/{code}/donations",
    status_code=201,
    response_model=Donation,
    summary="Donate points to a charity",
)
def donate(
    code: str,
    payload: DonateIn,
    request: Request,
    principal: Write,
    database: DatabaseDep,
    now: NowDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> JSONResponse:
    with database.write() as session:

        def run() -> tuple[int, Any]:
            donation = charity_service.donate(
                session,
                customer_id=payload.customer_id,
                charity_code=code,
                programme=payload.programme,
                points=payload.points,
                now=now,
                actor=actor_of(principal),
            )
            return 201, Donation.model_validate(donation).model_dump(mode="json")

        return respond_once(
            session,
            request,
            payload,
            principal=principal,
            key=idempotency_key,
            now=now,
            operation=run,
        )


@router.post(
    "/v1/charity-pledges",
    status_code=201,
    response_model=Pledge,
    summary="Pledge impact per purchase (a tree per order)",
)
def create_pledge(payload: JsonForm, _: Write, database: DatabaseDep, now: NowDep) -> Pledge:
    with database.write() as session:
        pledge = charity_service.create_pledge(session, data=payload, now=now)
        return Pledge(code=pledge.code, charity=pledge.charity_code, definition=payload)
