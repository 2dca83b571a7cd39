"""Injected fraud: three patterns written into the main tables and labelled in ``truth/fraud``.

- ``points_farming``: one account places a burst of many tiny orders (one cheap item each) over
  a few hours to days, and returns most of them within three days, after the points were earned.
- ``self_referral_ring``: 3-6 accounts created minutes apart share the leader's device id, often
  the leader's phone and plus-addressed variants of the leader's email; the leader refers the
  others (sometimes a chain) and each referee buys once, earning the referral reward.
- ``account_takeover``: a dormant account holding at least 10 EUR of points sees a burst of logins
  from a device it never used, then within minutes one or more gift card orders paid entirely with
  its points.

The share of customers involved is `TruthParameters.fraud_share`, split about 40 / 35 / 25 %
between the patterns. Every fraud row lists the ids of the orders, sessions and referrals
involved, which exist in the main tables, so a detector can be scored against the label.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from fidela.demo.catalogue import CATEGORIES, GIFT_CARD_CATEGORY, GIFT_CARD_VALUES
from fidela.demo.context import RunContext
from fidela.demo.customers import Profiles
from fidela.demo.frames import Frame
from fidela.demo.purchases import APP, DAY, FARMING, TAKEOVER, WEB, gift_card_lines
from fidela.demo.segments import NULL_INDEX, BoolArray, FloatArray, IntArray
from fidela.demo.streams import hashed_bits

FARMING_PATTERN, RING_PATTERN, TAKEOVER_PATTERN = 0, 1, 2
_CHEAP_CATEGORIES = np.array(
    [i for i, c in enumerate(CATEGORIES) if c.name in {"grocery", "beauty", "books"}],
    dtype=np.int64,
)
_DORMANT_HOURS = 14 * DAY  # an account is a takeover target after two weeks without orders
_DEVICE_FIELD_HI, _DEVICE_FIELD_LO = 901, 902


@dataclass
class FraudCase:
    """One labelled fraud row: a pattern, the customer (block position), when it started."""

    pattern: int
    customer: int
    started_hours: float
    description: str
    ring: int = NULL_INDEX  # ring number within the block, for ring members
    related: list[tuple[str, IntArray]] = field(default_factory=list)


@dataclass
class FraudPlan:
    """Who commits which fraud in a block, decided before behaviour is simulated."""

    cases: list[FraudCase]
    farmers: IntArray
    rings: list[IntArray]  # block positions of each ring, leader first
    takeovers: int  # number of takeovers to place once balances are known
    involved: BoolArray  # customers already part of a fraud case

    @property
    def forced_buyers(self) -> BoolArray:
        forced = np.zeros(self.involved.size, dtype=np.bool_)
        for ring in self.rings:
            forced[ring] = True
        return forced


def plan_fraud(
    ctx: RunContext, profiles: Profiles, rng: np.random.Generator
) -> tuple[FraudPlan, Profiles]:
    """Pick farmers, rings and the number of takeovers; apply the rings' shared identities."""
    n = profiles.size
    share = ctx.truth.fraud_share
    involved = np.zeros(n, dtype=np.bool_)
    rings: list[IntArray] = []
    ring_count = rng.binomial(n, share * 0.35 / 4.5)
    for start in np.sort(rng.integers(0, max(1, n - 6), ring_count)):
        size = int(rng.integers(3, 7))
        members = np.arange(start, min(start + size, n), dtype=np.int64)
        if members.size >= 3 and not involved[members].any():
            involved[members] = True
            rings.append(members)
    free = np.flatnonzero(~involved)
    farmers = np.sort(rng.choice(free, min(free.size, rng.binomial(n, share * 0.4)), replace=False))
    involved[farmers] = True
    plan = FraudPlan(
        cases=[],
        farmers=farmers.astype(np.int64),
        rings=rings,
        takeovers=int(rng.binomial(n, share * 0.25)),
        involved=involved,
    )
    return plan, _share_identities(profiles, rings, rng)


