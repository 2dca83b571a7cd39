"""Buying behaviour: BG/NBD purchase counts, Gamma-Gamma spend, baskets, money and returns.

The truth of each customer (written to ``truth/customers``):

- ``lambda ~ Gamma(r, rate=alpha)`` purchases per operational day and ``p ~ Beta(a, b)``;
- a share ``never_buy_share`` never buys; the others make a first (trial) purchase shortly after
  signup (minutes for store signups, same session or days for online ones). That purchase is
  their BG/NBD time 0;
- after each *repeat* purchase the customer drops out with probability ``p`` (Fader, Hardie &
  Lee 2005: the trial purchase is never followed by dropout, which is what the closed forms of
  ``E[X(t)]`` and ``P(alive)`` assume); while alive, repeats form a Poisson process of rate
  ``lambda`` in operational time (`seasonality`), mapped to calendar time.

Vectorised exactly: with ``T`` the operational time from the trial to the end of the window,
``N ~ Poisson(lambda T)`` potential repeats and ``K ~ Geometric(p)`` the repeat after which the
customer dies, the observed repeats are the first ``X = min(N, K)`` order statistics of ``N``
uniforms on ``(0, T)``, drawn as normalised exponential spacings (``U_(j) = S_j / S_{N+1}``,
the tail sum ``S_{N+1} - S_X ~ Gamma(N - X + 1)``), so only ``X`` numbers are drawn per customer.

Spend: ``nu ~ Gamma(q, rate=gamma)`` per customer and a target ``z ~ Gamma(p_spend, rate=nu)``
cents per order. Baskets are filled greedily toward ``z`` (`fill_baskets`): each line aims at a
share of what is still missing, picks the product of a preferred category priced nearest that
aim, and lines stop once the order is within 10 % of ``z``; the realised subtotal tracks ``z``
up to price granularity.

Money: a welcome bonus of 500 points, then 1 point per whole euro of eligible spend (gift cards
earn nothing), 1 point redeems 1 cent. Redemptions only spend points earned since the
customer's previous redemption attempt (the welcome bonus counts toward the first), so a
customer's cumulative redemptions never exceed their cumulative earnings (the ledger the
platform rebuilds from these orders never goes negative).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fidela.demo.catalogue import ALL_CATEGORIES, CATEGORIES, GIFT_CARD_CATEGORY
from fidela.demo.context import RunContext
from fidela.demo.customers import Profiles
from fidela.demo.frames import Frame, concat, inverse, sort_rows, take
from fidela.demo.segments import (
    NULL_INDEX,
    BoolArray,
    FloatArray,
    IntArray,
    counts_of,
    cumulative,
    owners,
    pick,
    pick_rows,
    segment_cumsum,
    segment_sum,
    starts,
)

# Order kinds (internal; fraud orders are ordinary rows of the `orders` table).
REGULAR, FARMING, TAKEOVER = 0, 1, 2
STORE, WEB, APP = 0, 1, 2
FREE_SHIPPING_FROM = 4_900  # cents of physical goods
SHIPPING_FEE = 499
POINT_VALUE_MINOR = 1  # one point redeems one cent
MIN_REDEMPTION = 500
WELCOME_POINTS = 500  # credited at enrolment: a first redemption needs no prior spend
STORE_OPEN_HOURS = (8.0, 21.0)  # local time; store orders outside it become online orders
HOUR = 1.0
DAY = 24.0

# Base weights of category preferences (times a Dirichlet(0.7) per customer).
_POPULARITY = np.array([c.popularity for c in CATEGORIES])
_RETURN_RATE = np.array([c.return_rate for c in ALL_CATEGORIES])
_MAX_QUANTITY = np.array([c.max_quantity for c in ALL_CATEGORIES], dtype=np.int64)
# Mean extra units per line (grocery baskets hold several of an item, electronics one).
_EXTRA_UNITS = np.array([0.08, 0.35, 0.1, 1.3, 0.02, 0.1, 0.1, 0.1, 0.02, 0.08, 0.1, 0.2, 0.0])
_LINES_EXTRA = 1.95  # mean extra planned lines of an order of average target value
_MAX_LINES = 12
_GIFT_CARD_LINE_SHARE = 0.004
_PROMO_SHARE = 0.12
_REDEEM_SHARE = 0.07
# Return reasons: sized categories (fashion, shoes) are returned mostly for fit.
_REASONS_SIZED = cumulative([0.3, 0.28, 0.07, 0.12, 0.16, 0.04, 0.03])
_REASONS_OTHER = cumulative([0.0, 0.0, 0.3, 0.25, 0.3, 0.1, 0.05])
_SIZED = np.array([c.name in {"fashion", "shoes"} for c in ALL_CATEGORIES])


@dataclass(frozen=True)
class Behaviour:
    """The truth of a block's customers (aligned on the block's profiles)."""

    lam: FloatArray
    p: FloatArray
    nu: FloatArray
    buys: BoolArray
    first_hours: FloatArray  # NaN: no purchase within the window
    dropout_hours: FloatArray  # NaN: not dropped out by the end
    exposure_days: FloatArray  # operational days from the trial purchase to the end (NaN)
    curve: IntArray
    channel_cum: FloatArray  # (n, 3) cumulative order channel mix: store, web, app
    category_weights: FloatArray  # (n, len(CATEGORIES)) category preferences

    @property
    def alive_at_end(self) -> BoolArray:
        return self.buys & np.isnan(self.dropout_hours)


def draw_behaviour(
    ctx: RunContext, profiles: Profiles, rng: np.random.Generator, forced_buyers: BoolArray
) -> tuple[Behaviour, Frame]:
    """Truth parameters and the BG/NBD purchase times of a block's customers.

    Returns the behaviour and the regular orders as a frame (``customer``: position in the
    block, ``hours``), sorted by customer then time.
    """
    truth, calendar = ctx.truth, ctx.calendar
    n = profiles.size
    lam = rng.gamma(truth.r, 1.0 / truth.alpha, n)
    # Beta draws can underflow to exactly 0 or 1 for small a, b; clip to keep p a probability
    # of a geometric draw. The clipped value is the one written to the truth.
    p = np.clip(rng.beta(truth.a, truth.b, n), 1e-12, 1.0 - 1e-12)
    nu = rng.gamma(truth.q, 1.0 / truth.gamma, n)
    buys = (rng.random(n) >= truth.never_buy_share) | forced_buyers
    store_signup = profiles.signup_channel == STORE
    same_session = rng.random(n) < 0.4
    delay = np.where(
        store_signup,
        rng.uniform(2.0, 25.0, n) / 60.0,
        np.where(same_session, rng.uniform(3.0, 40.0, n) / 60.0, rng.exponential(4.0 * DAY, n)),
    )
    first = profiles.signup_hours + delay
    observed = buys & (first < calendar.hours)
    curve = calendar.curve(profiles.curve_kind, profiles.timezone)
    tau0 = calendar.to_operational(curve, first)
    exposure = np.where(observed, calendar.days - tau0, 0.0)
    potential = rng.poisson(lam * exposure)
    death = rng.geometric(p)
    repeats = np.minimum(potential, death).astype(np.int64)
    died = observed & (death <= potential)
    spacings = segment_cumsum(rng.exponential(1.0, int(repeats.sum())), repeats)
    last = np.zeros(n)
    has = repeats > 0
    last[has] = spacings[starts(repeats)[has] + repeats[has] - 1]
    tail = rng.gamma((potential - repeats + 1).astype(np.float64), 1.0)
    owner = owners(repeats)
    fraction = spacings / (last + tail)[owner]
    tau = tau0[owner] + fraction * exposure[owner]
    repeat_hours = calendar.to_calendar(curve[owner], tau)
    # Operational time is continuous: a repeat can never precede its trial purchase.
    repeat_hours = np.maximum(repeat_hours, first[owner] + 1e-6)
    dropout = np.full(n, np.nan)
    dropout[died] = repeat_hours[(starts(repeats) + repeats - 1)[died]]

    has_app = profiles.has_app
    mixes = np.array(
        [
            [[0.8, 0.2, 0.0], [0.8, 0.14, 0.06]],
            [[0.12, 0.88, 0.0], [0.12, 0.8, 0.08]],
            [[0.12, 0.88, 0.0], [0.12, 0.13, 0.75]],
        ]
    )
    channel_cum = np.cumsum(mixes[profiles.signup_channel, has_app.astype(np.int64)], axis=1)
    weights = rng.gamma(0.7, 1.0, (n, len(CATEGORIES))) * _POPULARITY
    weights /= weights.sum(axis=1, keepdims=True)

    behaviour = Behaviour(
        lam=lam,
        p=p,
        nu=nu,
        buys=buys,
        first_hours=np.where(observed, first, np.nan),
        dropout_hours=dropout,
        exposure_days=np.where(observed, exposure, np.nan),
        curve=curve,
        channel_cum=channel_cum,
        category_weights=weights,
    )
    trial = np.flatnonzero(observed).astype(np.int64)
    events = {
        "customer": np.concatenate((trial, owner)),
        "hours": np.concatenate((first[trial], repeat_hours)),
    }
    events, _ = sort_rows(events, "customer", "hours")
    return behaviour, events


def order_frame(
    ctx: RunContext,
    profiles: Profiles,
    behaviour: Behaviour,
    events: Frame,
    rng: np.random.Generator,
) -> Frame:
    """Regular orders: channel from the customer's habits, store, Gamma-Gamma target value."""
    customer = events["customer"]
    hours = events["hours"]
    n = customer.size
    channel = pick_rows(behaviour.channel_cum[customer], rng.random(n))
    local = ctx.calendar.local_hour(profiles.timezone[customer], hours)
    closed = (local < STORE_OPEN_HOURS[0]) | (local >= STORE_OPEN_HOURS[1])
    online = np.where(profiles.has_app[customer], APP, WEB)
    channel = np.where((channel == STORE) & closed, online, channel)
    store = _stores(ctx, profiles, customer, channel, rng)
    target = rng.gamma(ctx.truth.p_spend, 1.0 / behaviour.nu[customer])
    return {
        "customer": customer,
        "hours": hours,
        "kind": np.full(n, REGULAR, dtype=np.int64),
        "fraud": np.full(n, NULL_INDEX, dtype=np.int64),
        "channel": channel.astype(np.int64),
        "store": store,
        "target": target,
        "forced_category": np.full(n, NULL_INDEX, dtype=np.int64),
    }


