from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from fidela.customer.rules import (
    REDACTED,
    AttributeType,
    ConsentChannel,
    ConsentFact,
    ConsentPurpose,
    ConsentStatus,
    CustomerStatus,
    Identity,
    IdentityKind,
    InvalidConsent,
    InvalidIdentity,
    InvalidProfile,
    MergeRefused,
    ProfileState,
    age_on,
    check_merge,
    coerce_attribute,
    decide_consent,
    decide_match,
    erasure_secrets,
    fill_missing,
    merged_consent,
    moves_state,
    normalise_card,
    normalise_email,
    normalise_phone,
    normalise_tags,
    parse_priority,
    scrub,
    validate_birth_date,
    validate_timezone,
)

T = datetime(2026, 11, 2, tzinfo=UTC)


def test_email_is_normalised_case_insensitively_without_dns() -> None:
    assert normalise_email(" Jeanne.Martin@Example.COM ") == "jeanne.martin@example.com"


@pytest.mark.parametrize(
    "bad", ["jeanne", "jeanne@", "@example.com", "a b@example.com", "x@site.test"]
)
def test_invalid_emails_are_refused_with_a_pointer(bad: str) -> None:
    with pytest.raises(InvalidIdentity) as caught:
        normalise_email(bad, "/identities/email")
    assert caught.value.problems[0].pointer == "/identities/email"


def test_phones_become_e164_using_the_default_region() -> None:
    assert normalise_phone("06 12 34 56 78", "FR") == "+33612345678"
    assert normalise_phone("+44 7911 123456", "FR") == "+447911123456"
    with pytest.raises(InvalidIdentity):  # Ofcom's fiction range is not a real number
        normalise_phone("+44 7700 900123", "FR")


@pytest.mark.parametrize("bad", ["12", "+33 1", "not a phone", "+33 6 12"])
def test_invalid_phones_are_refused(bad: str) -> None:
    with pytest.raises(InvalidIdentity):
        normalise_phone(bad, "FR")


def test_card_numbers_lose_spaces_and_dashes() -> None:
    assert normalise_card("2900-0012 3456 7") == "2900001234567"
    with pytest.raises(InvalidIdentity):
        normalise_card("12")


def test_match_picks_the_highest_priority_owner_and_attaches_free_identities() -> None:
    card = Identity(IdentityKind.CARD, "2900001234567")
    email = Identity(IdentityKind.EMAIL, "a@example.com")
    phone = Identity(IdentityKind.PHONE, "+33612345678")
    decision = decide_match([email, card, phone], {email: 7, card: 3})
    assert decision.customer_id == 3  # card beats email
    assert decision.attach == (phone,)
    assert decision.conflicts == ((email, 7),)


def test_match_priority_is_configurable() -> None:
    card = Identity(IdentityKind.CARD, "2900001234567")
    email = Identity(IdentityKind.EMAIL, "a@example.com")
    priority = parse_priority("email,card")
    assert decide_match([card, email], {email: 7, card: 3}, priority).customer_id == 7


def test_nobody_matches_when_no_identity_is_known() -> None:
    email = Identity(IdentityKind.EMAIL, "a@example.com")
    decision = decide_match([email], {})
    assert decision.customer_id is None
    assert decision.attach == (email,)


def test_double_opt_in_makes_email_consent_pending_and_only_for_email() -> None:
    pending = decide_consent(
        channel=ConsentChannel.EMAIL,
        purpose=ConsentPurpose.MARKETING,
        granted=True,
        double_opt_in=True,
    )
    assert pending.status is ConsentStatus.PENDING
    assert pending.needs_confirmation
    with pytest.raises(InvalidConsent):
        decide_consent(
            channel=ConsentChannel.SMS,
            purpose=ConsentPurpose.MARKETING,
            granted=True,
            double_opt_in=True,
        )
    refused = decide_consent(
        channel=ConsentChannel.SMS,
        purpose=ConsentPurpose.MARKETING,
        granted=False,
        double_opt_in=False,
    )
    assert refused.status is ConsentStatus.DENIED


