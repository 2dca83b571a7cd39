"""Returns: how many points a return claws back or gives back, and from which lots.

Two different movements come out of one return, and confusing them is the classic bug:

- the points the order **earned** are clawed back in proportion to the value returned;
- the points the order was **paid with** are given back (a credit to the original lots),
  never charged a second time.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from fidela.kernel.errors import FieldProblem
from fidela.kernel.points import Rounding, to_points
from fidela.ledger.rules.errors import InvalidReturn
from fidela.ledger.rules.lots import Allocation, Lot, draw, spend_order_key, spendable_lots


class ReturnPolicy(StrEnum):
    """How far a clawback may reach, per programme.

    ``only_pending``: only the order's own still-pending points are taken back; whatever has
    become active stays with the member (pair it with a return window, or a return after the
    window keeps every point). ``within_balance``: take back from the order's lot, then from
    the rest of the spendable balance, never below zero; the rest is forgiven and reported.
    ``unlimited``: take back everything; what the balance cannot cover becomes debt, paid from
    the next points that become available.
    """

    ONLY_PENDING = "only_pending"
    WITHIN_BALANCE = "within_balance"
    UNLIMITED = "unlimited"


def _invalid(pointer: str, message: str) -> InvalidReturn:
    return InvalidReturn(f"{pointer}: {message}", [FieldProblem(pointer, message)])


@dataclass(frozen=True)
class LineEarning:
    """Points an order line earned, known at earn time, and the line value they were on."""

    line_no: int
    amount_minor: int
    points: int


@dataclass(frozen=True)
class OrderEarning:
    """What an order earned: ``points`` in all on ``amount_minor`` of value (the base the
    points were computed on), of which ``lines`` attribute some to lines; the rest (basket
    bonuses, order-level rules) belongs to the order as a whole."""

    amount_minor: int
    points: int
    lines: tuple[LineEarning, ...] = ()

    def __post_init__(self) -> None:
        if self.points < 0:
            raise _invalid("/points", "must not be negative")
        if self.amount_minor <= 0 and self.points > 0:
            raise _invalid("/amount_minor", "points were earned on a positive amount")
        if len({line.line_no for line in self.lines}) != len(self.lines):
            raise _invalid("/lines", "line numbers must be unique")
        for index, line in enumerate(self.lines):
            if line.points < 0 or (line.amount_minor <= 0 and line.points > 0):
                raise _invalid(f"/lines/{index}", "points must be non-negative, on a value > 0")
        if sum(line.points for line in self.lines) > self.points:
            raise _invalid("/lines", "line points exceed the order's points")


@dataclass(frozen=True)
class Returned:
    """Value returned so far on an order, cumulative over all its returns, this one included:
    in all, and by line number where the returns named lines."""

    total_minor: int = 0
    lines: Mapping[int, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.total_minor < 0 or any(value < 0 for value in self.lines.values()):
            raise _invalid("/returned", "returned amounts must not be negative")

    def before(self, amount_minor: int, lines: Mapping[int, int]) -> Returned:
        """What was returned before a return of ``amount_minor`` (``lines``: what it
        refunded by line number) that this value includes."""
        return Returned(
            total_minor=self.total_minor - amount_minor,
            lines={
                n: value
                for n, value in ((n, minor - lines.get(n, 0)) for n, minor in self.lines.items())
                if value
            },
        )


def returned_share(points: int, base_minor: int, returned_minor: int, rounding: Rounding) -> int:
    """The part of ``points`` earned on ``base_minor`` that ``returned_minor`` accounts for.

    Everything returned means every point, exactly, whatever the rounding.
    """
    if returned_minor >= base_minor:
        return points
    return to_points(Decimal(points) * returned_minor / base_minor, rounding)


def _share(earning: OrderEarning, returned: Returned, rounding: Rounding) -> int:
    if returned.total_minor >= earning.amount_minor:
        return earning.points
    if not (earning.lines and returned.lines):
        return returned_share(earning.points, earning.amount_minor, returned.total_minor, rounding)
    lines = {line.line_no: line for line in earning.lines}
    unknown = sorted(set(returned.lines) - set(lines))
    if unknown:
        raise _invalid("/returned/lines", f"the order earned on no line {unknown[0]}")
    by_line = sum(
        returned_share(line.points, line.amount_minor, returned.lines.get(number, 0), rounding)
        for number, line in lines.items()
    )
    rest = earning.points - sum(line.points for line in earning.lines)
    return by_line + returned_share(rest, earning.amount_minor, returned.total_minor, rounding)


def points_to_claw_back(
    earning: OrderEarning,
    returned: Returned,
    *,
    already_clawed_back: int = 0,
    rounding: Rounding = Rounding.DOWN,
) -> int:
    """Points this return claws back from what ``earning`` gave.

    The target is the share of the order's points that the cumulative ``returned`` value
    accounts for (per line where both the earning and the returns know lines, the order-level
    rest by whole-order value); the answer is that target minus ``already_clawed_back`` (the
    sum of this function's earlier answers for the order, taken, forgiven or owed alike).
    Rounding is applied to the cumulative target, never to each return, so a sequence of
    partial returns that ends with everything returned claws back exactly the points earned:
    the last one takes the remainder. ``Rounding.DOWN`` never takes more than the share.
    """
    if not 0 <= already_clawed_back <= earning.points:
        raise _invalid("/already_clawed_back", f"must be within [0, {earning.points}]")
    target = min(earning.points, _share(earning, returned, rounding))
    return max(0, target - already_clawed_back)


def points_to_give_back(
    points_paid: int,
    order_total_minor: int,
    returned_minor: int,
    *,
    already_given_back: int = 0,
    rounding: Rounding = Rounding.DOWN,
) -> int:
    """Points to give back for the part of an order paid with points, pro rata to the value
    returned (cumulative), the last return taking the remainder, as for clawbacks."""
    if points_paid < 0 or order_total_minor <= 0 or returned_minor < 0:
        raise _invalid("/points_paid", "points paid, order total and returned value must be >= 0")
    if not 0 <= already_given_back <= points_paid:
        raise _invalid("/already_given_back", f"must be within [0, {points_paid}]")
    target = returned_share(points_paid, order_total_minor, returned_minor, rounding)
    return max(0, target - already_given_back)


@dataclass(frozen=True)
class ClawbackPlan:
    """Where a clawback takes its points from.

    ``pending`` comes from the order's own held lots, ``active`` from spendable lots (the
    order's own first, then the rest in spend order). ``forgiven`` is let go and ``owed``
    becomes debt; together with what is taken they add up to the points asked for.
    """

    pending: tuple[Allocation, ...]
    active: tuple[Allocation, ...]
    forgiven: int
    owed: int

    @property
    def taken(self) -> int:
        return sum(a.points for a in self.pending) + sum(a.points for a in self.active)


def plan_clawback(
    points: int,
    *,
    order_ref: str,
    lots: Iterable[Lot],
    now: datetime,
    policy: ReturnPolicy,
    debt: int = 0,
) -> ClawbackPlan:
    """Decide where ``points`` clawed back for order ``order_ref`` come from under ``policy``.

    The order's own pending lots come first under every policy: those points were never
    usable. Points already expired are breakage, not balance, and are not taken again.
    """
    if points < 0:
        raise _invalid("/points", "a clawback must not be negative")
    pool = list(lots)
    own_pending = sorted(
        (lot for lot in pool if lot.ref == order_ref and lot.is_pending(now) and lot.remaining),
        key=lambda lot: lot.id,
    )
    pending = draw(own_pending, points)
    left = points - sum(a.points for a in pending)
    active: tuple[Allocation, ...] = ()
    if policy is not ReturnPolicy.ONLY_PENDING and left > 0:
        spendable = spendable_lots(pool, now)
        own_first = sorted(spendable, key=lambda lot: (lot.ref != order_ref, spend_order_key(lot)))
        # Debt already owed has first call on the spendable points.
        reachable = max(0, sum(lot.remaining for lot in spendable) - debt)
        active = draw(own_first, min(left, reachable))
        left -= sum(a.points for a in active)
    if policy is ReturnPolicy.UNLIMITED:
        return ClawbackPlan(pending, active, forgiven=0, owed=left)
    return ClawbackPlan(pending, active, forgiven=left, owed=0)
