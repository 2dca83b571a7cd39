"""Ledger use case of a return: give back the points an order was paid with, then claw back
the points it earned, under the programme's return policy, in one locked step.

The amounts come from the pure ``rules.returns`` (``points_to_claw_back``,
``points_to_give_back``); where they come from (which lots, what is forgiven or owed) from
``rules.journal.post_return``. The give-back credits the original lots of the spend that
paid for the order, pro rata, so a refund never charges points twice.

``return_many`` books a programme's returns in a constant number of statements, each on the
account as the earlier ones left it; ``return_points`` is it for one return. Until session
15 ``return_points`` read and wrote each return on its own (12 statements or so); a
Hypothesis test held the batch to it (2,300 random histories) before it became one call of
the batch, and now holds the batch to a call per return.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from fidela.kernel.errors import DomainError
from fidela.ledger import repository
from fidela.ledger.batch import lock_balances
from fidela.ledger.models import LedgerAccount
from fidela.ledger.rules import (
    Account,
    Allocation,
    Debit,
    EntryKind,
    InvalidPoints,
    Lot,
    LotState,
    ReturnOutcome,
    cache_of,
    post_return,
)
from fidela.ledger.rules.returns import ReturnPolicy
from fidela.ledger.service import (
    MAX_KEY_LENGTH,
    Reason,
    _check_text,
    debt_debits,
    entry_rows,
)
from fidela.platform.bulk import update_rows
from fidela.platform.db import table_of


@dataclass(frozen=True)
class ReturnResult:
    """Points a return moved: ``given_back`` to the lots of the paying spend (of which
    ``given_back_expired`` came back into lots that had expired meanwhile), and of the points
    clawed back, ``taken`` from lots, ``forgiven`` (policy) and ``owed`` (debt)."""

    account_id: int | None
    given_back: int = 0
    given_back_expired: int = 0
    taken: int = 0
    forgiven: int = 0
    owed: int = 0
    replayed: bool = False


def return_points(
    session: Session,
    *,
    customer_id: int,
    programme: str,
    ref: str,
    order_ref: str,
    claw_back: int,
    now: datetime,
    policy: ReturnPolicy,
    give_back: int = 0,
    paid_with: str | None = None,
    reason: Reason | None = None,
) -> ReturnResult:
    """Book return ``ref`` of the order whose lots carry ``order_ref``: give back
    ``give_back`` points of spend ``paid_with``, claw back ``claw_back`` points.

    Idempotent on ``ref``: booking it again returns an empty, replayed result. A customer
    without an account has nothing to claw back or give back. (``return_many`` of one.)
    """
    request = ReturnRequest(customer_id, ref, order_ref, claw_back, give_back, paid_with, reason)
    (result,) = return_many(
        session, programme=programme, requests=[request], policy=policy, now=now
    )
    if isinstance(result, DomainError):
        raise result
    return result


def _result(account_id: int, outcome: ReturnOutcome) -> ReturnResult:
    given = outcome.given_back
    return ReturnResult(
        account_id,
        given_back=0 if given is None else given.points,
        given_back_expired=0 if given is None else given.expired_points,
        taken=outcome.clawback.taken,
        forgiven=outcome.clawback.forgiven,
        owed=outcome.clawback.owed,
    )


@dataclass(frozen=True)
class ReturnRequest:
    """One return for ``return_many``: the arguments of ``return_points`` that differ from
    one return to the next."""

    customer_id: int
    ref: str
    order_ref: str
    claw_back: int
    give_back: int = 0
    paid_with: str | None = None
    reason: Reason | None = None


@dataclass
class _Booking:
    """An account as the batch's returns left it so far: every lot read or moved, the debt,
    the spends given back to (id and debit), and the cache's movement."""

    account_id: int
    lots: dict[int, Lot]
    debt: int
    spends: dict[str, tuple[int, Debit]] = field(default_factory=dict)
    active: int = 0
    pending: int = 0
    posted: bool = False  # a return wrote to it

    def live(self) -> list[Lot]:
        """What ``repository.live_lots`` would read now, in the same (id) order."""
        return [
            lot
            for _, lot in sorted(self.lots.items())
            if lot.remaining > 0 or lot.state is LotState.PENDING
        ]


