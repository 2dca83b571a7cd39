"""Customer persistence."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from fidela.customer.models import (
    AttributeDefinition,
    ConsentRecord,
    ConsentState,
    Customer,
    CustomerIdentity,
    MergeRecord,
)
from fidela.customer.rules import CustomerNotFound, Identity, IdentityKind
from fidela.platform.bulk import Joined, insert_rows, select_matching, update_rows
from fidela.platform.db import table_of
from fidela.platform.id_lists import one_of


def add_customer(session: Session, customer: Customer) -> Customer:
    session.add(customer)
    session.flush()
    return customer


def get_customer(session: Session, customer_id: int, *, for_update: bool = False) -> Customer:
    customer = session.get(Customer, customer_id, with_for_update=for_update or None)
    if customer is None:
        raise CustomerNotFound(f"customer {customer_id} does not exist")
    return customer


def lock_customers(session: Session, ids: Iterable[int]) -> dict[int, Customer]:
    """Lock several profiles in primary-key order (no deadlock between two merges)."""
    wanted = sorted(set(ids))
    rows = session.execute(
        select(Customer).where(Customer.id.in_(wanted)).order_by(Customer.id).with_for_update()
    ).scalars()
    found = {row.id: row for row in rows}
    for customer_id in wanted:
        if customer_id not in found:
            raise CustomerNotFound(f"customer {customer_id} does not exist")
    return found


def search_customers(
    session: Session,
    *,
    name: str | None,
    customer_ids: Sequence[int] | None,
    after_id: int,
    limit: int,
) -> Sequence[Customer]:
    query = select(Customer).where(Customer.id > after_id, Customer.status == "active")
    if customer_ids is not None:
        query = query.where(Customer.id.in_(customer_ids))
    if name:
        terms = [term for term in name.lower().split() if term]
        for term in terms:
            pattern = f"{term}%"
            query = query.where(
                or_(
                    func.lower(Customer.first_name).like(pattern),
                    func.lower(Customer.last_name).like(pattern),
                )
            )
    return list(session.execute(query.order_by(Customer.id).limit(limit)).scalars())


_IDENTITY = table_of(CustomerIdentity)


_CUSTOMER = table_of(Customer)


def owners_with_states(
    session: Session, identities: Iterable[Identity]
) -> tuple[dict[Identity, int], dict[int, tuple[str, int | None]]]:
    """``owners_of``, and ``customer_states`` of those owners, in one statement."""
    keys = [(i.kind.value, i.namespace, i.value) for i in identities]
    rows = select_matching(
        session,
        _IDENTITY,
        ("kind", "namespace", "value"),
        keys,
        ("kind", "namespace", "value", "customer_id"),
        Joined(_CUSTOMER, "customer_id", ("status", "merged_into_id")),
    )
    owners = {Identity(IdentityKind(k), v, ns): owner for k, ns, v, owner, _, _ in rows}
    states = {owner: (status, target) for _, _, _, owner, status, target in rows}
    return owners, states


def owners_of(session: Session, identities: Iterable[Identity]) -> dict[Identity, int]:
    """The profile owning each of ``identities`` that has one."""
    owners, _ = owners_with_states(session, identities)
    return owners


# Every column of a new profile row but the id: bulk inserts need the same keys in each row.
PROFILE_ROW_COLUMNS = tuple(c.name for c in _CUSTOMER.columns if c.name != "id")


def customer_states(session: Session, ids: Iterable[int]) -> dict[int, tuple[str, int | None]]:
    """``{id: (status, merged_into_id)}`` for the profiles that exist among ``ids``."""
    # One array parameter, not an IN list: rendering and planning a thousand placeholders
    # cost more than the look-up itself.
    rows = select_matching(
        session, _CUSTOMER, ("id",), [(i,) for i in sorted(ids)], ("id", "status", "merged_into_id")
    )
    return {row[0]: (row[1], row[2]) for row in rows}


def add_customers(session: Session, rows: Sequence[dict[str, Any]]) -> list[int]:
    """Insert profiles in one statement; their ids in the order of ``rows``."""
    return [int(row[0]) for row in insert_rows(session, _CUSTOMER, rows, returning=("id",))]


def add_identities(session: Session, owned: Sequence[tuple[int, Identity]], now: datetime) -> None:
    """Attach identities in one statement: ``(customer_id, identity)`` pairs (sorted by
    identity, so concurrent transactions meet on the unique index in the same order)."""
    insert_rows(
        session,
        _IDENTITY,
        [
            {
                "customer_id": customer_id,
                "kind": identity.kind.value,
                "namespace": identity.namespace,
                "value": identity.value,
                "verified": False,
                "created_at": now,
            }
            for customer_id, identity in sorted(
                owned, key=lambda pair: (pair[1].kind.value, pair[1].namespace, pair[1].value)
            )
        ],
    )


def add_identity(session: Session, identity: CustomerIdentity) -> CustomerIdentity:
    session.add(identity)
    session.flush()
    return identity


def list_identities(session: Session, customer_id: int) -> Sequence[CustomerIdentity]:
    return list(
        session.execute(
            select(CustomerIdentity)
            .where(CustomerIdentity.customer_id == customer_id)
            .order_by(CustomerIdentity.kind, CustomerIdentity.id)
        ).scalars()
    )


def find_identity(session: Session, customer_id: int, identity_id: int) -> CustomerIdentity | None:
    return session.execute(
        select(CustomerIdentity).where(
            CustomerIdentity.id == identity_id, CustomerIdentity.customer_id == customer_id
        )
    ).scalar_one_or_none()


def get_attribute_definitions(session: Session) -> dict[str, AttributeDefinition]:
    return {row.name: row for row in session.execute(select(AttributeDefinition)).scalars()}


def find_attribute_definition(session: Session, name: str) -> AttributeDefinition | None:
    return session.get(AttributeDefinition, name)


def lock_profiles(
    session: Session, ids: Iterable[int], columns: Sequence[str]
) -> dict[int, dict[str, Any]]:
    """``columns`` of several profiles (and their ``version``), locked in primary-key order
    (the order every writer of several profiles takes)."""
    wanted = sorted(set(ids))
    statement = (
        select(_CUSTOMER.c.id, _CUSTOMER.c.version, *(_CUSTOMER.c[c] for c in columns))
        .where(one_of(session, _CUSTOMER.c.id, wanted))
        .order_by(_CUSTOMER.c.id)
        .with_for_update()
    )
    return {
        int(row[0]): {"version": int(row[1]), **dict(zip(columns, row[2:], strict=True))}
        for row in session.connection().execute(statement)
    }


def hold_profiles(session: Session, ids: Iterable[int]) -> None:
    """Lock profile rows in primary-key order, ``FOR NO KEY UPDATE``: it queues behind any
    other writer of those rows and leaves the key-share locks of inserts that reference them
    alone. SQLite serialises every writer already."""
    wanted = sorted(set(ids))
    if not wanted or session.get_bind().dialect.name != "postgresql":
        return
    session.connection().execute(
        select(_CUSTOMER.c.id)
        .where(one_of(session, _CUSTOMER.c.id, wanted))
        .order_by(_CUSTOMER.c.id)
        .with_for_update(key_share=True)
    )


def update_profiles(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Write profile columns by id, one statement (rows with the same keys)."""
    update_rows(session, _CUSTOMER, rows)


