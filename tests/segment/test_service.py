from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from fidela.analytics.churn.models import AnalyticsCustomerChurn
from fidela.analytics.clv.models import AnalyticsCustomerClv
from fidela.analytics.models import AnalyticsCustomerRfm, AnalyticsSnapshot
from fidela.platform.db import Database
from fidela.segment import service
from fidela.segment.rules import (
    SegmentDefinitionInvalid,
    SegmentKeyTaken,
    SegmentVersionConflict,
)
from tests.api.keys import issue
from tests.conftest import Clock
from tests.segment.builders import customer, purchase


@pytest.fixture
def headers(database: Database, clock: Clock) -> dict[str, str]:
    return issue(database, clock, "customers:write", "events:write")


@pytest.fixture
def people(client: TestClient, headers: dict[str, str], clock: Clock) -> dict[str, int]:
    """ann: 36, FR, email opt-in, 2 recent orders; bob: 21 (22 tomorrow), BE, opted out,
    1 old order; cid: no birth date, no consent, no orders."""
    ids = {
        "ann": customer(
            client,
            headers,
            "ann@example.com",
            birth_date="1990-05-04",
            country="FR",
            email_marketing=True,
            preferred_channel="email",
        ),
        "bob": customer(
            client,
            headers,
            "bob@example.com",
            birth_date="2004-11-03",
            country="BE",
            email_marketing=False,
            preferred_channel="sms",
        ),
        "cid": customer(client, headers, "cid@example.com"),
    }
    purchase(client, headers, "ann@example.com", "A-1", clock() - timedelta(days=10))
    purchase(client, headers, "ann@example.com", "A-2", clock() - timedelta(days=40), 9_000)
    purchase(client, headers, "bob@example.com", "B-1", clock() - timedelta(days=200))
    return ids


def members(database: Database, definition: object, clock: Clock) -> set[int]:
    from fidela.segment.compiler import members_query

    node = service.validate_definition(definition)
    with database.read() as session:
        return set(session.scalars(members_query(node, now=clock())))


@pytest.mark.parametrize(
    ("definition", "expected"),
    [
        ({"fact": "profile.age", "op": "gte", "value": 36}, {"ann"}),
        # bob turns 22 the day after T0: still 21.
        ({"fact": "profile.age", "op": "lt", "value": 22}, {"bob"}),
        ({"fact": "profile.age", "op": "eq", "value": 21}, {"bob"}),
        ({"fact": "profile.age", "op": "eq", "value": 22}, set()),
        ({"fact": "profile.age", "op": "between", "value": [20, 40]}, {"ann", "bob"}),
        ({"not": {"fact": "profile.age", "op": "gte", "value": 30}}, {"bob", "cid"}),
        ({"fact": "profile.country", "op": "in", "value": ["FR", "DE"]}, {"ann"}),
        ({"fact": "profile.country", "op": "ne", "value": "FR"}, {"bob"}),
        ({"fact": "profile.country", "op": "is_null"}, {"cid"}),
        ({"fact": "profile.preferred_channel", "op": "eq", "value": "sms"}, {"bob"}),
        (
            {
                "fact": "consent",
                "params": {"channel": "email", "purpose": "marketing"},
                "op": "eq",
                "value": True,
            },
            {"ann"},
        ),
        (
            {
                "fact": "consent",
                "params": {"channel": "email", "purpose": "marketing"},
                "op": "eq",
                "value": False,
            },
            {"bob", "cid"},
        ),
        ({"fact": "orders.count", "op": "gte", "value": 1}, {"ann", "bob"}),
        ({"fact": "orders.count", "params": {"within_days": 30}, "op": "gte", "value": 1}, {"ann"}),
        ({"fact": "orders.count", "op": "eq", "value": 0}, {"cid"}),
        ({"fact": "orders.total_minor", "op": "gt", "value": 10_000}, {"ann"}),
        (
            {
                "fact": "events.count",
                "params": {"type": "order.completed", "within_days": 90},
                "op": "gte",
                "value": 2,
            },
            {"ann"},
        ),
        ({"fact": "tier", "op": "is_null"}, {"ann", "bob", "cid"}),
        (
            {
                "any": [
                    {"fact": "profile.country", "op": "eq", "value": "BE"},
                    {
                        "all": [
                            {"fact": "profile.age", "op": "gte", "value": 30},
                            {"fact": "orders.count", "op": "gte", "value": 2},
                        ]
                    },
                ]
            },
            {"ann", "bob"},
        ),
    ],
)
def test_definitions_select_the_customers_whose_facts_match(
    database: Database,
    clock: Clock,
    people: dict[str, int],
    definition: dict[str, object],
    expected: set[str],
) -> None:
    assert members(database, definition, clock) == {people[name] for name in expected}


