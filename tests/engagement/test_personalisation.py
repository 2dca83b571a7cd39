"""Template variables from the other contexts: tier progress, affordable rewards, vouchers."""

from __future__ import annotations

from fidela.demo.programme import DEMO_PROGRAMME, DEMO_PROGRAMME_CODE
from fidela.engagement.personalisation import ContextBuilder
from fidela.engagement.providers import standard_providers
from fidela.engagement.templating import names_used
from fidela.loyalty import programmes
from fidela.platform.db import Database
from fidela.reward import service as rewards
from fidela.segment import service as segments
from tests.conftest import Clock
from tests.event.builders import order
from tests.loyalty.setup import customer_of, ingest
from tests.reward.builders import fixed_voucher


def builder() -> ContextBuilder:
    built = ContextBuilder(DEMO_PROGRAMME_CODE)
    for family, provider in standard_providers(DEMO_PROGRAMME_CODE).items():
        built.register(family, provider)
    return built


def test_a_member_sees_tier_progress_and_the_rewards_they_can_afford(
    database: Database, clock: Clock
) -> None:
    with database.write() as session:
        programmes.create_programme(session, **DEMO_PROGRAMME, now=clock(), actor="t")
        for code, cost in (("coffee", 150), ("bag", 5000)):
            rewards.create_reward(
                session,
                programme=DEMO_PROGRAMME_CODE,
                data=fixed_voucher(code, cost),
                active=True,
                now=clock(),
            )
    ingest(
        database,
        clock(),
        order("P-1", clock(), customer={"email": "lea@example.com"}, lines=[("P1", 1, 12000)]),
    )
    lea = customer_of(database, "lea@example.com")
    with database.read() as session:
        context = builder().build(session, [lea], clock())[lea]
    assert context["points"]["balance"] == 170  # 120 EUR + the 50-point basket bonus
    assert context["tier"]["code"] == "member"
    assert context["tier"]["next"]["level_code"] == "silver"
    assert context["tier"]["next"]["remaining"] == 1000 - 170
    # The 150-point coffee is affordable, the 5,000-point bag is not.
    assert [r["code"] for r in context["affordable_rewards"]] == ["coffee"]
    assert context["vouchers"] == []
    assert context["recommended_products"] == []  # no recommendation snapshot yet


def test_without_a_programme_the_families_render_empty(database: Database, clock: Clock) -> None:
    ingest(database, clock(), order("P-2", clock(), customer={"email": "max@example.com"}))
    max_ = customer_of(database, "max@example.com")
    with database.read() as session:
        context = builder().build(session, [max_], clock())[max_]
    assert context["tier"] == {}
    assert context["affordable_rewards"] == []


def test_a_batch_gathers_only_the_families_its_templates_read(
    database: Database, clock: Clock
) -> None:
    assert names_used("Hi {{ customer.first_name }}, {{ tier.next.text }}") == {
        "customer",
        "tier",
    }
    with database.write() as session:
        programmes.create_programme(session, **DEMO_PROGRAMME, now=clock(), actor="t")
    ingest(
        database,
        clock(),
        order("P-3", clock(), customer={"email": "ines@example.com"}, lines=[("P1", 1, 2000)]),
    )
    ines = customer_of(database, "ines@example.com")
    with database.read() as session:
        only_points = builder().build(session, [ines], clock(), families={"points"})[ines]
        with_tier = builder().build(session, [ines], clock(), families={"tier"})[ines]
    assert only_points["points"]["balance"] == 20
    assert only_points["tier"] == {}  # not asked for: not looked up
    assert with_tier["tier"]["code"] == "member"


def test_a_segment_only_reward_is_offered_to_the_segment_members_only(
    database: Database, clock: Clock
) -> None:
    with database.write() as session:
        programmes.create_programme(session, **DEMO_PROGRAMME, now=clock(), actor="t")
        rewards.create_reward(
            session,
            programme=DEMO_PROGRAMME_CODE,
            data=fixed_voucher("vip-coffee", 100, visibility={"segments": ["big-spenders"]}),
            active=True,
            now=clock(),
        )
    for number, (email, amount) in enumerate(
        (("ana@example.com", 50000), ("bob@example.com", 12000))
    ):
        ingest(
            database,
            clock(),
            order(f"P-{number}", clock(), customer={"email": email}, lines=[("P1", 1, amount)]),
        )
    ana, bob = (customer_of(database, e) for e in ("ana@example.com", "bob@example.com"))
    with database.write() as session:
        segment = segments.create_segment(
            session,
            key="big-spenders",
            name="Big spenders",
            description="",
            definition={"fact": "orders.total_minor", "op": "gt", "value": 40_000},
            now=clock(),
        )
        segments.refresh_segment(session, segment_id=segment.id, now=clock())
    with database.read() as session:
        contexts = builder().build(session, [ana, bob], clock())
    # Both can afford 100 points; only Ana is in the segment the reward is shown to.
    assert [r["code"] for r in contexts[ana]["affordable_rewards"]] == ["vip-coffee"]
    assert contexts[bob]["affordable_rewards"] == []
