"""Transactions to (frequency, recency, T, monetary) and the calibration/holdout split."""

from __future__ import annotations

import datetime

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fidela.analytics.clv import NoHoldoutPeriod, calibration_and_holdout, summarise

D = datetime.date


def test_same_day_purchases_count_once_and_add_up() -> None:
    summary = summarise(
        ["a", "a", "a", "a", "b"],
        [D(2026, 1, 1), D(2026, 1, 1), D(2026, 1, 8), D(2026, 1, 8), D(2026, 1, 5)],
        [10.0, 5.0, 20.0, 4.0, 7.0],
        D(2026, 1, 15),
        "D",
    )
    assert summary.customer.tolist() == ["a", "b"]
    assert summary.frequency.tolist() == [1, 0]
    assert summary.recency.tolist() == [7.0, 0.0]
    assert summary.T.tolist() == [14.0, 10.0]
    # The first day (15) is left out; the one repeat day spent 24.
    assert summary.monetary.tolist() == [24.0, 0.0]


def test_observation_end_is_inclusive_and_later_purchases_are_ignored() -> None:
    days = [D(2026, 1, 1), D(2026, 1, 10), D(2026, 1, 11)]
    summary = summarise(["a"] * 3, days, [1.0, 2.0, 4.0], D(2026, 1, 10), "D")
    assert summary.frequency.tolist() == [1]
    assert summary.T.tolist() == [9.0]
    assert summary.monetary.tolist() == [2.0]
    assert summary.observation_end == D(2026, 1, 10)


def test_default_observation_end_is_the_last_purchase_day() -> None:
    summary = summarise(["a", "b"], [D(2026, 1, 1), D(2026, 2, 1)], [1.0, 1.0])
    assert summary.observation_end == D(2026, 2, 1)
    assert summary.T.tolist() == [31.0, 0.0]


transactions = st.lists(
    st.tuples(
        st.integers(0, 5),  # customer
        st.integers(0, 60),  # day
        st.floats(0, 1000, allow_nan=False),  # amount
    ),
    min_size=1,
    max_size=40,
)


@given(rows=transactions, seed=st.integers(0, 2**32 - 1))
@settings(max_examples=60, deadline=None)
def test_summary_ignores_row_order_and_keeps_its_invariants(
    rows: list[tuple[int, int, float]], seed: int
) -> None:
    customer = np.array([r[0] for r in rows])
    day = np.datetime64("2026-01-01") + np.array([r[1] for r in rows])
    amount = np.array([r[2] for r in rows])
    end = np.datetime64("2026-03-15")
    summary = summarise(customer, day, amount, end, "W")
    order = np.random.default_rng(seed).permutation(customer.size)
    shuffled = summarise(customer[order], day[order], amount[order], end, "W")
    for field in ("customer", "frequency", "recency", "T"):
        np.testing.assert_array_equal(getattr(summary, field), getattr(shuffled, field))
    np.testing.assert_allclose(summary.monetary, shuffled.monetary, rtol=1e-12, atol=1e-9)

    for i, who in enumerate(summary.customer.tolist()):
        own = np.unique(day[customer == who])
        assert summary.frequency[i] == own.size - 1
        assert summary.recency[i] == pytest.approx((own[-1] - own[0]).astype(int) / 7)
        assert summary.T[i] == pytest.approx((end - own[0]).astype(int) / 7)
    assert np.all((summary.recency >= 0) & (summary.recency <= summary.T))
    assert np.all(summary.monetary[summary.frequency == 0] == 0)


def test_weeks_are_days_divided_by_seven() -> None:
    args = (["a", "a", "b"], [D(2026, 1, 1), D(2026, 1, 4), D(2026, 1, 2)], [1.0, 1.0, 1.0])
    days = summarise(*args, D(2026, 1, 30), "D")
    weeks = summarise(*args, D(2026, 1, 30), "W")
    np.testing.assert_allclose(weeks.T, days.T / 7)
    np.testing.assert_allclose(weeks.recency, days.recency / 7)


def test_holdout_counts_the_later_purchase_days_of_calibration_customers() -> None:
    calibration, holdout = calibration_and_holdout(
        ["a", "a", "a", "a", "b", "c"],
        [
            D(2026, 1, 1),
            D(2026, 1, 20),  # after the calibration end
            D(2026, 1, 20),  # same day: one purchase day, spend 30
            D(2026, 1, 25),
            D(2026, 1, 2),
            D(2026, 1, 12),  # first purchase after the calibration end: not a calibration customer
        ],
        [5.0, 10.0, 20.0, 6.0, 3.0, 9.0],
        D(2026, 1, 10),
    )
    assert calibration.customer.tolist() == ["a", "b"]
    assert calibration.frequency.tolist() == [0, 0]
    assert holdout.frequency.tolist() == [2, 0]
    assert holdout.monetary.tolist() == [18.0, 0.0]
    assert holdout.length == 15.0  # 2026-01-10 to the last purchase day 2026-01-25
    assert holdout.end == D(2026, 1, 25)


def test_a_calibration_end_on_or_after_the_last_purchase_leaves_no_holdout() -> None:
    with pytest.raises(NoHoldoutPeriod, match="must fall before the observation end"):
        calibration_and_holdout(["a"], [D(2026, 1, 1)], [1.0], D(2026, 1, 1))
