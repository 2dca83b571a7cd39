"""Pure delivery rules: channel choice, language fallback, signatures, rate limits."""

from __future__ import annotations

import pytest

from fidela.engagement.rules import (
    Channel,
    InvalidTrackingLink,
    TokenBucket,
    choose_channel,
    classify_smtp_reply,
    message_id_header,
    pick_language,
    sign_click,
    verify_click,
    verify_webhook,
    webhook_signature,
)
from fidela.kernel.errors import InvalidInput


def test_preferred_channel_wins_when_consented_and_reachable() -> None:
    chosen = choose_channel(
        preferred="sms",
        consented=[Channel.EMAIL, Channel.SMS],
        reachable=[Channel.EMAIL, Channel.SMS],
    )
    assert chosen is Channel.SMS


def test_fallback_order_applies_when_preferred_channel_lacks_consent_or_address() -> None:
    assert (
        choose_channel(preferred="sms", consented=[Channel.PUSH], reachable=list(Channel))
        is Channel.PUSH
    )
    assert (
        choose_channel(preferred="email", consented=list(Channel), reachable=[Channel.IN_APP])
        is Channel.IN_APP
    )
    assert choose_channel(preferred=None, consented=[], reachable=list(Channel)) is None


def test_language_falls_back_to_default_then_any() -> None:
    assert pick_language("fr-CA", ["en", "fr"], "en") == "fr"
    assert pick_language("de", ["en", "fr"], "en") == "en"
    assert pick_language("de", ["fr"], "en") == "fr"
    assert pick_language("fr", [], "en") is None


def test_message_id_is_stable_per_key_and_distinct_between_keys() -> None:
    assert message_id_header("k1", "x.example") == message_id_header("k1", "x.example")
    assert message_id_header("k1", "x.example") != message_id_header("k2", "x.example")
    assert message_id_header("k1", "x.example").endswith("@x.example>")


def test_click_signature_binds_message_and_url() -> None:
    signature = sign_click("s3cret", 7, "https://shop.example/a")
    verify_click("s3cret", 7, "https://shop.example/a", signature)
    for message_id, url, secret in (
        (8, "https://shop.example/a", "s3cret"),
        (7, "https://evil.example/a", "s3cret"),
        (7, "https://shop.example/a", "other"),
    ):
        with pytest.raises(InvalidTrackingLink):
            verify_click(secret, message_id, url, signature)


def test_only_http_links_are_redirected_even_when_signed() -> None:
    url = "javascript:alert(1)"
    with pytest.raises(InvalidTrackingLink):
        verify_click("s", 1, url, sign_click("s", 1, url))


def test_webhook_signature_covers_timestamp_and_body() -> None:
    signature = webhook_signature("k", "1700000000", b'{"a":1}')
    verify_webhook("k", "1700000000", b'{"a":1}', signature)
    with pytest.raises(InvalidInput):
        verify_webhook("k", "1700000001", b'{"a":1}', signature)
    with pytest.raises(InvalidInput):
        verify_webhook("k", "1700000000", b'{"a":2}', signature)


def test_token_bucket_allows_a_burst_then_spaces_requests_at_the_rate() -> None:
    bucket = TokenBucket(rate=10, burst=3)
    waits = [bucket.take(0.0) for _ in range(5)]
    assert waits[:3] == [0.0, 0.0, 0.0]
    assert waits[3] == pytest.approx(0.1)
    assert waits[4] == pytest.approx(0.2)
    assert bucket.take(10.0) == 0.0  # refilled (capped at the burst)


def test_smtp_replies_classify_retry_and_hard_bounce() -> None:
    assert classify_smtp_reply(421) == (True, False)
    assert classify_smtp_reply(550) == (False, True)
    assert classify_smtp_reply(554) == (False, False)
