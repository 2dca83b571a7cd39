"""Journey analytics from events: funnels, touchpoints per channel, cross-channel paths.

A funnel is ordered: a customer enters at their first step-1 event in the window, and reaches
step k at their first step-k event at or after the instant they reached step k-1 (so a cart
before the first page view does not count). Drop-off at step k is the share of step k-1's
customers who never reached it. Times between steps are whole seconds.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import ibis

from fidela.analytics import rules
from fidela.analytics.sources import Sources
from fidela.kernel.errors import FieldProblem

DEFAULT_STEPS = rules.DEFAULT_FUNNEL_STEPS
BROWSE_TYPES = ("page.viewed", "app.opened")
DAY_SECONDS = 86_400


def _window_events(sources: Sources, as_of: datetime, days: int) -> ibis.Table:
    events = sources.events
    start = as_of - timedelta(days=days)
    return events.filter(
        (events.occurred_at < ibis.literal(as_of))
        & (events.occurred_at >= ibis.literal(start))
        & events.customer_id.notnull()
    )


def funnel_report(
    sources: Sources, as_of: datetime, *, steps: Sequence[str] = DEFAULT_STEPS, days: int = 30
) -> dict[str, Any]:
    steps = rules.check_funnel_steps(steps)
    if days < 1:
        raise rules.InvalidFunnel(
            "the window must be at least one day", [FieldProblem("/days", "at least 1")]
        )
    events = _window_events(sources, as_of, days)
    events = events.mutate(t=events.occurred_at.epoch_seconds().cast("int64"))
    first = events.filter(events.type == steps[0])
    reached = first.group_by("customer_id").aggregate(t=first.t.min())
    counts = [sources.rows(reached.aggregate(customers=reached.count().cast("int64")))[0]]
    results: list[dict[str, Any]] = [
        {"step": steps[0], "customers": counts[0]["customers"], "seconds_total": 0}
    ]
    for step in steps[1:]:
        candidates = events.filter(events.type == step)
        candidates = candidates.select(c_customer_id="customer_id", c_t="t")
        joined = reached.inner_join(
            candidates,
            (reached.customer_id == candidates.c_customer_id) & (candidates.c_t >= reached.t),
        )
        nxt = joined.group_by(["customer_id", "t"]).aggregate(next_t=joined.c_t.min())
        stats = sources.rows(
            nxt.aggregate(
                customers=nxt.count().cast("int64"),
                seconds_total=(nxt.next_t - nxt.t).sum().cast("int64"),
            )
        )[0]
        results.append(
            {
                "step": step,
                "customers": stats["customers"],
                "seconds_total": stats["seconds_total"] or 0,
            }
        )
        reached = nxt.select("customer_id", t=nxt.next_t)
    out_steps = []
    entered = results[0]["customers"]
    for index, result in enumerate(results):
        previous = results[index - 1]["customers"] if index else None
        out_steps.append(
            {
                "step": result["step"],
                "customers": result["customers"],
                "conversion_from_previous": None
                if previous is None
                else rules.rate(result["customers"], previous),
                "drop_off": None
                if previous is None
                else rules.rate(previous - result["customers"], previous),
                "conversion_from_start": rules.rate(result["customers"], entered),
                "mean_seconds_from_previous": None
                if previous is None
                else rules.rate(result["seconds_total"], result["customers"]),
            }
        )
    friction = [s for s in out_steps if s["drop_off"] is not None]
    worst = max(friction, key=lambda s: s["drop_off"])["step"] if friction and entered else None
    return {
        "as_of": rules.as_of_text(as_of),
        "window_days": days,
        "steps": out_steps,
        "biggest_drop_off_at": worst,
        "units": {
            "conversion_*, drop_off": "fraction 0..1, 6 decimals",
            "mean_seconds_from_previous": "seconds, 6 decimals",
        },
    }


def journey_report(
    sources: Sources, as_of: datetime, *, days: int = 30, lookback_days: int = 7
) -> dict[str, Any]:
    """Touchpoints per channel (events and orders) and cross-channel paths: for each order
    in the window, the channels the customer browsed on in the ``lookback_days`` before it."""
    if days < 1 or lookback_days < 1:
        raise rules.InvalidFunnel(
            "windows must be at least one day", [FieldProblem("/days", "at least 1")]
        )
    events = _window_events(sources, as_of, days + lookback_days)
    events = events.mutate(channel=events.channel.fill_null("unknown"))
    start = ibis.literal(as_of - timedelta(days=days))
    in_window = events.filter(events.occurred_at >= start)
    touch_rows = sources.rows(
        in_window.group_by(["channel", "type"]).aggregate(
            events=in_window.count().cast("int64"),
            customers=in_window.customer_id.nunique().cast("int64"),
        )
    )
    orders = sources.orders
    orders = orders.filter((orders.ordered_at < ibis.literal(as_of)) & (orders.ordered_at >= start))
    order_rows = sources.rows(
        orders.group_by("channel").aggregate(
            orders=orders.count().cast("int64"),
            customers=orders.customer_id.nunique().cast("int64"),
        )
    )
    browse = events.filter(events.type.isin(BROWSE_TYPES))
    browse = browse.select(
        b_customer_id="customer_id",
        b_channel="channel",
        b_t=browse.occurred_at.epoch_seconds().cast("int64"),
    )
    timed = orders.mutate(o_t=orders.ordered_at.epoch_seconds().cast("int64"))
    paths = timed.left_join(
        browse,
        (timed.customer_id == browse.b_customer_id)
        & (browse.b_t < timed.o_t)
        & (browse.b_t >= timed.o_t - lookback_days * DAY_SECONDS),
    )
    paths = paths.select(
        "order_id", order_channel=paths.channel, browse_channel=paths.b_channel.fill_null("none")
    ).distinct()
    path_rows = sources.rows(
        paths.group_by(["browse_channel", "order_channel"]).aggregate(
            orders=paths.order_id.nunique().cast("int64")
        )
    )
    touchpoints: dict[str, dict[str, Any]] = {}
    for row in touch_rows:
        entry = touchpoints.setdefault(row["channel"], {"events": 0, "types": {}, "orders": 0})
        entry["events"] += row["events"]
        entry["types"][row["type"]] = {"events": row["events"], "customers": row["customers"]}
    for row in order_rows:
        entry = touchpoints.setdefault(row["channel"], {"events": 0, "types": {}, "orders": 0})
        entry["orders"] = row["orders"]
        entry["buyers"] = row["customers"]
    return {
        "as_of": rules.as_of_text(as_of),
        "window_days": days,
        "lookback_days": lookback_days,
        "touchpoints": dict(sorted(touchpoints.items())),
        "paths": sorted(
            (
                {
                    "browse_channel": row["browse_channel"],
                    "order_channel": row["order_channel"],
                    "cross_channel": row["browse_channel"] not in ("none", row["order_channel"]),
                    "orders": row["orders"],
                }
                for row in path_rows
            ),
            key=lambda r: (-r["orders"], r["browse_channel"], r["order_channel"]),
        ),
    }
