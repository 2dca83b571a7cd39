"""Engine, sessions and the declarative base.

- One naming convention for every constraint, so Alembic migrations are stable and portable.
- SQLite: WAL, foreign keys on, a busy timeout, and write transactions opened with
  ``BEGIN IMMEDIATE``. SQLite drops ``SELECT ... FOR UPDATE``; taking the write lock at BEGIN
  is what serialises concurrent writers instead of failing the second one mid-transaction
  when it upgrades its read lock.
- PostgreSQL through psycopg 3.

The shells own the transaction: ``with database.write() as session:`` commits on success and
rolls back on error; services receive the session and never commit.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, MetaData, Table, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.pool import QueuePool

from fidela.platform import jsontext
from fidela.platform.table_growth import TableSize, outgrown

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# The schema's tables: their size as of their statistics, and now, in pages.
TABLE_SIZES = text(
    "SELECT c.relname, greatest(c.relpages, 0),"
    " pg_relation_size(c.oid) / current_setting('block_size')::int"
    " FROM pg_class AS c"
    " WHERE c.relkind = 'r' AND c.relnamespace = current_schema()::regnamespace"
    " ORDER BY c.relname"
)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def table_of(model: type[Base]) -> Table:
    """A model's table, typed as one (for Core statements on hot paths)."""
    table = model.__table__
    if not isinstance(table, Table):  # pragma: no cover - declarative models map tables
        raise TypeError(f"{model.__name__} is not mapped to a table")
    return table


