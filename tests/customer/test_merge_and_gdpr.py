from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from fidela.commerce import service as commerce
from fidela.customer import consent, gdpr, merge, service
from fidela.customer.models import Customer, CustomerIdentity
from fidela.customer.ownership import rows_about
from fidela.customer.rules import ConsentChannel, ConsentPurpose, CustomerNotActive, MergeRefused
from fidela.event.models import Event
from fidela.platform.db import Base, Database
from tests.conftest import Clock
from tests.customer.fixtures import POLICY, ingest, merged_pair, person_with_history, text_values
from tests.event.builders import simple


def counts_for(database: Database, customer_id: int) -> dict[str, int]:
    with database.read() as session:
        return {
            name: len(rows)
            for name, rows in rows_about(session, Base.metadata, customer_id).items()
        }


def test_merge_moves_all_history_to_the_survivor_and_is_idempotent(
    database: Database, clock: Clock
) -> None:
    with database.write() as session:
        a = person_with_history(session, clock(), "anna", phone="+33612345601")
        b = person_with_history(session, clock(), "bert", phone="+33612345602")
    before_a, before_b = counts_for(database, a.customer_id), counts_for(database, b.customer_id)
    with database.write() as session:
        record = merge.merge_customers(
            session,
            survivor_id=a.customer_id,
            merged_id=b.customer_id,
            actor="test",
            reason="same person",
            now=clock(),
        )
        again = merge.merge_customers(
            session,
            survivor_id=a.customer_id,
            merged_id=b.customer_id,
            actor="test",
            reason="retry",
            now=clock(),
        )
    assert again.id == record.id
    after = counts_for(database, a.customer_id)
    for table in (
        "event",
        "sales_order",
        "sales_order_line",
        "sales_return",
        "customer_identity",
        "consent_record",
    ):
        assert after[table] == before_a[table] + before_b[table], table
    assert after["consent_state"] == 2  # (email, marketing) and (sms, marketing), recomputed
    assert record.moved["event"] == before_b["event"]
    with database.read() as session:
        left = session.execute(
            select(func.count()).select_from(Event).where(Event.customer_id == b.customer_id)
        )
        assert left.scalar_one() == 0
        assert service.get_customer(session, customer_id=b.customer_id).id == a.customer_id
        tombstone = session.get_one(Customer, b.customer_id)
        assert (tombstone.status, tombstone.merged_into_id) == ("merged", a.customer_id)
        # the merged identities now resolve to the survivor
        owner = session.execute(
            select(CustomerIdentity.customer_id).where(CustomerIdentity.value == b.email)
        )
        assert owner.scalar_one() == a.customer_id
    with database.write() as session, pytest.raises(MergeRefused):
        merge.merge_customers(
            session,
            survivor_id=b.customer_id,
            merged_id=a.customer_id,
            actor="t",
            reason="",
            now=clock(),
        )


def test_events_for_a_merged_profile_land_on_the_survivor(database: Database, clock: Clock) -> None:
    with database.write() as session:
        a, b = merged_pair(
            session, clock(), "cleo", "dora", phones=("+33612345603", "+33612345604")
        )
        by_email = ingest(session, simple("login", "late-1", clock(), {"email": b.email}), clock())
        by_id = ingest(session, simple("login", "late-2", clock(), {"id": b.customer_id}), clock())
    assert by_email.customer_id == by_id.customer_id == a.customer_id


def test_later_withdrawal_on_the_merged_profile_wins(database: Database, clock: Clock) -> None:
    with database.write() as session:
        a = person_with_history(session, clock(), "emma", phone="+33612345605")
        b = person_with_history(session, clock(), "fred", phone="+33612345606")
        consent.record_consent(
            session,
            customer_id=b.customer_id,
            channel=ConsentChannel.EMAIL,
            purpose=ConsentPurpose.MARKETING,
            granted=False,
            source="unsubscribe-link",
            now=clock() + timedelta(hours=1),
        )
        merge.merge_customers(
            session,
            survivor_id=a.customer_id,
            merged_id=b.customer_id,
            actor="t",
            reason="",
            now=clock() + timedelta(hours=2),
        )
        assert not consent.has_consent(
            session,
            customer_id=a.customer_id,
            channel=ConsentChannel.EMAIL,
            purpose=ConsentPurpose.MARKETING,
        )


