from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fidela.platform.outbox.rules import (
    MessageStatus,
    RetryPolicy,
    backoff_delay,
    decide_after_failure,
    periodic_slot,
)

NOW = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)
# hypothesis takes naive bounds and attaches the timezone itself
NAIVE_MIN = datetime(2001, 1, 1)  # noqa: DTZ001
NAIVE_MAX = datetime(2090, 1, 1)  # noqa: DTZ001
POLICY = RetryPolicy(max_attempts=5, base=timedelta(seconds=10), factor=3, cap=timedelta(hours=1))


def test_backoff_grows_exponentially_with_bounded_jitter() -> None:
    delays = [backoff_delay(POLICY, "k", attempt).total_seconds() for attempt in range(1, 5)]
    for attempt, delay in enumerate(delays, start=1):
        nominal = 10 * 3 ** (attempt - 1)
        assert nominal <= delay <= nominal * 1.2


def test_backoff_is_capped() -> None:
    assert backoff_delay(POLICY, "k", 30) <= timedelta(hours=1) * 1.2


def test_backoff_is_deterministic_per_key_and_spreads_across_keys() -> None:
    assert backoff_delay(POLICY, "a", 2) == backoff_delay(POLICY, "a", 2)
    assert len({backoff_delay(POLICY, f"key-{i}", 2) for i in range(50)}) > 40


def test_failure_is_retried_until_max_attempts_then_dead() -> None:
    retry = decide_after_failure(
        policy=POLICY, key="k", attempts=1, max_attempts=5, now=NOW, expires_at=None, retryable=True
    )
    assert retry.status is MessageStatus.PENDING
    assert retry.available_at > NOW
    dead = decide_after_failure(
        policy=POLICY, key="k", attempts=5, max_attempts=5, now=NOW, expires_at=None, retryable=True
    )
    assert dead.status is MessageStatus.DEAD


def test_permanent_failure_is_dead_at_once() -> None:
    decision = decide_after_failure(
        policy=POLICY,
        key="k",
        attempts=1,
        max_attempts=5,
        now=NOW,
        expires_at=None,
        retryable=False,
    )
    assert decision.status is MessageStatus.DEAD


def test_time_sensitive_message_dies_rather_than_arrive_after_expiry() -> None:
    decision = decide_after_failure(
        policy=POLICY,
        key="k",
        attempts=3,
        max_attempts=5,
        now=NOW,
        expires_at=NOW + timedelta(seconds=30),
        retryable=True,
    )
    assert decision.status is MessageStatus.DEAD
    assert "expired" in decision.reason


@given(
    st.datetimes(min_value=NAIVE_MIN, max_value=NAIVE_MAX, timezones=st.just(UTC)),
    st.sampled_from([timedelta(minutes=1), timedelta(hours=1), timedelta(days=1)]),
)
def test_periodic_slot_contains_now_and_is_aligned(now: datetime, every: timedelta) -> None:
    epoch = datetime(2000, 1, 3, tzinfo=UTC)
    slot = periodic_slot(now, every, epoch)
    assert slot <= now < slot + every
    assert (slot - epoch) % every == timedelta(0)


def test_periodic_slot_rejects_non_positive_period() -> None:
    with pytest.raises(ValueError, match="positive"):
        periodic_slot(NOW, timedelta(0), NOW)
