"""Web and app sessions: the visits that led to online orders, and browsing around them.

- Every online order is preceded by a session that converted into it (88 % of regular orders;
  the rest came from a link or a saved cart with no tracked session), starting a few minutes
  before the order and ending just after it, logged in.
- Browsing sessions arrive as a Poisson process while the customer is alive, at a rate rising
  with their purchase rate and online habits, then fade out after dropout (a customer who left
  still visits for a while, mostly to fill carts they abandon: that is the signal churn models
  pick up). Customers who never buy browse a little after signup.

Nothing happens before signup: a converted session that would start before it is cut at signup.
Sessions end before the observation end.
"""

from __future__ import annotations

import numpy as np

from fidela.demo.context import RunContext
from fidela.demo.customers import Profiles, device_bits
from fidela.demo.frames import Frame, concat, sort_rows
from fidela.demo.purchases import APP, DAY, REGULAR, STORE, TAKEOVER, WEB, Behaviour
from fidela.demo.segments import NULL_INDEX, IntArray, owners

_CONVERTED_SHARE = 0.88
_MINUTE = 1.0 / 60.0


def draw_sessions(
    ctx: RunContext,
    profiles: Profiles,
    behaviour: Behaviour,
    orders: Frame,
    extra: Frame,
    rng: np.random.Generator,
) -> Frame:
    """All sessions of a block (``extra``: sessions injected by fraud), by customer and start."""
    end = ctx.calendar.hours - 1e-6
    converted = _converted(profiles, orders, rng)
    browsing = _browsing(ctx, profiles, behaviour, rng)
    sessions = concat([converted, browsing, extra]) if extra else concat([converted, browsing])
    sessions["end"] = np.minimum(sessions["end"], end)
    sessions, _ = sort_rows(sessions, "customer", "start")
    return sessions


def _converted(profiles: Profiles, orders: Frame, rng: np.random.Generator) -> Frame:
    online = orders["channel"] != STORE
    share = np.where(orders["kind"] == REGULAR, _CONVERTED_SHARE, 0.5)
    rows = np.flatnonzero(online & (orders["kind"] != TAKEOVER) & (rng.random(online.size) < share))
    customer = orders["customer"][rows]
    hours = orders["hours"][rows]
    n = rows.size
    lead = rng.lognormal(np.log(12.0), 0.6, n) * _MINUTE
    start = np.maximum(hours - lead, profiles.signup_hours[customer])
    channel = orders["channel"][rows]
    frame = _with_device(
        profiles,
        {
            "customer": customer,
            "start": start,
            "end": hours + rng.uniform(0.5, 3.0, n) * _MINUTE,
            "channel": channel,
            "page_views": 3 + rng.poisson(5.0, n),
            "cart_adds": orders["line_count"][rows],
            "login": np.ones(n, dtype=np.bool_),
            "abandoned": np.zeros(n, dtype=np.bool_),
            "cart_value": orders["subtotal"][rows],
            "order": rows.astype(np.int64),
        },
    )
    # A farming order's session belongs to its fraud case too.
    frame["fraud"] = orders["fraud"][rows]
    return frame


def _browsing(
    ctx: RunContext, profiles: Profiles, behaviour: Behaviour, rng: np.random.Generator
) -> Frame:
    end = ctx.calendar.hours
    n = profiles.size
    signup = profiles.signup_hours
    bought = ~np.isnan(behaviour.first_hours)
    dropped = ~np.isnan(behaviour.dropout_hours)
    online_share = 1.0 - behaviour.channel_cum[:, 0]
    rate_alive = 0.9 * behaviour.lam * online_share + 0.003  # sessions per day
    alive_end = np.where(dropped, behaviour.dropout_hours, end)
    fade_end = np.minimum(
        end, np.nan_to_num(behaviour.dropout_hours) + rng.exponential(90 * DAY, n)
    )
    curious_end = np.minimum(end, signup + rng.exponential(45 * DAY, n))
    # Three periods per customer: alive (buyers), fading after dropout, curious (non-buyers).
    period_start = np.concatenate((signup, np.nan_to_num(behaviour.dropout_hours), signup))
    period_end = np.concatenate(
        (
            np.where(bought, alive_end, signup),
            np.where(dropped, fade_end, 0.0),
            np.where(bought, signup, curious_end),
        )
    )
    rate = np.concatenate((rate_alive, 0.5 * rate_alive, np.full(n, 0.03)))
    cart_rate = np.concatenate((np.full(n, 0.35), np.full(n, 0.8), np.full(n, 0.3)))
    length = np.maximum(period_end - period_start, 0.0)
    counts = rng.poisson(rate * length / DAY).astype(np.int64)
    period = owners(counts)
    customer = period % n
    m = period.size
    start = period_start[period] + rng.random(m) * length[period]
    app = profiles.has_app[customer] & (rng.random(m) < 0.65)
    cart_adds = rng.poisson(cart_rate[period])
    mean_item = ctx.truth.p_spend / behaviour.nu[customer] / 2.2
    cart_value = np.rint(cart_adds * mean_item * rng.lognormal(0.0, 0.4, m)).astype(np.int64)
    login = rng.random(m) < np.where(app, 0.92, 0.45)
    return _with_device(
        profiles,
        {
            "customer": customer,
            "start": start,
            "end": start + rng.lognormal(np.log(6.0), 0.8, m) * _MINUTE,
            "channel": np.where(app, APP, WEB).astype(np.int64),
            "page_views": 1 + rng.poisson(4.0, m),
            "cart_adds": cart_adds.astype(np.int64),
            "login": login,
            "abandoned": cart_adds > 0,
            "cart_value": cart_value,
            "order": np.full(m, NULL_INDEX, dtype=np.int64),
        },
    )


def _with_device(profiles: Profiles, frame: Frame) -> Frame:
    """Add the customer's app device to app sessions, and an empty fraud tag."""
    customer: IntArray = frame["customer"]
    hi, lo = device_bits(profiles.seed, profiles.device_owner[customer])
    has_device = (frame["channel"] == APP) & profiles.has_app[customer]
    out = dict(frame)
    out.update(
        device_hi=hi,
        device_lo=lo,
        has_device=has_device,
        fraud=np.full(customer.size, NULL_INDEX, dtype=np.int64),
    )
    return out
