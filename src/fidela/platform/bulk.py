"""Many rows in one statement, on both databases.

On PostgreSQL each column travels as one array parameter (binary format: psycopg's text
format escapes every string element with a regular expression) and the statement reads them
back with ``unnest``: the statement text is the same whatever the number of rows (so the driver
prepares it once), and a thousand rows cost a handful of parameters instead of thousands of
placeholders to parse and bind. Measured on 1,000 events, psycopg spent more time splitting
and binding a multi-row ``VALUES`` statement than the server spent running it. Inserts that
neither skip conflicts nor return anything use binary ``COPY`` instead (see ``_copy_rows``).

On SQLite the library's executemany path is already cheap (the driver is in C, in process),
so the same calls go through SQLAlchemy Core.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.types.json import set_json_dumps
from sqlalchemy import JSON, Table, bindparam, insert, select, tuple_, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from fidela.platform import driver, jsontext
from fidela.platform.packed_arrays import kind_of, pack
from fidela.platform.types import UTCDateTime
from fidela.platform.upsert import insert_ignoring_conflicts

_statements: dict[tuple[Any, ...], str] = {}


def _pg_value_maker(session: Session, table: Table, column: str) -> Any:
    kind = table.c[column].type
    if isinstance(kind, JSON):
        return lambda value: None if value is None else jsontext.dumps(value)
    if isinstance(kind, UTCDateTime):
        dialect = session.get_bind().dialect
        return lambda value: kind.process_bind_param(value, dialect)
    return None


# Per (table, column): how a value is made ready (None: as it is) and the packing kind. Both
# depend on the column's type alone; looked up once, they were a few per cent of a group's CPU
# when found again for every column of every statement.
_columns: dict[tuple[str, str], tuple[Any, str | None]] = {}


def _column(session: Session, table: Table, column: str) -> tuple[Any, str | None]:
    key = (table.name, column)
    found = _columns.get(key)
    if found is None:
        found = (
            _pg_value_maker(session, table, column),
            kind_of(_pg_type(session, table, column)),
        )
        _columns[key] = found
    return found


def _packed(session: Session, table: Table, column: str, values: Sequence[Any]) -> Any:
    """``values`` as the array parameter of ``column`` (see ``platform.packed_arrays``)."""
    return pack(_column(session, table, column)[1], values)


def _arrays(
    session: Session, table: Table, columns: Sequence[str], rows: Sequence[dict[str, Any]]
) -> tuple[Any, ...]:
    arrays: list[Any] = []
    for column in columns:
        maker, kind = _column(session, table, column)
        values = [row[column] for row in rows]
        arrays.append(pack(kind, [maker(v) for v in values] if maker else values))
    return tuple(arrays)


def _pg_type(session: Session, table: Table, column: str) -> str:
    return str(table.c[column].type.compile(dialect=session.get_bind().dialect))


def _quoted(session: Session, *names: str) -> list[str]:
    preparer = session.get_bind().dialect.identifier_preparer
    return [preparer.quote(name) for name in names]


# Below this many rows a prepared INSERT beats COPY, whose statement is parsed anew each time
# and takes extra protocol messages: a single event's order lines and result (a group of 1-8
# events) cost 1.4 ms more CPU through COPY on the 2-core bench machine.
COPY_FROM_ROWS = 64


def insert_rows(
    session: Session,
    table: Table,
    rows: Sequence[dict[str, Any]],
    *,
    returning: Sequence[str] = (),
    skip_conflicts_on: Sequence[str] = (),
) -> list[tuple[Any, ...]]:
    """Insert ``rows`` (dicts with the same keys) in one statement; the ``returning`` columns
    of the rows inserted. With ``skip_conflicts_on``, rows conflicting on those columns are
    skipped (``ON CONFLICT DO NOTHING``) and missing from the answer.

    Without ``skip_conflicts_on``, the answer is in the order of ``rows`` when the first
    ``returning`` column is the sequence-generated primary key (ids are drawn in row order)."""
    if not rows:
        return []
    columns = list(rows[0])
    if session.get_bind().dialect.name != "postgresql":
        return _insert_core(session, table, rows, returning, skip_conflicts_on)
    if not returning and not skip_conflicts_on and len(rows) >= COPY_FROM_ROWS:
        _copy_rows(session, table, columns, rows)
        return []
    key = ("insert", table.name, tuple(columns), tuple(returning), tuple(skip_conflicts_on))
    if key not in _statements:
        casts = ", ".join(f"%b::{_pg_type(session, table, c)}[]" for c in columns)
        (name,) = _quoted(session, table.name)
        names = ", ".join(_quoted(session, *columns))
        # Identifiers come from the table's metadata, quoted by the dialect; values are
        # parameters.
        sql = (
            f"INSERT INTO {name} ({names}) SELECT {names} "  # noqa: S608
            f"FROM unnest({casts}) WITH ORDINALITY AS u({names}, ord) ORDER BY ord"
        )
        if skip_conflicts_on:
            sql += f" ON CONFLICT ({', '.join(_quoted(session, *skip_conflicts_on))}) DO NOTHING"
        if returning:
            sql += f" RETURNING {', '.join(_quoted(session, *returning))}"
        _statements[key] = sql
    found = driver.run(session, _statements[key], _arrays(session, table, columns, rows))
    if not returning:
        return []
    return found if skip_conflicts_on else sorted(found, key=lambda row: row[0])


def insert_with_children(
    session: Session,
    parent: Table,
    parents: Sequence[dict[str, Any]],
    child: Table,
    children: Sequence[dict[str, Any]],
    *,
    link: str,
) -> list[int]:
    """Insert ``parents`` and then ``children``, whose ``link`` column holds the position
    of their parent in ``parents`` (from 0) and is written as that parent's new id; the
    parents' ids, in the order of ``parents``.

    On PostgreSQL, a few children go in the same statement as their parents (data-modifying
    CTEs): a group of single events saves a round trip and a statement's fixed cost. From
    ``COPY_FROM_ROWS`` children on, they are copied after the parents' insert instead."""
    if not parents:
        return []
    postgres = session.get_bind().dialect.name == "postgresql"
    if not postgres or not children or len(children) >= COPY_FROM_ROWS:
        ids = [int(row[0]) for row in insert_rows(session, parent, parents, returning=("id",))]
        insert_rows(session, child, [{**row, link: ids[row[link]]} for row in children])
        return ids
    parent_columns = list(parents[0])
    child_columns = [c for c in children[0] if c != link]
    key = ("family", parent.name, tuple(parent_columns), child.name, tuple(child_columns), link)
    if key not in _statements:
        _statements[key] = _family_statement(
            session, parent, parent_columns, child, child_columns, link
        )
    positions = pack("BIGINT", [row[link] + 1 for row in children])
    params = (
        *_arrays(session, parent, parent_columns, parents),
        *_arrays(session, child, child_columns, children),
        positions,
    )
    return [int(row[0]) for row in driver.run(session, _statements[key], params)]


