"""Customer rows are imported set-based, a chunk at a time: each row's outcome must be the
one importing the rows one by one, in order, gives."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from fidela.customer import service as customers
from fidela.customer.models import ConsentRecord, ConsentState, Customer, CustomerIdentity
from fidela.customer.rules import AttributeType, CustomerPolicy
from fidela.imports.service import ImportReport, import_customers
from fidela.platform.db import Database
from tests.conftest import T0

POLICY = CustomerPolicy()
NOW = T0 + timedelta(days=400)

Row = dict[str, str]


def row(customer_id: str, signed_up_days_ago: int, **columns: str) -> Row:
    return {
        "customer_id": customer_id,
        "signup_at": (NOW - timedelta(days=signed_up_days_ago)).isoformat(),
        **columns,
    }


ROWS: list[Row] = [
    row("C1", 300, email="ana@example.com", phone="+33612345678", first_name="Ana",
        consent_email_marketing="true", consent_analytics="true"),
    # The same person through her phone: completes her profile, attaches a new email and
    # this row's id, withdraws email marketing and grants SMS.
    row("C2", 200, phone="+33612345678", email="ana.pro@example.com", first_name="Anne",
        last_name="Martin", city="Lyon", consent_email_marketing="false",
        consent_sms_marketing="true"),
    row("C3", 100, email="not-an-email", first_name="Bad"),
    # Her first id again, with a decision older than the state: recorded, moves nothing.
    row("C1", 250, email="ana@example.com", city="Paris", consent_email_marketing="true"),
    row("C4", 50, email="bob@example.com", first_name="Bob", timezone="Mars/Olympus"),
    row("C5", 40, email="cy@example.com", first_name="Cy", consent_profiling="false",
        consent_push_marketing="true"),
    row("C6", 30, email="dee@example.com", gender="female", interests="books;travel"),
    # Someone already known before the import: completed, never overwritten.
    row("C7", 20, email="old@example.com", first_name="Ignored", last_name="Known",
        consent_postal_marketing="false"),
    row("C5", 10, email="cy@example.com", consent_profiling="false"),
]  # fmt: skip


def names(session: Session) -> dict[int, str]:
    """Each profile's name in these tests: its external id (the first of several rows)."""
    external: dict[int, str] = {}
    for i in session.execute(select(CustomerIdentity)).scalars():
        if i.kind == "external":
            external[i.customer_id] = min(i.value, external.get(i.customer_id, i.value))
    return external


def state(session: Session) -> dict[str, Any]:
    """Everything the import wrote, by content: ids differ between runs."""
    external = names(session)

    def who(customer_id: int) -> str:
        return external.get(customer_id, f"#{customer_id}")

    return {
        "profiles": sorted(
            (
                who(c.id),
                c.first_name,
                c.last_name,
                c.gender,
                c.city,
                c.timezone,
                c.signup_at,
                c.version,
                repr(c.tags),
                repr(sorted(c.attributes.items())),
            )
            for c in session.execute(select(Customer)).scalars()
        ),
        "identities": sorted(
            (who(i.customer_id), i.kind, i.namespace, i.value)
            for i in session.execute(select(CustomerIdentity)).scalars()
        ),
        "records": [
            (who(r.customer_id), r.channel, r.purpose, r.status, r.occurred_at, repr(r.proof))
            for r in session.execute(select(ConsentRecord).order_by(ConsentRecord.id)).scalars()
        ],
        "states": sorted(
            (who(s.customer_id), s.channel, s.purpose, s.status, s.since)
            for s in session.execute(select(ConsentState)).scalars()
        ),
    }


def run(session: Session, rows: Sequence[tuple[int, Mapping[str, Any]]]) -> ImportReport:
    return import_customers(session, rows=rows, mapping={}, source="shop", policy=POLICY, now=NOW)


def known_customer(session: Session) -> None:
    """A profile that exists before the import, with a name and a consent."""
    run(session, [(1, row("C7", 500, email="old@example.com", first_name="Olga",
                          consent_postal_marketing="true"))])  # fmt: skip


