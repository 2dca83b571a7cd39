"""Ready-made journeys, as data (the same JSON an operator would publish). Installed with
``fidela journey install-library``; each can then be edited and republished as a new version.

Templates are named by code (``cart-reminder``...): the engagement templates of that code, per
channel and language, must exist before the journey is activated.
"""

from __future__ import annotations

from typing import Any

WELCOME: dict[str, Any] = {
    "code": "welcome",
    "name": "Welcome series",
    "trigger": {"event": "customer.signed_up"},
    "reentry": "once",
    "steps": [
        {"id": "welcome", "type": "send", "channel": "email", "template": "welcome-1"},
        {"id": "wait-2-days", "type": "wait", "days": 2, "at": "10:00"},
        {"id": "programme", "type": "send", "channel": "email", "template": "welcome-2"},
        {"id": "wait-5-days", "type": "wait", "days": 5, "at": "10:00"},
        {"id": "first-reward", "type": "send", "channel": "preferred", "template": "welcome-3"},
    ],
}

ABANDONED_CART: dict[str, Any] = {
    "code": "abandoned-cart",
    "name": "Abandoned cart",
    "trigger": {"event": "cart.abandoned", "entry_key": "cart_id"},
    "reentry": "after_exit",
    "goal": {"event": "order.completed"},
    "steps": [
        {"id": "wait-1-hour", "type": "wait", "duration": {"hours": 1}},
        {
            "id": "email",
            "type": "send",
            "channel": "email",
            "template": "cart-reminder",
            "context": {"offer_code": "CART10"},
            "expires_after": {"days": 2},
        },
        {"id": "wait-next-day", "type": "wait", "days": 1, "at": "10:00"},
        {
            "id": "sms",
            "type": "send",
            "channel": "sms",
            "template": "cart-reminder-sms",
            "expires_after": {"hours": 12},
        },
    ],
}

BIRTHDAY: dict[str, Any] = {
    "code": "birthday",
    "name": "Birthday",
    # Triggered by the hourly birthday job on the customer's local birthday.
    "trigger": {"event": "customer.birthday", "entry_key": "year"},
    "reentry": "once_per_key",
    "steps": [
        {"id": "gift", "type": "award_points", "points": 100},
        {"id": "wish", "type": "send", "channel": "preferred", "template": "birthday"},
    ],
}

POINTS_EXPIRING: dict[str, Any] = {
    # Triggered by the loyalty job's ``points.expiring`` warning (``days_left`` is added when
    # the warning is received): a notice a month ahead, a last one a week ahead.
    "code": "points-expiring",
    "name": "Points expiring in 30 and 7 days",
    "trigger": {"event": "points.expiring", "entry_key": "lot_id"},
    "reentry": "after_exit",
    "steps": [
        {
            "id": "which-notice",
            "type": "branch",
            "condition": {"field": "event.days_left", "op": "lte", "value": 7},
            "then": "last-week",
            "else": "month",
        },
        {"id": "month", "type": "send", "channel": "email", "template": "points-expiring-30"},
        {"id": "until-last-week", "type": "wait", "days": 23, "at": "10:00"},
        {
            "id": "last-week",
            "type": "send",
            "channel": "preferred",
            "template": "points-expiring-7",
        },
    ],
}

TIER_CHANGED: dict[str, Any] = {
    "code": "tier-changed",
    "name": "Tier upgrade congratulation and downgrade warning",
    "trigger": {"event": "tier.changed", "entry_key": "at"},
    "reentry": "always",
    "steps": [
        {
            "id": "direction",
            "type": "branch",
            "condition": {"field": "event.outcome", "op": "eq", "value": "upgrade"},
            "then": "congratulate",
            "else": "warn-or-stop",
        },
        {
            "id": "congratulate",
            "type": "send",
            "channel": "preferred",
            "template": "tier-upgrade",
            "next": "end",
        },
        {
            "id": "warn-or-stop",
            "type": "branch",
            "condition": {"field": "event.outcome", "op": "in", "value": ["downgrade", "grace"]},
            "then": "warn",
            "else": "end",
        },
        {"id": "warn", "type": "send", "channel": "email", "template": "tier-downgrade-warning"},
        {"id": "end", "type": "exit"},
    ],
}

