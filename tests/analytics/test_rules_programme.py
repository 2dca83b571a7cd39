"""Pure rules of the programme KPIs: NPS from counts, the cost of the points issued and the
programme's return on it."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fidela.analytics.rules import (
    Explained,
    ProgrammeCost,
    net_promoter_score,
    parse_cost_per_point,
    programme_cost_minor,
    programme_roi,
)

EUR = "EUR"


@pytest.mark.parametrize(
    ("promoters", "detractors", "answers", "expected"),
    [
        (2, 1, 3, 33.333333),
        (0, 1, 2, -50.0),
        (5, 0, 5, 100.0),
        (0, 4, 4, -100.0),
        (1, 1, 7, 0.0),  # passives count in the answers only
        (0, 0, 0, None),
    ],
)
def test_nps_is_promoters_minus_detractors_per_hundred_answers(
    promoters: int, detractors: int, answers: int, expected: float | None
) -> None:
    assert net_promoter_score(promoters, detractors, answers) == expected


@given(st.integers(0, 500), st.integers(0, 500), st.integers(0, 500))
def test_nps_stays_between_minus_and_plus_one_hundred(
    promoters: int, detractors: int, passives: int
) -> None:
    score = net_promoter_score(promoters, detractors, promoters + detractors + passives)
    assert score is None or -100.0 <= score <= 100.0


def test_nps_refuses_more_promoters_and_detractors_than_answers() -> None:
    with pytest.raises(ValueError, match="3 promoters and 1 detractors among 3 answers"):
        net_promoter_score(3, 1, 3)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("0.5", Decimal("0.5")), (" 2 ", Decimal(2)), ("0", Decimal(0)), (None, None)]
    + [(bad, None) for bad in ("", "half", "-1", "NaN", "Infinity")],
)
def test_a_cost_per_point_is_a_decimal_of_at_least_zero(
    text: str | None, expected: Decimal | None
) -> None:
    assert parse_cost_per_point(text) == expected


def test_programme_cost_weighs_each_programme_by_its_own_cost_per_point() -> None:
    costs = {
        "main": ProgrammeCost(EUR, Decimal("0.5")),
        "partner": ProgrammeCost(EUR, Decimal("1.5")),
    }
    assert programme_cost_minor({"main": 120, "partner": 60}, costs, EUR) == Explained(150)


def test_programme_cost_rounds_once_half_even_on_the_total() -> None:
    costs = {"a": ProgrammeCost(EUR, Decimal("0.5")), "b": ProgrammeCost(EUR, Decimal("0.5"))}
    # 0.5 + 0.5: rounding each programme first would give 0 + 0.
    assert programme_cost_minor({"a": 1, "b": 1}, costs, EUR) == Explained(1)
    assert programme_cost_minor({"a": 5}, costs, EUR) == Explained(2)  # 2.5 -> 2


def test_programme_cost_without_a_configured_cost_is_explained() -> None:
    costs = {"main": ProgrammeCost(EUR, Decimal(1)), "odd": ProgrammeCost(EUR, None)}
    assert programme_cost_minor({"main": 10, "gone": 5}, costs, EUR) == Explained(
        None, "no cost per point configured for programme 'gone'"
    )
    assert programme_cost_minor({"main": 10, "odd": 1}, costs, EUR).value is None
    # A programme that issued nothing needs no cost.
    assert programme_cost_minor({"main": 10, "gone": 0}, costs, EUR) == Explained(10)


def test_programme_cost_in_another_currency_than_the_revenue_is_refused() -> None:
    costs = {"main": ProgrammeCost("USD", Decimal(1))}
    assert programme_cost_minor({"main": 10}, costs, EUR) == Explained(
        None, "programme 'main' costs points in USD, the revenue is in EUR"
    )
    assert programme_cost_minor({"main": 10}, costs, None) == Explained(10)


def test_roi_is_the_members_extra_revenue_net_of_cost_per_unit_of_cost() -> None:
    # Members: 3 active spent 1800; non-members: 2 active spent 400 (200 each), so the members
    # would have spent 600 without the programme; it added 1200 at a cost of 150.
    roi = programme_roi(
        member_revenue_minor=1800,
        member_active=3,
        non_member_revenue_minor=400,
        non_member_active=2,
        cost=Explained(150),
    )
    assert roi == Explained(7.0)


def test_roi_is_negative_when_members_bring_less_than_they_cost() -> None:
    roi = programme_roi(
        member_revenue_minor=100,
        member_active=1,
        non_member_revenue_minor=300,
        non_member_active=3,
        cost=Explained(30),
    )
    assert roi == Explained(-1.0)  # they spent what non-members spend, and the cost is lost


def test_roi_divides_exactly_before_rounding_half_even() -> None:
    roi = programme_roi(
        member_revenue_minor=1000,
        member_active=1,
        non_member_revenue_minor=100,
        non_member_active=3,
        cost=Explained(7),
    )
    # (1000 - 100/3 - 7) / 7 = 137.095238095...
    assert roi == Explained(137.095238)


@pytest.mark.parametrize(
    ("cost", "non_member_active", "reason"),
    [
        (Explained(None, "no cost per point configured for programme 'main'"), 2, "no cost per"),
        (Explained(0), 2, "the programme cost nothing in the period"),
        (Explained(10), 0, "no active non-members"),
    ],
)
def test_roi_without_a_cost_or_a_comparison_group_has_no_value_and_says_why(
    cost: Explained, non_member_active: int, reason: str
) -> None:
    roi = programme_roi(
        member_revenue_minor=500,
        member_active=1,
        non_member_revenue_minor=200 if non_member_active else 0,
        non_member_active=non_member_active,
        cost=cost,
    )
    assert roi.value is None
    assert roi.reason is not None
    assert roi.reason.startswith(reason)
