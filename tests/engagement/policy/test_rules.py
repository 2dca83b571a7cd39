"""Caps, quiet hours and channel choice in the recipient's own timezone, around midnight and
DST changes."""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest

from fidela.engagement.policy.rules import (
    CapRule,
    InvalidPolicy,
    PastSend,
    QuietHours,
    SendOutcome,
    SendPolicy,
    check_caps,
    choose_channel,
    decide_send,
    release_time,
    zone_of,
)
from fidela.engagement.policy.rules.caps import period_bounds

PARIS = ZoneInfo("Europe/Paris")
NEW_YORK = ZoneInfo("America/New_York")
TOKYO = ZoneInfo("Asia/Tokyo")
AUCKLAND = ZoneInfo("Pacific/Auckland")
NIGHT = QuietHours(time(21), time(8))


def local(
    zone: ZoneInfo, year: int, month: int, day: int, hour: int, minute: int, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=zone).astimezone(UTC)


# -- quiet hours ---------------------------------------------------------------------------


@pytest.mark.parametrize("zone", [PARIS, NEW_YORK, TOKYO, AUCKLAND])
def test_a_send_at_half_past_eleven_local_is_held_until_eight_the_next_local_morning(
    zone: ZoneInfo,
) -> None:
    at = local(zone, 2026, 11, 10, 23, 30)
    released = release_time(at, zone, NIGHT)
    assert released.astimezone(zone).isoformat()[:16] == "2026-11-11T08:00"


@pytest.mark.parametrize("zone", [PARIS, NEW_YORK, TOKYO, AUCKLAND])
def test_a_send_just_after_midnight_local_is_held_until_eight_the_same_local_day(
    zone: ZoneInfo,
) -> None:
    at = local(zone, 2026, 11, 10, 0, 5)
    assert release_time(at, zone, NIGHT) == local(zone, 2026, 11, 10, 8, 0)


def test_the_window_edges_are_start_inclusive_and_end_exclusive() -> None:
    assert release_time(local(PARIS, 2026, 11, 10, 20, 59), PARIS, NIGHT) == local(
        PARIS, 2026, 11, 10, 20, 59
    )
    assert release_time(local(PARIS, 2026, 11, 10, 21, 0), PARIS, NIGHT) == local(
        PARIS, 2026, 11, 11, 8, 0
    )
    assert release_time(local(PARIS, 2026, 11, 10, 8, 0), PARIS, NIGHT) == local(
        PARIS, 2026, 11, 10, 8, 0
    )


def test_one_utc_instant_is_quiet_for_one_recipient_and_sendable_for_another() -> None:
    at = datetime(2026, 11, 10, 13, 0, tzinfo=UTC)  # 14:00 Paris, 08:00 New York, 22:00 Tokyo
    assert release_time(at, PARIS, NIGHT) == at
    assert release_time(at, NEW_YORK, NIGHT) == at
    assert release_time(at, TOKYO, NIGHT) == local(TOKYO, 2026, 11, 11, 8, 0)
    # 02:00 the next day in Auckland (UTC+13 in summer)
    assert release_time(at, AUCKLAND, NIGHT) == local(AUCKLAND, 2026, 11, 11, 8, 0)


def test_a_daytime_window_does_not_cross_midnight() -> None:
    lunch = QuietHours(time(12), time(14))
    assert release_time(local(PARIS, 2026, 6, 1, 13, 0), PARIS, lunch) == local(
        PARIS, 2026, 6, 1, 14, 0
    )
    assert release_time(local(PARIS, 2026, 6, 1, 23, 0), PARIS, lunch) == local(
        PARIS, 2026, 6, 1, 23, 0
    )


def test_quiet_hours_follow_the_spring_forward_night_in_paris() -> None:
    # 29 March 2026: clocks go from 02:00 to 03:00; the night is an hour shorter.
    at = local(PARIS, 2026, 3, 28, 22, 0)
    released = release_time(at, PARIS, NIGHT)
    assert released == datetime(2026, 3, 29, 6, 0, tzinfo=UTC)  # 08:00 CEST
    assert (released - at).total_seconds() == 9 * 3600


def test_quiet_hours_follow_the_fall_back_night_in_new_york() -> None:
    # 1 November 2026: clocks go from 02:00 back to 01:00; the night is an hour longer.
    at = local(NEW_YORK, 2026, 10, 31, 22, 0)
    released = release_time(at, NEW_YORK, NIGHT)
    assert released == datetime(2026, 11, 1, 13, 0, tzinfo=UTC)  # 08:00 EST
    assert (released - at).total_seconds() == 11 * 3600


