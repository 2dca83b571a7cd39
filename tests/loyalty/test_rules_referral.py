"""Referral fraud checks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from fidela.kernel.errors import InvalidInput
from fidela.loyalty.rules import (
    BurstLimit,
    CompletedReferral,
    FraudReason,
    Identities,
    ReferralPolicy,
    Verdict,
    check_referral,
    email_mailbox,
)

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
ALICE = Identities(emails=frozenset({"alice@example.com"}), phones=frozenset({"+33612345678"}))
BOB = Identities(emails=frozenset({"bob@example.com"}), devices=frozenset({"dev-bob"}))


def referral(
    referrer: int = 1, referee: int = 2, at: datetime = T0, source: str | None = None
) -> CompletedReferral:
    return CompletedReferral(referrer, referee, at, source)


def codes(reasons: tuple[FraudReason, ...]) -> list[str]:
    return [reason.code for reason in reasons]


def test_an_ordinary_referral_is_ok() -> None:
    decision = check_referral(referral(), referrer=ALICE, referee=BOB, recent=[])
    assert decision.verdict is Verdict.OK
    assert not decision.held
    assert decision.reasons == ()


def test_referring_yourself_is_held() -> None:
    decision = check_referral(referral(1, 1), referrer=ALICE, referee=ALICE, recent=[])
    assert decision.verdict is Verdict.HOLD
    assert codes(decision.reasons) == ["self_referral.same_customer"]


@pytest.mark.parametrize(
    ("shared", "code"),
    [
        (Identities(emails=frozenset({"alice@example.com"})), "self_referral.shared_email"),
        (Identities(phones=frozenset({"+33612345678"})), "self_referral.shared_phone"),
        (Identities(cards=frozenset({"2900001234567"})), "self_referral.shared_card"),
        (Identities(devices=frozenset({"dev-alice"})), "self_referral.shared_device"),
    ],
)
def test_a_shared_identity_of_any_kind_is_held_naming_the_kind_not_the_value(
    shared: Identities, code: str
) -> None:
    referrer = Identities(
        emails=ALICE.emails | {"alice.pro@example.com"},
        phones=ALICE.phones,
        cards=frozenset({"2900001234567"}),
        devices=frozenset({"dev-alice"}),
    )
    decision = check_referral(referral(), referrer=referrer, referee=shared, recent=[])
    assert decision.held
    assert codes(decision.reasons) == [code]
    value = next(iter(shared.emails | shared.phones | shared.cards | shared.devices))
    assert value not in decision.reasons[0].detail


def test_similar_emails_delivering_to_the_same_mailbox_are_held() -> None:
    referrer = Identities(emails=frozenset({"jean.dupont@gmail.com"}))
    referee = Identities(emails=frozenset({"jeandupont+promo@googlemail.com"}))
    decision = check_referral(referral(), referrer=referrer, referee=referee, recent=[])
    assert codes(decision.reasons) == ["self_referral.similar_email"]
    relaxed = ReferralPolicy(similar_emails=False)
    assert not check_referral(
        referral(), referrer=referrer, referee=referee, recent=[], policy=relaxed
    ).held


def test_email_mailbox_drops_tags_everywhere_and_dots_only_for_gmail() -> None:
    assert email_mailbox("Jean.Dupont+x@Gmail.com") == "jeandupont@gmail.com"
    assert email_mailbox("jean.dupont+x@example.com") == "jean.dupont@example.com"


def test_more_than_n_referrals_from_one_referrer_within_the_window_are_held() -> None:
    policy = ReferralPolicy(per_referrer=BurstLimit(3, timedelta(days=1)), per_source=None)
    recent = [referral(1, referee, T0 - timedelta(hours=referee)) for referee in (10, 11, 12)]
    decision = check_referral(
        referral(1, 2), referrer=ALICE, referee=BOB, recent=recent, policy=policy
    )
    assert codes(decision.reasons) == ["burst.referrer"]
    assert "4 referrals" in decision.reasons[0].detail
    # Three in the window (the oldest one slid out) is not more than three.
    later = referral(1, 2, T0 + timedelta(hours=12, minutes=30))
    assert not check_referral(later, referrer=ALICE, referee=BOB, recent=recent, policy=policy).held


def test_bursts_count_other_referrers_only_for_the_source_check() -> None:
    policy = ReferralPolicy(
        per_referrer=BurstLimit(2, timedelta(days=7)), per_source=BurstLimit(2, timedelta(days=7))
    )
    recent = [
        referral(referrer, 100 + referrer, T0 - timedelta(minutes=referrer), source="203.0.113.9")
        for referrer in (5, 6)
    ]
    decision = check_referral(
        referral(1, 2, source="203.0.113.9"),
        referrer=ALICE,
        referee=BOB,
        recent=recent,
        policy=policy,
    )
    assert codes(decision.reasons) == ["burst.source"]
    other_source = referral(1, 2, source="198.51.100.1")
    assert not check_referral(
        other_source, referrer=ALICE, referee=BOB, recent=recent, policy=policy
    ).held


def test_a_replayed_completion_and_later_completions_do_not_count() -> None:
    policy = ReferralPolicy(per_referrer=BurstLimit(1, timedelta(days=7)), per_source=None)
    current = referral(1, 2)
    recent = [current, referral(1, 3, T0 + timedelta(hours=1))]
    decision = check_referral(current, referrer=ALICE, referee=BOB, recent=recent, policy=policy)
    assert not decision.held


def test_policies_and_completions_refuse_nonsense() -> None:
    with pytest.raises(InvalidInput):
        BurstLimit(0, timedelta(days=1))
    with pytest.raises(InvalidInput):
        BurstLimit(3, timedelta(0))
    with pytest.raises(InvalidInput):
        CompletedReferral(1, 2, datetime(2026, 1, 1))  # noqa: DTZ001 - naive on purpose
