from __future__ import annotations

from decimal import Decimal

import pytest

from fidela.kernel.decimals import read_decimal


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("1.5", Decimal("1.5")), (2, Decimal(2)), (0.1, Decimal("0.1")), (Decimal("3"), Decimal(3))],
)
def test_decimals_are_read_exactly_from_strings_ints_and_floats(
    raw: object, expected: Decimal
) -> None:
    assert read_decimal(raw) == expected
    assert str(read_decimal(raw)) == str(expected)


@pytest.mark.parametrize("raw", [True, None, "abc", "NaN", "Infinity", [1], {"a": 1}])
def test_anything_else_is_refused_with_a_reason(raw: object) -> None:
    with pytest.raises(ValueError, match=r"\w"):
        read_decimal(raw)