def test_preview_counts_without_storing_anything(
    database: Database, clock: Clock, people: dict[str, int]
) -> None:
    with database.read() as session:
        count = service.preview_count(
            session, definition={"fact": "orders.count", "op": "gte", "value": 1}, now=clock()
        )
        assert count == 2
        assert service.list_segments(session) == []


def test_refresh_records_entries_and_exits_as_history(
    database: Database,
    client: TestClient,
    headers: dict[str, str],
    clock: Clock,
    people: dict[str, int],
) -> None:
    recent = {"fact": "orders.count", "params": {"within_days": 30}, "op": "gte", "value": 1}
    with database.write() as session:
        segment = service.create_segment(
            session,
            key="recent-buyers",
            name="Recent buyers",
            description="",
            definition=recent,
            now=clock(),
        )
        first = service.refresh_segment(session, segment_id=segment.id, now=clock())
        again = service.refresh_segment(session, segment_id=segment.id, now=clock())
    assert (first.members, first.entered, first.exited) == (1, 1, 0)
    assert (again.members, again.entered, again.exited) == (1, 0, 0)

    entered_at = clock()
    clock.now = clock() + timedelta(days=25)  # ann's last order is now 35 days old
    purchase(client, headers, "bob@example.com", "B-2", clock() - timedelta(days=1))
    with database.write() as session:
        later = service.refresh_segment(session, segment_id=segment.id, now=clock())
        history = service.membership_history(session, segment_id=segment.id)
        current = service.list_members(session, segment_id=segment.id)
        stored = service.get_segment(session, segment_id=segment.id)
    assert (later.members, later.entered, later.exited) == (1, 1, 1)
    assert [(h.customer_id, h.entered_at, h.exited_at) for h in history] == [
        (people["ann"], entered_at, clock()),
        (people["bob"], clock(), None),
    ]
    assert [m.customer_id for m in current] == [people["bob"]]
    assert (stored.member_count, stored.refreshed_at) == (1, clock())


def test_update_is_compare_and_set_on_the_version(database: Database, clock: Clock) -> None:
    definition = {"fact": "profile.country", "op": "eq", "value": "FR"}
    with database.write() as session:
        segment = service.create_segment(
            session, key="fr", name="France", description="", definition=definition, now=clock()
        )
        updated = service.update_segment(
            session,
            segment_id=segment.id,
            expected_version=1,
            name="French customers",
            now=clock(),
        )
        assert (updated.version, updated.name) == (2, "French customers")
        with pytest.raises(SegmentVersionConflict):
            service.update_segment(
                session, segment_id=segment.id, expected_version=1, name="stale", now=clock()
            )
        with pytest.raises(SegmentKeyTaken):
            service.create_segment(
                session,
                key="fr",
                name="again",
                description="",
                definition=definition,
                now=clock(),
            )


def test_bad_definitions_point_into_the_request(database: Database, clock: Clock) -> None:
    with database.write() as session, pytest.raises(SegmentDefinitionInvalid) as error:
        service.create_segment(
            session,
            key="bad",
            name="Bad",
            description="",
            definition={"all": [{"fact": "orders.count", "op": "gte", "value": -1.5}]},
            now=clock(),
        )
    assert [p.pointer for p in error.value.problems] == ["/definition/all/0/value"]


def test_facts_the_catalogue_does_not_know_are_refused_up_front(
    database: Database, clock: Clock
) -> None:
    with database.read() as session, pytest.raises(SegmentDefinitionInvalid):
        service.preview_count(
            session, definition={"fact": "clv.value", "op": "gt", "value": 1}, now=clock()
        )


