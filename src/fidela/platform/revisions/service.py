"""Per-process caches of configuration, checked with one statement per transaction.

The event subscribers read the same configuration for every group of events they are given
(the programmes in force, active charity pledges, journeys), and a single event's group
paid a statement and the parsing of each, about a seventh of its CPU. Here a transaction
reads every family's revision once (one statement, kept in ``session.info``) and each cache
answers from memory while its family's revision is the one it was loaded at.

Why it is right:

- the revision is read before the content it labels, so a cache entry is never older than
  its label (at worst newer, when a change commits in between: the next reader sees another
  revision and loads again);
- triggers move the revision in the same transaction as the change, with a value never used
  before, so a rolled-back change cannot leave an entry that a later state would match;
- each database counts its revisions from its own random point (migration 0015), so a
  process that meets two databases (the test suite; a database made again under a running
  server) never takes one's revision for the other's;
- this transaction's own writes to a family's tables (through the session: ORM flushes and
  DML statements) drop the transaction's snapshot, so it reads its own changes afterwards;
  so does the end of any transaction or savepoint (a rolled-back savepoint takes its
  revisions with it; a committed transaction's successor must read them again).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import TextClause, event, select
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction

from fidela.platform import driver
from fidela.platform.revisions.families import FAMILIES, TABLE_FAMILY
from fidela.platform.revisions.models import ConfigRevision

T = TypeVar("T")

_SNAPSHOT = "fidela.config_revisions"
_READ = select(ConfigRevision.family, ConfigRevision.revision)
_READ_SQL = "SELECT family, revision FROM config_revision"


def revisions(session: Session) -> dict[str, int]:
    """Every family's revision as this transaction sees it (read once per transaction)."""
    # As the ORM's autoflush before a query: pending changes of a family's tables move its
    # revision (and drop the snapshot, through the flush listener below).
    session.flush()
    snapshot: dict[str, int] | None = session.info.get(_SNAPSHOT)
    if snapshot is None:
        # The first statement of nearly every transaction of events: on PostgreSQL through
        # the driver's cursor (see platform.driver), without SQLAlchemy's execution context.
        rows: Any = (
            driver.run(session, _READ_SQL, ())
            if session.get_bind().dialect.name == "postgresql"
            else session.connection().execute(_READ)
        )
        snapshot = {family: int(revision) for family, revision in rows}
        session.info[_SNAPSHOT] = snapshot
    return snapshot


def forget(session: Session) -> None:
    """Read the revisions again at the next use (this transaction wrote configuration)."""
    session.info.pop(_SNAPSHOT, None)


@dataclass
class Cached(Generic[T]):
    """A value loaded from one family's tables, reused while the family's revision stays.
    ``load`` runs after the session was flushed (reading the revisions flushes it)."""

    family: str
    load: Callable[[Session], T]
    # One tuple, replaced whole: threads serving requests read and set it without a lock.
    _entry: tuple[int, T] | None = None

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise ValueError(f"unknown configuration family {self.family!r}")

    def get(self, session: Session) -> T:
        revision = revisions(session).get(self.family)
        entry = self._entry
        if revision is not None and entry is not None and entry[0] == revision:
            return entry[1]
        value = self.load(session)
        if revision is not None and _SNAPSHOT in session.info:
            # Loaded after the revision was read, and no write of this family since (that
            # would have dropped the snapshot): the value belongs to that revision or later.
            self._entry = (revision, value)
        return value


def _written_tables(session: Session) -> set[str]:
    objects = [*session.new, *session.dirty, *session.deleted]
    return {getattr(getattr(o, "__table__", None), "name", "") for o in objects}


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, _flush: UOWTransaction) -> None:
    if _SNAPSHOT in session.info and _written_tables(session) & TABLE_FAMILY.keys():
        forget(session)


@event.listens_for(Session, "after_transaction_end")
def _after_transaction_end(session: Session, _transaction: Any) -> None:
    forget(session)


@event.listens_for(Session, "do_orm_execute")
def _on_execute(state: ORMExecuteState) -> None:
    if isinstance(state.statement, TextClause):
        forget(state.session)  # SQL text may write anything: read the revisions again
        return
    if not (state.is_insert or state.is_update or state.is_delete):
        return
    table: Any = getattr(state.statement, "table", None)
    if getattr(table, "name", None) in TABLE_FAMILY:
        forget(state.session)