def _share_identities(
    profiles: Profiles, rings: list[IntArray], rng: np.random.Generator
) -> Profiles:
    signup = profiles.signup_hours.copy()
    has_app = profiles.has_app.copy()
    email_owner = profiles.email_owner.copy()
    email_tag = profiles.email_tag.copy()
    phone_owner = profiles.phone_owner.copy()
    device_owner = profiles.device_owner.copy()
    for r, ring in enumerate(rings):
        # The earliest account leads; the others are opened minutes after it, in order. Times
        # only ever move earlier (capped by the later accounts' own signups), so referrals
        # drawn elsewhere from the hashed, unmoved signup times stay after the referrer's.
        members = ring[np.argsort(signup[ring], kind="stable")]
        rings[r] = members
        leader = members[0]
        others = members[1:]
        gaps = np.cumsum(rng.uniform(5.0, 120.0, others.size)) / 60.0
        later_minimum = np.minimum.accumulate(signup[others][::-1])[::-1]
        signup[others] = np.minimum(later_minimum, signup[leader] + gaps)
        has_app[members] = True
        device_owner[others] = profiles.index[leader]
        share_phone = rng.random(others.size) < 0.5
        phone_owner[others[share_phone]] = profiles.index[leader]
        alias = rng.random(others.size) < 0.7
        email_owner[others[alias]] = profiles.index[leader]
        email_tag[others[alias]] = np.arange(1, others.size + 1)[alias]
    return replace(
        profiles,
        signup_hours=signup,
        has_app=has_app,
        email_owner=email_owner,
        email_tag=email_tag,
        phone_owner=phone_owner,
        device_owner=device_owner,
    )


def farming_events(
    ctx: RunContext, profiles: Profiles, plan: FraudPlan, rng: np.random.Generator
) -> Frame:
    """Unsettled farming orders (tiny single-line orders in bursts), one case per farmer."""
    end = ctx.calendar.hours
    customers: list[IntArray] = []
    hours: list[FloatArray] = []
    cases: list[int] = []
    for farmer in plan.farmers:
        earliest = profiles.signup_hours[farmer] + DAY
        latest = end - 4 * DAY
        if latest <= earliest:
            continue
        start = earliest + rng.random() * (latest - earliest)
        count = int(rng.integers(12, 41))
        burst = rng.uniform(6.0, 72.0)
        times = np.sort(start + rng.uniform(0.0, burst, count))
        case = len(plan.cases)
        plan.cases.append(
            FraudCase(
                pattern=FARMING_PATTERN,
                customer=int(farmer),
                started_hours=float(times[0]),
                description=f"{count} orders of a single cheap item within {burst:.0f} hours",
            )
        )
        customers.append(np.full(count, farmer, dtype=np.int64))
        hours.append(times)
        cases.append(case)
    if not customers:
        return {}
    customer = np.concatenate(customers)
    n = customer.size
    channel = np.where(profiles.has_app[customer], APP, WEB)
    case_column = np.repeat(np.array(cases, dtype=np.int64), [c.size for c in customers])
    return {
        "customer": customer,
        "hours": np.concatenate(hours),
        "kind": np.full(n, FARMING, dtype=np.int64),
        "fraud": case_column,
        "channel": channel.astype(np.int64),
        "store": np.full(n, NULL_INDEX, dtype=np.int64),
        "target": rng.uniform(150.0, 600.0, n),
        "forced_category": _CHEAP_CATEGORIES[rng.integers(0, _CHEAP_CATEGORIES.size, n)],
    }


