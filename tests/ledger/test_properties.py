"""Properties of the ledger over random histories of earn, spend, return, expire and cancel
(with activations and activity), each at a moving ``now``."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import suppress
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fidela.kernel.errors import DomainError
from fidela.kernel.points import Rounding
from fidela.ledger.rules import (
    Account,
    Activate,
    ActivityExpiry,
    Allocation,
    Cancel,
    Earn,
    Entry,
    EntryKind,
    ExpireDue,
    ExpirySchedule,
    FixedExpiry,
    Hold,
    InsufficientPoints,
    LineEarning,
    Lot,
    LotState,
    NoExpiry,
    Operation,
    OrderEarning,
    Posting,
    RecordActivity,
    Restoration,
    Return,
    Returned,
    ReturnPolicy,
    RoundTo,
    Spend,
    allocate,
    apply,
    balance,
    cache_of,
    plan_restore,
    points_to_claw_back,
    points_to_give_back,
    spend_order_key,
)

T0 = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)

SCHEDULES = (
    ExpirySchedule(),
    ExpirySchedule((FixedExpiry(days=30),)),
    ExpirySchedule((FixedExpiry(months=1, round_to=RoundTo.MONTH),)),
    # Expiry switched on two months in: earlier lots must keep never expiring.
    ExpirySchedule((NoExpiry(), FixedExpiry(days=20, effective_from=T0 + timedelta(days=60)))),
    ExpirySchedule((ActivityExpiry(months=1, activity_kinds=frozenset({"purchase"})),)),
)
SWITCHED_ON = SCHEDULES[3]

holds = st.sampled_from(
    (
        Hold.immediate(),
        Hold.immediate(),
        Hold.for_days(7),
        Hold.for_days(30),
        Hold.until_event(),
        Hold.until_event("delivered"),
        Hold.until_event("approved"),
    )
)
# Most orders are ingested as they happen; some arrive late (an import), some very late.
ages = st.sampled_from((timedelta(0),) * 3 + (timedelta(days=10), timedelta(days=400)))
activation_events = st.sampled_from((None, "delivered", "approved"))
points = st.integers(min_value=1, max_value=300)
OPERATION_KINDS = (
    *("earn",) * 3,
    *("spend",) * 2,
    "overspend",
    "cancel",
    *("return",) * 2,
    "activate",
    "expire",
    "activity",
)
ANY_RETURN_POLICY = st.sampled_from(ReturnPolicy)
ANY_SCHEDULE = st.sampled_from(SCHEDULES)
NEVER_NEGATIVE = st.sampled_from((ReturnPolicy.ONLY_PENDING, ReturnPolicy.WITHIN_BALANCE))


@dataclass(frozen=True)
class Scenario:
    returns: ReturnPolicy
    expiry: ExpirySchedule
    history: tuple[tuple[int, Operation], ...]  # (hours since the previous step, operation)


def _next_operation(draw: st.DrawFn, account: Account, now: datetime, n: int) -> Operation:
    """An operation that is mostly sensible for the account as it stands (spends it can
    afford, cancels and give-backs of spends that exist), sometimes not (to be refused)."""
    orders = sorted({lot.ref for lot in account.lots if lot.ref}) or ["o-none"]
    spends = [debit for debit in account.debits if debit.kind is EntryKind.SPEND]
    spend_refs = [debit.ref for debit in spends] or ["s-none"]
    affordable = max(1, balance(account, now).available)
    kind = draw(st.sampled_from(OPERATION_KINDS))
    if kind == "earn":
        ref = draw(st.sampled_from((f"o{n}", f"o{n}", orders[0])))
        return Earn(ref, draw(points), draw(holds), draw(ages))
    if kind == "spend":
        return Spend(f"s{n}", draw(st.integers(min_value=1, max_value=affordable)))
    if kind == "overspend":
        return Spend(draw(st.sampled_from((f"s{n}", spend_refs[0]))), draw(points))
    if kind == "cancel":
        return Cancel(draw(st.sampled_from(spend_refs)))
    if kind == "return":
        order = draw(st.sampled_from(orders))
        claw = draw(st.integers(min_value=0, max_value=300))
        paid_with_points = bool(spends) and draw(st.booleans())
        if not paid_with_points:
            return Return(f"r{n}", order, claw)
        spend = draw(st.sampled_from(spends))
        give = draw(st.integers(min_value=0, max_value=spend.outstanding + 5))
        return Return(f"r{n}", order, claw, give, spend.ref)
    if kind == "activate":
        return Activate(draw(st.sampled_from(orders)), draw(activation_events))
    if kind == "expire":
        return ExpireDue()
    return RecordActivity("purchase", draw(st.integers(min_value=0, max_value=5)))


@st.composite
def scenarios(
    draw: st.DrawFn,
    returns: st.SearchStrategy[ReturnPolicy] = ANY_RETURN_POLICY,
    expiry: st.SearchStrategy[ExpirySchedule] = ANY_SCHEDULE,
) -> Scenario:
    policy = draw(returns)
    schedule = draw(expiry)
    account = Account()
    now = T0
    history = []
    for n in range(draw(st.integers(min_value=1, max_value=40))):
        hours = draw(st.integers(min_value=0, max_value=30 * 24))
        now += timedelta(hours=hours)
        operation = _next_operation(draw, account, now, n)
        history.append((hours, operation))
        with suppress(DomainError):
            account = apply(account, operation, now, returns=policy, expiry=schedule).account
    return Scenario(policy, schedule, tuple(history))


@dataclass(frozen=True)
class Step:
    before: Account
    now: datetime
    operation: Operation
    posting: Posting[object] | None  # None: refused, and nothing changed
    journal: tuple[Entry, ...]  # every entry so far, this step's included


def run(scenario: Scenario) -> Iterator[Step]:
    account = Account()
    journal: tuple[Entry, ...] = ()
    now = T0
    for hours, operation in scenario.history:
        now += timedelta(hours=hours)
        try:
            posting: Posting[object] | None = apply(
                account, operation, now, returns=scenario.returns, expiry=scenario.expiry
            )
        except DomainError:
            posting = None
        if posting is not None:
            journal += posting.entries
        yield Step(account, now, operation, posting, journal)
        if posting is not None:
            account = posting.account


def _after(step: Step) -> Account:
    return step.posting.account if step.posting is not None else step.before


def _per_lot(allocations: Sequence[Allocation]) -> Counter[int]:
    held = Counter[int]()
    for allocation in allocations:
        held[allocation.lot_id] += allocation.points
    return held


def _lot(accounts: Sequence[Account], lot_id: int) -> Lot:
    return next(lot for account in accounts for lot in account.lots if lot.id == lot_id)


common = settings(max_examples=100, deadline=None)


@common
@given(scenario=scenarios())
def test_the_cached_balance_is_the_sum_of_entries_and_what_the_lots_hold(
    scenario: Scenario,
) -> None:
    for step in run(scenario):
        account = _after(step)
        assert account.cache == cache_of(step.journal)
        held = sum(lot.remaining for lot in account.lots if lot.state is LotState.PENDING)
        active = sum(lot.remaining for lot in account.lots if lot.state is LotState.ACTIVE)
        assert account.cache.pending == held
        assert account.cache.active == active - account.debt


@common
@given(scenario=scenarios())
def test_no_spend_or_debt_payment_ever_draws_from_an_expired_or_pending_lot(
    scenario: Scenario,
) -> None:
    for step in run(scenario):
        if step.posting is None:
            continue
        after = step.posting.account
        before_debits = {debit.ref: _per_lot(debit.allocations) for debit in step.before.debits}
        for debit in after.debits:
            was = before_debits.get(debit.ref, Counter())
            drawn = [
                lot_id for lot_id, held in _per_lot(debit.allocations).items() if held > was[lot_id]
            ]
            for lot_id in drawn:
                # As the lot stands after the step: an activation in the same step may have
                # made it spendable, and drawing never changes a lot's state or expiry.
                lot = _lot((after,), lot_id)
                assert not lot.is_expired(step.now)
                if lot.is_pending(step.now):
                    # Only a clawback reaches held points, and only its own order's.
                    assert isinstance(step.operation, Return)
                    assert debit.ref == step.operation.ref
                    assert lot.ref == step.operation.order_ref


@common
@given(scenario=scenarios(returns=NEVER_NEGATIVE))
def test_the_balance_is_never_negative_unless_the_return_policy_is_unlimited(
    scenario: Scenario,
) -> None:
    for step in run(scenario):
        account = _after(step)
        assert account.debt == 0
        assert account.cache.active >= 0
        assert balance(account, step.now).available >= 0


@common
@given(scenario=scenarios())
def test_cancelling_a_spend_restores_exactly_what_it_still_held(scenario: Scenario) -> None:
    for step in run(scenario):
        if not isinstance(step.operation, Cancel) or step.posting is None:
            continue
        spend = step.before.debit(step.operation.ref)
        assert spend is not None
        restoration = step.posting.result
        assert isinstance(restoration, Restoration)
        assert Counter(restoration.restored + restoration.expired) == Counter(spend.allocations)
        cancel = [e for e in step.posting.entries if e.kind is EntryKind.CANCEL]
        assert [e.points for e in cancel] == [spend.outstanding]
        expired = {e.lot_id: -e.points for e in step.posting.entries if e.kind is EntryKind.EXPIRE}
        assert expired == {a.lot_id: a.points for a in restoration.expired}
        after = step.posting.account
        cancelled = after.debit(step.operation.ref)
        assert cancelled is not None
        assert cancelled.outstanding == 0
        if step.before.debt == 0:
            for allocation in restoration.restored:
                was = _lot((step.before,), allocation.lot_id).remaining
                assert _lot((after,), allocation.lot_id).remaining == was + allocation.points


@common
@given(scenario=scenarios())
def test_every_lot_keeps_its_remaining_within_its_amount(scenario: Scenario) -> None:
    for step in run(scenario):
        lots = _after(step).lots
        assert len({lot.id for lot in lots}) == len(lots)
        assert all(0 <= lot.remaining <= lot.amount for lot in lots)


@common
@given(scenario=scenarios())
def test_balances_as_of_now_do_not_depend_on_the_expiry_job_having_run(scenario: Scenario) -> None:
    for step in run(replace(scenario, history=(*scenario.history, (24, ExpireDue())))):
        if not isinstance(step.operation, ExpireDue) or step.posting is None:
            continue
        lazy = balance(step.before, step.now)
        written = balance(step.posting.account, step.now)
        assert (lazy.available, lazy.pending, lazy.expiring, lazy.debt) == (
            written.available,
            written.pending,
            written.expiring,
            written.debt,
        )
        assert written.unrecorded_expiry == 0


@common
@given(scenario=scenarios(expiry=st.just(SWITCHED_ON)))
def test_points_earned_before_expiry_was_switched_on_never_expire(scenario: Scenario) -> None:
    switch_on = T0 + timedelta(days=60)
    for step in run(scenario):
        account = _after(step)
        for lot in account.lots:
            if lot.earned_at < switch_on:
                assert lot.expires_at is None
            elif not lot.is_pending(step.now):
                assert lot.expires_at is not None
        for entry in step.journal:
            if entry.kind is EntryKind.EXPIRE and entry.lot_id is not None:
                assert _lot((account,), entry.lot_id).earned_at >= switch_on


@common
@given(scenario=scenarios())
def test_an_activation_event_releases_only_the_lots_waiting_for_it(scenario: Scenario) -> None:
    for step in run(scenario):
        operation = step.operation
        if step.posting is None or not isinstance(operation, Activate) or operation.event is None:
            continue
        before = {lot.id: lot for lot in step.before.lots}
        for lot in _after(step).lots:
            old = before.get(lot.id)
            if old is None or not old.is_pending(step.now) or lot.is_pending(step.now):
                continue
            # A return window is never cut short by an event; an event hold only by its own.
            assert old.activates_at is None
            assert old.awaits in (operation.event, None)


@common
@given(scenario=scenarios())
def test_a_late_earn_is_dated_at_its_purchase_and_never_in_the_future(
    scenario: Scenario,
) -> None:
    for step in run(scenario):
        if step.posting is None or not isinstance(step.operation, Earn):
            continue
        lot = step.posting.result
        assert isinstance(lot, Lot)
        assert lot.earned_at == step.now - step.operation.age
        if lot.activates_at is not None and lot.activates_at <= step.now:
            assert lot.state is LotState.ACTIVE


# ------------------------------------------------------------------- the pieces on their own

lots_strategy = st.lists(
    st.builds(
        lambda lot_id, amount, used, expiry_day, earned_day, pending: Lot(
            id=lot_id,
            amount=amount,
            remaining=amount - min(used, amount),
            earned_at=T0 + timedelta(days=earned_day),
            expires_at=None if expiry_day is None else T0 + timedelta(days=expiry_day),
            state=LotState.PENDING if pending else LotState.ACTIVE,
            activates_at=None,
        ),
        st.integers(min_value=1, max_value=10**6),
        st.integers(min_value=1, max_value=500),
        st.integers(min_value=0, max_value=500),
        st.none() | st.integers(min_value=0, max_value=60),
        st.integers(min_value=0, max_value=20),
        st.booleans(),
    ),
    max_size=12,
    unique_by=lambda lot: lot.id,
)


@settings(max_examples=300, deadline=None)
@given(lots=lots_strategy, wanted=st.integers(min_value=1, max_value=3000))
def test_allocation_is_all_or_nothing_and_follows_the_spend_order(
    lots: list[Lot], wanted: int
) -> None:
    now = T0 + timedelta(days=30)
    spendable = sorted((lot for lot in lots if lot.is_spendable(now)), key=spend_order_key)
    available = sum(lot.remaining for lot in spendable)
    if available < wanted:
        with pytest.raises(InsufficientPoints) as refused:
            allocate(lots, wanted, now)
        assert refused.value.available == available
        return
    allocations = allocate(lots, wanted, now)
    assert sum(a.points for a in allocations) == wanted
    order = [lot.id for lot in spendable]
    assert [a.lot_id for a in allocations] == order[: len(allocations)]
    by_id = {lot.id: lot for lot in spendable}
    # Every lot drawn is emptied except possibly the last one.
    assert all(a.points == by_id[a.lot_id].remaining for a in allocations[:-1])


@settings(max_examples=300, deadline=None)
@given(
    amounts=st.lists(st.integers(min_value=1, max_value=1000), min_size=1, max_size=6),
    data=st.data(),
)
def test_partial_give_backs_are_pro_rata_and_end_exactly_at_the_whole_spend(
    amounts: list[int], data: st.DataObject
) -> None:
    outstanding = tuple(Allocation(index, points) for index, points in enumerate(amounts))
    given_total = Counter[int]()
    partial = data.draw(st.integers(min_value=0, max_value=4))
    for round_no in range(partial + 1):
        whole = sum(a.points for a in outstanding)
        last = round_no == partial or whole == 1
        part = whole if last else data.draw(st.integers(min_value=1, max_value=whole - 1))
        parts = plan_restore(outstanding, part)
        assert sum(p.points for p in parts) == part
        left = {a.lot_id: a.points for a in outstanding}
        assert all(p.points <= left[p.lot_id] for p in parts)
        for p in parts:
            left[p.lot_id] -= p.points
            given_total[p.lot_id] += p.points
        outstanding = tuple(Allocation(k, v) for k, v in left.items() if v > 0)
        if last:
            break
    assert outstanding == ()
    assert given_total == Counter(dict(enumerate(amounts)))


@settings(max_examples=300, deadline=None)
@given(
    line_values=st.lists(
        st.tuples(
            st.integers(min_value=1, max_value=10**5), st.integers(min_value=0, max_value=500)
        ),
        max_size=5,
    ),
    order_points=st.integers(min_value=0, max_value=500),
    rounding=st.sampled_from(Rounding),
    data=st.data(),
)
def test_any_sequence_of_returns_claws_back_exactly_the_points_earned_once_all_is_returned(
    line_values: list[tuple[int, int]],
    order_points: int,
    rounding: Rounding,
    data: st.DataObject,
) -> None:
    lines = tuple(LineEarning(no, value, pts) for no, (value, pts) in enumerate(line_values, 1))
    amount = sum(value for value, _ in line_values) or 1000
    earning = OrderEarning(amount, order_points + sum(line.points for line in lines), lines)
    per_line = bool(lines) and data.draw(st.booleans())
    returned_lines = dict.fromkeys((line.line_no for line in lines), 0)
    returned_total = 0
    clawed = 0
    # A few partial returns, then one that returns everything left.
    for _ in range(data.draw(st.integers(min_value=0, max_value=4))):
        if per_line:
            line = data.draw(st.sampled_from(lines))
            step = data.draw(st.integers(0, line.amount_minor - returned_lines[line.line_no]))
            returned_lines[line.line_no] += step
        else:
            step = data.draw(st.integers(0, amount - returned_total))
        returned_total += step
        returned = Returned(returned_total, dict(returned_lines) if per_line else {})
        claw = points_to_claw_back(earning, returned, already_clawed_back=clawed, rounding=rounding)
        assert claw >= 0
        clawed += claw
        assert clawed <= earning.points
    everything = Returned(amount, {line.line_no: line.amount_minor for line in lines})
    clawed += points_to_claw_back(
        earning, everything if per_line else Returned(amount), already_clawed_back=clawed
    )
    assert clawed == earning.points


@settings(max_examples=300, deadline=None)
@given(
    paid=st.integers(min_value=0, max_value=10**5),
    total=st.integers(min_value=1, max_value=10**6),
    rounding=st.sampled_from(Rounding),
    data=st.data(),
)
def test_give_backs_for_partial_refunds_add_up_to_exactly_the_points_paid(
    paid: int, total: int, rounding: Rounding, data: st.DataObject
) -> None:
    returned = 0
    given_back = 0
    for _ in range(data.draw(st.integers(min_value=0, max_value=4))):
        returned += data.draw(st.integers(0, total - returned))
        give = points_to_give_back(
            paid, total, returned, already_given_back=given_back, rounding=rounding
        )
        assert give >= 0
        given_back += give
        assert given_back <= paid
    given_back += points_to_give_back(paid, total, total, already_given_back=given_back)
    assert given_back == paid
