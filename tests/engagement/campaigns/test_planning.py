"""Planning campaigns: consent, channel, the recipient's timezone, quiet hours, caps, A/B/n
with a holdout, the global control group, and the results against scipy-checked statistics."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from fidela.engagement.campaigns import service as campaigns
from fidela.engagement.campaigns.planning import CampaignPlan, plan
from fidela.engagement.campaigns.rules import CampaignStateConflict, InvalidCampaign
from fidela.engagement.campaigns.service import CampaignSpec
from fidela.engagement.messages import Content, enqueue_message
from fidela.engagement.models import Message
from fidela.engagement.policy.rules import CapRule, QuietHours, SendPolicy
from fidela.engagement.rules import Channel
from fidela.experiment.rules.assignment import in_global_control
from fidela.experiment.rules.results import WinnerPolicy
from fidela.platform.db import Database
from tests.conftest import Clock
from tests.engagement.campaigns.builders import customer, order

NEWS = {"subject": "News for {{ customer.first_name }}", "body": "Hello"}
# Monday 2 November 2026, 10:30 in Paris.
START = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)


def messages(session: object, code: str) -> list[Message]:
    campaign = campaigns.get_campaign(session, code)  # type: ignore[arg-type]
    return list(
        session.execute(  # type: ignore[attr-defined]
            select(Message).where(Message.campaign_id == campaign.id).order_by(Message.customer_id)
        ).scalars()
    )


def test_only_customers_who_consented_to_the_channel_are_queued(
    database: Database, clock: Clock
) -> None:
    clock.now = START
    with database.write() as session:
        yes = customer(session, clock(), consents=("email",))
        sms_only = customer(session, clock(), consents=("sms",))
        refused = customer(session, clock(), consents=("any",), refused=("email",))
        general = customer(session, clock(), consents=("any",))
        campaigns.create_campaign(
            session,
            now=clock(),
            spec=CampaignSpec(
                "news",
                "News",
                {"customer_ids": [yes, sms_only, refused, general]},
                channel="email",
                content=NEWS,
            ),
        )
        report = campaigns.plan_campaign(session, code="news", now=clock())
        assert report.outcomes == {"queued": 2, "no_consent": 2}
        assert [(m.customer_id, m.channel, m.state) for m in messages(session, "news")] == [
            (yes, "email", "queued"),
            (general, "email", "queued"),
        ]
        assert campaigns.get_campaign(session, "news").status == "planned"
        with pytest.raises(CampaignStateConflict):
            campaigns.plan_campaign(session, code="news", now=clock())


def test_the_preferred_channel_is_used_among_consented_ones(
    database: Database, clock: Clock
) -> None:
    with database.write() as session:
        push_fan = customer(session, clock(), consents=("email", "push"), preferred="push")
        sms_fan = customer(session, clock(), consents=("email",), preferred="sms")
        campaigns.create_campaign(
            session,
            now=clock(),
            spec=CampaignSpec(
                "pref",
                "Pref",
                {"customer_ids": [push_fan, sms_fan]},
                channel="preferred",
                content=NEWS,
            ),
        )
        campaigns.plan_campaign(session, code="pref", now=clock())
        assert [(m.customer_id, m.channel) for m in messages(session, "pref")] == [
            (push_fan, "push"),
            (sms_fan, "email"),
        ]


def test_a_local_time_campaign_goes_out_at_ten_in_each_recipients_timezone(
    database: Database, clock: Clock
) -> None:
    clock.now = START
    zones = ["Europe/Paris", "America/New_York", "Asia/Tokyo", "Pacific/Auckland", None]
    with database.write() as session:
        ids = [customer(session, clock(), timezone=zone) for zone in zones]
        campaigns.create_campaign(
            session,
            now=clock(),
            spec=CampaignSpec(
                "sat",
                "Saturday",
                {"customer_ids": ids},
                channel="email",
                content=NEWS,
                local_date=date(2026, 11, 7),
                local_time=time(10),
            ),
        )
        campaigns.plan_campaign(session, code="sat", now=clock())
        due = {m.customer_id: m.deliver_at for m in messages(session, "sat")}
    for customer_id, zone in zip(ids, zones, strict=True):
        local = due[customer_id].astimezone(ZoneInfo(zone or "Europe/Paris"))
        assert (local.date(), local.time()) == (date(2026, 11, 7), time(10))


def test_a_send_at_night_is_held_for_paris_but_not_for_new_york(
    database: Database, clock: Clock
) -> None:
    night = datetime(2026, 11, 2, 22, 0, tzinfo=ZoneInfo("Europe/Paris")).astimezone(UTC)
    clock.now = START
    with database.write() as session:
        paris = customer(session, clock(), timezone="Europe/Paris")
        new_york = customer(session, clock(), timezone="America/New_York")
        campaigns.create_campaign(
            session,
            now=clock(),
            spec=CampaignSpec(
                "late",
                "Late",
                {"customer_ids": [paris, new_york]},
                channel="email",
                content=NEWS,
                send_at=night,
                expires_after_hours=24,
            ),
        )
        campaigns.plan_campaign(session, code="late", now=clock())
        found = {m.customer_id: m for m in messages(session, "late")}
    eight = datetime(2026, 11, 3, 8, 0, tzinfo=ZoneInfo("Europe/Paris")).astimezone(UTC)
    assert found[paris].deliver_at == eight
    assert found[new_york].deliver_at == night  # 16:00 in New York
    assert found[paris].expires_at == eight + timedelta(hours=24)


def test_a_recipient_at_the_daily_cap_is_skipped(database: Database, clock: Clock) -> None:
    clock.now = START
    with database.write() as session:
        busy = customer(session, clock())
        free = customer(session, clock())
        for n in range(2):
            enqueue_message(
                session,
                customer_id=busy,
                channel=Channel.EMAIL,
                key=f"x-{n}",
                now=clock(),
                content=Content(body="earlier"),
            )
        campaigns.create_campaign(
            session,
            now=clock(),
            spec=CampaignSpec(
                "capped", "Capped", {"customer_ids": [busy, free]}, channel="email", content=NEWS
            ),
        )
        report = campaigns.plan_campaign(session, code="capped", now=clock())
        assert report.outcomes == {"queued": 1, "capped": 1}
        assert [m.customer_id for m in messages(session, "capped")] == [free]


def test_an_audience_filter_selects_active_customers_by_profile(
    database: Database, clock: Clock
) -> None:
    with database.write() as session:
        french = customer(session, clock(), country="FR")
        customer(session, clock(), country="DE")
        campaigns.create_campaign(
            session,
            now=clock(),
            spec=CampaignSpec(
                "fr", "FR", {"filters": {"country": "FR"}}, channel="email", content=NEWS
            ),
        )
        campaigns.plan_campaign(session, code="fr", now=clock())
        assert [m.customer_id for m in messages(session, "fr")] == [french]


def test_ab_variants_and_a_holdout_split_the_eligible_audience(
    database: Database, clock: Clock
) -> None:
    clock.now = START
    with database.write() as session:
        ids = [customer(session, clock()) for _ in range(300)]
        campaigns.create_campaign(
            session,
            now=clock(),
            spec=CampaignSpec(
                "ab",
                "AB",
                {"customer_ids": ids},
                channel="email",
                holdout_bp=2000,
                variants=[
                    {"name": "a", "content": {"subject": "A", "body": "A"}},
                    {"name": "b", "content": {"subject": "B", "body": "B"}, "offer": "B10"},
                ],
            ),
        )
        campaigns.plan_campaign(session, code="ab", now=clock())
        rows = messages(session, "ab")
        assert len(rows) == 300
        arms = Counter(m.variant for m in rows)
        assert set(arms) == {"holdout", "a", "b"}
        assert all(m.state == "held_out" for m in rows if m.variant == "holdout")
        assert all(m.state == "queued" for m in rows if m.variant != "holdout")
        assert all(m.context == {"offer": "B10"} for m in rows if m.variant == "b")
        assert {m.content["subject"] for m in rows if m.variant == "a"} == {"A"}  # type: ignore[index]
        # Every b recipient bought within the window, nobody else did.
        for m in rows:
            if m.variant == "b":
                order(session, m.customer_id, START + timedelta(days=1), 5000, f"o-{m.id}")  # type: ignore[arg-type]
        results = campaigns.campaign_results(
            session, code="ab", declare_winner=True, winner_policy=WinnerPolicy(min_recipients=50)
        )
        assert not results.ratio.mismatch
        b = next(arm for arm in results.arms if arm.name == "b")
        assert b.conversion_rate == 1.0
        assert b.revenue_per_recipient == 5000.0
        assert results.winner == "b"
        assert campaigns.get_campaign(session, "ab").winner == "b"


def test_the_global_control_group_is_never_messaged(database: Database, clock: Clock) -> None:
    with database.write() as session:
        ids = [customer(session, clock()) for _ in range(60)]
        campaign = campaigns.create_campaign(
            session,
            now=clock(),
            spec=CampaignSpec("gcg", "GCG", {"customer_ids": ids}, channel="email", content=NEWS),
        )
        policy = SendPolicy(caps=(CapRule(5),), quiet_hours=QuietHours(time(23), time(6)))
        report = plan(
            session, CampaignPlan.of(campaign), policy=policy, now=clock(), global_control_bp=2000
        )
        controls = {c for c in ids if in_global_control(c, 2000)}
        assert controls
        assert report.outcomes["global_control"] == len(controls)
        queued = {m.customer_id for m in messages(session, "gcg")}
        assert queued == set(ids) - controls


def test_bad_campaigns_are_refused_with_pointers(database: Database, clock: Clock) -> None:
    with database.write() as session:
        with pytest.raises(InvalidCampaign) as caught:
            campaigns.create_campaign(
                session,
                now=clock(),
                spec=CampaignSpec("bad", "Bad", {"filters": {"shoe_size": 42}}, content=NEWS),
            )
        assert caught.value.problems[0].pointer == "/audience/filters/shoe_size"
        with pytest.raises(InvalidCampaign) as caught:
            campaigns.create_campaign(
                session,
                now=clock(),
                spec=CampaignSpec("bad", "Bad", {"customer_ids": []}, variants=[{"name": "a"}]),
            )
        assert caught.value.problems[0].pointer == "/variants/0/template"
        campaigns.create_campaign(
            session,
            now=clock(),
            spec=CampaignSpec(
                "evil", "Evil", {"customer_ids": []}, content={"body": "{{ ''.__class__.__mro__ }}"}
            ),
        )
        with pytest.raises(InvalidCampaign) as caught:
            campaigns.plan_campaign(session, code="evil", now=clock())
        assert caught.value.problems[0].pointer == "/variants/0/content/body"
        assert campaigns.get_campaign(session, "evil").status == "draft"


def test_a_scheduled_campaign_is_planned_by_the_worker_when_its_time_comes(
    database: Database, clock: Clock
) -> None:
    from fidela.engagement.campaigns.jobs import LAUNCH_TOPIC, launch_due
    from fidela.platform.outbox.registry import JobContext

    clock.now = START
    with database.write() as session:
        who = customer(session, clock())
        campaigns.create_campaign(
            session,
            now=clock(),
            spec=CampaignSpec(
                "later",
                "Later",
                {"customer_ids": [who]},
                channel="email",
                content=NEWS,
                send_at=START + timedelta(hours=2),
            ),
        )
        campaigns.schedule_campaign(session, code="later", now=clock())
    launch_due(JobContext(0, LAUNCH_TOPIC, "t", 1, START + timedelta(hours=1), database), {})
    with database.read() as session:
        assert campaigns.get_campaign(session, "later").status == "scheduled"
    launch_due(JobContext(0, LAUNCH_TOPIC, "t", 1, START + timedelta(hours=2), database), {})
    with database.read() as session:
        assert campaigns.get_campaign(session, "later").status == "planned"
        assert [m.customer_id for m in messages(session, "later")] == [who]