@dataclass(frozen=True)
class _Booked:
    result: ReturnResult
    entries: list[dict[str, Any]]
    # The give-back's entry (its position in ``entries``), the spend's id, the lots restored.
    given: tuple[int, int, tuple[Allocation, ...]] | None = None


def return_many(
    session: Session,
    *,
    programme: str,
    requests: Sequence[ReturnRequest],
    policy: ReturnPolicy,
    now: datetime,
) -> list[ReturnResult | DomainError]:
    """``return_points`` for several returns in one programme, in order, in a constant number
    of statements: the accounts are locked at once (primary-key order); the returns already
    booked, the spends to give back to, what those hold and the live lots are read in one
    statement each; the entries, allocations, lots and balances are written in one each.

    Each return is posted, through the same pure ``post_return``, on the account as the
    batch's earlier returns left it and from the lots ``return_points`` would read (the live
    ones and those the spend holds), so the entries and balances are the ones booking the
    returns one by one would write. A return the rules refuse (a give-back beyond what its
    spend still holds) is answered with the error and moves nothing; the others go on."""
    if len({(r.customer_id, r.ref) for r in requests}) != len(requests):
        raise ValueError("return_many takes each (customer, ref) once")
    for request in requests:
        if request.claw_back < 0 or request.give_back < 0:
            raise InvalidPoints("points clawed or given back must not be negative")
        _check_text(request.ref, "/ref", MAX_KEY_LENGTH)
    moving = [r for r in requests if r.claw_back or r.give_back]
    if not moving:
        return [ReturnResult(None)] * len(requests)
    locked = lock_balances(session, programme, sorted({r.customer_id for r in moving}))
    account_of = {int(row.customer_id): int(row.id) for row in locked}
    booked = repository.entries_by_keys(
        session,
        [
            (account_of[r.customer_id], f"return:{r.ref}")
            for r in moving
            if r.customer_id in account_of
        ],
    )
    spends = repository.entries_by_keys(
        session,
        [
            (account_of[r.customer_id], f"spend:{r.paid_with}")
            for r in moving
            if r.customer_id in account_of and r.give_back and r.paid_with is not None
        ],
    )
    held = repository.held_by_debits(session, sorted({i for i, _ in spends.values()}))
    live = repository.live_lots_of(session, sorted(account_of.values()))
    stored = {lot.id: lot for lots in live.values() for lot in lots}
    stored.update(
        (lot.id, lot)
        for lot in repository.lots_with_ids(
            session, {a.lot_id for allocations in held.values() for a in allocations} - set(stored)
        )
    )
    bookings = {
        int(row.id): _Booking(
            int(row.id), {lot.id: lot for lot in live[int(row.id)]}, int(row.debt)
        )
        for row in locked
    }
    results: list[ReturnResult | DomainError] = []
    entries: list[dict[str, Any]] = []
    given: list[tuple[int, int, tuple[Allocation, ...]]] = []
    for request in requests:
        account_id = account_of.get(request.customer_id)
        if not (request.claw_back or request.give_back):
            results.append(ReturnResult(None))
        elif account_id is None:
            results.append(ReturnResult(None, forgiven=request.claw_back))
        elif (account_id, f"return:{request.ref}") in booked:
            results.append(ReturnResult(account_id, replayed=True))
        else:
            spend = spends.get((account_id, f"spend:{request.paid_with}"))
            try:
                done = _book(bookings[account_id], request, spend, held, stored, policy, now)
            except DomainError as error:  # refused before it moved anything
                results.append(error)
                continue
            results.append(done.result)
            if done.given is not None:
                given.append((len(entries) + done.given[0], done.given[1], done.given[2]))
            entries.extend(done.entries)
    if not entries:
        return results
    entry_ids = repository.add_entries(session, entries)
    repository.add_allocation_rows(
        session,
        [
            {
                "debit_id": debit_id,
                "entry_id": entry_ids[position],
                "lot_id": allocation.lot_id,
                "points": -allocation.points,
            }
            for position, debit_id, allocations in given
            for allocation in allocations
        ],
    )
    repository.save_lots(
        session,
        [
            lot
            for booking in sorted(bookings.values(), key=lambda b: b.account_id)
            for lot_id, lot in sorted(booking.lots.items())
            if lot != stored[lot_id]
        ],
    )
    # Written as values read under the lock, as ``earn_many`` does: one statement.
    update_rows(
        session,
        table_of(LedgerAccount),
        [
            {
                "id": int(row.id),
                "available": int(row.available) + booking.active,
                "pending": int(row.pending) + booking.pending,
                "debt": booking.debt,
                "version": int(row.version) + 1,
                "updated_at": now,
            }
            for row in locked
            if (booking := bookings[int(row.id)]).posted
        ],
    )
    return results


