"""Load rewards, charities and pledges from their JSON form.

Every problem is collected, each with its JSON pointer (``/terms/value_minor``), so an operator
fixes an entry in one pass. Unknown keys are refused: a misspelt ``"stok"`` must not silently
make a reward unlimited. Money is ``*_minor`` integers plus one ``currency``; decimals (rates,
percentages) are strings or integers, a JSON float is read through its shortest text.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import TypeVar

from fidela.kernel.decimals import read_decimal
from fidela.kernel.errors import FieldProblem
from fidela.kernel.money import KNOWN_CURRENCIES, Money
from fidela.reward.rules.catalogue import (
    Experience,
    ExperienceKind,
    FixedValue,
    FreeProduct,
    FreeShipping,
    LimitPeriod,
    MemberLimit,
    PercentOff,
    PointsToMoney,
    Reward,
    RewardKind,
    Terms,
    Visibility,
    VoucherSpec,
)
from fidela.reward.rules.charity import Charity, Pledge
from fidela.reward.rules.errors import InvalidCharity, InvalidReward

_E = TypeVar("_E", bound=StrEnum)


class _Reader:
    """Reads one JSON object, collecting every problem with its pointer instead of stopping."""

    def __init__(self, data: object, pointer: str, problems: list[FieldProblem]) -> None:
        self.pointer, self.problems = pointer, problems
        self.data: Mapping[str, object] = data if isinstance(data, Mapping) else {}
        self.seen: set[str] = set()
        if not isinstance(data, Mapping):
            problems.append(FieldProblem(pointer or "/", "expected an object"))

    def bad(self, key: str, message: str) -> None:
        self.problems.append(FieldProblem(f"{self.pointer}/{key}", message))

    def get(self, key: str, required: bool = False) -> object:
        self.seen.add(key)
        value = self.data.get(key)
        if value is None and required:
            self.bad(key, "required")
        return value

    def text(self, key: str, default: str | None = None) -> str:
        value = self.get(key, required=default is None)
        if value is None:
            return default or ""
        if not isinstance(value, str):
            self.bad(key, "expected a string")
            return ""
        return value

    def integer(self, key: str, default: int | None = None) -> int:
        value = self.get(key, required=default is None)
        if value is None:
            return default or 0
        if isinstance(value, bool) or not isinstance(value, int):
            self.bad(key, "expected an integer")
            return 0
        return value

    def optional_integer(self, key: str) -> int | None:
        return None if self.get(key) is None else self.integer(key)

    def decimal(self, key: str) -> Decimal:
        value = self.get(key, required=True)
        if value is None:
            return Decimal(1)
        try:
            return read_decimal(value)
        except ValueError as exc:
            self.bad(key, str(exc))
            return Decimal(1)

    def choice(self, key: str, kind: type[_E], default: _E | None = None) -> _E:
        value = self.get(key, required=default is None)
        fallback = default if default is not None else next(iter(kind))
        if value is None:
            return fallback
        try:
            if isinstance(value, str):
                return kind(value)
        except ValueError:
            pass
        self.bad(key, f"one of {', '.join(item.value for item in kind)}")
        return fallback

    def instant(self, key: str, required: bool = False) -> datetime | None:
        value = self.get(key, required=required)
        if value is None:
            return None
        if isinstance(value, str):
            try:
                value = datetime.fromisoformat(value)
            except ValueError:
                self.bad(key, "an ISO 8601 instant, e.g. 2026-05-01T09:00:00+02:00")
                return None
        if not isinstance(value, datetime) or value.utcoffset() is None:
            self.bad(key, "an ISO 8601 instant with its offset")
            return None
        return value

    def codes(self, key: str) -> frozenset[str]:
        value = self.get(key)
        if value is None:
            return frozenset()
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            self.bad(key, "expected a list of strings")
            return frozenset()
        return frozenset(value)

    def currency(self, key: str = "currency", required: bool = True) -> str | None:
        value = self.get(key, required=required)
        if value is None:
            return None
        if not isinstance(value, str) or value.strip().upper() not in KNOWN_CURRENCIES:
            self.bad(key, "an ISO 4217 currency code")
            return None
        return value.strip().upper()

    def money(self, key: str, currency: str | None, required: bool = False) -> Money | None:
        """``{key}`` in minor units of ``currency``; None when absent."""
        value = self.get(key, required=required)
        if value is None:
            return None
        minor = self.integer(key)
        if currency is None:
            pointer = f"{self.pointer}/currency"
            if not any(problem.pointer == pointer for problem in self.problems):
                self.bad("currency", f"required with {key}")
            return None
        return Money(minor, currency)

    def child(self, key: str, required: bool = False) -> _Reader | None:
        value = self.get(key, required=required)
        return None if value is None else _Reader(value, f"{self.pointer}/{key}", self.problems)

    def finish(self) -> None:
        for key in sorted(set(self.data) - self.seen):
            self.bad(str(key), "unknown field")


def load_reward(data: Mapping[str, object]) -> Reward:
    """Build a catalogue entry; raises `InvalidReward` with every problem and its pointer."""
    problems: list[FieldProblem] = []
    root = _Reader(data, "", problems)
    known = len(problems)
    kind = root.choice("kind", RewardKind)
    terms: Terms | None = None
    if len(problems) > known:  # unknown kind: its terms cannot be read, only reported once
        root.get("terms")
    else:
        terms_reader = root.child("terms", required=kind is not RewardKind.FREE_SHIPPING)
        terms = _terms(kind, terms_reader or _Reader({}, "/terms", problems))
    stock = root.optional_integer("stock")
    if stock is None and isinstance(terms, Experience):
        stock = terms.capacity  # a new experience has all its seats
    limit_reader = root.child("member_limit")
    limit = None
    if limit_reader is not None:
        limit = MemberLimit(
            count=limit_reader.integer("count"),
            period=limit_reader.choice("period", LimitPeriod, LimitPeriod.EVER),
            timezone=limit_reader.text("timezone", "UTC"),
        )
        limit_reader.finish()
    visibility = Visibility()
    visibility_reader = root.child("visibility")
    if visibility_reader is not None:
        visibility = Visibility(
            tiers=visibility_reader.codes("tiers"),
            segments=visibility_reader.codes("segments"),
            tags=visibility_reader.codes("tags"),
        )
        visibility_reader.finish()
    voucher = None
    voucher_reader = root.child("voucher")
    if voucher_reader is not None:
        voucher = VoucherSpec(
            prefix=voucher_reader.text("prefix", ""),
            length=voucher_reader.integer("length", 8),
            valid_days=voucher_reader.optional_integer("valid_days"),
        )
        voucher_reader.finish()
    code, name = root.text("code"), root.text("name")
    cost = root.integer("cost_points", 0 if kind is RewardKind.PAY_WITH_POINTS else None)
    available_from, available_until = (
        root.instant("available_from"),
        root.instant("available_until"),
    )
    root.finish()
    if problems or terms is None:
        raise InvalidReward(_summary(problems), problems)
    return Reward(
        code=code,
        name=name,
        terms=terms,
        cost_points=cost,
        stock=stock,
        member_limit=limit,
        available_from=available_from,
        available_until=available_until,
        visibility=visibility,
        voucher=voucher,
    )


def _terms(kind: RewardKind, reader: _Reader) -> Terms | None:
    """The kind's terms; None when a part is missing (its problem is recorded)."""
    terms: Terms | None = None
    if kind is RewardKind.FIXED_VOUCHER:
        currency = reader.currency()
        value = reader.money("value_minor", currency, required=True)
        min_order = reader.money("min_order_minor", currency)
        terms = FixedValue(value, min_order) if value else None
    elif kind is RewardKind.PERCENT_VOUCHER:
        currency = reader.currency(required=False)
        percent = reader.decimal("percent")
        max_discount = reader.money("max_discount_minor", currency)
        terms = PercentOff(percent, max_discount, reader.money("min_order_minor", currency))
    elif kind is RewardKind.PAY_WITH_POINTS:
        currency = reader.currency()
        rate = reader.decimal("value_per_point")
        minimum, step = reader.integer("minimum_points"), reader.integer("step_points", 1)
        maximum = reader.optional_integer("maximum_points")
        terms = PointsToMoney(currency, rate, minimum, step, maximum) if currency else None
    elif kind is RewardKind.FREE_SHIPPING:
        terms = FreeShipping(reader.money("max_value_minor", reader.currency(required=False)))
    elif kind is RewardKind.FREE_PRODUCT:
        currency = reader.currency(required=False)
        terms = FreeProduct(reader.text("sku"), reader.money("value_minor", currency))
    else:
        experience_kind = reader.choice("type", ExperienceKind)
        starts_at = reader.instant("starts_at", required=True)
        ends_at = reader.instant("ends_at", required=True)
        capacity = reader.integer("capacity")
        cutoff = reader.integer("cancel_cutoff_hours", 48)
        location = reader.text("location", "")
        if starts_at and ends_at:
            terms = Experience(experience_kind, starts_at, ends_at, capacity, cutoff, location)
    reader.finish()
    return terms


