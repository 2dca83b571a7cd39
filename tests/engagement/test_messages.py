"""Queueing: idempotent keys, held-out records routed nowhere, holds and expiry."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from fidela.customer import service as customers
from fidela.customer.rules import ConsentChannel
from fidela.customer.schemas import ProfileFields
from fidela.engagement.delivery import choose_channels
from fidela.engagement.jobs import register_engagement_jobs
from fidela.engagement.messages import (
    DELIVER_TOPIC,
    Content,
    MessageRequest,
    enqueue_message,
    enqueue_messages,
    expire_overdue,
)
from fidela.engagement.models import Message
from fidela.engagement.rules import Channel, InvalidMessage, MessageState
from fidela.platform.db import Database
from fidela.platform.outbox.models import OutboxMessage
from fidela.platform.outbox.registry import JobRegistry
from fidela.platform.settings import Settings
from fidela.worker.runner import Worker
from tests.conftest import Clock
from tests.engagement.conftest import PUBLIC_URL, engagement_settings, make_member
from tests.engagement.mailsink import MailSink, SinkServer

PROMO = Content("Promo", "<p>-10 %</p>")


@pytest.fixture
def worker(database: Database, clock: Clock, smtp: SinkServer) -> Iterator[Worker]:
    registry = JobRegistry()
    delivery = register_engagement_jobs(
        registry, Settings(public_url=PUBLIC_URL), engagement_settings(smtp.port)
    )
    yield Worker(database, registry, clock=clock)
    delivery.close()


def _state(database: Database, message_id: int) -> str:
    with database.read() as session:
        message = session.get(Message, message_id)
        assert message is not None
        return message.state


def _jobs(database: Database) -> int:
    with database.read() as session:
        return int(
            session.execute(
                select(func.count()).where(OutboxMessage.topic == DELIVER_TOPIC)
            ).scalar_one()
        )


def test_same_key_queues_one_message(database: Database, clock: Clock) -> None:
    with database.write() as session:
        member = make_member(session, clock(), "kim")
        first = enqueue_message(
            session,
            customer_id=member.id,
            channel=Channel.EMAIL,
            key="k",
            now=clock(),
            content=PROMO,
        )
        again = enqueue_message(
            session,
            customer_id=member.id,
            channel=Channel.EMAIL,
            key="k",
            now=clock(),
            content=PROMO,
        )
        bulk = enqueue_messages(
            session,
            [MessageRequest(member.id, "k")],
            channel=Channel.EMAIL,
            now=clock(),
            content=PROMO,
        )
    assert first.id == again.id
    assert bulk == []
    assert _jobs(database) == 1


def test_held_out_messages_are_recorded_and_routed_nowhere(
    database: Database, clock: Clock, worker: Worker, sink: MailSink
) -> None:
    with database.write() as session:
        member = make_member(session, clock(), "hugo")
        held = enqueue_message(
            session,
            customer_id=member.id,
            channel=Channel.EMAIL,
            key="c1:hugo",
            now=clock(),
            content=PROMO,
            held_out=True,
            campaign_id=1,
            variant="control",
        )
    worker.run_until_idle()
    assert _state(database, held.id) == MessageState.HELD_OUT.value
    assert _jobs(database) == 0
    assert sink.messages() == []


def test_quiet_hours_hold_and_expiry_drop(
    database: Database, clock: Clock, worker: Worker, sink: MailSink
) -> None:
    with database.write() as session:
        member = make_member(session, clock(), "lou")
        held = enqueue_message(
            session,
            customer_id=member.id,
            channel=Channel.EMAIL,
            key="held",
            now=clock(),
            content=PROMO,
            deliver_at=clock() + timedelta(hours=8),
        )
        late = enqueue_message(
            session,
            customer_id=member.id,
            channel=Channel.EMAIL,
            key="flash-sale",
            now=clock(),
            content=PROMO,
            deliver_at=clock() + timedelta(hours=8),
            expires_at=clock() + timedelta(hours=2),
        )
    worker.run_until_idle()
    assert _state(database, held.id) == MessageState.QUEUED.value
    clock.now += timedelta(hours=8)
    worker.run_until_idle()
    assert _state(database, held.id) == MessageState.SENT.value
    assert _state(database, late.id) == MessageState.EXPIRED.value
    assert len(sink.messages()) == 1


def test_bulk_requests_need_distinct_keys_and_one_content(database: Database, clock: Clock) -> None:
    with database.write() as session:
        member = make_member(session, clock(), "max")
        with pytest.raises(InvalidMessage):
            enqueue_messages(
                session,
                [MessageRequest(member.id, "a"), MessageRequest(member.id, "a")],
                channel=Channel.EMAIL,
                now=clock(),
                content=PROMO,
            )
        with pytest.raises(InvalidMessage) as neither:
            enqueue_messages(
                session, [MessageRequest(member.id, "b")], channel=Channel.EMAIL, now=clock()
            )
    assert neither.value.problems[0].pointer == "/0/template"


def test_channel_choice_follows_preference_consent_and_addresses(
    database: Database, clock: Clock
) -> None:
    with database.write() as session:
        texter = make_member(
            session,
            clock(),
            "tex",
            consent_to=(ConsentChannel.EMAIL, ConsentChannel.SMS),
            phone="0612345679",
        )
        customers.update_customer(
            session,
            customer_id=texter.id,
            fields=ProfileFields(preferred_channel="sms"),
            expected_version=None,
            now=clock(),
        )
        no_phone = make_member(session, clock(), "nop", consent_to=(ConsentChannel.SMS,))
        emailer = make_member(session, clock(), "eve")
        chosen = choose_channels(session, [texter.id, no_phone.id, emailer.id])
        receipts = choose_channels(session, [no_phone.id], transactional=True)
    assert chosen == {texter.id: Channel.SMS, no_phone.id: None, emailer.id: Channel.EMAIL}
    assert receipts == {no_phone.id: Channel.EMAIL}


def test_expiry_sweep_marks_overdue_messages_whose_job_never_ran(
    database: Database, clock: Clock
) -> None:
    with database.write() as session:
        member = make_member(session, clock(), "ana")
        message = enqueue_message(
            session,
            customer_id=member.id,
            channel=Channel.EMAIL,
            key="otp",
            now=clock(),
            content=PROMO,
            expires_at=clock() + timedelta(minutes=10),
        )
        assert expire_overdue(session, now=clock()) == 0
        assert expire_overdue(session, now=clock() + timedelta(minutes=10)) == 1
    assert _state(database, message.id) == MessageState.EXPIRED.value
