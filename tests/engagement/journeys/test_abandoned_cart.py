"""The abandoned-cart journey end to end: the trigger comes through the real event path, the
test drives the clock and runs the worker job; message records are the evidence.

Default send policy: quiet hours 21:00-08:00 local, at most 2 marketing messages a day across
channels and 1 SMS a day (recipient's calendar day)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from fidela.engagement.journeys import service as journeys
from fidela.engagement.journeys.library import ABANDONED_CART
from fidela.engagement.journeys.models import JourneyState
from fidela.engagement.messages import Content, enqueue_message
from fidela.engagement.rules import Channel
from fidela.platform.db import Database
from tests.conftest import Clock
from tests.engagement.journeys.helpers import event, grant, member, run_job, sent
from tests.event.builders import order, simple

PARIS = ZoneInfo("Europe/Paris")
TOKYO = ZoneInfo("Asia/Tokyo")
# Monday 2 November 2026, 10:30 in Paris.
START = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)


def cart(external_id: str, at: datetime, email: str, cart_id: str = "C-1") -> dict[str, object]:
    return simple(
        "cart.abandoned",
        external_id,
        at,
        {"email": email},
        cart_id=cart_id,
        currency="EUR",
        value_minor=8900,
        lines=[],
    )


@pytest.fixture
def shop(database: Database, clock: Clock) -> Database:
    clock.now = START
    with database.write() as session:
        journeys.publish_journey(
            session, definition=ABANDONED_CART, expected_version=None, now=clock()
        )
    return database


def run(database: Database, clock: Clock, at: datetime) -> None:
    clock.now = at
    run_job(database, at)


def test_email_after_one_hour_then_sms_the_next_day(shop: Database, clock: Clock) -> None:
    with shop.write() as session:
        who = member(session, clock(), "ann")
        event(session, cart("cart-1", clock(), "ann@example.com"), clock())
        assert sent(session, who) == []
    run(shop, clock, START + timedelta(minutes=59))
    with shop.read() as session:
        assert sent(session, who) == []
    run(shop, clock, START + timedelta(hours=1))
    with shop.read() as session:
        assert sent(session, who) == [("email", "email", START + timedelta(hours=1), "queued")]
    # The SMS waits for 10:00 Paris the next day (09:00 UTC), not for 24 hours.
    next_day_ten = datetime(2026, 11, 3, 10, 0, tzinfo=PARIS).astimezone(UTC)
    run(shop, clock, next_day_ten - timedelta(minutes=1))
    with shop.read() as session:
        assert len(sent(session, who)) == 1
    run(shop, clock, next_day_ten)
    with shop.read() as session:
        messages = sent(session, who)
        assert messages[1] == ("sms", "sms", next_day_ten, "queued")
        state = session.execute(select(JourneyState)).scalar_one()
        assert state.status == "completed"
        assert state.guard is None  # ended: the same cart may enter again


def test_nothing_more_after_a_purchase_and_the_run_counts_as_converted(
    shop: Database, clock: Clock
) -> None:
    with shop.write() as session:
        who = member(session, clock(), "bob")
        event(session, cart("cart-2", clock(), "bob@example.com"), clock())
    run(shop, clock, START + timedelta(hours=1))
    clock.now = START + timedelta(hours=5)
    with shop.write() as session:
        event(session, order("O-1", clock(), customer={"email": "bob@example.com"}), clock())
    run(shop, clock, START + timedelta(days=2))
    with shop.read() as session:
        assert [m[0] for m in sent(session, who)] == ["email"]
        state = session.execute(select(JourneyState)).scalar_one()
        assert state.status == "converted"
        assert state.next_wake_at is None


def test_a_purchase_before_the_first_hour_sends_nothing(shop: Database, clock: Clock) -> None:
    with shop.write() as session:
        who = member(session, clock(), "cat")
        event(session, cart("cart-3", clock(), "cat@example.com"), clock())
        event(
            session,
            order("O-2", clock() + timedelta(minutes=20), customer={"email": "cat@example.com"}),
            clock(),
        )
    run(shop, clock, START + timedelta(days=3))
    with shop.read() as session:
        assert sent(session, who) == []


def test_an_email_due_in_quiet_hours_is_held_until_eight_local(
    shop: Database, clock: Clock
) -> None:
    evening = datetime(2026, 11, 2, 20, 30, tzinfo=PARIS).astimezone(UTC)
    clock.now = evening
    with shop.write() as session:
        who = member(session, clock(), "dan")
        event(session, cart("cart-4", clock(), "dan@example.com"), clock())
    run(shop, clock, evening + timedelta(hours=1))  # 21:30 Paris
    with shop.read() as session:
        eight = datetime(2026, 11, 3, 8, 0, tzinfo=PARIS).astimezone(UTC)
        assert sent(session, who) == [("email", "email", eight, "queued")]
    run(shop, clock, datetime(2026, 11, 3, 10, 0, tzinfo=PARIS).astimezone(UTC))
    with shop.read() as session:
        assert [m[0] for m in sent(session, who)] == ["email", "sms"]


def test_quiet_hours_are_the_recipients_own_in_tokyo(shop: Database, clock: Clock) -> None:
    # 10:30 Paris is 18:30 Tokyo: the email at 19:30 Tokyo goes out; the SMS waits for
    # 10:00 Tokyo the next day.
    with shop.write() as session:
        who = member(session, clock(), "eve", timezone="Asia/Tokyo")
        event(session, cart("cart-5", clock(), "eve@example.com"), clock())
    run(shop, clock, START + timedelta(hours=1))
    tokyo_ten = datetime(2026, 11, 3, 10, 0, tzinfo=TOKYO).astimezone(UTC)
    run(shop, clock, tokyo_ten)
    with shop.read() as session:
        assert sent(session, who) == [
            ("email", "email", START + timedelta(hours=1), "queued"),
            ("sms", "sms", tokyo_ten, "queued"),
        ]


def test_consent_withdrawn_between_the_email_and_the_sms_stops_the_sms(
    shop: Database, clock: Clock
) -> None:
    with shop.write() as session:
        who = member(session, clock(), "fay")
        event(session, cart("cart-6", clock(), "fay@example.com"), clock())
    run(shop, clock, START + timedelta(hours=1))
    clock.now = START + timedelta(hours=3)
    with shop.write() as session:
        grant(session, who, "sms", clock(), granted=False)
    run(shop, clock, START + timedelta(days=1))
    with shop.read() as session:
        assert [m[0] for m in sent(session, who)] == ["email"]
        state = session.execute(select(JourneyState)).scalar_one()
        assert state.history[-1]["step"] == "sms"
        assert state.history[-1]["outcome"] == "no_consent"


def test_the_daily_cap_stops_the_email_when_the_day_is_already_full(
    shop: Database, clock: Clock
) -> None:
    with shop.write() as session:
        who = member(session, clock(), "gus")
        for n in range(2):  # two marketing messages already today (the global cap is 2)
            enqueue_message(
                session,
                customer_id=who,
                channel=Channel.EMAIL,
                key=f"news-{n}",
                now=clock(),
                content=Content(subject="News", body="Hello"),
            )
        event(session, cart("cart-7", clock(), "gus@example.com"), clock())
    run(shop, clock, START + timedelta(hours=1))
    with shop.read() as session:
        assert [m[1] for m in sent(session, who)] == [None, None]
        state = session.execute(select(JourneyState)).scalar_one()
        assert state.history[-1]["outcome"] == "capped"
    # The next day has room again: the SMS goes out.
    run(shop, clock, START + timedelta(days=1))
    with shop.read() as session:
        assert [m[1] for m in sent(session, who)] == [None, None, "sms"]


def test_the_same_cart_does_not_enter_twice_while_its_run_is_under_way(
    shop: Database, clock: Clock
) -> None:
    with shop.write() as session:
        member(session, clock(), "hal")
        event(session, cart("cart-8", clock(), "hal@example.com"), clock())
        event(session, cart("cart-9", clock(), "hal@example.com"), clock())
        event(session, cart("cart-10", clock(), "hal@example.com", cart_id="C-2"), clock())
        runs = session.execute(select(JourneyState.entry_key)).scalars().all()
        assert sorted(runs) == ["C-1", "C-2"]


def test_a_replayed_worker_run_sends_nothing_twice(shop: Database, clock: Clock) -> None:
    with shop.write() as session:
        who = member(session, clock(), "ivy")
        event(session, cart("cart-11", clock(), "ivy@example.com"), clock())
    run(shop, clock, START + timedelta(hours=1))
    run(shop, clock, START + timedelta(hours=1))
    run(shop, clock, START + timedelta(hours=2))
    with shop.read() as session:
        assert [m[0] for m in sent(session, who)] == ["email"]
