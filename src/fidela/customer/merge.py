"""Merging two profiles of one person.

Everything of the merged profile moves to the survivor: every table that references
``customer`` (found from the schema, see ``ownership``), including identities, consent
history, events, orders and, later, ledger accounts. Consent's current state is recomputed
from both (latest decision wins, refusal on a tie). The merged profile stays as a tombstone
pointing at the survivor, the merge is recorded and audited, and doing it again is a no-op.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime

from sqlalchemy import delete, update
from sqlalchemy.orm import Session

from fidela.customer import repository
from fidela.customer.models import ConsentState, Customer, MergeRecord
from fidela.customer.ownership import NOT_MOVED_ON_MERGE, links_to
from fidela.customer.rules import (
    ConsentChannel,
    ConsentFact,
    ConsentPurpose,
    ConsentStatus,
    CustomerStatus,
    ProfileState,
    check_merge,
    fill_missing,
    merged_consent,
)
from fidela.customer.service import PROFILE_COLUMNS
from fidela.platform.audit.service import record_audit
from fidela.platform.db import Base

# A context whose rows cannot simply be re-pointed (one account per customer, say) registers
# a handler for its table: (session, survivor_id, merged_id) -> rows moved.
# (session, survivor id, merged id, now) -> rows moved; for tables a plain re-point breaks.
MergeHandler = Callable[[Session, int, int, datetime], int]


def _state(customer: Customer) -> ProfileState:
    return ProfileState(customer.id, CustomerStatus(customer.status), customer.merged_into_id)


def _merge_consent(session: Session, survivor_id: int, merged_id: int) -> int:
    states = [
        *repository.consent_states(session, survivor_id),
        *repository.consent_states(session, merged_id),
    ]
    facts = [
        ConsentFact(
            ConsentChannel(s.channel),
            ConsentPurpose(s.purpose),
            ConsentStatus(s.status),
            s.since,
            s.record_id,
        )
        for s in states
    ]
    winners = merged_consent(facts)
    session.execute(
        delete(ConsentState).where(ConsentState.customer_id.in_([survivor_id, merged_id]))
    )
    for (channel, purpose), fact in sorted(winners.items()):
        session.add(
            ConsentState(
                customer_id=survivor_id,
                channel=channel.value,
                purpose=purpose.value,
                status=fact.status.value,
                since=fact.occurred_at,
                record_id=fact.record_id,
            )
        )
    session.flush()
    return len(winners)


def merge_customers(
    session: Session,
    *,
    survivor_id: int,
    merged_id: int,
    actor: str,
    reason: str,
    now: datetime,
    handlers: Mapping[str, MergeHandler] | None = None,
) -> MergeRecord:
    """Merge ``merged_id`` into ``survivor_id``; returns the (first) merge record."""
    rows = repository.lock_customers(session, [survivor_id, merged_id])
    survivor, merged = rows[survivor_id], rows[merged_id]
    if not check_merge(_state(survivor), _state(merged)):
        previous = repository.find_merge(session, merged_id)
        if previous is None:  # pragma: no cover - a merged tombstone always has its record
            raise RuntimeError(f"customer {merged_id} is merged but has no merge record")
        return previous

    moved: dict[str, int] = {"consent_state": _merge_consent(session, survivor_id, merged_id)}
    special = dict(handlers or {})
    for link in links_to(Base.metadata, "customer"):
        name = link.table.name
        if name in special:
            moved[name] = special[name](session, survivor_id, merged_id, now)
            continue
        if name in NOT_MOVED_ON_MERGE:
            continue
        result = session.execute(
            update(link.table)
            .where(link.column == merged_id)
            .values({link.column.name: survivor_id})
        )
        moved[name] = moved.get(name, 0) + int(result.rowcount)  # type: ignore[attr-defined]

    # Profiles merged earlier into the merged one now point straight at the survivor.
    session.execute(
        update(Customer)
        .where(Customer.merged_into_id == merged_id)
        .values(merged_into_id=survivor_id)
    )
    fill = fill_missing(
        {c: getattr(survivor, c) for c in PROFILE_COLUMNS},
        {c: getattr(merged, c) for c in PROFILE_COLUMNS},
    )
    for column, value in fill.items():
        setattr(survivor, column, value)
    survivor.tags = {
        kind: sorted(set(survivor.tags.get(kind, [])) | set(merged.tags.get(kind, [])))
        for kind in sorted(set(survivor.tags) | set(merged.tags))
    }
    survivor.attributes = {**merged.attributes, **survivor.attributes}
    survivor.version += 1
    survivor.updated_at = now
    merged.status = CustomerStatus.MERGED.value
    merged.merged_into_id = survivor_id
    merged.version += 1
    merged.updated_at = now
    record = MergeRecord(
        survivor_id=survivor_id,
        merged_id=merged_id,
        actor=actor,
        reason=reason,
        moved={k: v for k, v in sorted(moved.items()) if v},
        merged_at=now,
    )
    session.add(record)
    session.flush()
    record_audit(
        session,
        actor=actor,
        action="customer.merged",
        subject_type="customer",
        subject_id=survivor_id,
        details={
            "merged_id": merged_id,
            "reason": reason,
            "moved": record.moved,
            "filled": sorted(fill),
        },
        now=now,
    )
    return record
