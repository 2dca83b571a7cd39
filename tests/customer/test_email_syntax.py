"""The plain-address shortcut gives email-validator's answer, error or normalised form."""

from __future__ import annotations

import pytest
from email_validator import EmailNotValidError, validate_email
from hypothesis import example, given, settings
from hypothesis import strategies as st

from fidela.customer.email_syntax import normalised_address

LOCAL_CHARS = "abcXYZ019._-+!#$%&'*/=?^`{|}~\"\\ (),:;<>@[]éß\u0338"
LABELS = st.one_of(
    st.sampled_from(
        [
            *("example", "EXAMPLE", "com", "fr", "co", "c0m", "123", "", "_dmarc"),
            *("test", "local", "localhost", "invalid", "onion", "arpa"),  # special use
            *("xn--bcher-kva", "xn--zz", "bücher", "-a", "a-", "a--b", "a" * 63, "a" * 64),
        ]
    ),
    st.text(alphabet="abz09-.", min_size=1, max_size=12),
)


def _library(address: str) -> str:
    try:
        return validate_email(address, check_deliverability=False).normalized
    except EmailNotValidError as error:
        return f"error: {error}"


def _ours(address: str) -> str:
    try:
        return normalised_address(address)
    except EmailNotValidError as error:
        return f"error: {error}"


@st.composite
def addresses(draw: st.DrawFn) -> str:
    local = draw(st.text(alphabet=LOCAL_CHARS, min_size=0, max_size=70))
    labels = draw(st.lists(LABELS, min_size=1, max_size=5))
    if draw(st.booleans()):
        labels[-1] = draw(st.sampled_from(["com", "fr", "org", "travel"]))
    return f"{local}@{'.'.join(labels)}"


@settings(max_examples=3_000, deadline=None)
@given(addresses())
@example("Jeanne.Martin@Example.COM")
@example("INFO@example.com")
@example("info@xn--bcher-kva.example")
@example("a" * 64 + "@" + ("b" * 60 + ".") * 3 + "com")
@example("a" * 190 + "@" + "b" * 59 + ".com")
@example("a@b" + "." * 2 + "com")
def test_the_shortcut_answers_as_the_library_does(address: str) -> None:
    assert _ours(address) == _library(address)


@pytest.mark.parametrize(
    ("address", "normalised"),
    [
        ("c1@example.com", "c1@example.com"),
        ("Jeanne.Martin@Example.COM", "Jeanne.Martin@example.com"),
        ("Postmaster@Example.com", "postmaster@example.com"),
        ("x@xn--bcher-kva.example", "x@bücher.example"),
    ],
)
def test_plain_addresses_keep_their_local_part_and_lower_their_domain(
    address: str, normalised: str
) -> None:
    assert normalised_address(address) == normalised


@pytest.mark.parametrize("address", ["x@site.test", "a..b@example.com", "a@localhost", "a@1.2"])
def test_what_the_library_refuses_is_refused_in_its_words(address: str) -> None:
    with pytest.raises(EmailNotValidError) as ours:
        normalised_address(address)
    with pytest.raises(EmailNotValidError) as theirs:
        validate_email(address, check_deliverability=False)
    assert str(ours.value) == str(theirs.value)
