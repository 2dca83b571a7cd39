"""The pure analytics vocabulary: quintiles, segment naming, parameters, ratios."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from fidela.analytics.rules import (
    InvalidAsOf,
    InvalidPeriod,
    Kpi,
    Period,
    RfmSegment,
    UnknownKpi,
    average_minor,
    fm_score,
    parse_as_of,
    parse_kpis,
    parse_period,
    period_starts,
    quintile,
    rate,
    rfm_segment,
    segment_grid,
)


def test_quintiles_split_customers_into_five_equal_bands() -> None:
    assert [quintile(rank, 10) for rank in range(10)] == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    assert [quintile(rank, 3) for rank in range(3)] == [1, 2, 4]
    with pytest.raises(ValueError, match="outside"):
        quintile(3, 3)


def test_fm_score_is_the_mean_of_frequency_and_monetary_rounded_up() -> None:
    assert fm_score(4, 5) == 5
    assert fm_score(1, 2) == 2
    assert fm_score(3, 3) == 3


def test_every_score_combination_has_exactly_one_of_the_eleven_segments() -> None:
    grid = segment_grid()
    assert len(grid) == 25
    assert set(grid.values()) == set(RfmSegment)
    assert len(RfmSegment) == 11


@pytest.mark.parametrize(
    ("scores", "segment"),
    [
        ((5, 5, 5), RfmSegment.CHAMPIONS),
        ((5, 1, 1), RfmSegment.NEW),
        ((4, 1, 1), RfmSegment.PROMISING),
        ((4, 4, 4), RfmSegment.LOYAL),
        ((5, 2, 3), RfmSegment.POTENTIAL_LOYALIST),
        ((3, 3, 3), RfmSegment.NEED_ATTENTION),
        ((3, 1, 2), RfmSegment.ABOUT_TO_SLEEP),
        ((2, 3, 4), RfmSegment.AT_RISK),
        ((1, 5, 5), RfmSegment.CANNOT_LOSE),
        ((2, 1, 1), RfmSegment.HIBERNATING),
        ((1, 1, 1), RfmSegment.LOST),
    ],
)
def test_named_rfm_segments_follow_recency_and_value(
    scores: tuple[int, int, int], segment: RfmSegment
) -> None:
    assert rfm_segment(*scores) is segment


def test_a_score_outside_one_to_five_is_refused() -> None:
    with pytest.raises(ValueError, match="recency score 0"):
        rfm_segment(0, 3, 3)


def test_as_of_accepts_a_date_or_an_aware_datetime_and_returns_naive_utc() -> None:
    assert parse_as_of("2026-11-01") == datetime(2026, 11, 1)  # noqa: DTZ001 - naive UTC
    assert parse_as_of("2026-11-01T10:00:00+02:00") == datetime(2026, 11, 1, 8)  # noqa: DTZ001
    assert parse_as_of("2026-11-01T10:00:00Z") == datetime(2026, 11, 1, 10)  # noqa: DTZ001
    assert parse_as_of(date(2026, 1, 2)) == datetime(2026, 1, 2)  # noqa: DTZ001
    aware = datetime(2026, 1, 2, 3, tzinfo=timezone(timedelta(hours=1)))
    assert parse_as_of(aware) == datetime(2026, 1, 2, 2)  # noqa: DTZ001


@pytest.mark.parametrize("text", ["01/11/2026", "2026-13-01", "yesterday", "2026-11-01T10:00"])
def test_an_as_of_in_the_wrong_format_is_a_clear_error_pointing_at_the_field(text: str) -> None:
    with pytest.raises(InvalidAsOf) as caught:
        parse_as_of(text)
    assert caught.value.problems[0].pointer == "/as_of"
    assert text in caught.value.detail or "time zone" in caught.value.detail


def test_unknown_kpis_and_periods_are_named_in_the_error() -> None:
    with pytest.raises(UnknownKpi, match="nps_score"):
        parse_kpis(["orders", "nps_score"])
    with pytest.raises(InvalidPeriod, match="fortnight"):
        parse_period("fortnight")
    assert parse_kpis([]) == list(Kpi)


def test_period_starts_cover_every_period_up_to_the_last_instant_before_as_of() -> None:
    as_of = datetime(2026, 3, 1)  # noqa: DTZ001 - naive UTC
    assert period_starts(date(2026, 1, 15), as_of, Period.MONTH) == [
        date(2026, 1, 1),
        date(2026, 2, 1),
    ]
    assert period_starts(date(2026, 2, 18), as_of, Period.WEEK) == [
        date(2026, 2, 16),
        date(2026, 2, 23),
    ]


def test_rates_round_half_even_and_an_empty_base_is_unknown() -> None:
    assert rate(1, 3) == 0.333333
    assert rate(2, 3) == 0.666667
    assert rate(0, 0) is None
    assert average_minor(5, 2) == 2  # 2.5 rounds to even
    assert average_minor(7, 2) == 4
    assert average_minor(1, 0) is None