def normalise_url(url: str) -> str:
    """Accept the usual spellings and pin the PostgreSQL driver to psycopg 3."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres", "postgresql+psycopg2"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def _install_sqlite_behaviour(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, emit BEGIN (the driver's implicit BEGIN is DEFERRED
        # and is skipped before SELECTs, which breaks savepoints and lock ordering).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.execute("PRAGMA journal_mode=WAL")
        # NORMAL is durable across application crashes in WAL mode; only an OS crash can lose
        # the last commits. The same trade every embedded WAL deployment makes.
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        mode = connection.get_execution_options().get("sqlite_begin", "IMMEDIATE")
        connection.exec_driver_sql(f"BEGIN {mode}")


def create_db_engine(
    url: str, *, pool_size: int = 10, echo: bool = False, generic_plans: bool = False
) -> Engine:
    url = normalise_url(url)
    backend = make_url(url).get_backend_name()
    if backend == "sqlite":
        engine = create_engine(
            url,
            echo=echo,
            # Pooled, not opened per unit of work: closing the last connection to a WAL
            # database checkpoints and deletes the WAL, which cost ~3 ms per transaction. A pool
            # lends each connection to one thread at a time, so check_same_thread can be off.
            poolclass=QueuePool,
            pool_size=pool_size,
            max_overflow=pool_size,
            connect_args={"check_same_thread": False, "timeout": 10},
        )
        _install_sqlite_behaviour(engine)
        return engine
    # UTC sessions, whatever the server's default zone: psycopg then tags every timestamptz
    # it reads with ``datetime.UTC`` itself instead of converting it to a named zone (a
    # server set to 'Etc/UTC' cost 0.77 against 0.51 us a value), and ``UTCDateTime`` has
    # nothing left to convert. Nothing in SQL depends on the session's zone.
    options = ["-c jit=off", "-c timezone=UTC"]
    if generic_plans:
        # See Database.for_small_groups.
        options.append("-c plan_cache_mode=force_generic_plan")
    # No pre-ping: it is a round trip on every checkout. Connections are recycled hourly, and
    # a disconnect seen on one invalidates the whole pool, so a database restart costs one
    # failed request per process rather than a ping per request forever.
    return create_engine(
        url,
        echo=echo,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_recycle=3600,
        json_serializer=jsontext.dumps,
        json_deserializer=jsontext.loads,
        # No JIT compilation: it pays off on long analytical scans, but PostgreSQL decides on
        # the plan's estimated cost, and a batch statement over a table whose statistics lag
        # behind a bulk load looked costly enough that compiling took 308 ms of a 762 ms run.
        connect_args={"options": " ".join(options)},
    )


T = TypeVar("T")

# SQLSTATEs after which the whole transaction may simply run again: PostgreSQL broke a
# deadlock (40P01) or refused a serialisation (40001) by rolling the victim back entirely.
RETRYABLE_STATES = frozenset({"40P01", "40001"})
WRITE_ATTEMPTS = 4


def sqlstate_of(error: BaseException) -> str | None:
    """The SQLSTATE of a driver error SQLAlchemy raised (None for anything else)."""
    if not isinstance(error, DBAPIError):
        return None
    state = getattr(error.orig, "sqlstate", None)
    return state if isinstance(state, str) else None


def is_retryable(error: BaseException) -> bool:
    """Whether ``error`` is a transaction PostgreSQL rolled back to break a deadlock or a
    serialisation conflict (nothing of it was written)."""
    return sqlstate_of(error) in RETRYABLE_STATES


class Database:
    """The engine plus the two kinds of unit of work the shells open."""

    def __init__(self, engine: Engine | Connection) -> None:
        self.bind = engine
        options: dict[str, Any] = {}
        if isinstance(engine, Connection):
            # Tests: sessions join the connection's outer transaction through savepoints.
            options["join_transaction_mode"] = "create_savepoint"
        self._writer = sessionmaker(bind=engine, expire_on_commit=False, **options)
        reader_bind: Engine | Connection = (
            engine.execution_options(sqlite_begin="DEFERRED")
            if isinstance(engine, Engine)
            else engine
        )
        self._reader = sessionmaker(bind=reader_bind, expire_on_commit=False, **options)

    @property
    def dialect(self) -> str:
        return self.bind.dialect.name

    @classmethod
    def from_url(cls, url: str, *, pool_size: int = 10, echo: bool = False) -> Database:
        return cls(create_db_engine(url, pool_size=pool_size, echo=echo))

    @classmethod
    def for_small_groups(cls, url: str, *, pool_size: int = 2, echo: bool = False) -> Database:
        """Connections for transactions that run the same few statements over a handful of
        rows, again and again (the single-event groups): PostgreSQL plans each statement once
        per connection and reuses the plan.

        psycopg prepares a statement from its fifth run, but PostgreSQL then keeps planning it
        at every run (a custom plan) as long as its generic plan looks costlier, and a generic
        plan guesses ten elements in each array parameter where a group passes one to eight:
        it looked costlier every time. Planning a group's look-up took 0.27-0.36 ms, running
        it 0.04-0.17 ms (EXPLAIN ANALYZE); with generic plans the two look-ups of a group of
        four went from 0.30 and 0.29 ms to 0.21 and 0.15 ms. Batches keep the default: with
        generic plans a batch of new customers cost 0.26 + 0.11 ms of CPU per event (server,
        PostgreSQL) instead of 0.16 + 0.07.

        A generic plan is made from the statistics of the moment; a bulk load refreshes
        them when it ends (``refresh_statistics``), and ANALYZE invalidates cached plans."""
        return cls(create_db_engine(url, pool_size=pool_size, echo=echo, generic_plans=True))

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A read-write unit of work: commit on success, roll back on any error."""
        with self._writer() as session, session.begin():
            yield session

    def write_retrying(
        self,
        operation: Callable[[Session], T],
        *,
        attempts: int = WRITE_ATTEMPTS,
        pause: Callable[[float], None] = time.sleep,
    ) -> T:
        """``operation`` in a write unit of work, run again (up to ``attempts`` times in all)
        when PostgreSQL rolls the transaction back to break a deadlock or a serialisation
        conflict. Only for operations that are safe to repeat from scratch: they must derive
        everything from their inputs and the database (idempotent ingestion does). Each retry
        waits a short random pause so the two sides of a deadlock do not meet again."""
        for attempt in range(1, attempts + 1):
            try:
                with self.write() as session:
                    return operation(session)
            except DBAPIError as error:
                if attempt == attempts or not is_retryable(error):
                    raise
                pause(random.uniform(0.005, 0.05) * attempt)  # noqa: S311 - jitter, not secrets
        raise AssertionError("unreachable")  # pragma: no cover

    def refresh_statistics(self) -> list[str]:
        """Have PostgreSQL re-read the statistics of the tables that outgrew them
        (``ANALYZE``), which re-plans the statements it cached; the names of those tables.
        A bulk load makes tables grow by orders of magnitude within one process: plans
        cached while a table was nearly empty (a sequential scan) would stay in use, and
        autovacuum, when it runs at all, analyses only between its naps. SQLite has nothing
        to refresh (its planner works from the indexes)."""
        if self.dialect != "postgresql":
            return []
        with self.write() as session:
            sizes = [
                TableSize(name, pages_analysed, pages_now)
                for name, pages_analysed, pages_now in session.execute(TABLE_SIZES)
            ]
            names = outgrown(sizes)
            if names:
                quote = session.get_bind().dialect.identifier_preparer.quote
                session.execute(text("ANALYZE " + ", ".join(quote(name) for name in names)))
        return names

    @contextmanager
    def rehearse(self) -> Iterator[Session]:
        """A write unit of work that is always rolled back (dry runs)."""
        with self._writer() as session:
            session.begin()
            try:
                yield session
            finally:
                session.rollback()

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only unit of work (on SQLite a DEFERRED transaction, so readers never
        queue behind the single writer). Nothing is flushed; the transaction ends with
        COMMIT, not ROLLBACK: psycopg drops its prepared statements on every ROLLBACK, and
        this unit runs on every authenticated request."""
        with self._reader() as session:
            session.autoflush = False
            try:
                yield session
            except BaseException:
                session.rollback()
                raise
            session.commit()

    @contextmanager
    def connection(self) -> Iterator[Connection]:
        """A raw connection (migrations, drift checks, bulk loads)."""
        if isinstance(self.bind, Connection):
            yield self.bind
            return
        with self.bind.connect() as connection:
            yield connection

    def ping(self) -> None:
        with self.read() as session:
            session.execute(text("SELECT 1"))

    def dispose(self) -> None:
        if isinstance(self.bind, Engine):
            self.bind.dispose()