def _family_statement(
    session: Session,
    parent: Table,
    parent_columns: Sequence[str],
    child: Table,
    child_columns: Sequence[str],
    link: str,
) -> str:
    (parent_name, child_name, link_name) = _quoted(session, parent.name, child.name, link)
    parent_names = ", ".join(_quoted(session, *parent_columns))
    parent_casts = ", ".join(f"%b::{_pg_type(session, parent, c)}[]" for c in parent_columns)
    quoted_children = _quoted(session, *child_columns)
    child_casts = "".join(f"%b::{_pg_type(session, child, c)}[], " for c in child_columns)
    child_names = "".join(f"{c}, " for c in quoted_children)
    targets = "".join(f", {c}" for c in quoted_children)
    picked = "".join(f", x.{c}" for c in quoted_children)
    # Ids are drawn in the order of the parents' insert, so the n-th smallest new id is the
    # n-th parent's (as insert_rows relies on). Identifiers come from the tables' metadata,
    # quoted by the dialect; values are parameters.
    return (
        f"WITH p AS (INSERT INTO {parent_name} ({parent_names}) SELECT {parent_names} "  # noqa: S608
        f"FROM unnest({parent_casts}) WITH ORDINALITY AS u({parent_names}, ord) ORDER BY ord "
        "RETURNING id), "
        "n AS (SELECT id, row_number() OVER (ORDER BY id) AS position FROM p), "
        f"c AS (INSERT INTO {child_name} ({link_name}{targets}) "
        f"SELECT n.id{picked} FROM unnest({child_casts}%b::BIGINT[]) WITH ORDINALITY "
        f"AS x({child_names}parent_position, ord) JOIN n ON n.position = x.parent_position "
        "ORDER BY x.ord) "
        "SELECT id FROM p ORDER BY id"
    )


