"""Hand-built operational rows for the analytics tests (inserted directly: the analytics read
tables, and the answers below are computed by hand from these rows)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import count
from typing import Any

from sqlalchemy import Connection, insert

from fidela.commerce.models import SalesOrder, SalesOrderLine
from fidela.customer.models import Customer
from fidela.event.models import Event
from fidela.ledger.models import LedgerAccount, LedgerEntry
from fidela.loyalty.models import LoyaltyProgramme

_ids = count(1)


def at(text: str) -> datetime:
    """``2026-01-05`` or ``2026-01-05T10:00`` as an aware UTC datetime."""
    value = datetime.fromisoformat(text)
    return value.replace(tzinfo=UTC)


@dataclass
class Seed:
    """Rows to insert. Customer keys are small labels mapped to database ids on insert."""

    customers: dict[str, str] = field(default_factory=dict)  # label -> joined (ISO)
    orders: list[tuple[str, str, int, str]] = field(default_factory=list)  # who, at, minor, ch
    events: list[tuple[str, str, str, str | None]] = field(default_factory=list)  # who,type,at,ch
    ledger: list[tuple[str, str, int, str]] = field(default_factory=list)  # who, kind, points, at
    ids: dict[str, int] = field(default_factory=dict)
    data: dict[int, dict[str, object]] = field(default_factory=dict)  # event index -> data
    programmes: dict[str, tuple[str, str]] = field(default_factory=dict)  # code -> cost, cur
    opened: dict[tuple[str, str], str] = field(default_factory=dict)  # (who, prog.) -> at
    programme_of: dict[int, str] = field(default_factory=dict)  # ledger index -> programme

    def customer(self, label: str, joined: str) -> Seed:
        self.customers[label] = joined
        return self

    def order(self, label: str, when: str, minor: int, channel: str = "store") -> Seed:
        self.orders.append((label, when, minor, channel))
        return self

    def event(self, label: str, type_: str, when: str, channel: str | None = "web") -> Seed:
        self.events.append((label, type_, when, channel))
        return self

    def survey(self, label: str, score: int, when: str, survey: str = "nps") -> Seed:
        """A ``survey.answered`` event (no channel: surveys carry none)."""
        self.data[len(self.events)] = {"survey": survey, "score": score}
        return self.event(label, "survey.answered", when, None)

    def support(
        self, label: str, when: str, *, complaint: bool = False, resolved: bool | None = None
    ) -> Seed:
        """A ``support.interaction`` event by chat, a complaint or not."""
        data: dict[str, object] = {"topic": "delivery", "complaint": complaint}
        if resolved is not None:
            data["resolved"] = resolved
        self.data[len(self.events)] = data
        return self.event(label, "support.interaction", when, "chat")

    def points(
        self, label: str, kind: str, points: int, when: str, programme: str = "main"
    ) -> Seed:
        self.programme_of[len(self.ledger)] = programme
        self.ledger.append((label, kind, points, when))
        return self

    def enrol(self, label: str, when: str, programme: str = "main") -> Seed:
        """Open the member's ledger account at ``when`` (by default accounts open on
        2026-01-01, whatever their entries)."""
        self.opened[(label, programme)] = when
        return self

    def programme(self, code: str, cost_per_point: str, currency: str = "EUR") -> Seed:
        self.programmes[code] = (cost_per_point, currency)
        return self

    def insert(self, connection: Connection) -> dict[str, int]:
        now = at("2026-01-01")
        for label, joined in self.customers.items():
            result = connection.execute(
                insert(Customer).values(
                    status="active",
                    signup_at=at(joined),
                    tags={},
                    attributes={},
                    profiling_restricted=False,
                    created_at=at(joined),
                    updated_at=at(joined),
                    version=1,
                )
            )
            self.ids[label] = _key(result.inserted_primary_key)
        for label, when, minor, channel in self.orders:
            number = next(_ids)
            order_id = connection.execute(
                insert(SalesOrder).values(
                    customer_id=self.ids[label],
                    source="test",
                    external_id=f"o{number}",
                    channel=channel,
                    currency="EUR",
                    subtotal_minor=minor,
                    shipping_minor=0,
                    discount_minor=0,
                    total_minor=minor,
                    points_redeemed=0,
                    paid_with_points_minor=0,
                    returned_minor=0,
                    status="completed",
                    payments=[],
                    ordered_at=at(when),
                    created_at=at(when),
                )
            ).inserted_primary_key
            connection.execute(
                insert(SalesOrderLine).values(
                    order_id=_key(order_id),
                    line_no=1,
                    product_id="P1",
                    category="shoes",
                    quantity=1,
                    unit_price_minor=minor,
                    discount_minor=0,
                    amount_minor=minor,
                    returned_quantity=0,
                    returned_minor=0,
                )
            )
        for code, (cost, currency) in self.programmes.items():
            connection.execute(
                insert(LoyaltyProgramme).values(
                    code=code,
                    name=code,
                    currency=currency,
                    cost_per_point_minor=cost,
                    return_policy="within_balance",
                    hold={"kind": "none"},
                    expiry={"policies": []},
                    warning_days=30,
                    active=True,
                    rule_set_version=0,
                    ladder_version=0,
                    version=1,
                    revision=code,
                    created_at=now,
                    updated_at=now,
                )
            )
        for index, (label, type_, when, event_channel) in enumerate(self.events):
            data: dict[str, object] = {} if event_channel is None else {"channel": event_channel}
            data.update(self.data.get(index, {}))
            connection.execute(
                insert(Event).values(
                    source="test",
                    external_id=f"e{next(_ids)}",
                    type=type_,
                    customer_id=self.ids[label],
                    occurred_at=at(when),
                    received_at=at(when),
                    data=data,
                )
            )
        accounts: dict[tuple[str, str], int] = {}

        def account(label: str, programme: str) -> int:
            if (label, programme) not in accounts:
                opened = at(self.opened.get((label, programme), "2026-01-01"))
                accounts[(label, programme)] = _key(
                    connection.execute(
                        insert(LedgerAccount).values(
                            customer_id=self.ids[label],
                            programme=programme,
                            available=0,
                            pending=0,
                            debt=0,
                            version=1,
                            created_at=opened,
                            updated_at=opened,
                        )
                    ).inserted_primary_key
                )
            return accounts[(label, programme)]

        for label, programme in self.opened:
            account(label, programme)
        for index, (label, kind, points, when) in enumerate(self.ledger):
            connection.execute(
                insert(LedgerEntry).values(
                    account_id=account(label, self.programme_of[index]),
                    kind=kind,
                    bucket="active",
                    points=points,
                    at=at(when),
                    recorded_at=at(when),
                )
            )
        return self.ids


def _key(primary_key: Any) -> int:
    return int(primary_key[0])


def labels(ids: dict[str, int], rows: Iterable[dict[str, object]]) -> dict[str, dict[str, object]]:
    """Rows keyed by customer label instead of database id."""
    by_id = {value: key for key, value in ids.items()}
    return {by_id[int(str(row["customer_id"]))]: row for row in rows}
