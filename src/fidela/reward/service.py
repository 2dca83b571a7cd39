"""Reward use cases: the catalogue, redemption on every channel, cancellation, vouchers at
the till, and the member's "what can I get now" list (charity is in ``reward.charity``).

Every use case runs in the caller's unit of work and reads ``now`` from it. A redemption is
one transaction: the member's ledger account is locked first (so two redemptions by one
member cannot both pass a per-member limit), then the guarded stock decrement (``UPDATE …
WHERE stock >= 1``), the redemption row, the ledger's guarded debit (which allocates the
soonest-expiring lots) and the voucher. Any refusal raises and the shell rolls back all of it.

The member's tier and segments come in as `MemberTraits`, resolved by the caller: the tier
membership is keyed by the loyalty programme, and programmes and segments sit above this
context in the layers, so the shell looks them up and hands them over (segments through the
lookup ``fidela.wiring`` provides, never from the request).
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from fidela.customer import service as customers
from fidela.kernel.errors import FieldProblem
from fidela.kernel.money import Money
from fidela.ledger import repository as ledger_repository
from fidela.ledger import service as ledger
from fidela.reward import repository
from fidela.reward.errors import (
    ChannelInvalid,
    RedemptionUnknown,
    RewardExists,
    RewardUnknown,
    RewardVersionConflict,
    StockAdjustmentInvalid,
)
from fidela.reward.models import Reward as RewardRow
from fidela.reward.models import RewardRedemption, RewardVoucher
from fidela.reward.rules import (
    InvalidReward,
    IssuedVoucher,
    MemberView,
    PastRedemption,
    RandomSource,
    RedemptionNotCancellable,
    RedemptionRecord,
    Reward,
    RewardOutOfStock,
    VoucherAlreadyUsed,
    VoucherCodesExhausted,
    VoucherIssue,
    VoucherUnknown,
    affordable_rewards,
    check_voucher_use,
    ensure_cancellable,
    issue_voucher,
    load_reward,
    plan_redemption,
    voucher_discount,
    voucher_key,
)

CHANNELS = frozenset({"store", "web", "app", "kiosk", "phone", "other"})
_VOUCHER_ATTEMPTS = 5


@dataclass(frozen=True)
class MemberTraits:
    """What visibility needs beyond the ledger: resolved by the caller from the member's own
    records (see the module doc), never from what a request claims."""

    tier_code: str | None = None
    segments: frozenset[str] = frozenset()
    reward_tags: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Redeemed:
    redemption: RewardRedemption
    reward: RewardRow
    voucher: RewardVoucher | None
    allocations: tuple[tuple[int, int], ...]  # (lot id, points) the spend drew from


@dataclass(frozen=True)
class Cancelled:
    redemption: RewardRedemption
    restored: int
    expired: int
    restocked: int


@dataclass(frozen=True)
class VoucherUse:
    voucher: RewardVoucher
    reward_code: str
    discount: Money | None


# ------------------------------------------------------------------------------ catalogue


def reward_terms(row: RewardRow) -> Reward:
    """The stored entry as the rules' `Reward`, with the live stock."""
    data = dict(row.definition)
    if row.stock is not None:
        data["stock"] = row.stock
    return load_reward(data)


def _columns(reward: Reward, definition: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": reward.name,
        "kind": reward.kind.value,
        "cost_points": reward.cost_points,
        "definition": definition,
    }


def _check_programme(programme: str) -> None:
    if not programme.strip() or len(programme) > 64:
        raise InvalidReward(
            "/programme: 1 to 64 characters", [FieldProblem("/programme", "1 to 64 characters")]
        )


def create_reward(
    session: Session, *, programme: str, data: Mapping[str, Any], active: bool, now: datetime
) -> RewardRow:
    """Add a catalogue entry from its JSON form; `InvalidReward` points at every bad field."""
    _check_programme(programme)
    reward = load_reward(data)
    definition = {key: value for key, value in data.items() if key != "stock"}
    new_id = repository.insert_reward(
        session,
        {
            "code": reward.code,
            "programme": programme,
            "stock": reward.stock,
            "active": active,
            "version": 1,
            "created_at": now,
            "updated_at": now,
            **_columns(reward, definition),
        },
    )
    if new_id is None:
        raise RewardExists(
            f"a reward '{reward.code}' exists", [FieldProblem("/code", "already used")]
        )
    return repository.get_reward(session, reward.code)


