"""How a file's rows become customers and events.

Concepts:
- A **mapping** renames the file's columns to ours (``--map email=mail``); unmapped columns
  keep their names.
- A **customer row** carries profile fields, identities (email, phone, loyalty card, device,
  and the row's id as an external id in the import's source), consent flags
  (``consent_<channel>_marketing``, ``consent_profiling``, ``consent_analytics``) and custom
  attributes (``attribute.<name>`` columns, read as the attribute's declared type: a CSV's
  text is parsed, a Parquet file's typed values are taken as they are).
- An **order** is one orders row plus its lines (a second file, lines grouped by order id in
  the same order as the orders), sent as an ``order.completed`` event whose business key is
  (source, order id): re-importing the same file is a replay and changes nothing.
- **Activity** tables (sessions, emails, support, surveys, reviews, shares, referrals) become
  catalogue events by fixed presets, each with a stable external id derived from the row's id.

Invariants: a row either converts completely or is reported with the column at fault; rows
never depend on each other except an order on its own lines.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from fidela.customer.rules import AttributeType
from fidela.kernel.errors import FieldProblem, InvalidInput

PROFILE_COLUMNS = (
    "first_name", "last_name", "gender", "birth_date", "city", "country", "language",
    "timezone", "preferred_channel", "signup_at", "signup_channel",
)  # fmt: skip
CONSENT_COLUMNS: dict[str, tuple[str, str]] = {
    "consent_email_marketing": ("email", "marketing"),
    "consent_sms_marketing": ("sms", "marketing"),
    "consent_push_marketing": ("push", "marketing"),
    "consent_postal_marketing": ("postal", "marketing"),
    "consent_profiling": ("any", "profiling"),
    "consent_analytics": ("any", "analytics"),
}


ATTRIBUTE_PREFIX = "attribute."


class RowInvalid(InvalidInput):
    code = "import_row_invalid"
    title = "This row cannot be imported"


def parse_mapping(pairs: Iterable[str]) -> dict[str, str]:
    """``["email=mail", ...]`` -> {our field: their column}."""
    mapping = {}
    for pair in pairs:
        ours, sep, theirs = pair.partition("=")
        if not sep or not ours.strip() or not theirs.strip():
            raise InvalidInput(
                f"mapping '{pair}' must look like our_field=their_column",
                [FieldProblem("/map", "our_field=their_column")],
            )
        mapping[ours.strip()] = theirs.strip()
    return mapping


def remap(row: Mapping[str, Any], mapping: Mapping[str, str]) -> dict[str, Any]:
    """The row with our field names (mapped columns renamed, the others kept)."""
    if not mapping:
        # The usual import: a plain copy (C) rather than a comprehension over every column,
        # for the order, its key and each of its lines.
        return dict(row)
    renamed = {theirs: ours for ours, theirs in mapping.items()}
    return {renamed.get(column, column): value for column, value in row.items()}


def text(value: Any) -> str | None:
    if type(value) is str:  # most cells: the checks below cost more than the strip
        return value.strip() or None
    if value is None:
        return None
    if isinstance(value, float) and value != value:  # NaN from a CSV's empty cell
        return None
    clean = str(value).strip()
    return clean or None


def instant(value: Any, column: str) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        parsed = value
    else:
        try:
            parsed = datetime.fromisoformat(str(value).strip().replace(" ", "T", 1))
        except ValueError:
            raise RowInvalid(
                f"'{value}' is not a date-time", [FieldProblem(f"/{column}", "not ISO 8601")]
            ) from None
    if parsed.tzinfo is None:
        raise RowInvalid(
            f"'{value}' has no timezone", [FieldProblem(f"/{column}", "give a UTC offset or Z")]
        )
    return parsed.astimezone(UTC)


def day(value: Any, column: str) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip()[:10])
    except ValueError:
        raise RowInvalid(
            f"'{value}' is not a date", [FieldProblem(f"/{column}", "not YYYY-MM-DD")]
        ) from None


def flag(value: Any, column: str) -> bool | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value
    lowered = str(value).strip().lower()
    if lowered in {"true", "1", "yes", "y", "t"}:
        return True
    if lowered in {"false", "0", "no", "n", "f"}:
        return False
    raise RowInvalid(f"'{value}' is not a boolean", [FieldProblem(f"/{column}", "true or false")])


def whole(value: Any, column: str) -> int | None:
    if type(value) is int:  # a Parquet integer column's cells
        return value
    if value is None or value == "":
        return None
    try:
        number = int(str(value).strip()) if not isinstance(value, int) else value
    except ValueError:
        raise RowInvalid(
            f"'{value}' is not an integer", [FieldProblem(f"/{column}", "not an integer")]
        ) from None
    return number


def number(value: Any, column: str) -> int | float | None:
    if value is None or value == "" or (isinstance(value, float) and value != value):
        return None  # NaN is how a Parquet file or a CSV reader says "empty"
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    try:
        parsed = value if isinstance(value, float) else float(str(value).strip())
    except ValueError:
        parsed = math.nan
    if not math.isfinite(parsed):  # JSON has no infinity, and a typo is not a number
        raise RowInvalid(f"'{value}' is not a number", [FieldProblem(f"/{column}", "not a number")])
    return int(parsed) if parsed.is_integer() and "." not in str(value) else parsed


def attribute_value(value: Any, column: str, kind: AttributeType | None) -> Any:
    """A cell of an ``attribute.<name>`` column in the JSON form its declared ``kind`` takes
    (None: empty). An attribute nobody declared keeps the cell's text; the profile check
    then reports it as undeclared."""
    if kind is None or kind is AttributeType.STRING:
        return text(value)
    if kind is AttributeType.INTEGER:
        return whole(value, column)
    if kind is AttributeType.NUMBER:
        return number(value, column)
    if kind is AttributeType.BOOLEAN:
        return flag(value, column)
    if kind is AttributeType.DATE:
        parsed_day = day(value, column)
        return None if parsed_day is None else parsed_day.isoformat()
    parsed_instant = instant(value, column)
    return None if parsed_instant is None else parsed_instant.isoformat()


def require(row: Mapping[str, Any], column: str) -> str:
    value = text(row.get(column))
    if value is None:
        raise RowInvalid(f"column '{column}' is empty", [FieldProblem(f"/{column}", "required")])
    return value


@dataclass(frozen=True)
class CustomerRow:
    external_id: str
    profile: dict[str, Any]
    identities: dict[str, Any]
    consents: list[tuple[str, str, bool]]
    consent_at: datetime | None
    tags: dict[str, list[str]] = field(default_factory=dict)
    attributes: dict[str, Any] = field(default_factory=dict)


def customer_row(
    row: Mapping[str, Any], source: str, attributes: Mapping[str, AttributeType] | None = None
) -> CustomerRow:
    """The row as profile, identities, consents and custom attributes (``attributes``: the
    declared type of each attribute, by name)."""
    external_id = require(row, "customer_id")
    profile: dict[str, Any] = {}
    for column in PROFILE_COLUMNS:
        if column == "birth_date":
            profile[column] = day(row.get(column), column)
        elif column == "signup_at":
            profile[column] = instant(row.get(column), column)
        else:
            profile[column] = text(row.get(column))
    if profile.get("gender") not in (None, "female", "male", "other", "unknown"):
        raise RowInvalid(
            f"unknown gender '{profile['gender']}'",
            [FieldProblem("/gender", "female, male, other or unknown")],
        )
    identities: dict[str, Any] = {
        "email": text(row.get("email")),
        "phone": text(row.get("phone")),
        "card": text(row.get("loyalty_card")),
        "device_ids": [d for d in [text(row.get("device_id"))] if d],
        "external_ids": [{"source": source, "id": external_id}],
    }
    consents = [
        (channel, purpose, granted)
        for column, (channel, purpose) in CONSENT_COLUMNS.items()
        if (granted := flag(row.get(column), column)) is not None
    ]
    interests = text(row.get("interests"))
    tags = {"interests": [t for t in interests.split(";") if t.strip()]} if interests else {}
    declared = attributes or {}
    custom = {
        name: value
        for column, cell in row.items()
        if column.startswith(ATTRIBUTE_PREFIX)
        for name in [column.removeprefix(ATTRIBUTE_PREFIX)]
        if (value := attribute_value(cell, column, declared.get(name))) is not None
    }
    return CustomerRow(
        external_id,
        {k: v for k, v in profile.items() if v is not None},
        identities,
        consents,
        profile.get("signup_at"),
        tags,
        custom,
    )


def _customer_ref(
    row: Mapping[str, Any], source: str, column: str = "customer_id"
) -> dict[str, Any] | None:
    customer = text(row.get(column))
    if customer is None:
        return None
    return {"external_ids": [{"source": source, "id": customer}]}


def order_event(
    order: Mapping[str, Any], lines: list[Mapping[str, Any]], source: str
) -> dict[str, Any]:
    """An ``order.completed`` event from an orders row and its lines."""
    order_id = require(order, "order_id")
    if not lines:
        raise RowInvalid(
            f"order {order_id} has no lines",
            [FieldProblem("/order_id", "no lines in the lines file")],
        )
    points = whole(order.get("points_redeemed"), "points_redeemed") or 0
    total = whole(order.get("total_minor"), "total_minor")
    payment = text(order.get("payment_method")) or "card"
    # With points, 1 point pays 1 minor unit unless the file says otherwise (demo convention).
    points_value = min(points, total or 0)
    payments: list[dict[str, Any]] = []
    if points_value:
        payments.append({"method": "points", "amount_minor": points_value, "points": points})
    if total is not None and total - points_value > 0 and payment != "points":
        payments.append({"method": "card", "amount_minor": total - points_value})
    return {
        "type": "order.completed",
        "source": source,
        "external_id": order_id,
        "occurred_at": _iso(instant(order.get("ordered_at"), "ordered_at"), "ordered_at"),
        "customer": _customer_ref(order, source),
        "data": {
            "currency": require(order, "currency"),
            "channel": text(order.get("channel")) or "store",
            "store_id": text(order.get("store_id")),
            "shipping_minor": whole(order.get("shipping_minor"), "shipping_minor") or 0,
            "discount_minor": whole(order.get("discount_minor"), "discount_minor") or 0,
            "total_minor": total,
            "payments": payments,
            "lines": [
                {
                    "line_no": whole(line.get("line_no"), "line_no"),
                    "product_id": require(line, "product_id"),
                    "sku": text(line.get("sku")),
                    "category": text(line.get("category")),
                    "quantity": whole(line.get("quantity"), "quantity"),
                    "unit_price_minor": whole(line.get("unit_price_minor"), "unit_price_minor"),
                }
                for line in lines
            ],
        },
    }


def _iso(value: datetime | None, column: str) -> str:
    if value is None:
        raise RowInvalid(f"column '{column}' is empty", [FieldProblem(f"/{column}", "required")])
    return value.isoformat()


def return_event(row: Mapping[str, Any], source: str) -> dict[str, Any]:
    line_no = whole(row.get("line_no"), "line_no")
    data: dict[str, Any] = {"order_id": require(row, "order_id"), "reason": text(row.get("reason"))}
    if line_no is not None:
        data["lines"] = [
            {"line_no": line_no, "quantity": whole(row.get("quantity"), "quantity") or 1}
        ]
    else:
        data["amount_minor"] = whole(row.get("amount_minor"), "amount_minor")
    return {
        "type": "order.returned",
        "source": source,
        "external_id": require(row, "return_id"),
        "occurred_at": _iso(instant(row.get("returned_at"), "returned_at"), "returned_at"),
        "data": {k: v for k, v in data.items() if v is not None},
    }


def _event(
    event_type: str,
    external_id: str,
    at: datetime | None,
    column: str,
    customer: dict[str, Any] | None,
    source: str,
    data: dict[str, Any],
) -> dict[str, Any]:
    return {
        "type": event_type,
        "source": source,
        "external_id": external_id,
        "occurred_at": _iso(at, column),
        "customer": customer,
        "data": {k: v for k, v in data.items() if v is not None},
    }


def session_events(row: Mapping[str, Any], source: str) -> list[dict[str, Any]]:
    """A session becomes its landing (page view or app open), a login and an abandoned cart
    when they happened."""
    session_id = require(row, "session_id")
    started = instant(row.get("started_at"), "started_at")
    customer = _customer_ref(row, source)
    channel = text(row.get("channel")) or "web"
    out = [
        _event(
            "app.opened",
            f"{session_id}:open",
            started,
            "started_at",
            customer,
            source,
            {"platform": "other", "session_id": session_id},
        )
        if channel == "app"
        else _event(
            "page.viewed",
            f"{session_id}:land",
            started,
            "started_at",
            customer,
            source,
            {"url": "/", "session_id": session_id, "channel": "web"},
        )
    ]
    if flag(row.get("login"), "login"):
        out.append(
            _event(
                "login",
                f"{session_id}:login",
                started,
                "started_at",
                customer,
                source,
                {
                    "channel": "app" if channel == "app" else "web",
                    "device_id": text(row.get("device_id")),
                },
            )
        )
    if flag(row.get("abandoned_cart"), "abandoned_cart"):
        value = whole(row.get("cart_value_minor"), "cart_value_minor") or 0
        out.append(
            _event(
                "cart.abandoned",
                f"{session_id}:cart",
                instant(row.get("ended_at"), "ended_at") or started,
                "ended_at",
                customer,
                source,
                {
                    "cart_id": session_id,
                    "currency": text(row.get("currency")) or "EUR",
                    "value_minor": value,
                    "channel": "app" if channel == "app" else "web",
                },
            )
        )
    return out


def email_events(row: Mapping[str, Any], source: str) -> list[dict[str, Any]]:
    message = require(row, "message_id")
    customer = _customer_ref(row, source)
    campaign = text(row.get("campaign_id"))
    out = []
    if (opened := instant(row.get("opened_at"), "opened_at")) is not None:
        out.append(
            _event(
                "email.opened",
                f"{message}:open",
                opened,
                "opened_at",
                customer,
                source,
                {"message_id": message, "campaign_id": campaign},
            )
        )
    if (clicked := instant(row.get("clicked_at"), "clicked_at")) is not None:
        out.append(
            _event(
                "email.clicked",
                f"{message}:click",
                clicked,
                "clicked_at",
                customer,
                source,
                {
                    "message_id": message,
                    "campaign_id": campaign,
                    "url": f"https://shop.example.com/c/{campaign}",
                },
            )
        )
    if (left := instant(row.get("unsubscribed_at"), "unsubscribed_at")) is not None:
        out.append(
            _event(
                "newsletter.unsubscribed",
                f"{message}:unsub",
                left,
                "unsubscribed_at",
                customer,
                source,
                {"reason": "email link"},
            )
        )
    return out


def support_events(row: Mapping[str, Any], source: str) -> list[dict[str, Any]]:
    minutes = whole(row.get("response_time_minutes"), "response_time_minutes")
    return [
        _event(
            "support.interaction",
            require(row, "interaction_id"),
            instant(row.get("occurred_at"), "occurred_at"),
            "occurred_at",
            _customer_ref(row, source),
            source,
            {
                "channel": require(row, "channel"),
                "topic": require(row, "topic"),
                "complaint": bool(flag(row.get("complaint"), "complaint")),
                "response_time_seconds": None if minutes is None else minutes * 60,
                "resolved": flag(row.get("resolved"), "resolved"),
            },
        )
    ]


def survey_events(row: Mapping[str, Any], source: str) -> list[dict[str, Any]]:
    return [
        _event(
            "survey.answered",
            require(row, "answer_id"),
            instant(row.get("answered_at"), "answered_at"),
            "answered_at",
            _customer_ref(row, source),
            source,
            {
                "survey": require(row, "survey"),
                "score": whole(row.get("score"), "score"),
                "comment": text(row.get("comment")),
                "language": text(row.get("language")),
            },
        )
    ]


def review_events(row: Mapping[str, Any], source: str) -> list[dict[str, Any]]:
    return [
        _event(
            "review.posted",
            require(row, "review_id"),
            instant(row.get("posted_at"), "posted_at"),
            "posted_at",
            _customer_ref(row, source),
            source,
            {
                "product_id": require(row, "product_id"),
                "rating": whole(row.get("rating"), "rating"),
                "title": text(row.get("title")),
                "body": text(row.get("body")),
                "language": text(row.get("language")),
                "order_id": text(row.get("order_id")),
            },
        )
    ]


def share_events(row: Mapping[str, Any], source: str) -> list[dict[str, Any]]:
    return [
        _event(
            "social.shared",
            require(row, "share_id"),
            instant(row.get("shared_at"), "shared_at"),
            "shared_at",
            _customer_ref(row, source),
            source,
            {"network": require(row, "network"), "product_id": text(row.get("product_id"))},
        )
    ]


def referral_events(row: Mapping[str, Any], source: str) -> list[dict[str, Any]]:
    referral = require(row, "referral_id")
    code = require(row, "code")
    out = [
        _event(
            "referral.invited",
            f"{referral}:invite",
            instant(row.get("created_at"), "created_at"),
            "created_at",
            _customer_ref(row, source, "referrer_id"),
            source,
            {"code": code},
        )
    ]
    referee = _customer_ref(row, source, "referee_id")
    signed_up = instant(row.get("signed_up_at"), "signed_up_at")
    if referee is not None and signed_up is not None:
        out.append(
            _event(
                "referral.signed_up",
                f"{referral}:signup",
                signed_up,
                "signed_up_at",
                referee,
                source,
                {"code": code},
            )
        )
    return out


def generic_events(row: Mapping[str, Any], source: str) -> list[dict[str, Any]]:
    """A file of events: type, external_id, occurred_at, optional source, customer columns
    (customer_id as an external id, or email / phone / card) and ``data`` as JSON text."""
    raw = row.get("data")
    try:
        data = json.loads(raw) if isinstance(raw, str) and raw.strip() else (raw or {})
    except json.JSONDecodeError as exc:
        raise RowInvalid(f"data is not JSON: {exc}", [FieldProblem("/data", "not JSON")]) from None
    customer = _customer_ref(row, text(row.get("source")) or source) or {}
    for column, key in (("email", "email"), ("phone", "phone"), ("card", "card")):
        if (value := text(row.get(column))) is not None:
            customer[key] = value
    return [
        {
            "type": require(row, "type"),
            "source": text(row.get("source")) or source,
            "external_id": require(row, "external_id"),
            "occurred_at": _iso(instant(row.get("occurred_at"), "occurred_at"), "occurred_at"),
            "customer": customer or None,
            "data": data,
        }
    ]


Preset = Callable[[Mapping[str, Any], str], list[dict[str, Any]]]
ACTIVITY_PRESETS: dict[str, Preset] = {
    "sessions": session_events,
    "email_events": email_events,
    "support_interactions": support_events,
    "survey_answers": survey_events,
    "reviews": review_events,
    "social_shares": share_events,
    "referrals": referral_events,
    "returns": lambda row, source: [return_event(row, source)],
    "events": generic_events,
}


class LineJoiner:
    """Pairs orders with their lines from a second stream in which each order's lines are
    contiguous (how exports and the demo generator write them). Groups read ahead of their
    order wait in a bounded buffer, so the two files need not be in exactly the same order;
    groups that no order asks for (orphan lines) are dropped once the buffer is full."""

    def __init__(self, lines: Iterable[Mapping[str, Any]], buffer_limit: int = 100_000) -> None:
        self._lines = iter(lines)
        self._complete: dict[str, list[Mapping[str, Any]]] = {}
        self._current_id: str | None = None
        self._current: list[Mapping[str, Any]] = []
        self._limit = buffer_limit
        self.dropped_groups = 0

    def _close_current(self) -> None:
        if self._current_id is not None:
            self._complete[self._current_id] = self._current
            while len(self._complete) > self._limit:
                self._complete.pop(next(iter(self._complete)))
                self.dropped_groups += 1
        self._current_id, self._current = None, []

    def lines_of(self, order_id: str) -> list[Mapping[str, Any]]:
        while order_id not in self._complete:
            line = next(self._lines, None)
            if line is None:
                self._close_current()
                break
            group = text(line.get("order_id"))
            if group != self._current_id:
                self._close_current()
                self._current_id = group
            self._current.append(line)
        return self._complete.pop(order_id, [])
