from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fidela.kernel.money import CurrencyMismatch, Money, UnknownCurrency, parse_currency
from fidela.kernel.points import Rounding, points_for_amount, to_points


def test_money_from_decimal_rounds_half_even_to_the_minor_unit() -> None:
    assert Money.from_decimal("19.995", "EUR") == Money(2000, "EUR")
    assert Money.from_decimal("19.985", "EUR") == Money(1998, "EUR")
    assert Money.from_decimal("1500", "JPY") == Money(1500, "JPY")
    assert Money.from_decimal("1.2345", "KWD") == Money(1234, "KWD")


def test_money_refuses_floats_unknown_currencies_and_mixing() -> None:
    with pytest.raises(TypeError):
        Money(19.99, "EUR")  # type: ignore[arg-type]
    with pytest.raises(UnknownCurrency):
        parse_currency("EURO")
    with pytest.raises(CurrencyMismatch):
        _ = Money(100, "EUR") + Money(100, "USD")


def test_parse_currency_normalises_case_and_spaces() -> None:
    assert parse_currency(" eur ") == "EUR"


def test_points_round_down_by_default_and_toward_zero_for_clawbacks() -> None:
    assert to_points(Decimal("12.99")) == 12
    assert to_points(Decimal("-12.99")) == -12
    assert to_points(Decimal("12.5"), Rounding.HALF_UP) == 13
    assert to_points(Decimal("12.5"), Rounding.HALF_EVEN) == 12


def test_points_for_amount_uses_major_units_and_the_rate() -> None:
    # 123.45 EUR at 1.5 points per euro = 185.175 -> 185
    assert points_for_amount(12345, 2, Decimal("1.5")) == 185
    assert points_for_amount(1500, 0, Decimal("0.1")) == 150


@given(st.integers(min_value=0, max_value=10**9), st.integers(min_value=0, max_value=10**9))
def test_money_addition_is_exact_for_any_amounts(a: int, b: int) -> None:
    assert (Money(a, "EUR") + Money(b, "EUR")).minor == a + b
    assert (Money(a, "EUR") - Money(b, "EUR") + Money(b, "EUR")) == Money(a, "EUR")
