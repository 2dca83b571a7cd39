"""Customer profiles: valid and unique contact data, coherent geography, consents, ids."""

from __future__ import annotations

import datetime

import numpy as np
import phonenumbers
from email_validator import validate_email

from fidela.demo.vocabulary import CITIES, EMAIL_DOMAINS
from tests.demo.dataset import Dataset


def test_customer_ids_number_customers_in_order(dataset: Dataset) -> None:
    ids = dataset.values("customers", "customer_id")
    assert ids[0] == "C0000001"
    assert ids[-1] == f"C{dataset.config.customers:07d}"
    assert (dataset.numbers("customers", "customer_id") == np.arange(1, ids.size + 1)).all()


def test_emails_are_unique_and_valid(dataset: Dataset) -> None:
    emails = [str(e) for e in dataset.values("customers", "email")]
    assert len(set(emails)) == len(emails)
    for email in emails:
        assert email == email.lower()
        assert email.split("@")[1] in EMAIL_DOMAINS
        assert validate_email(email, check_deliverability=False).normalized == email


def test_phones_are_valid_e164_numbers(dataset: Dataset) -> None:
    phones = dataset.values("customers", "phone")
    countries = dataset.values("customers", "country")
    # Fraud ring members may use their leader's phone, from another country.
    own = np.ones(phones.size, dtype=bool)
    own[dataset.fraud_customers()] = False
    for phone, country, is_own in zip(phones, countries, own, strict=True):
        parsed = phonenumbers.parse(phone)
        assert phonenumbers.is_valid_number(parsed), phone
        assert phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164) == phone
        if is_own:
            assert phonenumbers.region_code_for_number(parsed) == country, phone
        assert phonenumbers.number_type(parsed) in {
            phonenumbers.PhoneNumberType.MOBILE,
            phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
        }


def test_loyalty_cards_are_unique_ean13_numbers(dataset: Dataset) -> None:
    cards = [str(c) for c in dataset.values("customers", "loyalty_card")]
    assert len(set(cards)) == len(cards)
    for card in cards:
        assert len(card) == 13
        assert card.isdigit()
        digits = [int(c) for c in card]
        weighted = sum(d * (3 if i % 2 else 1) for i, d in enumerate(digits[:12]))
        assert (10 - weighted % 10) % 10 == digits[12]


def test_language_and_timezone_follow_the_city(dataset: Dataset) -> None:
    city = {c.name: c for c in CITIES}
    rows = zip(
        dataset.values("customers", "city"),
        dataset.values("customers", "country"),
        dataset.values("customers", "timezone"),
        dataset.values("customers", "language"),
        strict=True,
    )
    french_in_gb = 0
    gb = 0
    for name, country, timezone, language in rows:
        assert city[name].country == country
        assert city[name].timezone == timezone
        if country == "FR":
            assert language in {"fr", "en"}
        if country == "GB":
            gb += 1
            french_in_gb += language == "fr"
    assert gb > 300
    assert french_in_gb < 0.05 * gb
    languages = dataset.values("customers", "language")
    countries = dataset.values("customers", "country")
    assert (languages[countries == "FR"] == "fr").mean() > 0.9


def test_app_users_have_a_device_and_push_consent_needs_the_app(dataset: Dataset) -> None:
    device = dataset.values("customers", "device_id")
    has_device = np.array([d is not None for d in device])
    app_signups = dataset.values("customers", "signup_channel") == "app"
    assert has_device[app_signups].all()
    assert 0.2 < has_device.mean() < 0.7
    push = dataset.values("customers", "consent_push_marketing").astype(bool)
    assert not (push & ~has_device).any()


def test_customers_are_adults_born_before_signup(dataset: Dataset) -> None:
    birth = dataset.values("customers", "birth_date").astype("datetime64[D]")
    signup = dataset.values("customers", "signup_at").astype("datetime64[D]")
    age_days = (signup - birth).astype(np.int64)
    assert (age_days >= 18 * 365).all()
    assert (age_days <= 91 * 366).all()
    window_start = np.datetime64(dataset.config.start)
    assert (signup >= window_start).all()
    assert (signup < np.datetime64(dataset.config.end)).all()


def test_signups_grow_over_the_window(dataset: Dataset) -> None:
    signup = dataset.values("customers", "signup_at").astype("datetime64[D]")
    first_year = signup < np.datetime64(dataset.config.start + datetime.timedelta(days=365))
    last_year = signup >= np.datetime64(dataset.config.end - datetime.timedelta(days=365))
    assert last_year.sum() > 1.3 * first_year.sum()


def test_interests_are_known_tags(dataset: Dataset) -> None:
    from fidela.demo.catalogue import CATEGORIES
    from fidela.demo.vocabulary import INTEREST_LIFESTYLES

    known = {c.name for c in CATEGORIES} | set(INTEREST_LIFESTYLES)
    for interests in dataset.values("customers", "interests"):
        tags = str(interests).split(";")
        assert tags
        assert set(tags) <= known
        assert len(set(tags)) == len(tags)