def update_reward(
    session: Session,
    *,
    code: str,
    data: Mapping[str, Any],
    expected_version: int,
    active: bool,
    now: datetime,
) -> RewardRow:
    """Replace an entry's terms if it is still at ``expected_version`` (compare-and-set).

    The stock is not part of an update: redemptions move it concurrently, so an edit based on
    an old read would resurrect sold items. Use `adjust_stock` instead.
    """
    current = repository.get_reward(session, code)
    if "stock" in data:
        raise InvalidReward(
            "/stock: adjust the stock with a delta, not in an update",
            [FieldProblem("/stock", "use the stock adjustment")],
        )
    if data.get("code", code) != code:
        raise InvalidReward("/code: the code cannot change", [FieldProblem("/code", "immutable")])
    reward = load_reward(
        {**data, "code": code, **({"stock": current.stock} if current.stock is not None else {})}
    )
    definition = {**dict(data), "code": code}
    if not repository.update_reward_if_version(
        session,
        code=code,
        version=expected_version,
        values={"active": active, "updated_at": now, **_columns(reward, definition)},
    ):
        raise RewardVersionConflict(
            f"reward '{code}' is at version {current.version}, not {expected_version}",
            [FieldProblem("/version", f"read the reward again (version {current.version})")],
        )
    return repository.get_reward(session, code)


def adjust_stock(session: Session, *, code: str, delta: int, now: datetime) -> RewardRow:
    """Add ``delta`` items or seats (negative to withdraw), never below 0 nor above an
    experience's capacity."""
    row = repository.get_reward(session, code)
    if isinstance(delta, bool) or not isinstance(delta, int) or delta == 0:
        raise StockAdjustmentInvalid(
            "/delta: a non-zero whole number", [FieldProblem("/delta", "non-zero")]
        )
    if row.stock is None:
        raise StockAdjustmentInvalid(
            f"reward '{code}' is unlimited", [FieldProblem("/delta", "the reward has no stock")]
        )
    if not repository.adjust_stock(session, code=code, delta=delta, now=now):
        raise StockAdjustmentInvalid(
            f"only {row.stock} left", [FieldProblem("/delta", f"at least -{row.stock}")]
        )
    updated = repository.get_reward(session, code)
    reward_terms(updated)  # an experience above its capacity is refused (and rolled back)
    return updated


def get_reward(session: Session, *, code: str) -> RewardRow:
    return repository.get_reward(session, code)


def list_rewards(
    session: Session, *, programme: str | None = None, active_only: bool = False
) -> list[RewardRow]:
    return repository.list_rewards(session, programme=programme, active_only=active_only)


# ----------------------------------------------------------------------------- redemption


def _member_view(
    session: Session,
    *,
    customer_id: int,
    programme: str,
    traits: MemberTraits,
    now: datetime,
    reward_id: int | None = None,
) -> MemberView:
    available = ledger.balance(
        session, customer_id=customer_id, programme=programme, now=now
    ).available
    past = repository.member_redemptions(session, customer_id=customer_id, reward_id=reward_id)
    return MemberView(
        member_id=str(customer_id),
        available_points=max(0, available),
        tier_code=traits.tier_code,
        segments=traits.segments,
        reward_tags=traits.reward_tags,
        redemptions=tuple(PastRedemption(code, at) for code, at in past),
    )


def lock_member_account(
    session: Session, *, customer_id: int, programme: str, now: datetime
) -> None:
    """Serialise one member's redemptions in a programme on their ledger account row, taken
    before the reward row everywhere, so the lock order is the same for every writer."""
    account = ledger.open_account(session, customer_id=customer_id, programme=programme, now=now)
    ledger_repository.lock_account(session, account.id)