CROSS_SELL: dict[str, Any] = {
    "code": "post-purchase-cross-sell",
    "name": "Post-purchase cross-sell",
    "trigger": {"event": "order.completed"},
    "reentry": "after_exit",
    "goal": {"event": "order.completed"},
    "steps": [
        {"id": "wait-3-days", "type": "wait", "days": 3, "at": "11:00"},
        {"id": "recommend", "type": "send", "channel": "email", "template": "cross-sell"},
    ],
}

WIN_BACK: dict[str, Any] = {
    "code": "win-back",
    "name": "Win-back for high churn risk",
    "trigger": {"segment": "high-churn-risk"},
    "reentry": "after_exit",
    "goal": {"event": "order.completed"},
    "steps": [
        {
            "id": "offer",
            "type": "send",
            "channel": "preferred",
            "template": "win-back-offer",
            "context": {"offer": "WINBACK15"},
        },
        {
            "id": "high-value",
            "type": "branch",
            "condition": {"field": "profile.value_segment", "op": "in", "value": ["high", "top"]},
            "then": "advisor",
            "else": "wait-order",
        },
        {
            "id": "advisor",
            "type": "task",
            "kind": "call",
            "due_in": {"days": 3},
            "note": "High-value customer at risk of churning: call with the win-back offer",
        },
        {
            "id": "wait-order",
            "type": "wait_event",
            "event": "order.completed",
            "timeout": {"days": 14},
            "on_event": "end",
            "on_timeout": "reminder",
        },
        {"id": "reminder", "type": "send", "channel": "email", "template": "win-back-reminder"},
        {"id": "end", "type": "exit"},
    ],
}

CSAT: dict[str, Any] = {
    "code": "csat",
    "name": "CSAT after a support interaction",
    "trigger": {"event": "support.interaction"},
    "reentry": "always",
    "marketing": False,
    "steps": [
        {"id": "wait-2-hours", "type": "wait", "duration": {"hours": 2}},
        {
            "id": "survey",
            "type": "send",
            "channel": "email",
            "template": "csat-survey",
            "expires_after": {"days": 3},
        },
    ],
}

APP_TUTORIAL: dict[str, Any] = {
    "code": "app-tutorial",
    "name": "App welcome tutorial",
    "trigger": {"event": "app.opened"},
    "reentry": "once",
    "steps": [
        {"id": "basics", "type": "send", "channel": "in_app", "template": "app-tutorial-1"},
        {"id": "wait-1-day", "type": "wait", "days": 1, "at": "18:00"},
        {"id": "rewards", "type": "send", "channel": "push", "template": "app-tutorial-2"},
    ],
}

UNUSUAL_TRANSACTION: dict[str, Any] = {
    "code": "unusual-transaction-alert",
    "name": "Unusual transaction alert by SMS",
    # A custom event (register its JSON schema) sent by the fraud detector or the bank.
    "trigger": {"event": "custom.transaction_unusual"},
    "reentry": "always",
    "marketing": False,
    "steps": [
        {
            "id": "alert",
            "type": "send",
            "channel": "sms",
            "template": "unusual-transaction",
            "transactional": True,
            "expires_after": {"hours": 6},
        },
    ],
}

LIBRARY: tuple[dict[str, Any], ...] = (
    WELCOME,
    ABANDONED_CART,
    BIRTHDAY,
    POINTS_EXPIRING,
    TIER_CHANGED,
    CROSS_SELL,
    WIN_BACK,
    CSAT,
    APP_TUTORIAL,
    UNUSUAL_TRANSACTION,
)