def _stores(
    ctx: RunContext,
    profiles: Profiles,
    customer: IntArray,
    channel: IntArray,
    rng: np.random.Generator,
) -> IntArray:
    """Home store mostly, another store of the same time zone sometimes; none online."""
    n = customer.size
    store = profiles.home_store[customer].copy()
    away = rng.random(n) < 0.15
    u = rng.random(n)
    zone = profiles.timezone[customer]
    for z, pool in enumerate(ctx.home_stores.by_timezone):
        rows = away & (zone == z)
        store[rows] = pool[(u[rows] * pool.size).astype(np.int64)]
    return np.where(channel == STORE, store, NULL_INDEX).astype(np.int64)


def sort_orders(orders: Frame, lines: Frame) -> tuple[Frame, Frame]:
    """Orders sorted by customer then time; line references follow their order."""
    orders, permutation = sort_rows(orders, "customer", "hours")
    lines = dict(lines)
    lines["order"] = inverse(permutation)[lines["order"]]
    lines, _ = sort_rows(lines, "order", "line_no")
    return orders, lines


def fill_baskets(
    ctx: RunContext, orders: Frame, behaviour: Behaviour, rng: np.random.Generator
) -> Frame:
    """Order lines filling each order greedily toward its target value.

    Each order plans a number of lines (more for larger targets) and Gamma(2) weights for
    them. Line k aims at its weight's share of what is still missing; a product of a category
    drawn from the customer's preferences is picked at the price nearest that aim (jittered
    for variety), with as many units as bring it closest. Lines stop once the order is within
    10 % of its target, so the realised subtotal tracks the target closely. Loops run over
    line positions (at most 12), each step vectorised over all orders.
    """
    catalogue = ctx.catalogue
    target = orders["target"]
    n = target.size
    forced_category = orders["forced_category"]
    forced = forced_category >= 0
    extra = rng.poisson(_LINES_EXTRA * np.sqrt(target / ctx.truth.mean_order_value_minor))
    planned = np.where(forced, 1, 1 + np.minimum(extra, _MAX_LINES - 1)).astype(np.int64)
    weights = rng.gamma(2.0, 1.0, (n, _MAX_LINES))
    weights[np.arange(_MAX_LINES)[None, :] >= planned[:, None]] = 0.0
    still_to_plan = np.cumsum(weights[:, ::-1], axis=1)[:, ::-1]
    category_cum = np.cumsum(behaviour.category_weights[orders["customer"]], axis=1)
    remaining = target.copy()
    parts: list[Frame] = []
    for k in range(int(planned.max(initial=0))):
        rows = np.flatnonzero((planned > k) & ((k == 0) | (remaining > 0.1 * target)))
        m = rows.size
        aim = remaining[rows] * weights[rows, k] / still_to_plan[rows, k]
        category = pick_rows(category_cum[rows], rng.random(m))
        gift = (rng.random(m) < _GIFT_CARD_LINE_SHARE) & ~forced[rows]
        category = np.where(gift, GIFT_CARD_CATEGORY, category)
        category = np.where(forced[rows], forced_category[rows], category)
        max_quantity = np.where(forced[rows], 1, _MAX_QUANTITY[category])
        units = np.minimum(1 + rng.poisson(_EXTRA_UNITS[category]), max_quantity)
        product = catalogue.nearest(category, aim * rng.lognormal(0.0, 0.2, m) / units)
        price = catalogue.product_price[product]
        quantity = np.clip(np.rint(aim / price).astype(np.int64), 1, max_quantity)
        amount = price * quantity
        remaining[rows] -= amount
        parts.append(
            {
                "order": rows.astype(np.int64),
                "line_no": np.full(m, k + 1, dtype=np.int64),
                "product": product,
                "category": category.astype(np.int64),
                "quantity": quantity,
                "unit_price": price,
                "amount": amount,
            }
        )
    lines, _ = sort_rows(concat(parts), "order", "line_no")
    return lines