def redeem(
    session: Session,
    *,
    customer_id: int,
    reward_code: str,
    channel: str,
    now: datetime,
    traits: MemberTraits = MemberTraits(),
    points: int | None = None,
    store_id: str | None = None,
    actor: str | None = None,
    rng: RandomSource | None = None,
) -> Redeemed:
    """Redeem ``reward_code`` for the member on ``channel`` (the same path for POS, web, app
    and kiosk), all or nothing."""
    if channel not in CHANNELS:
        raise ChannelInvalid(
            f"unknown channel '{channel}'",
            [FieldProblem("/channel", f"one of {', '.join(sorted(CHANNELS))}")],
        )
    row = repository.get_reward(session, reward_code)
    if not row.active:
        raise RewardUnknown(f"reward '{reward_code}' is withdrawn")
    customer = customers.get_customer(session, customer_id=customer_id)
    lock_member_account(session, customer_id=customer.id, programme=row.programme, now=now)
    row = repository.get_reward(session, reward_code)  # the stock as of the lock
    reward = reward_terms(row)
    member = _member_view(
        session,
        customer_id=customer.id,
        programme=row.programme,
        traits=traits,
        now=now,
        reward_id=row.id,
    )
    plan = plan_redemption(reward, member, now, rng=rng or secrets.SystemRandom(), points=points)
    if plan.stock_decrement and not repository.take_stock(session, row.id, plan.stock_decrement):
        raise RewardOutOfStock(f"{reward_code}: none left")
    ledger_ref = f"redemption:{secrets.token_hex(12)}"
    redemption = repository.add_redemption(
        session,
        {
            "reward_id": row.id,
            "customer_id": customer.id,
            "programme": row.programme,
            "points": plan.points,
            "channel": channel,
            "store_id": store_id,
            "status": "active",
            "ledger_ref": ledger_ref,
            "value_minor": None if plan.value is None else plan.value.minor,
            "currency": None if plan.value is None else plan.value.currency,
            "actor": actor,
            "redeemed_at": now,
        },
    )
    spent = ledger.spend_points(
        session,
        customer_id=customer.id,
        programme=row.programme,
        points=plan.points,
        now=now,
        ref=ledger_ref,
        reason=ledger.Reason(rule=f"reward:{reward_code}", actor=actor),
    )
    voucher = None
    if plan.voucher is not None:
        voucher = _store_voucher(
            session, reward, row, redemption, plan.voucher, plan.value, now, rng
        )
    return Redeemed(
        redemption,
        repository.get_reward_by_id(session, row.id),
        voucher,
        tuple((a.lot_id, a.points) for a in spent.allocations),
    )


def _store_voucher(
    session: Session,
    reward: Reward,
    row: RewardRow,
    redemption: RewardRedemption,
    issue: VoucherIssue,
    value: Money | None,
    now: datetime,
    rng: RandomSource | None,
) -> RewardVoucher:
    for _ in range(_VOUCHER_ATTEMPTS):
        voucher = repository.add_voucher(
            session,
            {
                "redemption_id": redemption.id,
                "reward_id": row.id,
                "customer_id": redemption.customer_id,
                "code": issue.code,
                "key": issue.key,
                "value_minor": None if value is None else value.minor,
                "currency": None if value is None else value.currency,
                "issued_at": now,
                "expires_at": issue.expires_at,
            },
        )
        if voucher is not None:
            return voucher
        # The unique key was taken by another voucher: draw again (2^40 codes for 8 chars).
        issue = issue_voucher(reward, issued_at=now, rng=rng or secrets.SystemRandom())
    raise VoucherCodesExhausted(f"{_VOUCHER_ATTEMPTS} voucher codes were all taken")


def _issued(voucher: RewardVoucher, reward_code: str) -> IssuedVoucher:
    value = (
        Money(voucher.value_minor, voucher.currency)
        if voucher.value_minor is not None and voucher.currency is not None
        else None
    )
    return IssuedVoucher(
        code=voucher.code,
        member_id=str(voucher.customer_id),
        reward_code=reward_code,
        issued_at=voucher.issued_at,
        expires_at=voucher.expires_at,
        used_at=voucher.used_at,
        cancelled_at=voucher.cancelled_at,
        value=value,
    )


def cancel_redemption(
    session: Session,
    *,
    redemption_id: int,
    now: datetime,
    customer_id: int | None = None,
    actor: str | None = None,
) -> Cancelled:
    """Cancel an unused redemption: the points go back to their original lots (with their
    own expiry), the item or seat back to stock, the voucher is voided."""
    redemption = repository.get_redemption(session, redemption_id)
    if customer_id is not None and redemption.customer_id != customer_id:
        raise RedemptionUnknown(f"no redemption {redemption_id} for customer {customer_id}")
    lock_member_account(
        session, customer_id=redemption.customer_id, programme=redemption.programme, now=now
    )
    redemption = repository.get_redemption(session, redemption_id, lock=True)
    row = repository.get_reward_by_id(session, redemption.reward_id)
    reward = reward_terms(row)
    voucher = repository.find_voucher_of(session, redemption.id)
    record = RedemptionRecord(
        reward_code=row.code,
        member_id=str(redemption.customer_id),
        points=redemption.points,
        redeemed_at=redemption.redeemed_at,
        voucher=None if voucher is None else _issued(voucher, row.code),
        cancelled_at=redemption.cancelled_at,
    )
    decision = ensure_cancellable(reward, record, now)
    if not repository.cancel_redemption_if_active(session, redemption.id, now):
        raise RedemptionNotCancellable(f"redemption {redemption_id} is already cancelled")
    restored = ledger.cancel_spend(
        session,
        customer_id=redemption.customer_id,
        programme=redemption.programme,
        ref=redemption.ledger_ref,
        now=now,
        reason=ledger.Reason(rule=f"reward:{row.code}", actor=actor),
    )
    if decision.restock:
        repository.give_back_stock(session, row.id, decision.restock)
    repository.cancel_voucher(session, redemption.id, now)
    return Cancelled(
        repository.get_redemption(session, redemption.id),
        restored.restored,
        restored.expired,
        decision.restock,
    )


