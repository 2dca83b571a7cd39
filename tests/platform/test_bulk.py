"""Bulk inserts store the same rows whichever way they travel (COPY for many rows on
PostgreSQL, one prepared INSERT for a few), and report conflicts the same way."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import JSON, Column, ForeignKey, Integer, MetaData, String, Table, select
from sqlalchemy.exc import IntegrityError

from fidela.platform.bulk import COPY_FROM_ROWS, insert_rows, insert_with_children, update_rows
from fidela.platform.db import Database
from fidela.platform.types import UTCDateTime

PROBE = Table(
    "bulk_probe",
    MetaData(),
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("note", String(20)),
    Column("data", JSON),
    Column("at", UTCDateTime),
)
T0 = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


def rows(count: int, first: int = 1) -> list[dict[str, object]]:
    return [
        {"id": n, "note": f"n{n}", "data": {"n": n, "tags": ["a"]}, "at": T0 + timedelta(minutes=n)}
        for n in range(first, first + count)
    ]


@pytest.mark.parametrize("count", [3, COPY_FROM_ROWS + 36])
def test_rows_are_stored_as_given_and_a_conflict_is_an_integrity_error(
    database: Database, count: int
) -> None:
    with database.write() as session:
        PROBE.create(session.connection())
        insert_rows(session, PROBE, rows(count))
        stored = session.execute(select(PROBE).order_by(PROBE.c.id)).all()
        assert [tuple(row) for row in stored] == [
            (r["id"], r["note"], r["data"], r["at"]) for r in rows(count)
        ]
        with pytest.raises(IntegrityError), session.begin_nested():
            insert_rows(session, PROBE, rows(count, first=count))


PAIRS = Table(
    "bulk_pairs",
    MetaData(),
    Column("owner", Integer, primary_key=True, autoincrement=False),
    Column("topic", String(20), primary_key=True),
    Column("note", String(20)),
    Column("at", UTCDateTime),
)


def test_rows_with_a_composite_key_are_updated_where_every_part_matches(
    database: Database,
) -> None:
    with database.write() as session:
        PAIRS.create(session.connection())
        insert_rows(
            session,
            PAIRS,
            [
                {"owner": owner, "topic": topic, "note": "old", "at": T0}
                for owner in (1, 2)
                for topic in ("email", "sms")
            ],
        )
        update_rows(
            session,
            PAIRS,
            [
                {"owner": 1, "topic": "sms", "note": "new", "at": T0 + timedelta(days=1)},
                {"owner": 2, "topic": "email", "note": "newer", "at": T0 + timedelta(days=2)},
            ],
            key=("owner", "topic"),
        )
        stored = session.execute(select(PAIRS).order_by(PAIRS.c.owner, PAIRS.c.topic)).all()
        assert [tuple(row) for row in stored] == [
            (1, "email", "old", T0),
            (1, "sms", "new", T0 + timedelta(days=1)),
            (2, "email", "newer", T0 + timedelta(days=2)),
            (2, "sms", "old", T0),
        ]


FAMILY = MetaData()
PARENT = Table(
    "bulk_parent",
    FAMILY,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(20)),
)
CHILD = Table(
    "bulk_child",
    FAMILY,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("parent_id", Integer, ForeignKey("bulk_parent.id"), nullable=False),
    Column("label", String(20)),
    Column("at", UTCDateTime),
)


@pytest.mark.parametrize("children_each", [0, 2, COPY_FROM_ROWS])
def test_children_are_stored_under_their_own_parent_in_their_order(
    database: Database, children_each: int
) -> None:
    # A few children go in the parents' statement on PostgreSQL, many are copied after it;
    # the second parent has none.
    parents = [{"name": f"p{n}"} for n in range(3)]
    wanted = [
        (p, f"p{p}-c{c}", T0 + timedelta(minutes=c)) for p in (0, 2) for c in range(children_each)
    ]
    children = [{"parent_id": p, "label": label, "at": at} for p, label, at in wanted]
    with database.write() as session:
        FAMILY.create_all(session.connection())
        ids = insert_with_children(session, PARENT, parents, CHILD, children, link="parent_id")
        names = dict(session.execute(select(PARENT.c.id, PARENT.c.name)).all())
        stored = session.execute(
            select(CHILD.c.parent_id, CHILD.c.label, CHILD.c.at).order_by(CHILD.c.id)
        ).all()

    assert [names[i] for i in ids] == ["p0", "p1", "p2"]
    assert [tuple(row) for row in stored] == [(ids[p], label, at) for p, label, at in wanted]


def test_a_child_the_database_refuses_leaves_no_parent_either(database: Database) -> None:
    with database.write() as session:
        FAMILY.create_all(session.connection())
        with pytest.raises(IntegrityError), session.begin_nested():
            insert_with_children(
                session,
                PARENT,
                [{"name": "p0"}],
                CHILD,
                # Two children under one id: the second breaks the primary key.
                [
                    {"id": 1, "parent_id": 0, "label": "one", "at": None},
                    {"id": 1, "parent_id": 0, "label": "dup", "at": None},
                ],
                link="parent_id",
            )
        assert session.execute(select(PARENT.c.id)).all() == []