def settle(orders: Frame, lines: Frame, rng: np.random.Generator) -> Frame:
    """Money of each order: subtotal, shipping, promotion, points redeemed, payment method.

    ``orders`` must be sorted by customer then time (redemptions follow each customer's
    history). Returns the orders with money columns added.
    """
    n = orders["customer"].size
    catalogue_earns = lines["category"] != GIFT_CARD_CATEGORY
    subtotal = segment_sum(lines["amount"], lines["order"], n).astype(np.int64)
    physical = segment_sum(lines["amount"] * catalogue_earns, lines["order"], n).astype(np.int64)
    line_count = counts_of(lines["order"], n)
    regular = orders["kind"] == REGULAR
    online = orders["channel"] != STORE
    shipping = np.where(online & (physical > 0) & (physical < FREE_SHIPPING_FROM), SHIPPING_FEE, 0)
    promo = regular & (rng.random(n) < _PROMO_SHARE)
    rate = np.array([0.1, 0.15, 0.2])[rng.integers(0, 3, n)]
    discount = np.where(promo, np.rint(rate * physical), 0).astype(np.int64)
    total = subtotal + shipping - discount
    earned = np.maximum(physical - discount, 0) // 100

    # Points redeemable at order k: earned in orders since the previous redemption attempt of
    # the same customer (exclusive of k). Attempts are decided before amounts, so the cap is
    # computed without a sequential loop and cumulative redemptions never exceed earnings.
    attempt = regular & (rng.random(n) < _REDEEM_SHARE)
    position = np.arange(n, dtype=np.int64)
    customer = orders["customer"]
    first_of_customer = np.concatenate(([True], customer[1:] != customer[:-1]))
    customer_start = np.maximum.accumulate(np.where(first_of_customer, position, 0))
    marker = np.maximum.accumulate(np.where(attempt, position + 1, 0))
    previous = np.concatenate(([0], marker[:-1]))
    anchor = np.maximum(previous, customer_start)
    prefix = np.concatenate(([0], np.cumsum(earned)))
    welcome = np.where(previous <= customer_start, WELCOME_POINTS, 0)
    available = (prefix[position] - prefix[anchor] + welcome) * POINT_VALUE_MINOR
    redeem = attempt & (available >= MIN_REDEMPTION)
    points = np.where(redeem, np.minimum(total, available // 100 * 100), 0).astype(np.int64)
    out = dict(orders)
    out.update(
        subtotal=subtotal,
        shipping=shipping.astype(np.int64),
        discount=discount,
        total=total,
        points=points,
        earned=earned.astype(np.int64),
        payment=_payment(points, total),
        line_count=line_count,
    )
    return out


def _payment(points: IntArray, total: IntArray) -> IntArray:
    """0 card, 1 points, 2 card+points."""
    return np.where(points == 0, 0, np.where(points >= total, 1, 2)).astype(np.int64)


def add_settled(
    orders: Frame, lines: Frame, extra_orders: Frame, extra_lines: Frame
) -> tuple[Frame, Frame]:
    """Append already-settled orders (with their lines) and restore customer/time order."""
    shifted = dict(extra_lines)
    shifted["order"] = extra_lines["order"] + orders["customer"].size
    merged_orders = concat([orders, extra_orders])
    merged_lines = concat([lines, shifted])
    return sort_orders(merged_orders, merged_lines)


def draw_returns(
    ctx: RunContext, timezone: IntArray, orders: Frame, lines: Frame, rng: np.random.Generator
) -> Frame:
    """Returned lines: by category return rate for regular orders, most of a farming burst.

    A return follows its order within 30 days (farming: within 3 days), at a waking hour of
    the customer's time zone, and before the end; the quantity returned never exceeds the
    quantity bought. ``timezone``: each block customer's time zone.
    """
    order = lines["order"]
    kind = orders["kind"][order]
    category = lines["category"]
    n = order.size
    u = rng.random(n)
    returned = np.where(kind == FARMING, u < 0.6, (kind == REGULAR) & (u < _RETURN_RATE[category]))
    farming = kind == FARMING
    delay = np.where(farming, rng.uniform(2.0, 72.0, n), rng.uniform(1.0, 30.0, n) * DAY)
    ordered = orders["hours"][order]
    customer = orders["customer"][order]
    hours = ctx.calendar.daytime(
        timezone[customer],
        ordered + delay,
        rng.random(n),
        ordered + 1.0,
        ordered + np.where(farming, 72.0, 30 * DAY - 1e-3),
    )
    returned &= hours < ctx.calendar.hours
    quantity = np.where(
        kind == FARMING,
        lines["quantity"],
        1 + (rng.random(n) * lines["quantity"]).astype(np.int64),
    )
    reason_u = rng.random(n)
    reason = np.where(
        _SIZED[category], pick(_REASONS_SIZED, reason_u), pick(_REASONS_OTHER, reason_u)
    )
    reason = np.where(kind == FARMING, 4, reason)
    rows = np.flatnonzero(returned)
    return take(
        {
            "order": order,
            "customer": customer,
            "hours": hours,
            "line_no": lines["line_no"],
            "quantity": quantity.astype(np.int64),
            "amount": (lines["unit_price"] * quantity).astype(np.int64),
            "reason": reason.astype(np.int64),
        },
        rows,
    )


def gift_card_lines(orders: int, values: IntArray, products: IntArray) -> Frame:
    """One gift card line per order (for fraud orders built outside `fill_baskets`)."""
    return {
        "order": np.arange(orders, dtype=np.int64),
        "line_no": np.ones(orders, dtype=np.int64),
        "product": products,
        "category": np.full(orders, GIFT_CARD_CATEGORY, dtype=np.int64),
        "quantity": np.ones(orders, dtype=np.int64),
        "unit_price": values,
        "amount": values.copy(),
    }