def _copy_type(session: Session, table: Table, column: str) -> str:
    # "VARCHAR(100)" -> "varchar": COPY names the type; the column applies its own length.
    return _pg_type(session, table, column).split("(")[0].lower()


def _copy_rows(
    session: Session, table: Table, columns: Sequence[str], rows: Sequence[dict[str, Any]]
) -> None:
    """Plain inserts go through ``COPY ... FROM STDIN (FORMAT BINARY)``: psycopg formats each
    row in C and PostgreSQL skips the executor. On 2,000 order lines of 10 columns, the copy
    (PostgreSQL's work included) took 4.2 ms; dumping the same values as arrays, 6.7 ms."""
    (name,) = _quoted(session, table.name)
    names = ", ".join(_quoted(session, *columns))
    types = [_copy_type(session, table, c) for c in columns]
    stamps = [n for n, c in enumerate(columns) if isinstance(table.c[c].type, UTCDateTime)]
    dialect = session.get_bind().dialect
    utc = UTCDateTime()
    connection = session.connection().connection.driver_connection
    # Identifiers come from the table's metadata, quoted by the dialect.
    statement = f"COPY {name} ({names}) FROM STDIN (FORMAT BINARY)"
    try:
        with connection.cursor() as cursor:  # type: ignore[union-attr]
            set_json_dumps(jsontext.dumps, cursor)
            with cursor.copy(statement) as copy:
                copy.set_types(types)
                for row in rows:
                    values = [row[c] for c in columns]
                    for n in stamps:
                        # Refuses naive datetimes, like every other write of the column.
                        values[n] = utc.process_bind_param(values[n], dialect)
                    copy.write_row(values)
    except psycopg.Error as error:
        # Raised as SQLAlchemy raises the driver's errors everywhere else: callers catch
        # IntegrityError, and the deadlock retry looks for DBAPIError.
        raise DBAPIError.instance(statement, None, error, psycopg.Error) from error


def _insert_core(
    session: Session,
    table: Table,
    rows: Sequence[dict[str, Any]],
    returning: Sequence[str],
    skip_conflicts_on: Sequence[str],
) -> list[tuple[Any, ...]]:
    statement: Any = (
        insert_ignoring_conflicts(session, table, *skip_conflicts_on)
        if skip_conflicts_on
        else insert(table)
    )
    if not returning:
        session.connection().execute(statement, list(rows))
        return []
    statement = statement.returning(
        *(table.c[c] for c in returning), sort_by_parameter_order=not skip_conflicts_on
    )
    return [tuple(row) for row in session.connection().execute(statement, list(rows)).all()]


