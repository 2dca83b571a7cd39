"""Marketing email events: sends, opens, clicks and unsubscribes of the weekly campaigns.

Only customers who gave email marketing consent receive campaigns, from their signup on, and no
more after they unsubscribe; the `customers` table then shows their consent as withdrawn.
Each customer has an engagement level (Beta(2, 4), mean 1/3) that is their open probability
while they buy; after dropout it falls to a third and decays with a 120-day time constant,
and customers who never bought open less than half as often, so declining engagement is a
leading churn signal in the data.
"""

from __future__ import annotations

import numpy as np

from fidela.demo.context import RunContext
from fidela.demo.customers import Profiles
from fidela.demo.frames import Frame, sort_rows, take
from fidela.demo.purchases import DAY, Behaviour
from fidela.demo.segments import FloatArray, owners

_TARGETING = 0.13  # share of eligible customers each campaign is sent to
_MINUTE = 1.0 / 60.0


def draw_email_events(
    ctx: RunContext, profiles: Profiles, behaviour: Behaviour, rng: np.random.Generator
) -> tuple[Frame, FloatArray]:
    """Email events of a block, by customer and send time, and each customer's
    unsubscribe time (NaN if still subscribed)."""
    end = ctx.calendar.hours
    campaigns = ctx.campaign_hours
    n = profiles.size
    first = np.searchsorted(campaigns, profiles.signup_hours, side="right")
    eligible = np.where(profiles.consents[:, 0], campaigns.size - first, 0)
    count = rng.binomial(eligible, _TARGETING).astype(np.int64)
    customer = owners(count)
    campaign = first[customer] + (rng.random(customer.size) * eligible[customer]).astype(np.int64)
    # A campaign drawn twice for a customer is sent once.
    _, unique_rows = np.unique(customer * campaigns.size + campaign, return_index=True)
    customer, campaign = customer[unique_rows], campaign[unique_rows]
    m = customer.size
    sent = campaigns[campaign] + rng.uniform(0.0, 90.0, m) * _MINUTE
    engagement = rng.beta(2.0, 4.0, n)[customer]
    dropout = behaviour.dropout_hours[customer]
    after_dropout = sent > np.nan_to_num(dropout, nan=np.inf)
    fade = 0.35 * np.exp(-np.maximum(sent - np.nan_to_num(dropout), 0.0) / (120 * DAY))
    factor = np.where(after_dropout, fade, np.where(behaviour.buys[customer], 1.0, 0.4))
    opened = rng.random(m) < engagement * factor
    opened_at = sent + rng.lognormal(np.log(2.5), 1.2, m)
    opened &= opened_at < end
    clicked_at = opened_at + (0.2 + rng.exponential(3.0, m)) * _MINUTE
    clicked = opened & (rng.random(m) < 0.1 + 0.35 * engagement) & (clicked_at < end)
    unsubscribed_at = opened_at + rng.uniform(0.5, 10.0, m) * _MINUTE
    unsubscribed = (
        opened & (rng.random(m) < np.where(after_dropout, 0.05, 0.01)) & (unsubscribed_at < end)
    )
    first_unsubscribe = np.full(n, np.inf)
    np.minimum.at(first_unsubscribe, customer[unsubscribed], unsubscribed_at[unsubscribed])
    keep = (sent < end) & (sent < first_unsubscribe[customer])
    events = take(
        {
            "customer": customer,
            "campaign": campaign,
            "sent": sent,
            "opened": np.where(opened, opened_at, np.nan),
            "clicked": np.where(clicked, clicked_at, np.nan),
            "unsubscribed": np.where(unsubscribed, unsubscribed_at, np.nan),
        },
        keep,
    )
    events, _ = sort_rows(events, "customer", "sent")
    return events, np.where(np.isfinite(first_unsubscribe), first_unsubscribe, np.nan)