def load_charity(data: Mapping[str, object]) -> Charity:
    """Build a charity; raises `InvalidCharity` with every problem and its pointer."""
    problems: list[FieldProblem] = []
    root = _Reader(data, "", problems)
    code, name, currency = root.text("code"), root.text("name"), root.currency()
    rate = root.decimal("value_per_point")
    minimum, multiple = root.integer("minimum_points", 1), root.integer("multiple_of", 1)
    daily = root.optional_integer("daily_limit_points")
    timezone = root.text("timezone", "UTC")
    root.finish()
    if problems or currency is None:
        raise InvalidCharity(_summary(problems), problems)
    return Charity(code, name, currency, rate, minimum, multiple, daily, timezone)


def load_pledge(data: Mapping[str, object]) -> Pledge:
    """Build a pledge; raises `InvalidCharity` with every problem and its pointer."""
    problems: list[FieldProblem] = []
    root = _Reader(data, "", problems)
    code, charity, impact = root.text("code"), root.text("charity"), root.text("impact")
    units = root.integer("units_per_order", 1)
    currency = root.currency()
    unit_cost = root.money("unit_cost_minor", currency, required=True)
    per_amount = root.money("per_amount_minor", currency)
    min_order = root.money("min_order_minor", currency)
    budget = root.money("budget_minor", currency)
    available_from, available_until = (
        root.instant("available_from"),
        root.instant("available_until"),
    )
    root.finish()
    if problems or unit_cost is None:
        raise InvalidCharity(_summary(problems), problems)
    return Pledge(
        code,
        charity,
        impact,
        units,
        unit_cost,
        per_amount,
        min_order,
        budget,
        available_from,
        available_until,
    )


def _summary(problems: list[FieldProblem]) -> str:
    return "; ".join(f"{problem.pointer}: {problem.message}" for problem in problems)
