from __future__ import annotations

import pytest

from fidela.event.rules import (
    BatchTooLarge,
    UnknownEventType,
    check_batch_size,
    matches,
    validate_type_name,
)


def test_subscription_patterns() -> None:
    assert matches("order.completed", "order.completed")
    assert matches("order.*", "order.returned")
    assert matches("*", "login")
    assert not matches("order.*", "orders.completed")
    assert not matches("order.completed", "order.returned")


@pytest.mark.parametrize("name", ["Order.Completed", "order..x", "custom.", "1x.y", "a-b"])
def test_bad_type_names_are_refused(name: str) -> None:
    with pytest.raises(UnknownEventType):
        validate_type_name(name)


def test_batch_is_limited_to_1000() -> None:
    check_batch_size(1000)
    with pytest.raises(BatchTooLarge) as caught:
        check_batch_size(1001)
    assert caught.value.problems[0].pointer == "/events"