def test_a_chunk_of_rows_ends_as_the_rows_imported_one_by_one(database: Database) -> None:
    numbered = list(enumerate(ROWS, start=1))
    with database.rehearse() as session:
        known_customer(session)
        together = run(session, numbered)
        expected = state(session)
    with database.rehearse() as session:
        known_customer(session)
        alone = ImportReport()
        for one in numbered:
            alone.add(run(session, [one]))
        assert state(session) == expected
    assert (together.created, together.updated, together.unchanged, together.rejected) == (
        alone.created,
        alone.updated,
        alone.unchanged,
        alone.rejected,
    )
    assert [(p.row, p.pointer) for p in together.problems] == [
        (p.row, p.pointer) for p in alone.problems
    ]
    # not vacuous: every kind of outcome happened
    assert (together.created, together.updated, together.unchanged, together.rejected) == (
        3,
        3,
        1,
        2,
    )
    people = {p[0]: p for p in expected["profiles"]}
    assert people["C1"][1:5] == ("Ana", "Martin", None, "Lyon")  # completed, never overwritten
    assert people["C7"][1:3] == ("Olga", "Known")
    assert ("C1", "email", "marketing", "denied") in {s[:4] for s in expected["states"]}
    assert len(expected["records"]) > len(expected["states"])  # a late decision kept apart


def test_importing_the_same_chunk_again_changes_nothing(database: Database) -> None:
    numbered = list(enumerate(ROWS, start=1))
    with database.rehearse() as session:
        known_customer(session)
        run(session, numbered)
        before = state(session)
        again = run(session, numbered)
        assert state(session) == before
    assert (again.created, again.updated, again.rejected) == (0, 0, 2)


ATTRIBUTES = {
    "vip_since": AttributeType.DATE,
    "visits": AttributeType.INTEGER,
    "basket": AttributeType.NUMBER,
    "newsletter": AttributeType.BOOLEAN,
    "legacy_segment": AttributeType.STRING,
}
WITH_ATTRIBUTES: list[Row] = [
    row("C1", 300, email="ana@example.com", phone="+33612345678",
        **{"attribute.vip_since": "2021-05-03", "attribute.visits": "12",
           "attribute.basket": "54.5", "attribute.newsletter": "yes"}),
    # The same person: the attribute she has is kept, the one she lacks is added.
    row("C2", 200, phone="+33612345678",
        **{"attribute.visits": "99", "attribute.legacy_segment": "gold"}),
    row("C3", 100, email="bob@example.com", **{"attribute.visits": "twelve"}),
    row("C4", 90, email="cy@example.com", **{"attribute.shoe_size": "42"}),
    row("C5", 80, email="dee@example.com", **{"attribute.vip_since": "", "attribute.visits": "3"}),
]  # fmt: skip


def declare_attributes(session: Session) -> None:
    for name, kind in ATTRIBUTES.items():
        customers.define_attribute(session, name=name, kind=kind, description=name, now=NOW)


def test_attribute_columns_set_declared_attributes_typed_and_never_overwrite(
    database: Database,
) -> None:
    numbered = list(enumerate(WITH_ATTRIBUTES, start=1))
    with database.rehearse() as session:
        declare_attributes(session)
        report = run(session, numbered)
        expected = state(session)
        again = run(session, numbered)
        assert state(session) == expected  # a re-import changes nothing
        named = names(session)
        attributes = {
            named[c.id]: c.attributes for c in session.execute(select(Customer)).scalars()
        }
    assert attributes["C1"] == {
        "vip_since": "2021-05-03",
        "visits": 12,
        "basket": 54.5,
        "newsletter": True,
        "legacy_segment": "gold",
    }
    assert attributes["C5"] == {"visits": 3}  # an empty cell sets nothing
    assert [(p.row, p.pointer) for p in report.problems] == [
        (3, "/attribute.visits"),
        (4, "/attributes/shoe_size"),
    ]
    assert (report.created, report.updated, report.rejected) == (2, 1, 2)
    assert (again.created, again.updated, again.rejected) == (0, 0, 2)
    with database.rehearse() as session:
        declare_attributes(session)
        for one in numbered:
            run(session, [one])
        assert state(session) == expected  # as one row at a time
