"""Arrays packed in PostgreSQL's binary format arrive as psycopg would have sent them, and
what the packer does not carry is left to psycopg unchanged."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from fidela.platform import driver
from fidela.platform.db import Database
from fidela.platform.packed_arrays import PackedArray, kind_of, pack

PARIS_WINTER = timezone(timedelta(hours=1))

# (column type as the dialect compiles it, values, what PostgreSQL reads back)
ROUND_TRIPS: list[tuple[str, list[Any], list[Any] | None]] = [
    ("BIGINT", [1, None, -(2**63), 2**63 - 1], [1, None, -(2**63), 2**63 - 1]),
    ("INTEGER", [0, -7, 2**31 - 1], [0, -7, 2**31 - 1]),
    ("SMALLINT", [3, None, -(2**15)], [3, None, -(2**15)]),
    (
        "VARCHAR(100)",
        ["ana@example.com", "", None, "Zoë 🌳"],
        ["ana@example.com", "", None, "Zoë 🌳"],
    ),
    ("TEXT", ['quote " and \\ back', "a,b"], ['quote " and \\ back', "a,b"]),
    ("BOOLEAN", [True, False, None], [True, False, None]),
    ("JSONB", ['{"a": [1, 2]}', None, '"x"'], [{"a": [1, 2]}, None, "x"]),
    ("JSON", ['{"b":1}'], [{"b": 1}]),
    (
        "TIMESTAMP WITH TIME ZONE",
        [datetime(2026, 11, 23, 9, 30, 15, 123456, tzinfo=PARIS_WINTER), None],
        [datetime(2026, 11, 23, 8, 30, 15, 123456, tzinfo=UTC), None],
    ),
    (
        "TIMESTAMP WITH TIME ZONE",
        [datetime(1969, 7, 20, 20, 17, tzinfo=UTC)],
        [datetime(1969, 7, 20, 20, 17, tzinfo=UTC)],
    ),
    ("DATE", [date(2000, 1, 1), date(1999, 12, 31), date(2026, 2, 28)], None),
    ("BIGINT", [], []),
]


def test_the_kinds_packed_are_the_hot_column_types_and_others_stay_lists() -> None:
    assert kind_of("VARCHAR(200)") == "VARCHAR"
    assert kind_of("timestamp with time zone") == "TIMESTAMP WITH TIME ZONE"
    assert kind_of("NUMERIC(12, 4)") is None
    assert pack(None, (1, 2)) == [1, 2]
    assert isinstance(pack("BIGINT", [1, 2]), PackedArray)


@pytest.mark.parametrize(
    ("kind", "values"),
    [
        ("TIMESTAMP WITH TIME ZONE", [datetime(2026, 1, 1)]),  # noqa: DTZ001 - naive: psycopg's timestamp
        ("BIGINT", [Decimal(3)]),
        ("BIGINT", [True]),
        ("BIGINT", [2**63]),  # out of range: the database says so, as before
        ("VARCHAR", [12]),
        ("DATE", [datetime(2026, 1, 1, tzinfo=UTC)]),
        ("BOOLEAN", [1]),
        ("JSONB", [{"already": "a document"}]),
    ],
)
def test_a_value_the_kind_does_not_carry_leaves_the_whole_list_to_psycopg(
    kind: str, values: list[Any]
) -> None:
    assert pack(kind, values) == values


@pytest.mark.parametrize(("sql_type", "values", "expected"), ROUND_TRIPS)
def test_postgresql_reads_a_packed_array_as_the_values_given(
    database: Database, sql_type: str, values: list[Any], expected: list[Any] | None
) -> None:
    if database.dialect != "postgresql":
        pytest.skip("binary arrays are PostgreSQL's (SQLite goes through SQLAlchemy Core)")
    packed = pack(kind_of(sql_type), values)
    assert isinstance(packed, PackedArray)
    with database.write() as session:
        rows = driver.run(
            session,
            f"SELECT v FROM unnest(%b::{sql_type}[]) WITH ORDINALITY AS u(v, n) ORDER BY n",  # noqa: S608 - the test's own types
            (packed,),
        )
        plain = (
            driver.run(
                session,
                f"SELECT v FROM unnest(%b::{sql_type}[]) WITH ORDINALITY AS u(v, n) ORDER BY n",  # noqa: S608
                (list(values),),
            )
            if sql_type not in {"JSONB", "JSON"}
            else None
        )
    read = [row[0] for row in rows]
    assert read == (expected if expected is not None else values)
    if plain is not None:  # psycopg's own adaptation of the same list reads the same
        assert read == [row[0] for row in plain]
