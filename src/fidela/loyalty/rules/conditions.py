"""Conditions: which lines a rule looks at, and who, where and when it applies.

- A :class:`LineFilter` selects eligible lines. Includes (categories, products) are OR-ed:
  a line matches when it is in one of the listed categories *or* one of the listed
  products; no include means every line. Excludes (SKUs, categories, products) always win.
- A :class:`Scope` restricts a rule to channels, stores, member tiers, an instant window
  (``valid_from`` included, ``valid_until`` excluded), local calendar date ranges and local
  weekday/hour windows. Empty means "no restriction"; several date ranges or hour windows
  are alternatives (any one matches).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from fidela.loyalty.rules.inputs import AttributeValue, OrderLine
from fidela.loyalty.rules.periods import DateRange, HourWindow


@dataclass(frozen=True)
class LineFilter:
    categories: frozenset[str] = frozenset()
    products: frozenset[str] = frozenset()
    exclude_skus: frozenset[str] = frozenset()
    exclude_categories: frozenset[str] = frozenset()
    exclude_products: frozenset[str] = frozenset()

    @property
    def is_open(self) -> bool:
        """True when the filter selects every line (and so may also apply to shipping)."""
        return not (
            self.categories
            or self.products
            or self.exclude_skus
            or self.exclude_categories
            or self.exclude_products
        )

    def matches(self, line: OrderLine) -> bool:
        if line.sku is not None and line.sku in self.exclude_skus:
            return False
        if line.category is not None and line.category in self.exclude_categories:
            return False
        if line.product_id in self.exclude_products:
            return False
        if not (self.categories or self.products):
            return True
        return line.product_id in self.products or (
            line.category is not None and line.category in self.categories
        )


@dataclass(frozen=True)
class AttributeMatch:
    """An event attribute must equal one of ``values`` (a missing attribute never matches)."""

    name: str
    values: tuple[AttributeValue, ...]

    def matches(self, attributes: Mapping[str, AttributeValue]) -> bool:
        if self.name not in attributes:
            return False
        value = attributes[self.name]
        # bool is an int in Python: keep True from matching 1 and False from matching 0.
        return any(type(value) is type(wanted) and value == wanted for wanted in self.values)


@dataclass(frozen=True)
class Situation:
    """Where and when an event happened, as the scope checks see it."""

    at: datetime  # the instant, timezone-aware
    local: datetime  # the same instant on the calendar's wall clock
    channel: str | None
    store_id: str | None
    tier: str | None


@dataclass(frozen=True)
class Scope:
    channels: frozenset[str] = frozenset()
    stores: frozenset[str] = frozenset()
    tiers: frozenset[str] = frozenset()
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    dates: tuple[DateRange, ...] = ()
    hours: tuple[HourWindow, ...] = ()

    def admits(self, situation: Situation) -> bool:
        if self.channels and situation.channel not in self.channels:
            return False
        if self.stores and situation.store_id not in self.stores:
            return False
        if self.tiers and situation.tier not in self.tiers:
            return False
        if self.valid_from is not None and situation.at < self.valid_from:
            return False
        if self.valid_until is not None and situation.at >= self.valid_until:
            return False
        if self.dates and not any(window.contains(situation.local) for window in self.dates):
            return False
        return not self.hours or any(window.contains(situation.local) for window in self.hours)