def _clv(
    snapshot_id: int, customer_id: int, clv_minor: int, p_alive: float
) -> AnalyticsCustomerClv:
    return AnalyticsCustomerClv(
        snapshot_id=snapshot_id,
        customer_id=customer_id,
        frequency=1,
        recency_weeks=1.0,
        age_weeks=2.0,
        p_alive=p_alive,
        expected_purchases=1.0,
        expected_spend_minor=clv_minor,
        clv_minor=clv_minor,
        historical_minor=1,
    )


def test_clv_facts_read_the_newest_clv_snapshot(
    database: Database, clock: Clock, people: dict[str, int]
) -> None:
    ann, bob, cid = people["ann"], people["bob"], people["cid"]
    with database.write() as session:
        old = _snapshot(session, "clv", clock() - timedelta(days=30))
        new = _snapshot(session, "clv", clock() - timedelta(days=1))
        session.add_all(
            [
                _clv(old, ann, 1_000, 0.2),
                _clv(old, bob, 90_000, 0.9),
                _clv(new, ann, 25_000, 0.8),
                _clv(new, bob, 5_000, 0.3),
            ]
        )
    valuable = {"fact": "clv.value_minor", "op": "gte", "value": 10_000}
    assert members(database, valuable, clock) == {ann}  # bob's 90,000 is an old snapshot's
    # cid bought nothing: no CLV, so unknown, never "below 10,000".
    assert members(database, {"fact": "clv.value_minor", "op": "lt", "value": 10_000}, clock) == {
        bob
    }
    assert members(database, {"not": valuable}, clock) == {bob, cid}
    fading = {"fact": "clv.p_alive", "op": "between", "value": [0.0, 0.5]}
    assert members(database, fading, clock) == {bob}
    with database.read() as session:
        assert service.preview_count(session, definition=valuable, now=clock()) == 1


def _snapshot(session: Session, kind: str, as_of: datetime) -> int:
    snapshot = AnalyticsSnapshot(
        kind=kind,
        as_of=as_of,
        params_key=kind,
        params={},
        engine="duckdb",
        payload={},
        row_count=0,
        computed_at=as_of,
        duration_ms=0,
    )
    session.add(snapshot)
    session.flush()
    return snapshot.id


def _rfm(snapshot_id: int, customer_id: int, segment: str, r: int) -> AnalyticsCustomerRfm:
    return AnalyticsCustomerRfm(
        snapshot_id=snapshot_id,
        customer_id=customer_id,
        orders=1,
        frequency=0,
        recency=0,
        age_days=1,
        days_since_last=1,
        total_minor=1,
        repeat_value_minor=0,
        r=r,
        f=1,
        m=1,
        segment=segment,
        value_segment="occasional",
        preferred_channel=None,
    )


def test_rfm_and_churn_facts_read_the_latest_snapshot(
    database: Database, clock: Clock, people: dict[str, int]
) -> None:
    ann, bob = people["ann"], people["bob"]
    with database.write() as session:
        old = _snapshot(session, "rfm", clock() - timedelta(days=30))
        new = _snapshot(session, "rfm", clock() - timedelta(days=1))
        churn = _snapshot(session, "churn", clock() - timedelta(days=1))
        session.add_all(
            [
                _rfm(old, ann, "at_risk", 1),
                _rfm(old, bob, "champions", 5),
                _rfm(new, ann, "champions", 5),
                AnalyticsCustomerChurn(
                    snapshot_id=churn,
                    customer_id=bob,
                    risk=0.8,
                    warning_score=0.4,
                    reasons=[],
                    warnings=[],
                ),
                AnalyticsCustomerChurn(
                    snapshot_id=churn,
                    customer_id=ann,
                    risk=0.1,
                    warning_score=0.0,
                    reasons=[],
                    warnings=[],
                ),
            ]
        )
    champions = {"fact": "rfm.segment", "op": "eq", "value": "champions"}
    assert members(database, champions, clock) == {ann}  # bob is not in the newest snapshot
    assert members(database, {"fact": "rfm.r", "op": "gte", "value": 4}, clock) == {ann}
    assert members(database, {"not": champions}, clock) == {bob, people["cid"]}
    risky = {"fact": "churn.risk", "op": "gte", "value": 0.5}
    assert members(database, risky, clock) == {bob}