def fact(status: ConsentStatus, at: datetime, record: int) -> ConsentFact:
    return ConsentFact(ConsentChannel.EMAIL, ConsentPurpose.MARKETING, status, at, record)


def test_merged_consent_takes_the_latest_decision_and_refusal_on_a_tie() -> None:
    key = (ConsentChannel.EMAIL, ConsentPurpose.MARKETING)
    later_grant = merged_consent(
        [fact(ConsentStatus.DENIED, T, 1), fact(ConsentStatus.GRANTED, T + timedelta(days=1), 2)]
    )
    assert later_grant[key].record_id == 2
    tie = merged_consent([fact(ConsentStatus.GRANTED, T, 1), fact(ConsentStatus.DENIED, T, 2)])
    assert tie[key].status is ConsentStatus.DENIED


def state(
    customer_id: int, status: CustomerStatus = CustomerStatus.ACTIVE, into: int | None = None
) -> ProfileState:
    return ProfileState(customer_id, status, into)


def test_merge_checks_are_idempotent_and_refuse_the_impossible() -> None:
    assert check_merge(state(1), state(2)) is True
    assert check_merge(state(1), state(2, CustomerStatus.MERGED, 1)) is False  # done before
    for survivor, merged in [
        (state(1), state(1)),
        (state(1), state(2, CustomerStatus.MERGED, 3)),
        (state(1, CustomerStatus.ERASED), state(2)),
        (state(1), state(2, CustomerStatus.ERASED)),
    ]:
        with pytest.raises(MergeRefused):
            check_merge(survivor, merged)


def test_merge_fills_only_what_the_survivor_lacks() -> None:
    assert fill_missing(
        {"first_name": "Jeanne", "city": None}, {"first_name": "J.", "city": "Lyon"}
    ) == {"city": "Lyon"}


def test_scrub_redacts_personal_keys_and_any_string_holding_a_secret() -> None:
    secrets = erasure_secrets(["jeanne@example.com", "Martin", "", None])
    document = {"email": "x@y.z", "note": "call MARTIN back", "lines": [{"sku": "A1"}], "n": 3}
    assert scrub(document, secrets) == {
        "email": REDACTED,
        "note": REDACTED,
        "lines": [{"sku": "A1"}],
        "n": 3,
    }
    assert scrub({"email": "x"}, secrets, personal_keys=False) == {"email": "x"}


def test_attributes_are_checked_against_their_declared_type() -> None:
    assert coerce_attribute("size", AttributeType.INTEGER, 42) == 42
    assert coerce_attribute("since", AttributeType.DATE, "2026-01-31") == "2026-01-31"
    for kind, value in [
        (AttributeType.INTEGER, "42"),
        (AttributeType.BOOLEAN, 1),
        (AttributeType.DATETIME, "2026-01-31T10:00:00"),
        (AttributeType.DATE, "31/01/2026"),
    ]:
        with pytest.raises(InvalidProfile):
            coerce_attribute("x", kind, value)


def test_profile_values_are_validated() -> None:
    assert validate_timezone("Europe/Paris") == "Europe/Paris"
    with pytest.raises(InvalidProfile):
        validate_timezone("Mars/Olympus")
    with pytest.raises(InvalidProfile):
        validate_birth_date(date(2030, 1, 1), date(2026, 11, 2))
    with pytest.raises(InvalidProfile):
        normalise_tags({"hobbies": ["x"]})
    assert normalise_tags({"interests": ["Running", "running ", "coffee"]}) == {
        "interests": ["coffee", "running"]
    }


def test_age_counts_full_years() -> None:
    assert age_on(date(1990, 11, 3), date(2026, 11, 2)) == 35
    assert age_on(date(1990, 11, 2), date(2026, 11, 2)) == 36


def test_a_consent_decision_moves_the_state_unless_a_later_one_set_it() -> None:
    at = datetime(2026, 5, 1, 12, tzinfo=UTC)
    assert moves_state(None, at)  # nothing recorded yet
    assert moves_state(at, at)  # taken at the same instant: the later record wins
    assert moves_state(at - timedelta(days=1), at)
    # Older than the current state: kept in the history, it never overrides a newer one.
    assert not moves_state(at + timedelta(seconds=1), at)