def takeovers(
    ctx: RunContext,
    profiles: Profiles,
    plan: FraudPlan,
    orders: Frame,
    rng: np.random.Generator,
) -> tuple[Frame, Frame, Frame]:
    """Takeover orders (settled, with gift card lines) and the login sessions leading to them.

    Victims are dormant accounts (no order in the last two weeks before the attack, none after)
    with at least 10 EUR of points; the attack happens after their last order, so no later
    redemption of theirs can overdraw the points the attacker spent.
    """
    end = ctx.calendar.hours
    customer = orders["customer"]
    n_customers = profiles.size
    balance = np.bincount(
        customer, weights=orders["earned"] - orders["points"], minlength=n_customers
    ).astype(np.int64)
    last = np.full(n_customers, -np.inf)
    np.maximum.at(last, customer, orders["hours"])
    eligible = (
        ~plan.involved
        & (balance >= GIFT_CARD_VALUES[0])
        & np.isfinite(last)
        & (last + _DORMANT_HOURS < end - DAY)
    )
    pool = np.flatnonzero(eligible)
    victims = np.sort(rng.choice(pool, min(pool.size, plan.takeovers), replace=False))
    gift_products = ctx.catalogue.sorted_product[
        ctx.catalogue.category_bounds[GIFT_CARD_CATEGORY] : ctx.catalogue.category_bounds[
            GIFT_CARD_CATEGORY + 1
        ]
    ]
    gift_values = ctx.catalogue.product_price[gift_products]
    order_rows: dict[str, list[float | int]] = {k: [] for k in _ORDER_KEYS}
    session_rows: dict[str, list[float | int]] = {k: [] for k in _SESSION_KEYS}
    for victim in victims:
        plan.involved[victim] = True
        earliest = last[victim] + _DORMANT_HOURS
        attack = earliest + rng.random() * (end - DAY - earliest)
        logins = int(rng.integers(3, 8))
        starts = attack + np.cumsum(rng.uniform(0.3, 3.0, logins)) / 60.0
        channel = APP  # a new phone logging into the app: the device id is the signal
        remaining = int(balance[victim])
        values: list[int] = []
        while remaining >= gift_values.min() and len(values) < 3:
            value = int(gift_values[gift_values <= remaining].max())
            values.append(value)
            remaining -= value
        case = len(plan.cases)
        plan.cases.append(
            FraudCase(
                pattern=TAKEOVER_PATTERN,
                customer=int(victim),
                started_hours=float(starts[0]),
                description=(
                    f"{logins} logins from a new device in {60 * (starts[-1] - starts[0]):.0f}"
                    f" minutes, then {len(values)} gift card order(s) paid with"
                    f" {sum(values)} points"
                ),
            )
        )
        order_base = len(order_rows["customer"])
        order_time = starts[-1] + rng.uniform(1.0, 4.0, len(values)).cumsum() / 60.0
        for k, value in enumerate(values):
            product = int(gift_products[np.flatnonzero(gift_values == value)[0]])
            for key, item in zip(
                _ORDER_KEYS,
                (victim, order_time[k], TAKEOVER, case, channel, NULL_INDEX, value, product),
                strict=True,
            ):
                order_rows[key].append(item)
        for j, start in enumerate(starts):
            # The last sessions of the burst each convert into one of the gift card orders
            # (and last until it is placed).
            converting = j - (logins - len(values))
            ends = start + rng.uniform(0.5, 3.0) / 60.0
            if converting >= 0:
                ends = order_time[converting] + rng.uniform(0.2, 1.0) / 60.0
            for key, item in zip(
                _SESSION_KEYS,
                (
                    victim,
                    start,
                    ends,
                    channel,
                    order_base + converting if converting >= 0 else NULL_INDEX,
                    case,
                ),
                strict=True,
            ):
                session_rows[key].append(item)
    return _takeover_orders(order_rows), *_takeover_lines_sessions(
        order_rows, session_rows, profiles, ctx.seed, rng
    )


_ORDER_KEYS = ("customer", "hours", "kind", "fraud", "channel", "store", "value", "product")
_SESSION_KEYS = ("customer", "start", "end", "channel", "order", "fraud")


def _takeover_orders(rows: dict[str, list[float | int]]) -> Frame:
    n = len(rows["customer"])
    value = np.array(rows["value"], dtype=np.int64)
    zero = np.zeros(n, dtype=np.int64)
    return {
        "customer": np.array(rows["customer"], dtype=np.int64),
        "hours": np.array(rows["hours"], dtype=np.float64),
        "kind": np.array(rows["kind"], dtype=np.int64),
        "fraud": np.array(rows["fraud"], dtype=np.int64),
        "channel": np.array(rows["channel"], dtype=np.int64),
        "store": np.array(rows["store"], dtype=np.int64),
        "target": value.astype(np.float64),
        "forced_category": np.full(n, GIFT_CARD_CATEGORY, dtype=np.int64),
        "subtotal": value,
        "shipping": zero,
        "discount": zero.copy(),
        "total": value.copy(),
        "points": value.copy(),
        "earned": zero.copy(),
        "payment": np.ones(n, dtype=np.int64),
        "line_count": np.ones(n, dtype=np.int64),
    }


