"""Ledger use case of a return: give back the points an order was paid with, then claw back
the points it earned, under the programme's return policy, in one locked step.

The amounts come from the pure ``rules.returns`` (``points_to_claw_back``,
``points_to_give_back``); where they come from (which lots, what is forgiven or owed) from
``rules.journal.post_return``. The give-back credits the original lots of the spend that
paid for the order, pro rata, so a refund never charges points twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from fidela.ledger import repository
from fidela.ledger.rules import (
    Account,
    Debit,
    EntryKind,
    InvalidPoints,
    ReturnOutcome,
    post_return,
)
from fidela.ledger.rules.returns import ReturnPolicy
from fidela.ledger.service import (
    MAX_KEY_LENGTH,
    Reason,
    _check_text,
    _lock,
    _persist,
    debt_debits,
)


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
    without an account has nothing to claw back or give back.
    """
    if claw_back < 0 or give_back < 0:
        raise InvalidPoints("points clawed or given back must not be negative")
    _check_text(ref, "/ref", MAX_KEY_LENGTH)
    if claw_back == 0 and give_back == 0:
        return ReturnResult(None)
    account = repository.find_account(session, customer_id=customer_id, programme=programme)
    if account is None:
        return ReturnResult(None, forgiven=claw_back)
    account_id = account.id
    locked = _lock(session, account_id)
    key = f"return:{ref}"
    if repository.find_entry_by_key(session, account_id=account_id, key=key) is not None:
        return ReturnResult(account_id, replayed=True)
    debits: list[Debit] = list(debt_debits(locked.debt))
    held_ids: list[int] = []
    spend_id: int | None = None
    if give_back and paid_with is not None:
        spend = repository.find_entry_by_key(
            session, account_id=account_id, key=f"spend:{paid_with}"
        )
        if spend is not None:
            spend_id = spend.id
            held = repository.held_by_debit(session, spend.id)
            held_ids = [a.lot_id for a in held]
            debits.append(Debit(paid_with, EntryKind.SPEND, -spend.points, held))
        else:
            give_back = 0  # nothing was spent under that reference: nothing to give back
    live = repository.live_lots(session, account_id=account_id)
    known = {lot.id for lot in live}
    loaded = live + [
        lot
        for lot in repository.lots_by_id(session, account_id=account_id, ids=held_ids)
        if lot.id not in known
    ]
    posting = post_return(
        Account(lots=tuple(loaded), debits=tuple(debits)),
        ref=ref,
        order_ref=order_ref,
        claw_back=claw_back,
        now=now,
        policy=policy,
        give_back=give_back,
        paid_with=paid_with if give_back else None,
    )
    outcome: ReturnOutcome = posting.result
    main = EntryKind.CLAWBACK if outcome.clawback.taken or outcome.clawback.owed else None
    main = main or (EntryKind.GIVE_BACK if outcome.given_back is not None else None)
    if main is None:
        return ReturnResult(account_id, forgiven=outcome.clawback.forgiven)
    entry_ids, _ = _persist(
        session,
        account_id=account_id,
        loaded=loaded,
        posting=posting,
        now=now,
        main_kind=main,
        main_key=key,
        reason=reason,
    )
    repository.add_debt(session, account_id=account_id, points=posting.account.debt - locked.debt)
    given = outcome.given_back
    if given is not None and spend_id is not None:
        give_entry = next(
            entry_id
            for entry, entry_id in zip(posting.entries, entry_ids, strict=True)
            if entry.kind is EntryKind.GIVE_BACK
        )
        repository.add_allocations(
            session,
            debit_id=spend_id,
            entry_id=give_entry,
            allocations=(*given.restored, *given.expired),
            sign=-1,
        )
    return ReturnResult(
        account_id,
        given_back=0 if given is None else given.points,
        given_back_expired=0 if given is None else given.expired_points,
        taken=outcome.clawback.taken,
        forgiven=outcome.clawback.forgiven,
        owed=outcome.clawback.owed,
    )
