from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fidela.commerce.rules import (
    LineIn,
    OrderLineState,
    OrderTotalMismatch,
    ReturnExceedsOrder,
    check_amount_refund,
    line_numbers,
    order_amounts,
    order_status,
    refund_lines,
)


def test_order_total_is_lines_plus_shipping_minus_discount() -> None:
    amounts = order_amounts(
        [LineIn(1, 2, 1000, 100), LineIn(2, 1, 550, 0)],
        shipping_minor=490,
        discount_minor=500,
        stated_total=None,
    )
    assert amounts.line_amounts == (1900, 550)
    assert amounts.subtotal_minor == 2450
    assert amounts.total_minor == 2440


def test_a_stated_total_that_does_not_add_up_is_refused_at_its_field() -> None:
    with pytest.raises(OrderTotalMismatch) as caught:
        order_amounts([LineIn(1, 1, 1000, 0)], shipping_minor=0, discount_minor=0, stated_total=999)
    assert caught.value.problems[0].pointer == "/data/total_minor"


def test_duplicate_line_numbers_are_refused() -> None:
    assert line_numbers([None, None]) == [1, 2]
    with pytest.raises(OrderTotalMismatch):
        line_numbers([1, 1])


def test_returning_more_than_bought_is_refused_with_what_is_left() -> None:
    lines = {1: OrderLineState(1, 3, 3000, 2, 2000)}
    with pytest.raises(ReturnExceedsOrder) as caught:
        refund_lines(lines, [(1, 2)])
    assert "1 of 3 left" in caught.value.problems[0].message
    with pytest.raises(ReturnExceedsOrder):
        refund_lines(lines, [(9, 1)])


@given(
    quantity=st.integers(min_value=1, max_value=50),
    amount=st.integers(min_value=0, max_value=10**7),
    data=st.data(),
)
def test_any_split_of_a_full_return_refunds_exactly_the_line(
    quantity: int, amount: int, data: st.DataObject
) -> None:
    returned_quantity = returned_minor = 0
    while returned_quantity < quantity:
        step = data.draw(st.integers(min_value=1, max_value=quantity - returned_quantity))
        state = {1: OrderLineState(1, quantity, amount, returned_quantity, returned_minor)}
        [refund] = refund_lines(state, [(1, step)])
        assert 0 <= refund.amount_minor <= amount - returned_minor
        returned_quantity += step
        returned_minor += refund.amount_minor
    assert returned_minor == amount


def test_amount_refunds_cannot_exceed_what_is_left() -> None:
    assert check_amount_refund(500, 1000, 400) == 500
    with pytest.raises(ReturnExceedsOrder):
        check_amount_refund(700, 1000, 400)


def test_order_status_follows_the_returned_amount() -> None:
    assert order_status(1000, 0) == "completed"
    assert order_status(1000, 10) == "partially_returned"
    assert order_status(1000, 1000) == "returned"