def _takeover_lines_sessions(
    orders: dict[str, list[float | int]],
    sessions: dict[str, list[float | int]],
    profiles: Profiles,
    seed: int,
    rng: np.random.Generator,
) -> tuple[Frame, Frame]:
    n_orders = len(orders["customer"])
    lines = gift_card_lines(
        n_orders,
        np.array(orders["value"], dtype=np.int64),
        np.array(orders["product"], dtype=np.int64),
    )
    n = len(sessions["customer"])
    customer = np.array(sessions["customer"], dtype=np.int64)
    order = np.array(sessions["order"], dtype=np.int64)
    converted = order >= 0
    value = np.where(converted, np.array(orders["value"], dtype=np.int64)[np.maximum(order, 0)], 0)
    # The attacker's device: a fresh id no customer has (hash fields no profile uses).
    index = profiles.index[customer]
    return lines, {
        "customer": customer,
        "start": np.array(sessions["start"], dtype=np.float64),
        "end": np.array(sessions["end"], dtype=np.float64),
        "channel": np.array(sessions["channel"], dtype=np.int64),
        "page_views": 1 + rng.poisson(1.0, n) + 2 * converted,
        "cart_adds": converted.astype(np.int64),
        "login": np.ones(n, dtype=np.bool_),
        "abandoned": np.zeros(n, dtype=np.bool_),
        "cart_value": value.astype(np.int64),
        "order": order,
        "device_hi": hashed_bits(seed, index, _DEVICE_FIELD_HI),
        "device_lo": hashed_bits(seed, index, _DEVICE_FIELD_LO),
        "has_device": np.ones(n, dtype=np.bool_),
        "fraud": np.array(sessions["fraud"], dtype=np.int64),
    }


def open_ring_cases(plan: FraudPlan, profiles: Profiles) -> list[IntArray]:
    """One case per ring member (leader first); returns each ring's case numbers."""
    out: list[IntArray] = []
    for r, members in enumerate(plan.rings):
        leader = members[0]
        started = float(profiles.signup_hours[leader])
        cases: list[int] = []
        for k, member in enumerate(members):
            if k == 0:
                text = f"leader of a ring of {members.size} accounts sharing one device"
            else:
                shared = ["its device"]
                if profiles.phone_owner[member] == profiles.index[leader]:
                    shared.append("its phone")
                if profiles.email_owner[member] == profiles.index[leader]:
                    shared.append("an alias of its email")
                text = f"account {k + 1} of a ring of {members.size}, sharing the leader's " + (
                    " and ".join(shared)
                )
            cases.append(len(plan.cases))
            plan.cases.append(
                FraudCase(
                    pattern=RING_PATTERN,
                    customer=int(member),
                    started_hours=started,
                    description=text,
                    ring=r,
                )
            )
        out.append(np.array(cases, dtype=np.int64))
    return out


def link_cases(
    plan: FraudPlan,
    ring_cases: list[IntArray],
    orders: Frame,
    sessions: Frame,
    referrals: Frame,
    first_order: IntArray,
) -> None:
    """Attach to each case the block rows (orders, sessions, referrals) it involves."""
    order_case = orders["fraud"]
    session_case = sessions["fraud"]
    referral_case = referrals["fraud"]
    for number, case in enumerate(plan.cases):
        related: list[tuple[str, IntArray]] = []
        if case.pattern == RING_PATTERN:
            cases = ring_cases[case.ring]
            if number == cases[0]:
                related.append(("referral", np.flatnonzero(np.isin(referral_case, cases))))
            else:
                related.append(("referral", np.flatnonzero(referral_case == number)))
            if first_order[case.customer] >= 0:
                related.append(("order", first_order[[case.customer]]))
        else:
            related.append(("session", np.flatnonzero(session_case == number)))
            related.append(("order", np.flatnonzero(order_case == number)))
        case.related = [(kind, rows.astype(np.int64)) for kind, rows in related if rows.size]


def fraud_frame(plan: FraudPlan, profiles: Profiles) -> tuple[Frame, list[str]]:
    """The fraud truth rows of a block (descriptions as text) in case order."""
    cases = plan.cases
    frame = {
        "pattern": np.array([c.pattern for c in cases], dtype=np.int64),
        "customer": profiles.index[np.array([c.customer for c in cases], dtype=np.int64)],
        "hours": np.array([c.started_hours for c in cases], dtype=np.float64),
        "case": np.arange(len(cases), dtype=np.int64),
    }
    return frame, [c.description for c in cases]
