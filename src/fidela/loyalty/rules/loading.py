"""Load a rule set from configuration (a JSON-like mapping) and validate it.

Every problem is collected, not only the first, and each points at its field with a JSON
pointer (``/rules/3/rate``), so an operator fixes a configuration in one pass. Unknown keys
are refused: a misspelt ``"budjet"`` must not silently leave a rule uncapped.

Decimals (rates, factors, costs) are given as strings or integers; a JSON float is accepted
through its shortest text (``1.5`` -> ``Decimal("1.5")``), never through binary expansion.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, TypeVar

from fidela.kernel.decimals import read_decimal
from fidela.kernel.errors import FieldProblem
from fidela.kernel.money import KNOWN_CURRENCIES
from fidela.kernel.points import Rounding
from fidela.ledger.rules import Hold
from fidela.loyalty.rules.conditions import AttributeMatch, LineFilter, Scope
from fidela.loyalty.rules.definitions import (
    Cap,
    Combine,
    EventRule,
    Limits,
    MultiplierRule,
    PunchCardRule,
    PunchUnit,
    Rule,
    RuleKind,
    RuleSet,
    SpendRule,
    Step,
    ThresholdRule,
    UseLimit,
)
from fidela.loyalty.rules.errors import InvalidEarningInput, InvalidRuleSet
from fidela.loyalty.rules.inputs import AttributeValue
from fidela.loyalty.rules.periods import (
    MINUTES_PER_DAY,
    WEEKDAYS,
    DateRange,
    HourWindow,
    Period,
    zone,
)

E = TypeVar("E", bound=StrEnum)

_RULE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}")
_EVENT_TYPE = re.compile(r"[a-z][a-z0-9_]*(\.[a-z0-9_]+)*(\.\*)?")
_EXACT_EVENT_TYPE = re.compile(r"[a-z][a-z0-9_]{0,99}(\.[a-z][a-z0-9_]*)*")
_HOLD_KEYS = frozenset({"kind", "days", "event"})
_CLOCK = re.compile(r"(\d{2}):(\d{2})")

_TOP_KEYS = frozenset(
    {
        "currency",
        "timezone",
        "rounding",
        "cost_per_point_minor",
        "combine_multipliers",
        "member_caps",
        "rules",
    }
)
_COMMON_KEYS = frozenset(
    {"id", "kind", "name", "priority", "group", "channels", "stores", "tiers"}
    | {"valid_from", "valid_until", "dates", "hours"}
)
_AWARDING_KEYS = _COMMON_KEYS | {"caps", "limit", "budget", "hold"}
_ORDER_KEYS = {"lines", "include_shipping", "earn_on_points_payment"}
_KIND_KEYS: dict[RuleKind, frozenset[str]] = {
    RuleKind.SPEND: _AWARDING_KEYS | _ORDER_KEYS | {"rate"},
    RuleKind.THRESHOLD: _AWARDING_KEYS | _ORDER_KEYS | {"steps"},
    RuleKind.MULTIPLIER: _COMMON_KEYS | {"factor", "lines", "applies_to"},
    RuleKind.EVENT: _AWARDING_KEYS | {"event", "points", "where"},
    RuleKind.PUNCH_CARD: _AWARDING_KEYS
    | {"every", "per", "lines", "min_minor", "earn_on_points_payment"}
    | {"points", "reward", "reward_cost_minor"},
}
_LINE_KEYS = frozenset(
    {"categories", "products", "exclude_skus", "exclude_categories", "exclude_products"}
)


def _escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


class _Reader:
    """Typed field access that records a problem and returns a harmless value on error."""

    def __init__(self) -> None:
        self.problems: list[FieldProblem] = []

    def fail(self, pointer: str, message: str) -> None:
        self.problems.append(FieldProblem(pointer, message))

    def mapping(self, value: object, pointer: str, allowed: frozenset[str]) -> Mapping[str, Any]:
        if not isinstance(value, Mapping):
            self.fail(pointer, "must be an object")
            return {}
        for key in value:
            if not isinstance(key, str) or key not in allowed:
                self.fail(f"{pointer}/{_escape(str(key))}", "unknown field")
        return value

    def items(self, data: Mapping[str, Any], key: str, pointer: str) -> list[tuple[str, Any]]:
        """The elements of an optional list, each with its pointer."""
        value = data.get(key, [])
        if not isinstance(value, list | tuple):
            self.fail(f"{pointer}/{key}", "must be a list")
            return []
        return [(f"{pointer}/{key}/{index}", item) for index, item in enumerate(value)]

    def text(self, data: Mapping[str, Any], key: str, pointer: str, default: str = "") -> str:
        value = data.get(key, default)
        if not isinstance(value, str):
            self.fail(f"{pointer}/{key}", "must be a string")
            return default
        return value

    def required(self, data: Mapping[str, Any], key: str, pointer: str) -> bool:
        if key not in data:
            self.fail(f"{pointer}/{key}", "is required")
            return False
        return True

    def integer(
        self, data: Mapping[str, Any], key: str, pointer: str, *, default: int, minimum: int
    ) -> int:
        value = data.get(key, default)
        if not isinstance(value, int) or isinstance(value, bool):
            self.fail(f"{pointer}/{key}", "must be an integer")
            return default
        if value < minimum:
            self.fail(f"{pointer}/{key}", f"must be >= {minimum}")
            return default
        return value

    def decimal(
        self, data: Mapping[str, Any], key: str, pointer: str, *, default: Decimal, positive: bool
    ) -> Decimal:
        value = data.get(key, default)
        where = f"{pointer}/{key}"
        try:
            number = read_decimal(value)
        except ValueError as exc:
            self.fail(where, str(exc))
            return default
        if number < 0 or (positive and number == 0):
            self.fail(where, "must be > 0" if positive else "must be >= 0")
            return default
        return number

    def boolean(self, data: Mapping[str, Any], key: str, pointer: str) -> bool:
        value = data.get(key, False)
        if not isinstance(value, bool):
            self.fail(f"{pointer}/{key}", "must be true or false")
            return False
        return value

    def choice(
        self, data: Mapping[str, Any], key: str, pointer: str, enum: type[E], default: E
    ) -> E:
        value = data.get(key, default.value)
        try:
            return enum(value)
        except ValueError:
            allowed = ", ".join(member.value for member in enum)
            self.fail(f"{pointer}/{key}", f"must be one of {allowed}")
            return default

    def names(self, data: Mapping[str, Any], key: str, pointer: str) -> frozenset[str]:
        found = set()
        for where, item in self.items(data, key, pointer):
            if not isinstance(item, str) or not item.strip():
                self.fail(where, "must be a non-empty string")
            else:
                found.add(item)
        return frozenset(found)

    def instant(self, data: Mapping[str, Any], key: str, pointer: str) -> datetime | None:
        value = data.get(key)
        if value is None:
            return None
        parsed = _parse(datetime.fromisoformat, value)
        if parsed is None:
            self.fail(f"{pointer}/{key}", "must be an ISO 8601 date-time")
            return None
        if parsed.tzinfo is None or parsed.utcoffset() is None:
            self.fail(f"{pointer}/{key}", "must carry a timezone offset")
            return None
        return parsed

    def day(self, data: Mapping[str, Any], key: str, pointer: str) -> date | None:
        parsed = _parse(date.fromisoformat, data.get(key))
        if parsed is None:
            self.fail(f"{pointer}/{key}", "must be an ISO 8601 date (YYYY-MM-DD)")
        return parsed

    def clock(self, data: Mapping[str, Any], key: str, pointer: str) -> int | None:
        """Minutes since local midnight from ``HH:MM``; ``24:00`` ends a day."""
        value = data.get(key)
        match = _CLOCK.fullmatch(value) if isinstance(value, str) else None
        if match is not None:
            minutes = int(match[1]) * 60 + int(match[2])
            if int(match[2]) < 60 and minutes <= MINUTES_PER_DAY:
                return minutes
        self.fail(f"{pointer}/{key}", "must be a time HH:MM between 00:00 and 24:00")
        return None


T = TypeVar("T")


def _parse(parser: Callable[[str], T], value: object) -> T | None:
    if not isinstance(value, str):
        return None
    try:
        return parser(value)
    except ValueError:
        return None


def _lines(reader: _Reader, data: Mapping[str, Any], pointer: str) -> LineFilter:
    if "lines" not in data:
        return LineFilter()
    where = f"{pointer}/lines"
    spec = reader.mapping(data["lines"], where, _LINE_KEYS)
    return LineFilter(
        categories=reader.names(spec, "categories", where),
        products=reader.names(spec, "products", where),
        exclude_skus=reader.names(spec, "exclude_skus", where),
        exclude_categories=reader.names(spec, "exclude_categories", where),
        exclude_products=reader.names(spec, "exclude_products", where),
    )


def _scope(reader: _Reader, data: Mapping[str, Any], pointer: str) -> Scope:
    dates = []
    for where, item in reader.items(data, "dates", pointer):
        spec = reader.mapping(item, where, frozenset({"first", "last"}))
        first, last = reader.day(spec, "first", where), reader.day(spec, "last", where)
        if first is not None and last is not None:
            if last < first:
                reader.fail(f"{where}/last", "must not be before first")
            dates.append(DateRange(first, last))
    hours = []
    for where, item in reader.items(data, "hours", pointer):
        spec = reader.mapping(item, where, frozenset({"days", "start", "end"}))
        days = set()
        for day_where, day in reader.items(spec, "days", where):
            if day not in WEEKDAYS:
                reader.fail(day_where, f"must be one of {', '.join(WEEKDAYS)}")
            else:
                days.add(WEEKDAYS.index(day))
        if not days and "days" in spec:
            reader.fail(f"{where}/days", "must name at least one day")
        start, end = reader.clock(spec, "start", where), reader.clock(spec, "end", where)
        if start is not None and end is not None:
            if start == MINUTES_PER_DAY:
                reader.fail(f"{where}/start", "a window starts before 24:00")
            elif start == end:
                reader.fail(f"{where}/end", "the window is empty: start and end must differ")
            # No "days" means every day of the week.
            hours.append(HourWindow(frozenset(days) or frozenset(range(7)), start, end))
    valid_from = reader.instant(data, "valid_from", pointer)
    valid_until = reader.instant(data, "valid_until", pointer)
    if valid_from is not None and valid_until is not None and valid_until <= valid_from:
        reader.fail(f"{pointer}/valid_until", "must be after valid_from")
    return Scope(
        channels=reader.names(data, "channels", pointer),
        stores=reader.names(data, "stores", pointer),
        tiers=reader.names(data, "tiers", pointer),
        valid_from=valid_from,
        valid_until=valid_until,
        dates=tuple(dates),
        hours=tuple(hours),
    )


def _caps(reader: _Reader, data: Mapping[str, Any], key: str, pointer: str) -> tuple[Cap, ...]:
    caps = []
    periods: dict[Period, str] = {}
    for where, item in reader.items(data, key, pointer):
        spec = reader.mapping(item, where, frozenset({"period", "max_points"}))
        has_period = reader.required(spec, "period", where)
        if reader.required(spec, "max_points", where) and has_period:
            period = reader.choice(spec, "period", where, Period, Period.DAY)
            if period in periods:
                reader.fail(
                    f"{where}/period", f"a cap per {period} is already at {periods[period]}"
                )
            periods[period] = where
            caps.append(
                Cap(period, reader.integer(spec, "max_points", where, default=0, minimum=0))
            )
    return tuple(caps)


def _limits(reader: _Reader, data: Mapping[str, Any], pointer: str) -> Limits:
    limit = None
    if "limit" in data:
        where = f"{pointer}/limit"
        spec = reader.mapping(data["limit"], where, frozenset({"times", "per"}))
        has_times = reader.required(spec, "times", where)
        if reader.required(spec, "per", where) and has_times:
            limit = UseLimit(
                reader.integer(spec, "times", where, default=1, minimum=1),
                reader.choice(spec, "per", where, Period, Period.EVER),
            )
    budget = None
    if "budget" in data:
        budget = reader.integer(data, "budget", pointer, default=0, minimum=0)
    return Limits(caps=_caps(reader, data, "caps", pointer), limit=limit, budget=budget)


def _hold(reader: _Reader, data: Mapping[str, Any], pointer: str, kind: RuleKind) -> Hold | None:
    """A rule's own pending window, in the programme's ``hold`` form; absent: ``None``."""
    if "hold" not in data:
        return None
    where = f"{pointer}/hold"
    spec = reader.mapping(data["hold"], where, _HOLD_KEYS)
    hold_kind = spec.get("kind", "none")
    if hold_kind == "none":
        for extra in ("days", "event"):
            if extra in spec:
                reader.fail(f"{where}/{extra}", "only for a hold in days or until an event")
        return Hold.immediate()
    if hold_kind == "days":
        if "event" in spec:
            reader.fail(f"{where}/event", "only for a hold until an event")
        days = reader.integer(spec, "days", where, default=1, minimum=1)
        return Hold.for_days(days) if reader.required(spec, "days", where) else None
    if hold_kind == "event":
        if "days" in spec:
            reader.fail(f"{where}/days", "only for a hold in days")
        if kind is RuleKind.EVENT:
            # An activation event finds held points through the order it names; a member
            # event's points have no order, so nothing could ever release them.
            reader.fail(
                f"{where}/kind", "an event rule's points can be held for days, not until an event"
            )
            return None
        event = spec.get("event")
        if not isinstance(event, str) or len(event) > 100 or not _EXACT_EVENT_TYPE.fullmatch(event):
            reader.fail(f"{where}/event", "name the event type that activates the points")
            return None
        return Hold.until_event(event)
    reader.fail(f"{where}/kind", "must be none, days or event")
    return None


def _steps(reader: _Reader, data: Mapping[str, Any], pointer: str) -> tuple[Step, ...]:
    steps: list[Step] = []
    for where, item in reader.items(data, "steps", pointer):
        spec = reader.mapping(item, where, frozenset({"min_minor", "points"}))
        has_min = reader.required(spec, "min_minor", where)
        if reader.required(spec, "points", where) and has_min:
            step = Step(
                reader.integer(spec, "min_minor", where, default=0, minimum=0),
                reader.integer(spec, "points", where, default=1, minimum=1),
            )
            if steps and step.min_minor <= steps[-1].min_minor:
                reader.fail(f"{where}/min_minor", "steps must be in increasing min_minor order")
            steps.append(step)
    if not steps and reader.required(data, "steps", pointer):
        reader.fail(f"{pointer}/steps", "needs at least one step")
    return tuple(steps)


def _where(reader: _Reader, data: Mapping[str, Any], pointer: str) -> tuple[AttributeMatch, ...]:
    value = data.get("where", {})
    if not isinstance(value, Mapping):
        reader.fail(f"{pointer}/where", "must be an object of attribute: value or [values]")
        return ()
    matches = []
    for name, wanted in sorted(value.items()):
        where = f"{pointer}/where/{_escape(str(name))}"
        options = wanted if isinstance(wanted, list) else [wanted]
        if not options or not all(isinstance(option, str | int | bool) for option in options):
            reader.fail(where, "must be a string, integer or boolean, or a non-empty list of them")
            continue
        typed: tuple[AttributeValue, ...] = tuple(options)
        matches.append(AttributeMatch(str(name), typed))
    return tuple(matches)


def _rule(reader: _Reader, data: object, pointer: str) -> Rule | None:
    if not isinstance(data, Mapping):
        reader.fail(pointer, "must be an object")
        return None
    try:
        kind = RuleKind(str(data.get("kind")))
    except ValueError:
        # Without a kind the allowed fields are unknown: report the kind alone, not noise.
        reader.fail(f"{pointer}/kind", f"must be one of {', '.join(k.value for k in RuleKind)}")
        return None
    data = reader.mapping(data, pointer, _KIND_KEYS[kind])
    rule_id = reader.text(data, "id", pointer)
    if not _RULE_ID.fullmatch(rule_id):
        reader.fail(f"{pointer}/id", "1-100 letters, digits, '_', '.', ':' or '-'")
    group = reader.text(data, "group", pointer) or None
    common: dict[str, Any] = {
        "id": rule_id,
        "name": reader.text(data, "name", pointer),
        "priority": reader.integer(data, "priority", pointer, default=0, minimum=-(10**6)),
        "group": group,
        "scope": _scope(reader, data, pointer),
    }
    if kind is RuleKind.MULTIPLIER:
        reader.required(data, "factor", pointer)
        return MultiplierRule(
            **common,
            factor=reader.decimal(data, "factor", pointer, default=Decimal(1), positive=True),
            lines=_lines(reader, data, pointer),
            applies_to=reader.names(data, "applies_to", pointer),
        )
    common["limits"] = _limits(reader, data, pointer)
    common["hold"] = _hold(reader, data, pointer, kind)
    if kind is RuleKind.SPEND:
        reader.required(data, "rate", pointer)
        return SpendRule(
            **common,
            rate=reader.decimal(data, "rate", pointer, default=Decimal(1), positive=True),
            lines=_lines(reader, data, pointer),
            include_shipping=reader.boolean(data, "include_shipping", pointer),
            earn_on_points_payment=reader.boolean(data, "earn_on_points_payment", pointer),
        )
    if kind is RuleKind.THRESHOLD:
        return ThresholdRule(
            **common,
            steps=_steps(reader, data, pointer),
            lines=_lines(reader, data, pointer),
            include_shipping=reader.boolean(data, "include_shipping", pointer),
            earn_on_points_payment=reader.boolean(data, "earn_on_points_payment", pointer),
        )
    if kind is RuleKind.EVENT:
        event = reader.text(data, "event", pointer)
        if not _EVENT_TYPE.fullmatch(event):
            reader.fail(f"{pointer}/event", "an event type such as review.posted or custom.*")
        reader.required(data, "points", pointer)
        return EventRule(
            **common,
            event=event,
            points=reader.integer(data, "points", pointer, default=1, minimum=1),
            where=_where(reader, data, pointer),
        )
    reader.required(data, "every", pointer)
    points = reader.integer(data, "points", pointer, default=0, minimum=0)
    reward = reader.text(data, "reward", pointer) or None
    if points == 0 and reward is None:
        reader.fail(f"{pointer}/points", "a punch card gives points, a reward, or both")
    return PunchCardRule(
        **common,
        every=reader.integer(data, "every", pointer, default=1, minimum=1),
        per=reader.choice(data, "per", pointer, PunchUnit, PunchUnit.ORDER),
        lines=_lines(reader, data, pointer),
        min_minor=reader.integer(data, "min_minor", pointer, default=0, minimum=0),
        earn_on_points_payment=reader.boolean(data, "earn_on_points_payment", pointer),
        points=points,
        reward=reward,
        reward_cost_minor=reader.integer(data, "reward_cost_minor", pointer, default=0, minimum=0),
    )


def _cross_check(reader: _Reader, rules: list[tuple[str, Rule]]) -> None:
    """Checks across rules: unique ids, coherent groups, multiplier targets that exist."""
    first_seen: dict[str, str] = {}
    for pointer, rule in rules:
        if rule.id in first_seen:
            reader.fail(f"{pointer}/id", f"duplicate of {first_seen[rule.id]}/id")
        else:
            first_seen[rule.id] = pointer
    group_role: dict[str, tuple[bool, str]] = {}
    for pointer, rule in rules:
        if rule.group is None:
            continue
        is_multiplier = isinstance(rule, MultiplierRule)
        role, where = group_role.setdefault(rule.group, (is_multiplier, pointer))
        if role != is_multiplier:
            # A multiplier modifies awards and an award is a result: "only one of them" has no
            # meaning, so a group holds either kind but not both.
            reader.fail(f"{pointer}/group", f"mixes multipliers and awarding rules with {where}")
    spend_ids = {rule.id for _, rule in rules if isinstance(rule, SpendRule)}
    for pointer, rule in rules:
        if isinstance(rule, MultiplierRule):
            for target in sorted(rule.applies_to - spend_ids):
                reader.fail(f"{pointer}/applies_to", f"'{target}' is not a spend rule's id")


def load_rule_set(data: Mapping[str, Any]) -> RuleSet:
    """Build a :class:`RuleSet` from configuration or raise :class:`InvalidRuleSet` listing
    every problem with its JSON pointer."""
    reader = _Reader()
    data = reader.mapping(data, "", _TOP_KEYS)
    currency = reader.text(data, "currency", "")
    if reader.required(data, "currency", "") and currency not in KNOWN_CURRENCIES:
        reader.fail("/currency", "must be a supported ISO 4217 code in upper case, e.g. EUR")
    timezone = reader.text(data, "timezone", "")
    if reader.required(data, "timezone", ""):
        try:
            zone(timezone)
        except InvalidEarningInput:
            reader.fail("/timezone", "must be an IANA timezone such as Europe/Paris")
    rules = []
    for pointer, item in reader.items(data, "rules", ""):
        rule = _rule(reader, item, pointer)
        if rule is not None:
            rules.append((pointer, rule))
    _cross_check(reader, rules)
    rule_set = RuleSet(
        currency=currency,
        timezone=timezone,
        rounding=reader.choice(data, "rounding", "", Rounding, Rounding.DOWN),
        cost_per_point_minor=reader.decimal(
            data, "cost_per_point_minor", "", default=Decimal(0), positive=False
        ),
        combine_multipliers=reader.choice(data, "combine_multipliers", "", Combine, Combine.MAX),
        member_caps=_caps(reader, data, "member_caps", ""),
        rules=tuple(rule for _, rule in rules),
    )
    if reader.problems:
        count = len(reader.problems)
        summary = "; ".join(f"{p.pointer or '/'}: {p.message}" for p in reader.problems[:5])
        more = f" (and {count - 5} more)" if count > 5 else ""
        raise InvalidRuleSet(
            f"{count} problem(s) in the rule set: {summary}{more}", reader.problems
        )
    return rule_set