_CONSENT_RECORD = table_of(ConsentRecord)
_CONSENT_STATE = table_of(ConsentState)
CONSENT_STATE_KEY = ("customer_id", "channel", "purpose")


def consent_states_of(
    session: Session, customer_ids: Iterable[int], *, lock: bool
) -> list[tuple[int, str, str, str, datetime]]:
    """``(customer_id, channel, purpose, status, since)`` of every current consent of these
    profiles; ``lock``: locked in primary-key order."""
    statement = (
        select(
            _CONSENT_STATE.c.customer_id,
            _CONSENT_STATE.c.channel,
            _CONSENT_STATE.c.purpose,
            _CONSENT_STATE.c.status,
            _CONSENT_STATE.c.since,
        )
        .where(one_of(session, _CONSENT_STATE.c.customer_id, sorted(set(customer_ids))))
        .order_by(*(_CONSENT_STATE.c[c] for c in CONSENT_STATE_KEY))
    )
    if lock:
        statement = statement.with_for_update()
    return [
        (int(c), str(channel), str(purpose), str(status), since)
        for c, channel, purpose, status, since in session.connection().execute(statement)
    ]


def consent_decisions_of(
    session: Session, customer_ids: Iterable[int]
) -> set[tuple[int, str, str, str, datetime]]:
    """``(customer_id, channel, purpose, status, occurred_at)`` of every consent record of
    these profiles."""
    statement = select(
        _CONSENT_RECORD.c.customer_id,
        _CONSENT_RECORD.c.channel,
        _CONSENT_RECORD.c.purpose,
        _CONSENT_RECORD.c.status,
        _CONSENT_RECORD.c.occurred_at,
    ).where(one_of(session, _CONSENT_RECORD.c.customer_id, sorted(set(customer_ids))))
    return {
        (int(c), str(channel), str(purpose), str(status), at)
        for c, channel, purpose, status, at in session.connection().execute(statement)
    }


def add_consent_records(session: Session, rows: Sequence[dict[str, Any]]) -> list[int]:
    """Append consent records in one statement; their ids in the order of ``rows``."""
    return [int(row[0]) for row in insert_rows(session, _CONSENT_RECORD, rows, returning=("id",))]


def add_consent_states(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    insert_rows(session, _CONSENT_STATE, rows)


def set_consent_states(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    update_rows(session, _CONSENT_STATE, rows, key=CONSENT_STATE_KEY)


def add_consent_record(session: Session, record: ConsentRecord) -> ConsentRecord:
    session.add(record)
    session.flush()
    return record


def consent_states(session: Session, customer_id: int) -> Sequence[ConsentState]:
    return list(
        session.execute(
            select(ConsentState)
            .where(ConsentState.customer_id == customer_id)
            .order_by(ConsentState.channel, ConsentState.purpose)
        ).scalars()
    )


def consent_history(session: Session, customer_id: int) -> Sequence[ConsentRecord]:
    return list(
        session.execute(
            select(ConsentRecord)
            .where(ConsentRecord.customer_id == customer_id)
            .order_by(ConsentRecord.occurred_at, ConsentRecord.id)
        ).scalars()
    )


def find_consent_state(
    session: Session, customer_id: int, channel: str, purpose: str
) -> ConsentState | None:
    return session.get(ConsentState, (customer_id, channel, purpose))


def find_pending_confirmation(session: Session, digest: str) -> ConsentRecord | None:
    return session.execute(
        select(ConsentRecord).where(ConsentRecord.confirmation_digest == digest)
    ).scalar_one_or_none()


def find_merge(session: Session, merged_id: int) -> MergeRecord | None:
    return session.execute(
        select(MergeRecord).where(MergeRecord.merged_id == merged_id)
    ).scalar_one_or_none()