def update_rows(
    session: Session,
    table: Table,
    rows: Sequence[dict[str, Any]],
    *,
    key: str | tuple[str, ...] = "id",
) -> None:
    """Set each row's other columns where ``key`` matches (one statement); ``key`` is one
    column or several (a composite primary key)."""
    if not rows:
        return
    keys = (key,) if isinstance(key, str) else key
    columns = [c for c in rows[0] if c not in keys]
    if session.get_bind().dialect.name != "postgresql":
        statement = (
            update(table)
            .where(*(table.c[k] == bindparam(f"_{k}") for k in keys))
            .values({c: bindparam(c) for c in columns})
        )
        session.connection().execute(
            statement,
            [{**{c: row[c] for c in columns}, **{f"_{k}": row[k] for k in keys}} for row in rows],
        )
        return
    cache_key = ("update", table.name, keys, tuple(columns))
    if cache_key not in _statements:
        everything = [*keys, *columns]
        casts = ", ".join(f"%b::{_pg_type(session, table, c)}[]" for c in everything)
        (name,) = _quoted(session, table.name)
        quoted = dict(zip(everything, _quoted(session, *everything), strict=True))
        sets = ", ".join(f"{quoted[c]} = u.{quoted[c]}" for c in columns)
        matched = " AND ".join(f"{name}.{quoted[k]} = u.{quoted[k]}" for k in keys)
        _statements[cache_key] = (
            f"UPDATE {name} SET {sets} FROM unnest({casts}) "  # noqa: S608 - see insert_rows
            f"AS u({', '.join(quoted.values())}) WHERE {matched}"
        )
    driver.run(session, _statements[cache_key], _arrays(session, table, [*keys, *columns], rows))


@dataclass(frozen=True)
class Joined:
    """A table joined to ``select_matching``'s rows through ``via`` (its id, a foreign key
    of the matched table), and the ``columns`` of it to return after the matched ones."""

    table: Table
    via: str
    columns: tuple[str, ...]


def select_matching(
    session: Session,
    table: Table,
    key_columns: Sequence[str],
    keys: Sequence[tuple[Any, ...]],
    columns: Sequence[str],
    joined: Joined | None = None,
    *,
    lock: bool = False,
) -> list[tuple[Any, ...]]:
    """The ``columns`` of the rows whose ``key_columns`` equal one of ``keys`` (a composite
    lookup through the unique index those columns carry), followed by ``joined``'s columns
    of the row each one refers to, if given (one statement where two would follow).

    ``lock``: the matched rows are locked for update, in the order of their ids (so two
    transactions locking overlapping sets queue instead of deadlocking); SQLite has one
    writer at a time and no row locks."""
    if not keys:
        return []
    if session.get_bind().dialect.name != "postgresql":
        selected = [table.c[c] for c in columns]
        source: Any = table
        if joined is not None:
            selected += [joined.table.c[c] for c in joined.columns]
            source = table.join(joined.table, joined.table.c.id == table.c[joined.via])
        statement = (
            select(*selected)
            .select_from(source)
            .where(
                tuple_(*(table.c[c] for c in key_columns)).in_(bindparam("keys", expanding=True))
            )
        )
        return [tuple(row) for row in session.connection().execute(statement, {"keys": keys})]
    cache_key = ("select", table.name, tuple(key_columns), tuple(columns), joined, lock)
    if cache_key not in _statements:
        (name,) = _quoted(session, table.name)
        quoted_keys = _quoted(session, *key_columns)
        casts = ", ".join(f"%b::{_pg_type(session, table, c)}[]" for c in key_columns)
        wanted = ", ".join(f"t.{c}" for c in _quoted(session, *columns))
        joined_sql = ""
        if joined is not None:
            (other,) = _quoted(session, joined.table.name)
            (via,) = _quoted(session, joined.via)
            wanted += "".join(f", j.{c}" for c in _quoted(session, *joined.columns))
            joined_sql = f" JOIN {other} AS j ON j.id = t.{via}"
        joined_on = " AND ".join(f"t.{c} = k.{c}" for c in quoted_keys)
        _statements[cache_key] = (
            f"SELECT {wanted} FROM {name} AS t "  # noqa: S608 - see insert_rows
            f"JOIN unnest({casts}) AS k({', '.join(quoted_keys)}) ON {joined_on}{joined_sql}"
            + (" ORDER BY t.id FOR UPDATE OF t" if lock else "")
        )
    arrays = tuple(
        _packed(session, table, column, [key[n] for key in keys])
        for n, column in enumerate(key_columns)
    )
    return driver.run(session, _statements[cache_key], arrays)
