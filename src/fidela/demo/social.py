"""Social activity: shares of purchases on social networks, and referrals between customers.

Referrals: about 5 % of customers signed up through a referral from an earlier customer, who may
belong to any earlier block (the referrer's signup time comes from the hashed profile, see
`customers`). The invitation was created up to 30 days before the referee's signup and never
before the referrer's. About 3 % of customers also sent invitations nobody answered (no referee
yet). Each referrer has one personal code. Fraud rings add their own referrals (see `fraud`).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from fidela.demo.context import RunContext
from fidela.demo.customers import Profiles, signup_hours
from fidela.demo.frames import Frame, concat, sort_rows, take
from fidela.demo.fraud import FraudPlan
from fidela.demo.purchases import APP, DAY, REGULAR
from fidela.demo.segments import NULL_INDEX, FloatArray, IntArray, cumulative, pick
from fidela.demo.streams import hashed_bits
from fidela.demo.text import strings
from fidela.demo.vocabulary import SOCIAL_NETWORKS

_NETWORK_CUM = cumulative([0.32, 0.24, 0.1, 0.1, 0.16, 0.08])
_CODE_ALPHABET = np.frombuffer(b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789", dtype=np.uint8)
_CODE_FIELD = 501
_REFERRED_SHARE = 0.05
_PENDING_SHARE = 0.03

if len(SOCIAL_NETWORKS) != _NETWORK_CUM.size:  # keep weights and names in step
    raise RuntimeError("one weight per social network is required")


def draw_shares(
    ctx: RunContext, timezone: IntArray, orders: Frame, lines: Frame, rng: np.random.Generator
) -> Frame:
    """Shares of a purchase, mostly showing one of its products, by customer and time."""
    end = ctx.calendar.hours
    kind = orders["kind"]
    share = np.where(orders["channel"] == APP, 0.03, 0.015)
    rows = np.flatnonzero((kind == REGULAR) & (rng.random(kind.size) < share))
    first_line = np.searchsorted(lines["order"], rows)
    product = np.where(rng.random(rows.size) < 0.8, lines["product"][first_line], NULL_INDEX)
    customer = orders["customer"][rows]
    ordered = orders["hours"][rows]
    hours = ctx.calendar.daytime(
        timezone[customer],
        ordered + rng.uniform(0.0, 72.0, rows.size),
        rng.random(rows.size),
        ordered + 0.05,
        np.inf,
    )
    shares = {
        "customer": customer,
        "hours": hours,
        "network": pick(_NETWORK_CUM, rng.random(rows.size)),
        "product": product.astype(np.int64),
    }
    shares = take(shares, shares["hours"] < end)
    shares, _ = sort_rows(shares, "customer", "hours")
    return shares


def draw_referrals(
    ctx: RunContext,
    profiles: Profiles,
    plan: FraudPlan,
    ring_cases: list[IntArray],
    first_order: IntArray,
    rng: np.random.Generator,
) -> Frame:
    """Referrals whose referee (or, for pending invitations, referrer) is in the block."""
    end = ctx.calendar.hours
    n = profiles.size
    signup = profiles.signup_hours
    parts: list[Frame] = []

    in_ring = np.zeros(n, dtype=np.bool_)
    for members in plan.rings:
        in_ring[members] = True
    referee = np.flatnonzero(
        ~in_ring & (profiles.index > 0) & (rng.random(n) < _REFERRED_SHARE)
    ).astype(np.int64)
    referrer = (rng.random(referee.size) * profiles.index[referee]).astype(np.int64)
    referrer_signup = signup_hours(ctx.seed, referrer, ctx.customers, ctx.calendar)
    valid = referrer_signup < signup[referee]
    referee, referrer, referrer_signup = referee[valid], referrer[valid], referrer_signup[valid]
    lead = np.minimum(30 * DAY, signup[referee] - referrer_signup)
    parts.append(
        _rows(
            referrer,
            profiles.index[referee],
            signup[referee] - rng.random(referee.size) * lead,
            signup[referee],
            first_order[referee],
            NULL_INDEX,
        )
    )

    sender = np.flatnonzero(rng.random(n) < _PENDING_SHARE).astype(np.int64)
    created = signup[sender] + rng.random(sender.size) * (end - signup[sender])
    none = np.full(sender.size, NULL_INDEX, dtype=np.int64)
    parts.append(
        _rows(profiles.index[sender], none, created, np.full(sender.size, np.nan), none, NULL_INDEX)
    )

    for members, cases in zip(plan.rings, ring_cases, strict=True):
        # Mostly the leader invites everyone; sometimes each new account invites the next.
        chain = rng.random() < 0.3
        for k in range(1, members.size):
            inviter = members[k - 1] if chain else members[0]
            created_at = max(signup[inviter], signup[members[k]] - rng.uniform(1.0, 10.0) / 60.0)
            parts.append(
                _rows(
                    profiles.index[[inviter]],
                    profiles.index[[members[k]]],
                    np.array([created_at]),
                    signup[[members[k]]],
                    first_order[[members[k]]],
                    int(cases[k]),
                )
            )

    referrals = concat(parts)
    referrals, _ = sort_rows(referrals, "hours", "referrer")
    return referrals


def _rows(
    referrer: IntArray,
    referee: IntArray,
    created: FloatArray,
    signed_up: FloatArray,
    first_order: IntArray,
    fraud: int,
) -> Frame:
    return {
        "referrer": referrer.astype(np.int64),
        "referee": referee.astype(np.int64),
        "hours": created.astype(np.float64),
        "signed_up": signed_up.astype(np.float64),
        "first_order": first_order.astype(np.int64),
        "fraud": np.full(referrer.size, fraud, dtype=np.int64),
    }


def referral_codes(seed: int, referrer: IntArray) -> pa.Array:
    """Each referrer's personal code, "REF-" and six unambiguous characters."""
    bits = hashed_bits(seed, referrer, _CODE_FIELD)
    shifts = np.arange(0, 30, 5, dtype=np.uint64)
    symbols = ((bits[:, None] >> shifts) & np.uint64(31)).astype(np.int64)
    chars = np.empty((referrer.size, 10), dtype=np.uint8)
    chars[:, :4] = np.frombuffer(b"REF-", dtype=np.uint8)
    chars[:, 4:] = _CODE_ALPHABET[symbols]
    return strings(chars)