def test_a_window_ending_inside_the_spring_forward_gap_ends_after_the_gap() -> None:
    early = QuietHours(time(23), time(2, 30))
    released = release_time(local(PARIS, 2026, 3, 28, 23, 30), PARIS, early)
    assert released.astimezone(PARIS).time() == time(3, 30)
    assert released.astimezone(PARIS).date().isoformat() == "2026-03-29"


def test_auckland_dst_start_does_not_release_early() -> None:
    # 27 September 2026: New Zealand moves from UTC+12 to UTC+13 at 02:00.
    at = local(AUCKLAND, 2026, 9, 27, 1, 30)
    released = release_time(at, AUCKLAND, NIGHT)
    assert released.astimezone(AUCKLAND).isoformat()[:16] == "2026-09-27T08:00"
    assert released == datetime(2026, 9, 26, 19, 0, tzinfo=UTC)


def test_quiet_hours_with_equal_start_and_end_are_refused() -> None:
    with pytest.raises(InvalidPolicy):
        QuietHours(time(8), time(8))
    with pytest.raises(InvalidPolicy) as caught:
        QuietHours.parse("25:00", "08:00")
    assert caught.value.problems[0].pointer == "/quiet_hours"


def test_an_unknown_profile_timezone_falls_back_to_the_default() -> None:
    assert zone_of("Mars/Olympus", "Europe/Paris") == PARIS
    assert zone_of(None, "Asia/Tokyo") == TOKYO
    assert zone_of("America/New_York", "Europe/Paris") == NEW_YORK


# -- frequency caps ------------------------------------------------------------------------


def test_a_daily_cap_counts_the_recipients_local_calendar_day_not_the_utc_day() -> None:
    one_a_day = [CapRule(1, "day")]
    # 23:30 Paris on the 10th (22:30 UTC) and 00:30 Paris on the 11th (23:30 UTC, same UTC day)
    first = PastSend(local(PARIS, 2026, 11, 10, 23, 30), "email")
    after_midnight = local(PARIS, 2026, 11, 11, 0, 30)
    assert check_caps(one_a_day, [first], channel="email", at=after_midnight, zone=PARIS).allowed
    # For a Tokyo recipient both instants fall on the same local day (the 11th): refused.
    verdict = check_caps(one_a_day, [first], channel="email", at=after_midnight, zone=TOKYO)
    assert not verdict.allowed
    assert verdict.free_at == local(TOKYO, 2026, 11, 12, 0, 0)


def test_a_send_just_before_local_midnight_and_one_just_after_are_on_different_days() -> None:
    rule = [CapRule(1, "day")]
    before = PastSend(local(AUCKLAND, 2026, 11, 10, 23, 59), "sms")
    assert check_caps(
        rule, [before], channel="sms", at=local(AUCKLAND, 2026, 11, 11, 0, 0), zone=AUCKLAND
    ).allowed
    assert not check_caps(
        rule, [before], channel="sms", at=local(AUCKLAND, 2026, 11, 10, 23, 59, 59), zone=AUCKLAND
    ).allowed


def test_the_fall_back_day_is_twenty_five_hours_long_for_the_cap() -> None:
    start, end = period_bounds(local(NEW_YORK, 2026, 11, 1, 12, 0), NEW_YORK, "day")
    assert (end - start).total_seconds() == 25 * 3600
    start, end = period_bounds(local(PARIS, 2026, 3, 29, 12, 0), PARIS, "day")
    assert (end - start).total_seconds() == 23 * 3600


def test_per_channel_and_global_caps_apply_together_and_the_strictest_wins() -> None:
    rules = [CapRule(2, "day", "email"), CapRule(3, "day"), CapRule(4, "week")]
    day = [PastSend(local(PARIS, 2026, 11, 11, h, 0), "email") for h in (9, 10)]
    at = local(PARIS, 2026, 11, 11, 15, 0)
    email = check_caps(rules, day, channel="email", at=at, zone=PARIS)
    assert not email.allowed
    assert email.rule == CapRule(2, "day", "email")
    # SMS is under the email cap's reach, and the global cap still has room for one.
    assert check_caps(rules, day, channel="sms", at=at, zone=PARIS).allowed
    third = [*day, PastSend(local(PARIS, 2026, 11, 11, 11, 0), "sms")]
    sms = check_caps(rules, third, channel="sms", at=at, zone=PARIS)
    assert not sms.allowed
    assert sms.rule == CapRule(3, "day")


