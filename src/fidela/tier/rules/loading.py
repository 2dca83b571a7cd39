"""Load a ladder from its JSON form.

Every problem is collected, each with its JSON pointer (``/levels/2/threshold``), so an
operator fixes a ladder in one pass. Unknown keys are refused: a misspelt ``"treshold"`` must
not silently mean threshold 0. Decimals are strings or integers; a JSON float is read through
its shortest text (``1.5`` -> ``Decimal("1.5")``).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from enum import StrEnum
from typing import TypeVar

from fidela.kernel.decimals import read_decimal
from fidela.kernel.errors import FieldProblem
from fidela.tier.rules.errors import InvalidLadder
from fidela.tier.rules.ladder import (
    Basis,
    Benefits,
    DowngradeTo,
    Level,
    OnReturn,
    TierLadder,
    Window,
    WindowKind,
    summary,
)

_E = TypeVar("_E", bound=StrEnum)


class _Reader:
    """Reads one JSON object, collecting every problem with its pointer instead of stopping."""

    def __init__(self, data: object, pointer: str, problems: list[FieldProblem]) -> None:
        self.pointer, self.problems = pointer, problems
        self.data: Mapping[str, object] = data if isinstance(data, Mapping) else {}
        if not isinstance(data, Mapping):
            self._bad("", "expected an object")
        self.seen: set[str] = set()

    def _bad(self, key: str, message: str) -> None:
        self.problems.append(
            FieldProblem(f"{self.pointer}/{key}" if key else self.pointer or "/", message)
        )

    def _get(self, key: str, required: bool) -> object:
        self.seen.add(key)
        value = self.data.get(key)
        if value is None and required:
            self._bad(key, "required")
        return value

    def text(self, key: str, default: str | None = None) -> str:
        value = self._get(key, default is None)
        if value is None:
            return default or ""
        if not isinstance(value, str):
            self._bad(key, "expected a string")
            return ""
        return value

    def optional_text(self, key: str) -> str | None:
        return self.text(key, "") or None

    def integer(self, key: str, default: int | None = None) -> int:
        value = self._get(key, default is None)
        if value is None:
            return default or 0
        if isinstance(value, bool) or not isinstance(value, int):
            self._bad(key, "expected an integer")
            return 0
        return value

    def optional_integer(self, key: str) -> int | None:
        self.seen.add(key)
        return None if self.data.get(key) is None else self.integer(key)

    def flag(self, key: str, default: bool) -> bool:
        value = self._get(key, False)
        if value is None:
            return default
        if not isinstance(value, bool):
            self._bad(key, "expected true or false")
            return default
        return value

    def decimal(self, key: str, default: Decimal) -> Decimal:
        value = self._get(key, False)
        if value is None:
            return default
        try:
            return read_decimal(value)
        except ValueError as exc:
            self._bad(key, str(exc))
            return default

    def choice(self, key: str, kind: type[_E], default: _E | None = None) -> _E:
        value = self._get(key, default is None)
        fallback = default if default is not None else next(iter(kind))
        if value is None:
            return fallback
        try:
            if not isinstance(value, str):
                raise ValueError(value)
            return kind(value)
        except ValueError:
            self._bad(key, f"one of {', '.join(item.value for item in kind)}")
            return fallback

    def tags(self, key: str) -> frozenset[str]:
        value = self._get(key, False)
        if value is None:
            return frozenset()
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            self._bad(key, "expected a list of strings")
            return frozenset()
        return frozenset(value)

    def child(self, key: str, required: bool = False) -> _Reader | None:
        value = self._get(key, required)
        return None if value is None else _Reader(value, f"{self.pointer}/{key}", self.problems)

    def children(self, key: str) -> list[_Reader]:
        value = self._get(key, True)
        if value is None:
            return []
        if not isinstance(value, list):
            self._bad(key, "expected a list")
            return []
        return [
            _Reader(item, f"{self.pointer}/{key}/{i}", self.problems)
            for i, item in enumerate(value)
        ]

    def finish(self) -> None:
        for key in sorted(set(self.data) - self.seen):
            self._bad(str(key), "unknown field")


def load_ladder(data: Mapping[str, object]) -> TierLadder:
    """Build a ladder from its JSON form; every problem is reported with its JSON pointer.

    Raises `InvalidLadder`; unknown fields are problems too, so a typo (``"treshold"``) is
    caught instead of silently meaning "threshold 0".
    """
    problems: list[FieldProblem] = []
    root = _Reader(data, "", problems)
    window = root.child("window", required=True)
    kind, months = WindowKind.LIFETIME, None
    if window is not None:
        kind, months = window.choice("kind", WindowKind), window.optional_integer("months")
        window.finish()
    levels = []
    for item in root.children("levels"):
        benefits = Benefits()
        reader = item.child("benefits")
        if reader is not None:
            benefits = Benefits(
                earn_multiplier=reader.decimal("earn_multiplier", Decimal(1)),
                discount_percent=reader.decimal("discount_percent", Decimal(0)),
                free_shipping=reader.flag("free_shipping", False),
                priority_service=reader.flag("priority_service", False),
                event_access=reader.flag("event_access", False),
                reward_tags=reader.tags("reward_tags"),
            )
            reader.finish()
        levels.append(
            Level(
                code=item.text("code"),
                name=item.text("name"),
                threshold=item.integer("threshold"),
                benefits=benefits,
                retired=item.flag("retired", False),
            )
        )
        item.finish()
    code, name, basis = root.text("code"), root.text("name"), root.choice("basis", Basis)
    currency = root.optional_text("currency")
    downgrade = root.choice("downgrade", DowngradeTo, DowngradeTo.ONE_STEP)
    grace_days = root.integer("grace_days", 0)
    count_pending = root.flag("count_pending", False)
    on_return = root.choice("on_return", OnReturn, OnReturn.REQUALIFY_AT_ONCE)
    return_window_days = root.integer("return_window_days", 30)
    timezone = root.text("timezone", "UTC")
    root.finish()
    if problems:
        raise InvalidLadder(summary(problems), problems)
    return TierLadder(
        code=code,
        name=name,
        basis=basis,
        window=Window(kind, months),
        levels=tuple(levels),
        currency=currency.upper() if currency else None,
        downgrade=downgrade,
        grace_days=grace_days,
        count_pending=count_pending,
        on_return=on_return,
        return_window_days=return_window_days,
        timezone=timezone,
    )
