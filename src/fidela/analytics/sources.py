"""The source tables every analytic reads, the same on every engine.

Each source is one SQLAlchemy ``SELECT`` over the operational tables (no personal data: ids,
types, channels, survey kinds and scores, support complaint flags, amounts, programme costs
and instants only). The same statement feeds both ways in:

- ``export_parquet`` streams it from SQLite or PostgreSQL into Parquet files, which DuckDB
  (embedded, the default) and Spark read;
- ``postgres_sources`` compiles it into session-local temporary views over the live
  PostgreSQL tables (analytics in place, inside the caller's transaction: it sees exactly what
  that transaction sees and leaves nothing behind).

Instants are naive UTC everywhere (Parquet ``timestamp[us]`` without zone, ``timezone('UTC',
...)`` on PostgreSQL), so no engine's session time zone can shift a day boundary.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ibis
import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import (
    BigInteger,
    Connection,
    DateTime,
    Select,
    String,
    case,
    cast,
    func,
    select,
    text,
    type_coerce,
)
from sqlalchemy.dialects import postgresql

from fidela.analytics.rules import UnknownEngine
from fidela.commerce.models import SalesOrder, SalesOrderLine
from fidela.customer.models import Customer
from fidela.event.models import Event
from fidela.kernel.errors import FieldProblem, InvalidInput
from fidela.ledger.models import LedgerAccount, LedgerEntry
from fidela.loyalty.models import LoyaltyProgramme

if TYPE_CHECKING:
    from ibis.backends import BaseBackend
    from pyspark.sql import SparkSession


class EngineName(StrEnum):
    DUCKDB = "duckdb"
    POSTGRES = "postgres"
    SPARK = "spark"


def parse_engine(value: str) -> EngineName:
    try:
        return EngineName(value)
    except ValueError:
        raise UnknownEngine(
            f"unknown engine {value!r}; expected duckdb, postgres or spark",
            [FieldProblem("/engine", "duckdb, postgres or spark")],
        ) from None


_TS = pa.timestamp("us")

SCHEMAS: dict[str, pa.Schema] = {
    "customer": pa.schema(
        [
            ("customer_id", pa.int64()),
            ("status", pa.string()),
            ("joined_at", _TS),
            ("preferred_channel", pa.string()),
        ]
    ),
    "sales_order": pa.schema(
        [
            ("order_id", pa.int64()),
            ("customer_id", pa.int64()),
            ("channel", pa.string()),
            ("currency", pa.string()),
            ("total_minor", pa.int64()),
            ("returned_minor", pa.int64()),
            ("ordered_at", _TS),
        ]
    ),
    "sales_order_line": pa.schema(
        [
            ("order_id", pa.int64()),
            ("customer_id", pa.int64()),
            ("product_id", pa.string()),
            ("category", pa.string()),
            ("quantity", pa.int64()),
            ("amount_minor", pa.int64()),
            ("ordered_at", _TS),
        ]
    ),
    "event": pa.schema(
        [
            ("event_id", pa.int64()),
            ("customer_id", pa.int64()),
            ("type", pa.string()),
            ("channel", pa.string()),
            ("survey", pa.string()),
            ("score", pa.int64()),
            ("complaint", pa.bool_()),
            ("resolved", pa.bool_()),
            ("occurred_at", _TS),
        ]
    ),
    "ledger_entry": pa.schema(
        [
            ("entry_id", pa.int64()),
            ("customer_id", pa.int64()),
            ("programme", pa.string()),
            ("kind", pa.string()),
            ("bucket", pa.string()),
            ("points", pa.int64()),
            ("at", _TS),
        ]
    ),
    "membership": pa.schema(
        [
            ("customer_id", pa.int64()),
            ("programme", pa.string()),
            ("enrolled_at", _TS),
        ]
    ),
    "programme": pa.schema(
        [
            ("programme", pa.string()),
            ("currency", pa.string()),
            ("cost_per_point_minor", pa.string()),
        ]
    ),
}

# The instant column of each source: what ``as_of`` cuts on in an export. Programmes are
# configuration, not history: their current cost per point is exported whatever the as_of.
TIME_COLUMNS = {
    "customer": "joined_at",
    "sales_order": "ordered_at",
    "sales_order_line": "ordered_at",
    "event": "occurred_at",
    "ledger_entry": "at",
    "membership": "enrolled_at",
}

# Only a survey answer's ``survey`` and ``score`` are read: guarding the cast by the type
# keeps another type's (or a custom event's) non-integer ``score`` from failing a query.
_SURVEY = "survey.answered"
_SUPPORT = "support.interaction"


def _selects(utc: Callable[[Any], Any]) -> dict[str, Select[Any]]:
    """The source statements; ``utc`` turns a timestamp column into the dialect's naive-UTC
    form (identity for the export, which converts in Python).

    A member's enrolment in a programme is the earlier of their ledger account's opening and
    its first entry. Members are enrolled on their first earning, which opens the account (in
    every programme, with or without a tier ladder, so the account and not the tier
    membership is the record every member has); the account is stamped with the processing
    clock but the entry with the event's own instant, so history imported today still
    enrols members when they first earned. A merge moves the entries into the survivor's
    account, so the survivor's enrolment is the earlier of the two people's.
    """
    first_entry = (
        select(LedgerEntry.account_id, func.min(LedgerEntry.at).label("first_at"))
        .group_by(LedgerEntry.account_id)
        .subquery()
    )
    enrolled_at = case(
        (first_entry.c.first_at < LedgerAccount.created_at, first_entry.c.first_at),
        else_=LedgerAccount.created_at,
    )
    answered = Event.type == _SURVEY
    survey = case((answered, type_coerce(Event.data["survey"].as_string(), String)))
    score = case((answered, cast(Event.data["score"].as_string(), BigInteger)))
    # A support contact's complaint flag and resolution (the churn warnings read them).
    contact = Event.type == _SUPPORT
    complaint = case((contact, Event.data["complaint"].as_boolean()))
    resolved = case((contact, Event.data["resolved"].as_boolean()))
    return {
        "customer": select(
            Customer.id.label("customer_id"),
            Customer.status,
            utc(func.coalesce(Customer.signup_at, Customer.created_at)).label("joined_at"),
            Customer.preferred_channel,
        ).order_by(Customer.id),
        "sales_order": select(
            SalesOrder.id.label("order_id"),
            SalesOrder.customer_id,
            SalesOrder.channel,
            SalesOrder.currency,
            SalesOrder.total_minor,
            SalesOrder.returned_minor,
            utc(SalesOrder.ordered_at).label("ordered_at"),
        )
        .where(SalesOrder.customer_id.is_not(None))
        # Clustered by customer (the index ix_sales_order_customer_id_ordered_at serves it):
        # every per-customer aggregate over the export then finds each customer's rows
        # together and in time order, which makes the summary cheaper (docs/benchmarks.md).
        .order_by(SalesOrder.customer_id, SalesOrder.ordered_at, SalesOrder.id),
        "sales_order_line": select(
            SalesOrderLine.order_id,
            SalesOrder.customer_id,
            SalesOrderLine.product_id,
            SalesOrderLine.category,
            SalesOrderLine.quantity,
            SalesOrderLine.amount_minor,
            utc(SalesOrder.ordered_at).label("ordered_at"),
        )
        .join(SalesOrder, SalesOrder.id == SalesOrderLine.order_id)
        .where(SalesOrder.customer_id.is_not(None))
        .order_by(SalesOrderLine.id),
        "event": select(
            Event.id.label("event_id"),
            Event.customer_id,
            Event.type,
            type_coerce(Event.data["channel"].as_string(), String).label("channel"),
            survey.label("survey"),
            score.label("score"),
            complaint.label("complaint"),
            resolved.label("resolved"),
            utc(Event.occurred_at).label("occurred_at"),
        ).order_by(Event.id),
        "ledger_entry": select(
            LedgerEntry.id.label("entry_id"),
            LedgerAccount.customer_id,
            LedgerAccount.programme,
            LedgerEntry.kind,
            LedgerEntry.bucket,
            LedgerEntry.points,
            utc(LedgerEntry.at).label("at"),
        )
        .join(LedgerAccount, LedgerAccount.id == LedgerEntry.account_id)
        .order_by(LedgerEntry.id),
        "membership": select(
            LedgerAccount.customer_id,
            LedgerAccount.programme,
            utc(enrolled_at).label("enrolled_at"),
        )
        .outerjoin(first_entry, first_entry.c.account_id == LedgerAccount.id)
        .order_by(LedgerAccount.id),
        "programme": select(
            LoyaltyProgramme.code.label("programme"),
            LoyaltyProgramme.currency,
            LoyaltyProgramme.cost_per_point_minor,
        ).order_by(LoyaltyProgramme.id),
    }


@dataclass(frozen=True)
class ExportSummary:
    directory: Path
    rows: dict[str, int]


def _batch(name: str, rows: list[Any]) -> pa.RecordBatch:
    schema = SCHEMAS[name]
    columns = []
    for index, field in enumerate(schema):
        values = [row[index] for row in rows]
        if field.type == _TS:
            aware = pa.array(values, type=pa.timestamp("us", tz="UTC"))
            columns.append(aware.cast(_TS))
        else:
            columns.append(pa.array(values, type=field.type))
    return pa.RecordBatch.from_arrays(columns, schema=schema)


def export_parquet(
    connection: Connection,
    directory: Path,
    *,
    as_of: datetime | None = None,
    chunk_rows: int = 100_000,
    progress: Callable[[str, int], None] | None = None,
) -> ExportSummary:
    """Stream every source into ``directory/<source>.parquet`` in chunks of ``chunk_rows``
    (memory stays bounded by one chunk). With ``as_of`` (naive UTC), only rows before it.
    A file is written under a temporary name and renamed, so readers never see half of it."""
    directory.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    for name, statement in _selects(lambda column: column).items():
        if as_of is not None and name in TIME_COLUMNS:
            column = statement.selected_columns[TIME_COLUMNS[name]]
            statement = statement.where(column < _aware(as_of))
        target = directory / f"{name}.parquet"
        partial = directory / f".{name}.parquet.partial"
        total = 0
        with pq.ParquetWriter(partial, SCHEMAS[name]) as writer:
            # On the statement, not the connection: Connection.execution_options changes the
            # caller's connection for good (a later SAVEPOINT on PostgreSQL then fails).
            result = connection.execute(statement.execution_options(yield_per=chunk_rows))
            for chunk in result.partitions():
                writer.write_batch(_batch(name, list(chunk)))
                total += len(chunk)
                if progress is not None:
                    progress(name, total)
        partial.replace(target)
        counts[name] = total
    return ExportSummary(directory, counts)


def _aware(as_of: datetime) -> datetime:
    return as_of.replace(tzinfo=UTC)


@dataclass
class Sources:
    """The source tables on one engine, and how to run an expression there."""

    engine: EngineName
    backend: BaseBackend
    customers: ibis.Table
    orders: ibis.Table
    order_lines: ibis.Table
    events: ibis.Table
    ledger: ibis.Table
    memberships: ibis.Table
    programmes: ibis.Table

    def rows(self, expression: ibis.Table) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.backend.to_pyarrow(expression).to_pylist()
        return result

    def arrow(self, expression: ibis.Table) -> pa.Table:
        return self.backend.to_pyarrow(expression)


def _from_tables(engine: EngineName, backend: Any, tables: dict[str, ibis.Table]) -> Sources:
    return Sources(
        engine=engine,
        backend=backend,
        customers=tables["customer"],
        orders=tables["sales_order"],
        order_lines=tables["sales_order_line"],
        events=tables["event"],
        ledger=tables["ledger_entry"],
        memberships=tables["membership"],
        programmes=tables["programme"],
    )


def _parquet_files(directory: Path) -> Iterator[tuple[str, Path]]:
    missing = [name for name in SCHEMAS if not (directory / f"{name}.parquet").is_file()]
    if missing:
        raise InvalidInput(
            f"{directory} holds no analytics export (missing "
            f"{', '.join(f'{m}.parquet' for m in missing)}); run 'fidela analytics export'",
            [FieldProblem("/source", "a directory written by 'fidela analytics export'")],
        )
    for name in SCHEMAS:
        yield name, directory / f"{name}.parquet"


def duckdb_sources(directory: Path, *, threads: int | None = None) -> Sources:
    """DuckDB, embedded, over a Parquet export (no extension is downloaded)."""
    config = {} if threads is None else {"threads": threads}
    backend = ibis.duckdb.connect(**config)
    tables = {
        name: backend.read_parquet(str(path), table_name=f"src_{name}")
        for name, path in _parquet_files(directory)
    }
    return _from_tables(EngineName.DUCKDB, backend, tables)


def spark_sources(session: SparkSession, directory: Path) -> Sources:
    """Spark (local mode or a cluster) over a Parquet export. The session should run in UTC
    (``spark.sql.session.timeZone=UTC``); instants are naive UTC either way."""
    backend = ibis.pyspark.connect(session)
    tables = {
        name: backend.read_parquet(str(path), table_name=f"src_{name}")
        for name, path in _parquet_files(directory)
    }
    return _from_tables(EngineName.SPARK, backend, tables)


def postgres_sources(connection: Connection) -> Sources:
    """PostgreSQL in place: temporary views over the live tables in ``connection``'s session
    (its transaction decides what is visible; the views vanish with the session)."""
    if connection.dialect.name != "postgresql":
        raise UnknownEngine(
            "the postgres engine reads the operational database in place and needs PostgreSQL; "
            f"this database is {connection.dialect.name}",
            [FieldProblem("/engine", "use duckdb on SQLite")],
        )
    dialect = postgresql.dialect()  # type: ignore[no-untyped-call]

    def utc(column: Any) -> Any:
        return type_coerce(func.timezone("UTC", column), DateTime())

    for name, statement in _selects(utc).items():
        # Without the export's ORDER BY: a view keeps it, and every analytic would pay a
        # sort (or an index walk) of the whole table before aggregating it.
        unordered = statement.order_by(None)
        compiled = unordered.compile(dialect=dialect, compile_kwargs={"literal_binds": True})
        connection.execute(text(f"CREATE OR REPLACE TEMPORARY VIEW src_{name} AS {compiled}"))
    backend = ibis.postgres.from_connection(connection.connection.driver_connection)
    tables = {name: backend.table(f"src_{name}") for name in SCHEMAS}
    return _from_tables(EngineName.POSTGRES, backend, tables)
