"""Points math: points are ``int``; rates and multipliers are ``Decimal``.

Every conversion of a decimal quantity into points goes through :func:`to_points`, the one
place where rounding happens, with an explicit mode. Rounding once at the end (not per line
or per multiplier) keeps a basket's points independent of how it was split.
"""

from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal
from enum import StrEnum


class Rounding(StrEnum):
    DOWN = "down"  # the industry default: never give a fraction the member did not earn
    HALF_UP = "half_up"
    HALF_EVEN = "half_even"


_MODES = {
    Rounding.DOWN: ROUND_DOWN,
    Rounding.HALF_UP: ROUND_HALF_UP,
    Rounding.HALF_EVEN: ROUND_HALF_EVEN,
}


def to_points(quantity: Decimal, rounding: Rounding = Rounding.DOWN) -> int:
    """Round a decimal number of points to an ``int``.

    ``Rounding.DOWN`` truncates toward zero, so a negative quantity (a clawback) is rounded
    toward zero too: a clawback never takes more than the proportional share.
    """
    return int(quantity.quantize(Decimal(1), rounding=_MODES[rounding]))


def points_for_amount(
    amount_minor: int, minor_exponent: int, rate: Decimal, rounding: Rounding = Rounding.DOWN
) -> int:
    """Points for a money amount at ``rate`` points per major currency unit."""
    major = Decimal(amount_minor).scaleb(-minor_exponent)
    return to_points(major * rate, rounding)
