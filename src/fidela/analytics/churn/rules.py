"""Early-warning churn rules: configuration, validation and evaluation over plain facts.

Concepts:

- A **rule** has an ``id``, a human ``reason``, a ``weight`` in (0, 1] and ``all``: conditions
  that must all hold. A condition compares one **fact** (a per-customer number such as
  ``purchase_change_30d`` or ``complaints_90d``, see `fidela.analytics.churn.features`) with a
  constant: ``{"fact": "days_since_login", "op": ">=", "value": 15}``.
- An **unknown fact** (None: the customer never had a purchase month to fall from) makes its
  condition false: a rule only fires on evidence.
- The **rules-only score** of a customer combines the weights of the rules that fired as
  independent signals, ``1 - prod(1 - weight)``: in [0, 1], one more firing rule never
  lowers it, and it is 0 when nothing fired.

Configurations are data; `parse_rules` refuses unknown keys, facts and operators with JSON
pointers (``/rules/1/all/0/fact``) so a typo is an error, not a rule that never fires.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fidela.kernel.errors import FieldProblem, InvalidInput

OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}


class ChurnRulesInvalid(InvalidInput):
    code = "churn_rules_invalid"
    title = "The churn early-warning rules are invalid"


@dataclass(frozen=True)
class Condition:
    fact: str
    op: str
    value: float

    def holds(self, facts: Mapping[str, float | None]) -> bool:
        actual = facts.get(self.fact)
        if actual is None or math.isnan(actual):
            return False
        return OPERATORS[self.op](actual, self.value)


@dataclass(frozen=True)
class WarningRule:
    id: str
    reason: str
    weight: float
    conditions: tuple[Condition, ...]

    def fires(self, facts: Mapping[str, float | None]) -> bool:
        return all(condition.holds(facts) for condition in self.conditions)


@dataclass(frozen=True)
class EarlyWarning:
    """The rules that fired for one customer, and the combined rules-only score."""

    score: float
    reasons: tuple[str, ...]
    rule_ids: tuple[str, ...]


# The seeds' early-warning signals: purchases falling while the customer stays away,
# repeated complaints, and walking away from the newsletter.
DEFAULT_RULES: dict[str, Any] = {
    "rules": [
        {
            "id": "purchases_down_no_login",
            "reason": "monthly purchases down at least 30 % and no login for 15 days",
            "weight": 0.6,
            "all": [
                {"fact": "purchase_change_30d", "op": "<=", "value": -0.3},
                {"fact": "days_since_login", "op": ">=", "value": 15},
            ],
        },
        {
            "id": "repeated_complaints",
            "reason": "two or more complaints in 90 days",
            "weight": 0.5,
            "all": [{"fact": "complaints_90d", "op": ">=", "value": 2}],
        },
        {
            "id": "newsletter_unsubscribe",
            "reason": "unsubscribed from the newsletter in the last 90 days",
            "weight": 0.4,
            "all": [{"fact": "unsubscribed_90d", "op": "==", "value": 1}],
        },
    ]
}

_RULE_KEYS = {"id", "reason", "weight", "all"}
_CONDITION_KEYS = {"fact", "op", "value"}


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _condition(
    raw: Any, pointer: str, facts: frozenset[str], problems: list[FieldProblem]
) -> Condition | None:
    if not isinstance(raw, dict):
        problems.append(FieldProblem(pointer, "a condition is an object {fact, op, value}"))
        return None
    before = len(problems)
    for key in sorted(set(raw) - _CONDITION_KEYS):
        problems.append(FieldProblem(f"{pointer}/{key}", "unknown key"))
    fact, op, value = raw.get("fact"), raw.get("op"), raw.get("value")
    if fact not in facts:
        problems.append(
            FieldProblem(f"{pointer}/fact", f"unknown fact; expected one of {sorted(facts)}")
        )
    if op not in OPERATORS:
        problems.append(FieldProblem(f"{pointer}/op", f"expected one of {sorted(OPERATORS)}"))
    if isinstance(value, bool):
        value = 1.0 if value else 0.0
    if not _number(value):
        problems.append(FieldProblem(f"{pointer}/value", "expected a finite number"))
    if len(problems) > before:
        return None
    return Condition(str(fact), str(op), float(value))  # type: ignore[arg-type]


def parse_rules(document: Any, *, facts: Sequence[str]) -> tuple[WarningRule, ...]:
    """Validated rules of ``document`` (``{"rules": [...]}``); raises `ChurnRulesInvalid`
    listing every problem with its JSON pointer."""
    known = frozenset(facts)
    problems: list[FieldProblem] = []
    if not isinstance(document, dict) or not isinstance(document.get("rules"), list):
        raise ChurnRulesInvalid(
            "the rules document must be an object with a 'rules' list",
            [FieldProblem("/rules", "expected a list of rules")],
        )
    for key in sorted(set(document) - {"rules"}):
        problems.append(FieldProblem(f"/{key}", "unknown key"))
    rules: list[WarningRule] = []
    seen: set[str] = set()
    for index, raw in enumerate(document["rules"]):
        pointer = f"/rules/{index}"
        if not isinstance(raw, dict):
            problems.append(FieldProblem(pointer, "a rule is an object {id, reason, weight, all}"))
            continue
        for key in sorted(set(raw) - _RULE_KEYS):
            problems.append(FieldProblem(f"{pointer}/{key}", "unknown key"))
        rule_id, reason, weight = raw.get("id"), raw.get("reason", ""), raw.get("weight", 1.0)
        if not isinstance(rule_id, str) or not rule_id:
            problems.append(FieldProblem(f"{pointer}/id", "expected a non-empty string"))
        elif rule_id in seen:
            problems.append(FieldProblem(f"{pointer}/id", f"duplicate rule id {rule_id!r}"))
        else:
            seen.add(rule_id)
        if not isinstance(reason, str):
            problems.append(FieldProblem(f"{pointer}/reason", "expected a string"))
        if not _number(weight) or not 0 < weight <= 1:
            problems.append(FieldProblem(f"{pointer}/weight", "expected a number in (0, 1]"))
        raw_conditions = raw.get("all")
        if not isinstance(raw_conditions, list) or not raw_conditions:
            problems.append(FieldProblem(f"{pointer}/all", "expected a non-empty list"))
            continue
        conditions = [
            _condition(item, f"{pointer}/all/{i}", known, problems)
            for i, item in enumerate(raw_conditions)
        ]
        if isinstance(rule_id, str) and isinstance(reason, str) and _number(weight):
            rules.append(
                WarningRule(
                    rule_id,
                    reason or rule_id,
                    float(weight),
                    tuple(c for c in conditions if c is not None),
                )
            )
    if problems:
        raise ChurnRulesInvalid(
            "; ".join(f"{p.pointer}: {p.message}" for p in problems[:5]), problems
        )
    return tuple(rules)


def evaluate_warnings(
    rules: Sequence[WarningRule], facts: Mapping[str, float | None]
) -> EarlyWarning:
    """The rules firing on one customer's ``facts`` and their combined score."""
    fired = [rule for rule in rules if rule.fires(facts)]
    keep = 1.0
    for rule in fired:
        keep *= 1.0 - rule.weight
    return EarlyWarning(
        score=1.0 - keep,
        reasons=tuple(rule.reason for rule in fired),
        rule_ids=tuple(rule.id for rule in fired),
    )
