"""What the engine evaluates: an order or a non-purchase event, and who the member is.

The service layer fills these plain values from stored events; they validate themselves on
construction so the engine never meets a negative amount or a naive datetime.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from types import MappingProxyType

from fidela.kernel.errors import FieldProblem
from fidela.loyalty.rules.errors import InvalidEarningInput

AttributeValue = str | int | bool | None


def _aware(at: datetime, pointer: str, problems: list[FieldProblem]) -> None:
    if at.tzinfo is None or at.utcoffset() is None:
        problems.append(FieldProblem(pointer, "must be timezone-aware"))


def _raise(what: str, problems: Sequence[FieldProblem]) -> None:
    if problems:
        detail = "; ".join(f"{p.pointer}: {p.message}" for p in problems)
        raise InvalidEarningInput(f"invalid {what}: {detail}", list(problems))


@dataclass(frozen=True)
class OrderLine:
    """One order line; ``amount_minor`` is what was paid for it, after line discounts."""

    line_no: int
    product_id: str
    amount_minor: int
    quantity: int = 1
    sku: str | None = None
    category: str | None = None


@dataclass(frozen=True)
class Order:
    """A completed purchase.

    ``points_paid_minor`` is the part of the total (lines + shipping) paid with points; by
    default it earns nothing, otherwise spending points would buy more points.
    """

    id: str
    customer_id: int
    currency: str
    occurred_at: datetime
    lines: Sequence[OrderLine]
    channel: str | None = None
    store_id: str | None = None
    shipping_minor: int = 0
    points_paid_minor: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "lines", tuple(self.lines))
        problems: list[FieldProblem] = []
        _aware(self.occurred_at, "/occurred_at", problems)
        if not self.lines:
            problems.append(FieldProblem("/lines", "an order has at least one line"))
        seen: set[int] = set()
        for index, line in enumerate(self.lines):
            if line.amount_minor < 0:
                problems.append(FieldProblem(f"/lines/{index}/amount_minor", "must be >= 0"))
            if line.quantity < 1:
                problems.append(FieldProblem(f"/lines/{index}/quantity", "must be >= 1"))
            if line.line_no in seen:
                problems.append(FieldProblem(f"/lines/{index}/line_no", "duplicate line number"))
            seen.add(line.line_no)
        if self.shipping_minor < 0:
            problems.append(FieldProblem("/shipping_minor", "must be >= 0"))
        if not 0 <= self.points_paid_minor <= self.total_minor:
            problems.append(
                FieldProblem("/points_paid_minor", f"must be between 0 and {self.total_minor}")
            )
        _raise("order", problems)

    @property
    def total_minor(self) -> int:
        return sum(line.amount_minor for line in self.lines) + self.shipping_minor


@dataclass(frozen=True)
class MemberEvent:
    """A non-purchase event: ``customer.signed_up``, ``birthday``, ``review.posted``,
    ``custom.*``... ``attributes`` are the event's data, matched by rules on equality."""

    id: str
    customer_id: int
    type: str
    occurred_at: datetime
    attributes: Mapping[str, AttributeValue] = field(default_factory=dict)
    channel: str | None = None
    store_id: str | None = None

    def __post_init__(self) -> None:
        # A read-only copy: the caller's dict cannot change a frozen event afterwards.
        object.__setattr__(self, "attributes", MappingProxyType(dict(self.attributes)))
        problems: list[FieldProblem] = []
        _aware(self.occurred_at, "/occurred_at", problems)
        if not self.type:
            problems.append(FieldProblem("/type", "must not be empty"))
        _raise("event", problems)


Event = Order | MemberEvent


@dataclass(frozen=True)
class Member:
    """Who earns: tier code, the tier's earn multiplier, and the timezone of their calendar.

    ``timezone`` None means the programme's timezone (the service passes the member's own
    when it wants days and months to follow the member's wall clock).
    """

    tier: str | None = None
    tier_multiplier: Decimal = Decimal(1)
    timezone: str | None = None

    def __post_init__(self) -> None:
        problems: list[FieldProblem] = []
        multiplier = self.tier_multiplier
        if not isinstance(multiplier, Decimal) or not multiplier.is_finite() or multiplier <= 0:
            problems.append(FieldProblem("/member/tier_multiplier", "a Decimal > 0"))
        _raise("member", problems)
