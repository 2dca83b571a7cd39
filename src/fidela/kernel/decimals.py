"""Reading decimal numbers (rates, multipliers, money per point) from configuration."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation


def read_decimal(value: object) -> Decimal:
    """A finite ``Decimal`` from a JSON value: a string (``"1.5"``), an int, a ``Decimal``, or
    a float read from its shortest text (0.1 stays ``Decimal("0.1")``, never the binary
    0.1000000000000000055...). Booleans and anything else raise ``ValueError`` with the reason.
    """
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        raise ValueError('must be a decimal number (a string such as "1.5")')
    text = repr(value) if isinstance(value, float) else value
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"'{value}' is not a decimal number") from None
    if not number.is_finite():
        raise ValueError("must be a finite number")
    return number