def _book(
    booking: _Booking,
    request: ReturnRequest,
    spend: tuple[int, int] | None,
    held: dict[int, tuple[Allocation, ...]],
    stored: dict[int, Lot],
    policy: ReturnPolicy,
    now: datetime,
) -> _Booked:
    """Post one return on ``booking`` (moved on by it); its result and entry rows."""
    debits: list[Debit] = list(debt_debits(booking.debt))
    give_back = request.give_back
    paying: tuple[int, Debit] | None = None
    if give_back and request.paid_with is not None:
        paying = booking.spends.get(request.paid_with)
        if paying is None and spend is not None:
            spend_id, points = spend
            paying = (
                spend_id,
                Debit(request.paid_with, EntryKind.SPEND, -points, held.get(spend_id, ())),
            )
        if paying is None:
            give_back = 0  # nothing was spent under that reference: nothing to give back
        else:
            debits.append(paying[1])
    live = booking.live()
    known = {lot.id for lot in live}
    loaded = live + sorted(
        (
            booking.lots.get(a.lot_id) or stored[a.lot_id]
            for a in (paying[1].allocations if paying is not None and give_back else ())
            if a.lot_id not in known
        ),
        key=lambda lot: lot.id,
    )
    posting = post_return(
        Account(lots=tuple(loaded), debits=tuple(debits)),
        ref=request.ref,
        order_ref=request.order_ref,
        claw_back=request.claw_back,
        now=now,
        policy=policy,
        give_back=give_back,
        paid_with=request.paid_with if give_back else None,
    )
    outcome: ReturnOutcome = posting.result
    main = EntryKind.CLAWBACK if outcome.clawback.taken or outcome.clawback.owed else None
    main = main or (EntryKind.GIVE_BACK if outcome.given_back is not None else None)
    if main is None:  # nothing moved (all forgiven): nothing is written, not even its key
        return _Booked(ReturnResult(booking.account_id, forgiven=outcome.clawback.forgiven), [])
    if any(lot.id not in stored for lot in posting.account.lots):
        raise RuntimeError("a return created a lot")  # post_return only moves existing lots
    booking.posted = True
    booking.lots.update((lot.id, lot) for lot in posting.account.lots)
    booking.debt = posting.account.debt
    delta = cache_of(posting.entries)
    booking.active += delta.active
    booking.pending += delta.pending
    rows = entry_rows(
        booking.account_id,
        posting.entries,
        now=now,
        main_kind=main,
        main_key=f"return:{request.ref}",
        reason=request.reason,
    )
    restored = outcome.given_back
    if restored is None or paying is None:
        return _Booked(_result(booking.account_id, outcome), rows)
    spend_id = paying[0]
    booking.spends[paying[1].ref] = (
        spend_id,
        posting.account.debit(paying[1].ref) or paying[1],
    )
    position = next(n for n, e in enumerate(posting.entries) if e.kind is EntryKind.GIVE_BACK)
    return _Booked(
        _result(booking.account_id, outcome),
        rows,
        (position, spend_id, (*restored.restored, *restored.expired)),
    )
