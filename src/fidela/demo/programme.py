"""The loyalty programme the live demo runs: a retailer's points-and-tiers programme.

Plain data shaped like ``POST /v1/loyalty/programmes`` (the demo context sits below the loyalty
context, so the CLI hands this to the loyalty service). It exercises the engine the way a real
retailer would: points per euro on eligible lines, a basket-threshold bonus, a category
multiplier, double points on Black Friday, points for non-purchase events, a tier ladder with
an earn multiplier, and expiry 24 months after the earn month.
"""

from __future__ import annotations

from typing import Any

DEMO_PROGRAMME_CODE = "club"

DEMO_PROGRAMME: dict[str, Any] = {
    "code": DEMO_PROGRAMME_CODE,
    "name": "Fidela Club",
    "currency": "EUR",
    # One point costs half a cent: 200 points make a 1 EUR reward.
    "cost_per_point_minor": "0.5",
    "return_policy": "within_balance",
    # No return window: the member views built on this programme (personalisation, the live
    # demo's fresh sign-ups) show what an order earned at once. Points are dated at the
    # purchase, so a 14-day hold would only leave the last 14 days of the imported history
    # pending (`demo setup` passes with one).
    "hold": {"kind": "none"},
    "expiry": {"policies": [{"kind": "fixed", "months": 24, "round_to": "month"}]},
    "warning_days": 30,
    "rules": {
        "timezone": "Europe/Paris",
        "rules": [
            {"id": "base", "kind": "spend", "rate": "1", "lines": {"exclude_skus": ["GIFTCARD"]}},
            {
                "id": "basket-bonus",
                "kind": "threshold",
                "steps": [{"min_minor": 10000, "points": 50}, {"min_minor": 20000, "points": 150}],
            },
            {
                "id": "black-friday",
                "kind": "multiplier",
                "factor": "2",
                "dates": [
                    {"first": "2024-11-29", "last": "2024-11-29"},
                    {"first": "2025-11-28", "last": "2025-11-28"},
                    {"first": "2026-11-27", "last": "2026-11-27"},
                ],
            },
            {"id": "signup", "kind": "event", "event": "customer.signed_up", "points": 100},
            {"id": "review", "kind": "event", "event": "review.posted", "points": 20},
            {"id": "share", "kind": "event", "event": "social.shared", "points": 10},
            {"id": "survey", "kind": "event", "event": "survey.answered", "points": 15},
        ],
    },
    "ladder": {
        "code": "club",
        "name": "Club tiers",
        "basis": "points",
        "window": {"kind": "calendar_year"},
        "levels": [
            {"code": "member", "name": "Member", "threshold": 0},
            {
                "code": "silver",
                "name": "Silver",
                "threshold": 1000,
                "benefits": {"earn_multiplier": "1.25"},
            },
            {
                "code": "gold",
                "name": "Gold",
                "threshold": 3000,
                "benefits": {"earn_multiplier": "1.5", "free_shipping": True},
            },
        ],
    },
}