def test_when_several_rules_are_full_the_one_freeing_up_last_is_reported() -> None:
    rules = [CapRule(1, "day"), CapRule(1, "week")]
    history = [PastSend(local(PARIS, 2026, 11, 11, 9, 0), "email")]  # Wednesday
    verdict = check_caps(
        rules, history, channel="email", at=local(PARIS, 2026, 11, 11, 18, 0), zone=PARIS
    )
    assert verdict.rule == CapRule(1, "week")
    assert verdict.free_at == local(PARIS, 2026, 11, 16, 0, 0)  # next Monday, local midnight


def test_a_weekly_cap_runs_monday_to_sunday_in_local_time() -> None:
    rule = [CapRule(1, "week")]
    sunday_night = PastSend(local(TOKYO, 2026, 11, 15, 23, 0), "push")
    next_monday = local(TOKYO, 2026, 11, 16, 0, 1)
    same_monday = local(TOKYO, 2026, 11, 9, 0, 1)
    assert check_caps(rule, [sunday_night], channel="push", at=next_monday, zone=TOKYO).allowed
    assert not check_caps(rule, [sunday_night], channel="push", at=same_monday, zone=TOKYO).allowed


def test_transactional_messages_are_neither_capped_nor_counted() -> None:
    rule = [CapRule(1, "day")]
    at = local(PARIS, 2026, 11, 11, 15, 0)
    receipts = [
        PastSend(local(PARIS, 2026, 11, 11, h, 0), "email", transactional=True) for h in (8, 9, 10)
    ]
    assert check_caps(rule, receipts, channel="email", at=at, zone=PARIS).allowed
    marketing = [PastSend(local(PARIS, 2026, 11, 11, 8, 0), "email")]
    assert check_caps(
        rule, marketing, channel="email", at=at, zone=PARIS, transactional=True
    ).allowed


def test_a_negative_cap_or_unknown_period_is_refused_with_a_pointer() -> None:
    with pytest.raises(InvalidPolicy) as caught:
        CapRule(-1)
    assert caught.value.problems[0].pointer == "/caps/limit"
    with pytest.raises(InvalidPolicy):
        CapRule(1, "month")  # type: ignore[arg-type]


# -- the combined decision -----------------------------------------------------------------


POLICY = SendPolicy(caps=(CapRule(1, "day"),), quiet_hours=NIGHT)


def test_no_consent_means_no_send_whatever_the_hour() -> None:
    decision = decide_send(
        POLICY, channel="email", at=local(PARIS, 2026, 11, 11, 12, 0), zone=PARIS, consented=False
    )
    assert decision.outcome is SendOutcome.NO_CONSENT


def test_caps_are_counted_on_the_day_the_held_message_really_goes_out() -> None:
    # Held from 23:30 on the 10th to 08:00 on the 11th, which already has its one message.
    history = [PastSend(local(PARIS, 2026, 11, 11, 7, 0), "email")]
    decision = decide_send(
        POLICY,
        channel="email",
        at=local(PARIS, 2026, 11, 10, 23, 30),
        zone=PARIS,
        consented=True,
        history=history,
    )
    assert decision.outcome is SendOutcome.CAPPED
    free = decide_send(
        POLICY,
        channel="email",
        at=local(PARIS, 2026, 11, 10, 23, 30),
        zone=PARIS,
        consented=True,
        history=[],
    )
    assert free.allowed
    assert free.held
    assert free.send_at == local(PARIS, 2026, 11, 11, 8, 0)


def test_transactional_messages_go_out_at_once_even_at_night_and_over_the_cap() -> None:
    at = local(PARIS, 2026, 11, 10, 23, 30)
    history = [PastSend(local(PARIS, 2026, 11, 10, 9, 0), "sms")]
    decision = decide_send(
        POLICY,
        channel="sms",
        at=at,
        zone=PARIS,
        consented=False,
        history=history,
        transactional=True,
    )
    assert decision.allowed
    assert decision.send_at == at
    assert not decision.held


# -- channel choice ------------------------------------------------------------------------


def test_the_preferred_channel_is_used_when_consented() -> None:
    assert (
        choose_channel(preferred="sms", consented={"email", "sms"}, fallback=("email", "sms"))
        == "sms"
    )


def test_without_consent_to_the_preferred_channel_the_fallback_order_decides() -> None:
    assert (
        choose_channel(preferred="push", consented={"sms", "email"}, fallback=("email", "sms"))
        == "email"
    )
    assert choose_channel(preferred=None, consented={"sms"}, fallback=("email", "sms")) == "sms"


def test_a_channel_the_message_has_no_content_for_is_skipped() -> None:
    assert (
        choose_channel(
            preferred="push",
            consented={"push", "sms"},
            fallback=("push", "sms"),
            allowed={"email", "sms"},
        )
        == "sms"
    )
    assert choose_channel(preferred=None, consented={"postal"}, fallback=("email",)) is None
