"""The tier decision: upgrade, keep, downgrade or grace; progress; ladder changes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from fidela.kernel.clock import ensure_utc
from fidela.kernel.errors import FieldProblem
from fidela.kernel.money import CurrencyMismatch
from fidela.tier.rules.ladder import (
    Basis,
    DowngradeTo,
    Level,
    OnReturn,
    TierLadder,
    check_ladder_change,
)
from fidela.tier.rules.membership import (
    Activity,
    ActivityKind,
    Cause,
    Goal,
    Membership,
    Outcome,
    TierDecision,
    TierProgress,
    Transition,
)
from fidela.tier.rules.windows import (
    anchor_of,
    current_end,
    current_start,
    local_day,
    review_start,
    upgrade_hold,
    window_end,
)

_ADDS = {Basis.POINTS: ActivityKind.EARN, Basis.SPEND: ActivityKind.SPEND}
_SUBTRACTS = {Basis.POINTS: ActivityKind.CLAWBACK, Basis.SPEND: ActivityKind.REFUND}


def enrol(ladder: TierLadder, *, joined_at: datetime) -> Membership:
    """A new member starts on the base level; call `evaluate` next to place them higher."""
    joined = ensure_utc(joined_at)
    return Membership(tier_code=ladder.base.code, since=joined, joined_at=joined)


def qualifying_amount(
    ladder: TierLadder, membership: Membership, activity: Sequence[Activity], now: datetime
) -> int:
    """The amount the current window counts at ``now`` (points or minor units)."""
    now = ensure_utc(now)
    _check(ladder, membership, activity)
    run = _Run(ladder, activity, now)
    return run.amount(current_start(ladder, membership, now), now)


def activity_needed_since(
    ladder: TierLadder, membership: Membership, now: datetime
) -> datetime | None:
    """Only activity after this instant can change a decision at ``now`` (None: all of it,
    for lifetime ladders), so the service loads a window, not a member's whole history.

    The earliest of: the current window, the window under review, and the window the last
    upgrade was judged in (which a return may reopen, with the restored tier's own review).
    """
    now = ensure_utc(now)
    starts = [current_start(ladder, membership, now)]
    if membership.review_at is not None:
        starts.append(review_start(ladder, membership, membership.review_at))
    prior, upgraded_at = membership.before_upgrade, membership.upgraded_at
    if prior is not None and upgraded_at is not None:
        starts.append(current_start(ladder, prior, upgraded_at))
        if prior.review_at is not None:
            starts.append(review_start(ladder, prior, prior.review_at))
    if any(start is None for start in starts):
        return None
    return min(start for start in starts if start is not None)


def evaluate(
    ladder: TierLadder, membership: Membership, activity: Sequence[Activity], now: datetime
) -> TierDecision:
    """Decide the member's tier at ``now`` from their qualifying ``activity``.

    Call it on every qualifying event (upgrades take effect at ``now``), when a return is
    booked, and from a daily job (reviews). Reviews that fell due while nobody looked are
    processed in order at their own dates, so a late job gives the same result as a punctual
    one. Order: due reviews and grace ends, undo of a returned upgrade, re-qualification during
    grace, then the upgrade check.
    """
    now = ensure_utc(now)
    _check(ladder, membership, activity)
    run = _Run(ladder, activity, now)
    state = run.reviews(membership)
    state = run.undo_return(state)
    state = run.reviews(state)  # a restored tier may itself be past its review
    state = run.requalify_in_grace(state)
    state = run.upgrade(state)
    return run.decision(membership, state)


def settled_decision(
    ladder: TierLadder,
    membership: Membership,
    amount: int,
    now: datetime,
    *,
    upgrade_returned: bool,
) -> TierDecision | None:
    """What `evaluate` decides at ``now`` when only the current window can move the member,
    from ``amount`` (what `qualifying_amount` counts for that window) and whether the order
    of the last upgrade has been returned (a counted clawback or refund of
    ``membership.upgrade_order_ref``); ``None`` when more of the history matters and
    `evaluate` must see the activity.

    More matters while a review or the end of a grace is due (they judge other windows),
    while grace runs (activity may requalify), and while that return may still undo the
    upgrade. Otherwise an upgrade is the only step `evaluate` could take, and ``amount``
    decides it: below the next level, the member keeps their standing, unchanged. The earning
    path asks this first, so a member's history is read only when their tier may move.
    """
    now = ensure_utc(now)
    _check(ladder, membership, ())
    if membership.grace_until is not None:
        return None
    if membership.review_at is not None and membership.review_at <= now:
        return None
    if upgrade_returned and _undo_possible(ladder, membership, now):
        return None
    if _qualified(ladder, amount) > ladder.rank(membership.tier_code):
        return None
    return _Run(ladder, (), now).decision(membership, membership)


def _undo_possible(ladder: TierLadder, membership: Membership, now: datetime) -> bool:
    """Whether a return may still undo the member's last upgrade (see ``_Run.undo_return``)."""
    return (
        ladder.on_return is OnReturn.REQUALIFY_AT_ONCE
        and membership.upgrade_order_ref is not None
        and membership.before_upgrade is not None
        and membership.upgraded_at is not None
        and now <= membership.upgraded_at + timedelta(days=ladder.return_window_days)
    )


def apply_ladder_change(
    old: TierLadder,
    new: TierLadder,
    membership: Membership,
    activity: Sequence[Activity],
    now: datetime,
) -> TierDecision:
    """The member's standing right after ``new`` replaces ``old``: never lower.

    Members keep their tier (retired or above a raised threshold) until their next review, which
    then applies the new rules; the upgrade check runs at once under the new thresholds. A tier
    held without review date (the ladder was lifetime) is held for a full new window from ``now``.
    """
    check_ladder_change(old, new)
    now = ensure_utc(now)
    _check(new, membership, activity)
    run = _Run(new, activity, now)
    state = membership
    if state.review_at is None and new.rank(state.tier_code) > 0:
        period_start, review_at = upgrade_hold(new, now)
        if review_at is not None:
            state = replace(state, period_start=period_start, review_at=review_at)
            run.notes.append(f"the new window puts the next review on {local_day(new, review_at)}")
    state = run.upgrade(state)
    return run.decision(membership, state)


def progress(
    ladder: TierLadder, membership: Membership, activity: Sequence[Activity], now: datetime
) -> TierProgress:
    """What the member has, what the next level needs, and what keeps the current one."""
    now = ensure_utc(now)
    _check(ladder, membership, activity)
    run = _Run(ladder, activity, now)
    level = ladder.level(membership.tier_code)
    amount = run.amount(current_start(ladder, membership, now), now)
    rank = ladder.rank(level.code)
    above = next((lv for lv in ladder.levels[rank + 1 :] if not lv.retired), None)
    upcoming: Goal | None = None
    if above is not None:
        by = current_end(ladder, membership, now)
        remaining = max(0, above.threshold - amount)
        upcoming = Goal(
            above.code,
            above.name,
            above.threshold,
            amount,
            remaining,
            by,
            f"{ladder.format_amount(remaining)} to {above.name}"
            + (f" before {local_day(ladder, by)}" if by is not None else ""),
        )
    keep: Goal | None = None
    deadline = membership.grace_until or membership.review_at
    if rank > 0 and deadline is not None and membership.review_at is not None:
        counted = run.amount(review_start(ladder, membership, membership.review_at), now)
        remaining = max(0, level.threshold - counted)
        text = (
            f"{level.name} is kept at the review on {local_day(ladder, deadline)}"
            if remaining == 0 and not level.retired
            else f"{ladder.format_amount(remaining)} to keep {level.name} by "
            f"{local_day(ladder, deadline)}"
        )
        keep = Goal(level.code, level.name, level.threshold, counted, remaining, deadline, text)
    return TierProgress(
        level.code,
        level.name,
        ladder.unit,
        amount,
        membership.review_at,
        membership.grace_until,
        upcoming,
        keep,
    )


class _Run:
    """One evaluation: the ladder, the activity and ``now``, collecting transitions."""

    def __init__(self, ladder: TierLadder, activity: Sequence[Activity], now: datetime) -> None:
        self.ladder = ladder
        self.now = now
        adds, subtracts = _ADDS[ladder.basis], _SUBTRACTS[ladder.basis]
        # (at, signed amount, order) of what this basis counts, oldest first
        self.entries = sorted(
            (
                (a.at.astimezone(UTC), a.amount if a.kind is adds else -a.amount, a.order_ref)
                for a in activity
                if a.kind in (adds, subtracts) and (ladder.count_pending or not a.pending)
            ),
            key=lambda entry: entry[0],
        )
        self.returned = {
            a.order_ref
            for a in activity
            if a.kind is subtracts and a.order_ref and (ladder.count_pending or not a.pending)
        }
        self.steps: list[Transition] = []
        self.notes: list[str] = []

    def amount(self, start: datetime | None, end: datetime) -> int:
        """Sum over ``(start, end]``: the instant of an upgrade or review closes its window,
        so the activity that earned a tier never counts again toward keeping it."""
        return sum(
            signed for at, signed, _ in self.entries if (start is None or at > start) and at <= end
        )

    def reviews(self, state: Membership) -> Membership:
        while True:
            if state.grace_until is not None:
                if state.grace_until > self.now:
                    return state
                state = self._end_grace(state, state.grace_until)
            elif state.review_at is not None and state.review_at <= self.now:
                state = self._review(state, state.review_at)
            else:
                return state

    def _review(self, state: Membership, review_at: datetime) -> Membership:
        level, rank = self.ladder.level(state.tier_code), self.ladder.rank(state.tier_code)
        amount = self.amount(review_start(self.ladder, state, review_at), review_at)
        window = f"the window ending {local_day(self.ladder, review_at)}"
        if _holds(level, amount):
            detail = f"{self._fmt(amount)} in {window} keep {level.name}"
            return self._renew(state, review_at, review_at, Cause.REVIEW_PASSED, detail)
        target = _downgrade_target(self.ladder, rank, amount)
        missing = self._missing(level, amount, window)
        if self.ladder.grace_days and target < rank:
            grace_until = review_at + timedelta(days=self.ladder.grace_days)
            self._step(
                review_at,
                Outcome.GRACE,
                Cause.REVIEW_FAILED,
                level.code,
                level.code,
                f"{missing}; {level.name} kept in grace until "
                f"{local_day(self.ladder, grace_until)}",
            )
            return replace(state, grace_until=grace_until)
        return self._move(state, target, review_at, review_at, Cause.REVIEW_FAILED, missing)

    def _end_grace(self, state: Membership, grace_until: datetime) -> Membership:
        level, rank = self.ladder.level(state.tier_code), self.ladder.rank(state.tier_code)
        review_at = state.review_at or grace_until
        amount = self.amount(review_start(self.ladder, state, review_at), grace_until)
        window = f"the window ending {local_day(self.ladder, review_at)} and its grace"
        if _holds(level, amount):
            detail = f"{self._fmt(amount)} in {window} keep {level.name}"
            return self._renew(state, review_at, grace_until, Cause.GRACE_REQUALIFIED, detail)
        target = _downgrade_target(self.ladder, rank, amount)
        missing = self._missing(level, amount, window)
        return self._move(state, target, grace_until, review_at, Cause.GRACE_ENDED, missing)

    def requalify_in_grace(self, state: Membership) -> Membership:
        if state.grace_until is None or state.grace_until <= self.now:
            return state
        level = self.ladder.level(state.tier_code)
        review_at = state.review_at or self.now
        amount = self.amount(review_start(self.ladder, state, review_at), self.now)
        if not _holds(level, amount):
            return state
        detail = f"{self._fmt(amount)} counted with the grace keep {level.name}"
        renewed = self._renew(state, review_at, self.now, Cause.GRACE_REQUALIFIED, detail)
        # The clock stays on the missed review's calendar, but a grace longer than the window
        # can have outlived the renewed window too: what requalified the member covers the
        # windows that ended during the grace, so the next review is the first one after now.
        while renewed.review_at is not None and renewed.review_at <= self.now:
            start = renewed.review_at
            renewed = replace(
                renewed,
                period_start=start,
                review_at=window_end(self.ladder, start, anchor_of(renewed)),
            )
        return renewed

    def undo_return(self, state: Membership) -> Membership:
        order, prior, upgraded_at = state.upgrade_order_ref, state.before_upgrade, state.upgraded_at
        if (
            not _undo_possible(self.ladder, state, self.now)
            or order is None
            or prior is None
            or upgraded_at is None
            or order not in self.returned
        ):
            return state
        # Would the member hold the tier without the returned part of the order? Count the
        # window the upgrade was judged in, extended to now: later activity may still carry it.
        amount = self.amount(current_start(self.ladder, prior, upgraded_at), self.now)
        level, rank = self.ladder.level(state.tier_code), self.ladder.rank(state.tier_code)
        qualified = _qualified(self.ladder, amount)
        if _holds(level, amount) or qualified >= rank:
            self.notes.append(
                f"order {order} was returned, {self._fmt(amount)} still reach {level.name}"
            )
            return state
        restored = prior if qualified <= self.ladder.rank(prior.tier_code) else None
        target = restored or replace(
            state, tier_code=self.ladder.levels[qualified].code, upgrade_order_ref=None
        )
        self._step(
            self.now,
            Outcome.DOWNGRADE,
            Cause.RETURN_UNDID_UPGRADE,
            level.code,
            target.tier_code,
            f"order {order}, which brought {level.name}, was returned: "
            f"{self._fmt(amount)} reach {self.ladder.level(target.tier_code).name}",
        )
        return target

    def upgrade(self, state: Membership) -> Membership:
        start = current_start(self.ladder, state, self.now)
        amount = self.amount(start, self.now)
        qualified = _qualified(self.ladder, amount)
        if qualified <= self.ladder.rank(state.tier_code):
            return state
        level = self.ladder.levels[qualified]
        self._step(
            self.now,
            Outcome.UPGRADE,
            Cause.THRESHOLD_REACHED,
            state.tier_code,
            level.code,
            f"{self._fmt(amount)} reach the {self._fmt(level.threshold)} of {level.name}",
        )
        period_start, review_at = upgrade_hold(self.ladder, self.now)
        return Membership(
            tier_code=level.code,
            since=self.now,
            joined_at=state.joined_at,
            period_start=period_start,
            review_at=review_at,
            upgraded_at=self.now,
            upgrade_order_ref=self._crossing_order(start, level.threshold),
            before_upgrade=replace(state, before_upgrade=None),
        )

    def decision(self, initial: Membership, final: Membership) -> TierDecision:
        before, after = self.ladder.rank(initial.tier_code), self.ladder.rank(final.tier_code)
        if after > before:
            outcome = Outcome.UPGRADE
        elif after < before:
            outcome = Outcome.DOWNGRADE
        elif final.grace_until is not None:
            outcome = Outcome.GRACE
        else:
            outcome = Outcome.KEEP
        reasons = [step.detail for step in self.steps] + self.notes
        if not reasons:
            level = self.ladder.level(final.tier_code)
            reasons.append(
                f"{level.name} held until {local_day(self.ladder, final.review_at)}"
                if final.review_at is not None
                else f"{level.name} held"
            )
        return TierDecision(outcome, final, final != initial, tuple(self.steps), tuple(reasons))

    def _renew(
        self, state: Membership, review_at: datetime, at: datetime, cause: Cause, detail: str
    ) -> Membership:
        # The next window starts at the review date, not at ``at``: grace does not move the clock.
        renewed = replace(
            state,
            period_start=review_at,
            review_at=window_end(self.ladder, review_at, anchor_of(state)),
            grace_until=None,
        )
        self._step(at, Outcome.KEEP, cause, state.tier_code, state.tier_code, detail)
        return renewed

    def _move(
        self,
        state: Membership,
        target: int,
        at: datetime,
        period_start: datetime,
        cause: Cause,
        detail: str,
    ) -> Membership:
        level = self.ladder.levels[target]
        rank = self.ladder.rank(state.tier_code)
        outcome = Outcome.DOWNGRADE if target < rank else Outcome.UPGRADE  # up: retired level
        self._step(at, outcome, cause, state.tier_code, level.code, f"{detail}: {level.name}")
        held = target > 0
        return Membership(
            tier_code=level.code,
            since=at,
            joined_at=state.joined_at,
            period_start=period_start if held else None,
            review_at=window_end(self.ladder, period_start, anchor_of(state)) if held else None,
            upgraded_at=state.upgraded_at,
        )

    def _crossing_order(self, start: datetime | None, threshold: int) -> str | None:
        """The order of the entry that last took the running amount over ``threshold``."""
        total, crossing = 0, None
        for at, signed, order in self.entries:
            if (start is not None and at <= start) or at > self.now:
                continue
            if total < threshold <= total + signed:
                crossing = order
            total += signed
        return crossing

    def _missing(self, level: Level, amount: int, window: str) -> str:
        if level.retired:
            return f"{level.name} is retired"
        return (
            f"{self._fmt(amount)} in {window} miss the {self._fmt(level.threshold)} of {level.name}"
        )

    def _step(
        self, at: datetime, outcome: Outcome, cause: Cause, source: str, target: str, detail: str
    ) -> None:
        self.steps.append(Transition(at, outcome, cause, source, target, detail))

    def _fmt(self, amount: int) -> str:
        return self.ladder.format_amount(amount)


def _holds(level: Level, amount: int) -> bool:
    return not level.retired and amount >= level.threshold


def _qualified(ladder: TierLadder, amount: int) -> int:
    """Rank of the highest active level ``amount`` reaches (the base level at worst)."""
    best = 0
    for index, level in enumerate(ladder.levels):
        if not level.retired and level.threshold <= amount:
            best = index
    return best


def _downgrade_target(ladder: TierLadder, rank: int, amount: int) -> int:
    qualified = _qualified(ladder, amount)
    if ladder.downgrade is DowngradeTo.QUALIFIED or qualified >= rank:
        return qualified
    below = max(index for index in range(rank) if not ladder.levels[index].retired)
    return max(below, qualified)


def _check(ladder: TierLadder, membership: Membership, activity: Sequence[Activity]) -> None:
    ladder.rank(membership.tier_code)
    if membership.before_upgrade is not None:
        ladder.rank(membership.before_upgrade.tier_code)
    if ladder.basis is not Basis.SPEND:
        return
    problems = [
        FieldProblem(f"/activity/{index}/currency", f"expected {ladder.currency}")
        for index, entry in enumerate(activity)
        if entry.kind in (ActivityKind.SPEND, ActivityKind.REFUND)
        and entry.currency != ladder.currency
    ]
    if problems:
        raise CurrencyMismatch(f"qualifying spend must be in {ladder.currency}", problems)
