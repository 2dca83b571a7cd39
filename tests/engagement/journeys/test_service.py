"""Journey use cases on the database: versioned publishing, re-entry, the global control
group, points, profile updates, advisor tasks, segment entry and outbox triggers."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from fidela.customer import service as customers
from fidela.customer.models import Customer
from fidela.customer.rules import AttributeType
from fidela.engagement.journeys import service as journeys
from fidela.engagement.journeys.jobs import (
    POINTS_EXPIRING,
    TIER_CHANGED,
    points_expiring,
    tier_changed,
)
from fidela.engagement.journeys.library import BIRTHDAY, UNUSUAL_TRANSACTION
from fidela.engagement.journeys.library import POINTS_EXPIRING as EXPIRING_JOURNEY
from fidela.engagement.journeys.library import TIER_CHANGED as TIER_JOURNEY
from fidela.engagement.journeys.models import AdvisorTask, JourneyState
from fidela.engagement.journeys.rules.errors import InvalidJourney, JourneyVersionConflict
from fidela.engagement.journeys.service import Runtime, _birthday_on
from fidela.engagement.models import Message
from fidela.engagement.policy.rules import SendPolicy
from fidela.experiment.rules.assignment import in_global_control
from fidela.ledger.models import LedgerAccount
from fidela.platform.db import Database
from fidela.platform.outbox.registry import JobContext
from fidela.segment.models import Segment, SegmentMembership
from tests.conftest import Clock
from tests.engagement.journeys.helpers import member, sent

START = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)

REWARD: dict[str, Any] = {
    "code": "vip-care",
    "name": "VIP care",
    "trigger": {"event": "survey.answered"},
    "reentry": "once",
    "steps": [
        {"id": "points", "type": "award_points", "points": 40, "programme": "main"},
        {"id": "tag", "type": "update_profile", "attributes": {"cared": True}},
        {"id": "call", "type": "task", "kind": "call", "note": "say thanks"},
    ],
}


def test_a_journey_is_versioned_by_compare_and_set(database: Database, clock: Clock) -> None:
    with database.write() as session:
        created = journeys.publish_journey(
            session, definition=REWARD, expected_version=None, now=clock()
        )
        assert created.version == 1
        changed = {**REWARD, "name": "VIP care v2"}
        assert (
            journeys.publish_journey(
                session, definition=changed, expected_version=1, now=clock()
            ).version
            == 2
        )
        with pytest.raises(JourneyVersionConflict) as caught:
            journeys.publish_journey(session, definition=changed, expected_version=1, now=clock())
        assert caught.value.problems[0].pointer == "/expected_version"
        with pytest.raises(InvalidJourney):
            journeys.publish_journey(
                session, definition={**REWARD, "steps": []}, expected_version=2, now=clock()
            )
        assert journeys.get_journey(session, "vip-care").name == "VIP care v2"


def test_steps_award_points_update_the_profile_and_create_a_task_once(
    database: Database, clock: Clock
) -> None:
    with database.write() as session:
        journeys.publish_journey(session, definition=REWARD, expected_version=None, now=clock())
        customers.define_attribute(
            session, name="cared", kind=AttributeType.BOOLEAN, description="", now=clock()
        )
        who = member(session, clock(), "vip")
        for n in range(2):  # "once": the second trigger enters nothing
            journeys.handle_trigger(
                session,
                customer_id=who,
                event_type="survey.answered",
                data={},
                now=clock(),
                reference=f"r{n}",
            )
        account = session.execute(
            select(LedgerAccount).where(LedgerAccount.customer_id == who)
        ).scalar_one()
        assert (account.programme, account.available) == ("main", 40)
        customer = session.get(Customer, who)
        assert customer is not None
        assert customer.attributes["cared"] is True
        tasks = session.execute(select(AdvisorTask)).scalars().all()
        assert [(t.customer_id, t.kind, t.status) for t in tasks] == [(who, "call", "open")]
        runs = session.execute(select(JourneyState)).scalars().all()
        assert [r.status for r in runs] == ["completed"]


def test_the_global_control_group_is_kept_out_before_entry(
    database: Database, clock: Clock
) -> None:
    runtime = Runtime(SendPolicy(), 5000, 0, "main")
    with database.write() as session:
        journeys.publish_journey(session, definition=REWARD, expected_version=None, now=clock())
        customers.define_attribute(
            session, name="cared", kind=AttributeType.BOOLEAN, description="", now=clock()
        )
        people = [member(session, clock(), f"g{n}", phone=f"+336123456{n:02d}") for n in range(12)]
        for who in people:
            journeys.handle_trigger(
                session,
                customer_id=who,
                event_type="survey.answered",
                data={},
                now=clock(),
                reference=f"s{who}",
                runtime=runtime,
            )
        runs = {r.customer_id: r.status for r in session.execute(select(JourneyState)).scalars()}
        controls = {c for c in people if in_global_control(c, 5000)}
        assert 0 < len(controls) < len(people)
        assert {c for c, status in runs.items() if status == "control"} == controls
        rewarded = {a.customer_id for a in session.execute(select(LedgerAccount)).scalars()}
        assert rewarded == set(people) - controls


def test_a_tier_change_message_congratulates_an_upgrade(database: Database, clock: Clock) -> None:
    with database.write() as session:
        journeys.publish_journey(
            session, definition=TIER_JOURNEY, expected_version=None, now=clock()
        )
        who = member(session, clock(), "tier", consents=("email", "push"))
    payload = {
        "customer_id": who,
        "outcome": "upgrade",
        "from": "silver",
        "to": "gold",
        "at": START.isoformat(),
        "programme": "main",
    }
    tier_changed(JobContext(1, TIER_CHANGED, "k", 1, clock(), database), payload)
    with database.read() as session:
        assert [(m[0], m[1]) for m in sent(session, who)] == [("email", "congratulate")]


def test_points_expiring_warnings_send_a_month_notice_then_a_last_week_one(
    database: Database, clock: Clock
) -> None:
    clock.now = START
    with database.write() as session:
        journeys.publish_journey(
            session, definition=EXPIRING_JOURNEY, expected_version=None, now=clock()
        )
        who = member(session, clock(), "exp")
    payload = {
        "customer_id": who,
        "lot_id": 7,
        "points": 120,
        "warning_days": 30,
        "expires_at": (START + timedelta(days=30)).isoformat(),
        "programme": "main",
    }
    points_expiring(JobContext(1, POINTS_EXPIRING, "k", 1, clock(), database), payload)
    with database.write() as session:
        journeys.run_due(session, now=START + timedelta(days=24))
        steps = [m[1] for m in sent(session, who)]
    assert steps == ["month", "last-week"]


def test_customers_entering_a_segment_enter_its_journey_once_per_stay(
    database: Database, clock: Clock
) -> None:
    definition = {
        "code": "seg",
        "name": "Seg",
        "trigger": {"segment": "at-risk"},
        "steps": [{"id": "m", "type": "send", "channel": "email", "template": "t"}],
    }
    with database.write() as session:
        journeys.publish_journey(session, definition=definition, expected_version=None, now=clock())
        who = member(session, clock(), "seg")
        segment = Segment(
            key="at-risk",
            name="At risk",
            definition={},
            version=1,
            member_count=1,
            created_at=clock(),
            updated_at=clock(),
        )
        session.add(segment)
        session.flush()
        session.add(SegmentMembership(segment_id=segment.id, customer_id=who, entered_at=clock()))
        session.flush()
        assert journeys.enter_segment_members(session, now=clock()) == 1
        assert journeys.enter_segment_members(session, now=clock()) == 0
        assert [m[1] for m in sent(session, who)] == ["m"]


def test_a_birthday_journey_starts_on_the_local_birthday_morning_once(
    database: Database, clock: Clock
) -> None:
    with database.write() as session:
        journeys.publish_journey(session, definition=BIRTHDAY, expected_version=None, now=clock())
        tokyo = member(session, clock(), "tok", timezone="Asia/Tokyo")
        paris = member(session, clock(), "par", phone="+33612345679")
        for who in (tokyo, paris):
            customer = session.get(Customer, who)
            assert customer is not None
            customer.birth_date = date(1990, 11, 3)
        session.flush()
        # 08:00 in Tokyo on the 3rd: too early.
        assert (
            journeys.trigger_birthdays(session, now=datetime(2026, 11, 2, 23, 0, tzinfo=UTC)) == 0
        )
        # 09:30 in Tokyo, 01:30 in Paris: Tokyo's birthday starts.
        morning = datetime(2026, 11, 3, 0, 30, tzinfo=UTC)
        assert journeys.trigger_birthdays(session, now=morning) == 1
        assert journeys.trigger_birthdays(session, now=morning + timedelta(hours=1)) == 0
        # 09:00 in Paris.
        assert journeys.trigger_birthdays(session, now=datetime(2026, 11, 3, 8, 0, tzinfo=UTC)) == 1
        points = {
            a.customer_id: a.available for a in session.execute(select(LedgerAccount)).scalars()
        }
        assert points == {tokyo: 100, paris: 100}


def test_a_leap_day_birthday_is_celebrated_on_the_28th_in_other_years() -> None:
    assert _birthday_on(date(2000, 2, 29), 2027) == date(2027, 2, 28)
    assert _birthday_on(date(2000, 2, 29), 2028) == date(2028, 2, 29)


def test_an_unusual_transaction_alert_goes_out_at_night_without_marketing_consent(
    database: Database, clock: Clock
) -> None:
    night = datetime(2026, 11, 2, 22, 30, tzinfo=UTC)  # 23:30 in Paris
    with database.write() as session:
        journeys.publish_journey(
            session, definition=UNUSUAL_TRANSACTION, expected_version=None, now=night
        )
        who = member(session, night, "alert", consents=())
        journeys.handle_trigger(
            session,
            customer_id=who,
            event_type="custom.transaction_unusual",
            data={},
            now=night,
            reference="tx-1",
        )
        assert sent(session, who) == [("sms", "alert", night, "queued")]
        message = session.execute(select(Message)).scalar_one()
        assert message.transactional
