"""Voucher codes: generation, the lookup key, use validation and the discount on an order.

Codes use Crockford's base32 alphabet (digits and upper-case letters without I, L, O, U), so a
code read aloud or typed from a receipt has no ambiguous character, and `voucher_key` maps what
people type anyway (``o`` for ``0``, ``l`` or ``i`` for ``1``, spaces, dashes) onto one key.
The key, not the display code, is what the database keeps unique and looks up.
"""

from __future__ import annotations

from collections.abc import Container
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from typing import Protocol

from fidela.kernel.money import CurrencyMismatch, Money
from fidela.reward.rules.catalogue import (
    Experience,
    FixedValue,
    FreeShipping,
    PercentOff,
    PointsToMoney,
    Reward,
    VoucherSpec,
)
from fidela.reward.rules.errors import (
    VoucherAlreadyUsed,
    VoucherCancelled,
    VoucherCodesExhausted,
    VoucherExpired,
    VoucherMinimumNotMet,
    VoucherNotApplicable,
    VoucherUnknown,
    VoucherWrongMember,
)

CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # 32 symbols: 5 random bits each
_TYPED_FOR = str.maketrans({"O": "0", "I": "1", "L": "1"})
_GROUP = 4
_ATTEMPTS = 10


class RandomSource(Protocol):
    """``secrets.SystemRandom()`` in production, a seeded ``random.Random`` in tests."""

    def getrandbits(self, k: int, /) -> int: ...


@dataclass(frozen=True)
class VoucherIssue:
    code: str  # as shown to the member: PREFIX-XXXX-XXXX
    key: str  # what the database keeps unique
    expires_at: datetime | None  # exclusive


@dataclass(frozen=True)
class IssuedVoucher:
    """A voucher as stored. ``value`` is the money fixed at redemption (pay-with-points)."""

    code: str
    member_id: str
    reward_code: str
    issued_at: datetime
    expires_at: datetime | None = None
    used_at: datetime | None = None
    cancelled_at: datetime | None = None
    value: Money | None = None

    @property
    def key(self) -> str:
        return voucher_key(self.code)


def voucher_key(code: str) -> str:
    """The canonical form of a typed code: upper-case, separators dropped, O -> 0, I/L -> 1."""
    return "".join(char for char in code.upper() if char.isalnum()).translate(_TYPED_FOR)


def generate_voucher_code(
    spec: VoucherSpec, rng: RandomSource, taken: Container[str] = frozenset()
) -> str:
    """A new code whose key is not in ``taken`` (keys already issued, when the caller knows).

    ``getrandbits(5)`` indexes the 32-symbol alphabet exactly, so every symbol is equally
    likely (no modulo bias).
    """
    for _ in range(_ATTEMPTS):
        body = "".join(CODE_ALPHABET[rng.getrandbits(5)] for _ in range(spec.length))
        groups = [body[i : i + _GROUP] for i in range(0, len(body), _GROUP)]
        code = "-".join([spec.prefix, *groups] if spec.prefix else groups)
        if voucher_key(code) not in taken:
            return code
    raise VoucherCodesExhausted(f"{_ATTEMPTS} generated codes were all taken")


def issue_voucher(
    reward: Reward, *, issued_at: datetime, rng: RandomSource, taken: Container[str] = frozenset()
) -> VoucherIssue:
    """The code a redemption hands out, expiring ``valid_days`` after issue, or when the
    experience ends."""
    spec = reward.voucher or VoucherSpec()
    code = generate_voucher_code(spec, rng, taken)
    if isinstance(reward.terms, Experience):
        expires_at: datetime | None = reward.terms.ends_at
    elif spec.valid_days is not None:
        expires_at = issued_at + timedelta(days=spec.valid_days)
    else:
        expires_at = None
    return VoucherIssue(code, voucher_key(code), expires_at)


def check_voucher_use(
    voucher: IssuedVoucher | None, *, code: str, now: datetime, member_id: str | None = None
) -> IssuedVoucher:
    """The voucher found for ``code``, if it may be used now; otherwise the reason, raised.

    ``member_id`` None means "the bearer": the till scanned the code without identifying the
    member, and the code itself is the proof. Order: unknown, wrong member, cancelled, used,
    expired; an expired voucher that was used reports "used", the more useful fact.
    """
    if voucher is None or voucher.key != voucher_key(code):
        raise VoucherUnknown(f"no voucher has the code '{code}'")
    if member_id is not None and voucher.member_id != member_id:
        raise VoucherWrongMember(f"voucher {voucher.code} belongs to another member")
    if voucher.cancelled_at is not None:
        raise VoucherCancelled(f"voucher {voucher.code} was cancelled on {voucher.cancelled_at}")
    if voucher.used_at is not None:
        raise VoucherAlreadyUsed(f"voucher {voucher.code} was used on {voucher.used_at}")
    if voucher.expires_at is not None and now >= voucher.expires_at:
        raise VoucherExpired(f"voucher {voucher.code} expired on {voucher.expires_at}")
    return voucher


def voucher_discount(
    reward: Reward,
    voucher: IssuedVoucher,
    *,
    order_total: Money,
    shipping: Money | None = None,
) -> Money:
    """Money off ``order_total`` (which includes ``shipping``), never more than the order.

    A percentage is rounded down to the minor unit; minimums are on the order total.
    """
    terms = reward.terms
    currency = reward.currency or order_total.currency
    if order_total.currency != currency:
        raise CurrencyMismatch(f"the voucher is in {currency}, the order in {order_total.currency}")
    minimum = terms.min_order if isinstance(terms, FixedValue | PercentOff) else None
    if minimum is not None and order_total.minor < minimum.minor:
        raise VoucherMinimumNotMet(f"the order must reach {minimum}")
    if isinstance(terms, FixedValue):
        off = terms.value.minor
    elif isinstance(terms, PercentOff):
        exact = Decimal(order_total.minor) * terms.percent / 100
        off = int(exact.quantize(Decimal(1), rounding=ROUND_DOWN))
        if terms.max_discount is not None:
            off = min(off, terms.max_discount.minor)
    elif isinstance(terms, PointsToMoney):
        off = voucher.value.minor if voucher.value is not None else 0
    elif isinstance(terms, FreeShipping):
        if shipping is not None and shipping.currency != currency:
            raise CurrencyMismatch(f"shipping must be in {currency}")
        off = shipping.minor if shipping is not None else 0
        if terms.max_value is not None:
            off = min(off, terms.max_value.minor)
    else:
        raise VoucherNotApplicable(
            f"a {reward.kind.value} voucher is honoured by handing over the product or the place"
        )
    return Money(max(0, min(off, order_total.minor)), currency)