# -------------------------------------------------------------------------------- vouchers


def voucher_status(voucher: RewardVoucher, now: datetime) -> str:
    if voucher.cancelled_at is not None:
        return "cancelled"
    if voucher.used_at is not None:
        return "used"
    if voucher.expires_at is not None and now >= voucher.expires_at:
        return "expired"
    return "active"


def find_voucher(session: Session, *, code: str) -> tuple[RewardVoucher, str]:
    """The voucher a typed or scanned code names (any spelling `voucher_key` accepts)."""
    voucher = repository.find_voucher_by_key(session, voucher_key(code))
    if voucher is None:
        raise VoucherUnknown(f"no voucher has the code '{code}'")
    return voucher, repository.get_reward_by_id(session, voucher.reward_id).code


def consume_voucher(
    session: Session,
    *,
    code: str,
    now: datetime,
    channel: str,
    customer_id: int | None = None,
    store_id: str | None = None,
    order_ref: str | None = None,
    order_total: Money | None = None,
    shipping: Money | None = None,
) -> VoucherUse:
    """Use a voucher once, at a till or a checkout. With ``order_total`` the discount is
    computed (currency checked, minimum checked); without, the code is simply honoured (a free
    product, a booking). ``customer_id`` None: the bearer of the code."""
    if channel not in CHANNELS:
        raise ChannelInvalid(
            f"unknown channel '{channel}'",
            [FieldProblem("/channel", f"one of {', '.join(sorted(CHANNELS))}")],
        )
    voucher = repository.find_voucher_by_key(session, voucher_key(code), lock=True)
    if voucher is None:
        raise VoucherUnknown(f"no voucher has the code '{code}'")
    reward_code = repository.get_reward_by_id(session, voucher.reward_id).code
    member = None
    if customer_id is not None:
        member = str(customers.get_customer(session, customer_id=customer_id).id)
    check_voucher_use(_issued(voucher, reward_code), code=code, now=now, member_id=member)
    discount = None
    if order_total is not None:
        row = repository.get_reward_by_id(session, voucher.reward_id)
        discount = voucher_discount(
            reward_terms(row),
            _issued(voucher, reward_code),
            order_total=order_total,
            shipping=shipping,
        )
    if not repository.use_voucher_if_unused(
        session,
        voucher.id,
        {
            "used_at": now,
            "used_channel": channel,
            "used_store_id": store_id,
            "used_order_ref": order_ref,
            "discount_minor": None if discount is None else discount.minor,
        },
    ):
        raise VoucherAlreadyUsed(f"voucher {voucher.code} was used meanwhile")
    session.refresh(voucher)
    return VoucherUse(voucher, reward_code, discount)


def member_vouchers(
    session: Session, *, customer_id: int, now: datetime, status: str | None = None
) -> list[tuple[RewardVoucher, str, str]]:
    """(voucher, reward code, status) of the member, newest first, optionally one status."""
    customer = customers.get_customer(session, customer_id=customer_id)
    rows = [
        (voucher, code, voucher_status(voucher, now))
        for voucher, code in repository.list_member_vouchers(session, customer_id=customer.id)
    ]
    return [row for row in rows if status is None or row[2] == status]


def affordable(
    session: Session,
    *,
    customer_id: int,
    programme: str,
    now: datetime,
    traits: MemberTraits = MemberTraits(),
) -> tuple[int, list[RewardRow]]:
    """The member's spendable points and the active rewards they can redeem right now
    (visible to them, in their window, in stock, within their limits, affordable)."""
    customer = customers.get_customer(session, customer_id=customer_id)
    member = _member_view(
        session, customer_id=customer.id, programme=programme, traits=traits, now=now
    )
    rows = {
        row.code: row
        for row in repository.list_rewards(session, programme=programme, active_only=True)
    }
    chosen = affordable_rewards((reward_terms(row) for row in rows.values()), member, now)
    return member.available_points, [rows[reward.code] for reward in chosen]
