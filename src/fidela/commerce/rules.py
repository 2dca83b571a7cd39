"""Order and return arithmetic.

Concepts:
- An order's **line amount** is ``quantity * unit_price - line discount``; its **subtotal**
  the sum of line amounts; its **total** ``subtotal + shipping - order discount``.
- A **return** names lines and quantities (or, without lines, an amount). A returned line
  refunds its amount in proportion to the quantity, in integer minor units; the last unit
  returned takes the rounding remainder, so returning everything refunds exactly the line.
- The **points payment** is the part paid with points: it is given back as points, never
  charged again (loyalty reads it).

Invariants: returned quantity never exceeds bought quantity; refunds never exceed what was
paid; all amounts are ``int`` minor units.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from fidela.kernel.errors import Conflict, ErrorKind, FieldProblem, PayloadInvalid


class OrderTotalMismatch(PayloadInvalid):
    code = "order_total_mismatch"
    title = "The order total does not add up"


class UnknownOrder(PayloadInvalid):
    code = "order_unknown"
    title = "The returned order is unknown"


class ReturnExceedsOrder(PayloadInvalid):
    code = "return_exceeds_order"
    title = "More is returned than was bought"


class CurrencyDiffers(PayloadInvalid):
    code = "return_currency_differs"
    title = "The return's currency differs from the order's"


class OrderCustomerConflict(Conflict):
    code = "order_customer_conflict"
    kind = ErrorKind.CONFLICT
    title = "The order belongs to another customer"


@dataclass(frozen=True)
class LineIn:
    line_no: int
    quantity: int
    unit_price_minor: int
    discount_minor: int


@dataclass(frozen=True)
class OrderAmounts:
    line_amounts: tuple[int, ...]
    subtotal_minor: int
    total_minor: int


def order_amounts(
    lines: Sequence[LineIn], *, shipping_minor: int, discount_minor: int, stated_total: int | None
) -> OrderAmounts:
    amounts = []
    problems = []
    for index, line in enumerate(lines):
        gross = line.quantity * line.unit_price_minor
        if line.discount_minor > gross:
            problems.append(
                FieldProblem(f"/data/lines/{index}/discount_minor", "exceeds the line amount")
            )
        amounts.append(gross - line.discount_minor)
    subtotal = sum(amounts)
    total = subtotal + shipping_minor - discount_minor
    if total < 0:
        problems.append(FieldProblem("/data/discount_minor", "exceeds the order amount"))
    if stated_total is not None and stated_total != total:
        problems.append(
            FieldProblem(
                "/data/total_minor", f"lines + shipping - discount = {total}, not {stated_total}"
            )
        )
    if problems:
        raise OrderTotalMismatch("; ".join(f"{p.pointer}: {p.message}" for p in problems), problems)
    return OrderAmounts(tuple(amounts), subtotal, total)


def line_numbers(given: Sequence[int | None]) -> list[int]:
    """Line numbers as given, or positions (1-based); duplicates are refused."""
    numbers = [number if number is not None else index + 1 for index, number in enumerate(given)]
    if len(set(numbers)) != len(numbers):
        raise OrderTotalMismatch(
            "line numbers must be unique", [FieldProblem("/data/lines", "duplicate line_no")]
        )
    return numbers


@dataclass(frozen=True)
class OrderLineState:
    line_no: int
    quantity: int
    amount_minor: int
    returned_quantity: int
    returned_minor: int


@dataclass(frozen=True)
class LineRefund:
    line_no: int
    quantity: int
    amount_minor: int


def refund_lines(
    lines: Mapping[int, OrderLineState], requested: Sequence[tuple[int, int]]
) -> list[LineRefund]:
    """Refund per returned line: proportional to quantity, remainder on the last unit."""
    refunds = []
    problems = []
    seen: dict[int, int] = {}
    for index, (line_no, quantity) in enumerate(requested):
        line = lines.get(line_no)
        if line is None:
            problems.append(
                FieldProblem(f"/data/lines/{index}/line_no", f"the order has no line {line_no}")
            )
            continue
        already = line.returned_quantity + seen.get(line_no, 0)
        if already + quantity > line.quantity:
            problems.append(
                FieldProblem(
                    f"/data/lines/{index}/quantity",
                    f"{line.quantity - already} of {line.quantity} left to return",
                )
            )
            continue
        seen[line_no] = seen.get(line_no, 0) + quantity
        returned_after = already + quantity
        refunded_before = line.amount_minor * already // line.quantity
        refunded_after = line.amount_minor * returned_after // line.quantity
        refunds.append(LineRefund(line_no, quantity, refunded_after - refunded_before))
    if problems:
        raise ReturnExceedsOrder("; ".join(f"{p.pointer}: {p.message}" for p in problems), problems)
    return refunds


def check_amount_refund(amount_minor: int, total_minor: int, returned_minor: int) -> int:
    left = total_minor - returned_minor
    if amount_minor > left:
        raise ReturnExceedsOrder(
            f"{amount_minor} exceeds the {left} left to refund on this order",
            [FieldProblem("/data/amount_minor", f"at most {left}")],
        )
    return amount_minor


def order_status(total_minor: int, returned_minor: int) -> str:
    if returned_minor <= 0:
        return "completed"
    return "returned" if returned_minor >= total_minor else "partially_returned"