def test_export_contains_every_row_about_the_person(database: Database, clock: Clock) -> None:
    with database.write() as session:
        p = person_with_history(session, clock(), "gaia", phone="+33612345607")
        other = person_with_history(session, clock(), "hugo", phone="+33612345608")
        export = gdpr.export_customer(session, customer_id=p.customer_id, actor="dpo", now=clock())
    json.dumps(export)  # machine-readable as is
    tables = export["tables"]
    with database.read() as session:
        orders = session.execute(
            select(func.count())
            .select_from(Base.metadata.tables["sales_order"])
            .where(Base.metadata.tables["sales_order"].c.customer_id == p.customer_id)
        ).scalar_one()
    assert len(tables["sales_order"]) == orders == 1
    assert len(tables["sales_order_line"]) == 2
    assert len(tables["sales_return"]) == 1
    assert len(tables["event"]) == 5
    assert len(tables["consent_record"]) == 2
    assert len(tables["consent_state"]) == 2
    assert {row["value"] for row in tables["customer_identity"]} >= {p.email, p.phone}
    everything = json.dumps(export)
    assert other.email not in everything
    assert other.last_name not in everything
    with database.read() as session:
        for table in Base.metadata.sorted_tables:
            if "customer_id" not in table.c:
                continue
            held = session.execute(
                select(func.count()).select_from(table).where(table.c.customer_id == p.customer_id)
            ).scalar_one()
            assert len(tables.get(table.name, [])) == held, table.name


def test_erasure_leaves_no_personal_text_anywhere_and_keeps_the_totals(
    database: Database, clock: Clock
) -> None:
    with database.write() as session:
        p = person_with_history(session, clock(), "ines", phone="+33612345609")
        keeper = person_with_history(session, clock(), "jack", phone="+33612345610")
        totals_before = commerce.order_totals(session)
        request = gdpr.erase_customer(
            session, customer_id=p.customer_id, actor="dpo", now=clock(), policy=POLICY
        )
        again = gdpr.erase_customer(
            session, customer_id=p.customer_id, actor="dpo", now=clock(), policy=POLICY
        )
        assert again.id == request.id
        assert commerce.order_totals(session) == totals_before
        values = text_values(session)
    secrets = [p.email, p.phone, p.first_name, p.last_name, p.email.split("@")[0]]
    leaks = [
        (table, column)
        for table, column, value in values
        if any(secret.casefold() in value.casefold() for secret in secrets)
    ]
    assert leaks == []
    assert any(keeper.email in value for _, _, value in values)  # others untouched
    with database.read() as session:
        erased = session.get_one(Customer, p.customer_id)
        assert (erased.status, erased.first_name, erased.profiling_restricted) == (
            "erased",
            None,
            True,
        )
        assert "rows_pseudonymised" in request.details
    with database.write() as session, pytest.raises(CustomerNotActive):
        ingest(session, simple("login", "after-erasure", clock(), {"id": p.customer_id}), clock())


def test_erasing_a_survivor_erases_the_profiles_merged_into_it(
    database: Database, clock: Clock
) -> None:
    with database.write() as session:
        a, b = merged_pair(
            session, clock(), "lola", "marc", phones=("+33612345612", "+33612345613")
        )
        gdpr.erase_customer(
            session, customer_id=a.customer_id, actor="dpo", now=clock(), policy=POLICY
        )
        values = text_values(session)
    secrets = [b.email, b.phone, b.first_name, b.last_name, a.first_name, a.email]
    assert [
        (t, c) for t, c, v in values if any(s.casefold() in v.casefold() for s in secrets)
    ] == []


def test_restriction_of_profiling_is_recorded(database: Database, clock: Clock) -> None:
    with database.write() as session:
        p = person_with_history(session, clock(), "kiki", phone="+33612345611")
        gdpr.restrict_profiling(
            session, customer_id=p.customer_id, restricted=True, actor="dpo", now=clock()
        )
        customer = session.get_one(Customer, p.customer_id)
        assert customer.profiling_restricted
        kinds = [r.kind for r in gdpr.gdpr_requests(session, customer_id=p.customer_id)]
        assert kinds == ["restrict"]
