"""Many earns at once: the set-based form of ``service.earn_points`` for the event path.

A batch of earns in one programme costs a constant number of statements: lock every account
in primary-key order (when some are missing: insert them, then lock all again), find the keys
already posted, insert every lot, every entry, and move every cache. Each lot and entry is
what ``earn_points`` would have written for it (``earned_lot``, the part of the pure
``post_earn`` that needs no account). Two things ``earn_points`` also does are left to it:
an account with debt (new points pay it first) takes the one-by-one path, and lots whose
hold ended are activated by the activation job rather than caught up here (balances read as
of now count them already; the cache stays equal to the journal and the lots). A new lot
whose hold is already over (a late import) is posted active, as ``post_earn`` decides.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from fidela.customer import service as customers
from fidela.ledger.models import LedgerAccount, LedgerEntry, LedgerLot
from fidela.ledger.rules import Bucket, Entry, ExpirySchedule, Hold, Lot, earned_lot
from fidela.ledger.service import (
    MAX_KEY_LENGTH,
    Reason,
    _check_points,
    _check_text,
    earn_points,
    entry_rows,
)
from fidela.platform.bulk import insert_rows, insert_with_children, select_matching, update_rows
from fidela.platform.db import table_of
from fidela.platform.id_lists import AnySelect, one_of_param, run_built


@dataclass(frozen=True)
class EarnRequest:
    """One earn of ``points`` for ``customer_id`` under idempotency ``key`` (see
    ``earn_points``); ``ref`` names what the lot was earned for, ``earned_at`` when (the
    purchase; the batch's ``now`` when not given)."""

    customer_id: int
    points: int
    key: str
    ref: str | None = None
    hold: Hold | None = None
    reason: Reason | None = None
    earned_at: datetime | None = None


# What an earn posts on an account owing nothing: its lot (numbered 1, an empty account's
# first, until inserted) and its earn entry.
FreshEarn = tuple[Lot, Entry]


def fresh_posting(
    request: EarnRequest, *, now: datetime, expiry: ExpirySchedule | None = None
) -> FreshEarn:
    """What `earn_many` posts for ``request`` on an account that owes nothing (pure: the
    rule is ``ledger.rules.earned_lot``, the part of ``post_earn`` that needs no account).

    A caller can work it out before locking the accounts and hand it to `earn_many`
    (``postings``): made under the locks, through ``post_earn`` on an empty account (42 us a
    request), it took about a tenth of the time a batch of 1,000 orders with the demo
    programme kept its members locked."""
    return earned_lot(
        1,
        ref=request.ref or request.key,
        points=request.points,
        now=now,
        hold=request.hold,
        expiry=expiry,
        earned_at=request.earned_at,
    )


def earn_many(
    session: Session,
    *,
    programme: str,
    requests: Sequence[EarnRequest],
    now: datetime,
    expiry: ExpirySchedule | None = None,
    locked: Sequence[Any] | None = None,
    fresh_keys: bool = False,
    postings: Sequence[FreshEarn | None] | None = None,
) -> list[bool]:
    """Post every request (a customer may have several, under distinct keys: one event's
    lots under different holds); for each, whether it was posted now (False: its key was
    posted before, nothing written).

    ``locked``: what `lock_accounts` returned for these members, when nothing has written to
    their accounts since (it saves reading them again under the lock).

    ``fresh_keys``: the caller's keys name rows created in this very transaction (an order,
    an event), so no entry can carry them yet and the look-up of keys already posted is
    skipped (a statement per call). Were a key posted all the same, the (account, key)
    unique index would refuse it: the transaction fails, nothing is posted twice.

    ``postings``: per request (in their order), its `fresh_posting` at this ``now`` and
    ``expiry`` when the caller worked it out already, else None."""
    if not requests:
        return []
    if postings is not None and len(postings) != len(requests):
        raise ValueError("earn_many takes one posting or None per request")
    for request in requests:
        _check_points(request.points)
        _check_text(request.key, "/key", MAX_KEY_LENGTH)
    customers = sorted({r.customer_id for r in requests})
    if len({(r.customer_id, r.key) for r in requests}) != len(requests):
        raise ValueError("earn_many takes each (customer, key) once")
    # Locked in primary-key order, like every other writer of several accounts.
    # The cached balances are read under the lock, so the new ones can be written as values
    # in one statement (``platform.bulk.update_rows``) rather than one increment per account.
    if locked is None:
        locked = lock_balances(session, programme, customers)
    else:
        wanted = set(customers)
        locked = [row for row in locked if int(row.customer_id) in wanted]
    missing = sorted(set(customers) - {int(row.customer_id) for row in locked})
    if missing:
        # Only the accounts not there yet are inserted (most batches have none: an insert of
        # every member skipping conflicts cost a statement per batch), then all are read again.
        insert_rows(
            session,
            table_of(LedgerAccount),
            [
                {
                    "customer_id": customer,
                    "programme": programme,
                    "available": 0,
                    "pending": 0,
                    "debt": 0,
                    "version": 1,
                    "created_at": now,
                    "updated_at": now,
                }
                for customer in missing
            ],
            skip_conflicts_on=("customer_id", "programme"),
        )
        locked = lock_balances(session, programme, customers)
    accounts = {int(row.customer_id): (int(row.id), int(row.debt)) for row in locked}
    cached = {
        int(row.id): (int(row.available), int(row.pending), int(row.version)) for row in locked
    }
    keys = [(accounts[r.customer_id][0], f"earn:{r.key}") for r in requests]
    # Through the (account_id, key) unique index, the keys as arrays: a tuple ``IN`` list
    # of a thousand pairs cost more to compile and bind than to run.
    taken = (
        set()
        if fresh_keys
        else {
            (int(account_id), str(key))
            for account_id, key in select_matching(
                session, table_of(LedgerEntry), ("account_id", "key"), keys, ("account_id", "key")
            )
        }
    )
    posted: list[bool] = []
    plain: list[tuple[EarnRequest, int, FreshEarn]] = []
    given = postings if postings is not None else [None] * len(requests)
    for request, key, made in zip(requests, keys, given, strict=True):
        account_id, debt = accounts[request.customer_id]
        if key in taken:
            posted.append(False)
            continue
        posted.append(True)
        if debt > 0:
            earn_points(
                session,
                customer_id=request.customer_id,
                programme=programme,
                points=request.points,
                now=now,
                key=request.key,
                ref=request.ref,
                hold=request.hold,
                expiry=expiry,
                reason=request.reason,
                earned_at=request.earned_at,
            )
            continue
        posting = made or fresh_posting(request, now=now, expiry=expiry)
        _check_made(posting, request)
        plain.append((request, account_id, posting))
    if not plain:
        return posted
    lots: list[dict[str, Any]] = []
    entries: list[dict[str, Any]] = []
    moves: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for position, (request, account_id, (lot, entry)) in enumerate(plain):
        lots.append(
            {
                "account_id": account_id,
                "amount": lot.amount,
                "remaining": lot.remaining,
                "earned_at": lot.earned_at,
                "expires_at": lot.expires_at,
                "state": lot.state.value,
                "activates_at": lot.activates_at,
                "ref": lot.ref,
                "awaits": lot.awaits,
            }
        )
        # Its lot is named by position until inserted (see ``insert_with_children``).
        entries += entry_rows(
            account_id,
            [replace(entry, lot_id=position)],
            now=now,
            main_kind=entry.kind,
            main_key=f"earn:{request.key}",
            reason=request.reason,
        )
        moves[account_id][0 if entry.bucket is Bucket.ACTIVE else 1] += entry.points
    # The lots and their entries in one statement for a group of single events (a round
    # trip and a statement's fixed cost fewer), two for a batch (see ``insert_with_children``).
    insert_with_children(
        session, table_of(LedgerLot), lots, table_of(LedgerEntry), entries, link="lot_id"
    )
    update_rows(
        session,
        table_of(LedgerAccount),
        [
            {
                "id": account_id,
                "available": cached[account_id][0] + active,
                "pending": cached[account_id][1] + held,
                "version": cached[account_id][2] + 1,
                "updated_at": now,
            }
            for account_id, (active, held) in sorted(moves.items())
        ],
    )
    return posted


def _check_made(posting: FreshEarn, request: EarnRequest) -> None:
    # A posting handed in for another request would post the wrong lot: refuse it loudly.
    lot, _ = posting
    if lot.amount != request.points or lot.ref != (request.ref or request.key):
        raise ValueError(f"the posting given for '{request.key}' is another request's")


def _lock_balances_statement(dialect: str) -> AnySelect:
    return (
        select(
            LedgerAccount.id,
            LedgerAccount.customer_id,
            LedgerAccount.debt,
            LedgerAccount.available,
            LedgerAccount.pending,
            LedgerAccount.version,
        )
        .where(
            LedgerAccount.programme == bindparam("programme"),
            one_of_param(dialect, LedgerAccount.customer_id, "customers"),
        )
        .order_by(LedgerAccount.id)
        .with_for_update()
    )


def lock_balances(session: Session, programme: str, customers: list[int]) -> Sequence[Any]:
    """The members' accounts with their cached balances, locked in primary-key order."""
    # Built and compiled once (`id_lists.run_built`): for a group of single events, building
    # the statement and the ORM's or Core's execution cost more CPU than PostgreSQL spent on it.
    params = {"programme": programme, "customers": customers}
    return run_built(session, _lock_balances_statement, params)


def lock_accounts(
    session: Session, *, programme: str, customer_ids: Sequence[int]
) -> Sequence[Any]:
    """Lock the existing accounts of ``customer_ids`` in one programme, in primary-key order;
    their cached balances as read under the lock (for `earn_many`'s ``locked``).

    A batch books its members in several waves (a member ordering twice is in two); without
    this, two concurrent batches could lock the same accounts in different orders, one wave
    at a time, and deadlock. Taking every lock up front in one global order makes concurrent
    batches queue instead. Accounts that do not exist yet are created later in the batch.

    Members without an account yet are held on their profile row, after the accounts (the
    same global order): two batches enrolling the same new member would otherwise both read
    them as unknown (no tier, no counters), and the second would book from those stale
    reads, or fail on the tier standing the first created. Now the second waits for the
    first to commit and then reads what it wrote.
    """
    if not customer_ids:
        return []
    wanted = sorted(set(customer_ids))
    locked = lock_balances(session, programme, wanted)
    if len(locked) < len(wanted):
        have = {int(row.customer_id) for row in locked}
        customers.hold_for_enrolment(session, [c for c in wanted if c not in have])
    return locked
