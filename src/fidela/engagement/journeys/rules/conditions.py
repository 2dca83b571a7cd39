"""Branch conditions over plain facts: ``{"field": "profile.tier", "op": "eq", "value":
"gold"}``, combined with ``all``, ``any`` and ``not``. Fields are dotted paths into the facts
(``profile``, ``context``, ``event``); a missing field compares as absent (only ``exists``
and ``ne`` can be true for it)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fidela.kernel.errors import FieldProblem

OPERATORS = ("eq", "ne", "gt", "gte", "lt", "lte", "in", "exists", "contains")
_MISSING = object()


def check_condition(condition: Any, pointer: str) -> list[FieldProblem]:
    if not isinstance(condition, dict):
        return [FieldProblem(pointer, "a condition is an object")]
    for combinator in ("all", "any"):
        if combinator in condition:
            parts = condition[combinator]
            if not isinstance(parts, list) or not parts:
                return [FieldProblem(f"{pointer}/{combinator}", "a non-empty list of conditions")]
            return [
                problem
                for n, part in enumerate(parts)
                for problem in check_condition(part, f"{pointer}/{combinator}/{n}")
            ]
    if "not" in condition:
        return check_condition(condition["not"], f"{pointer}/not")
    problems: list[FieldProblem] = []
    field = condition.get("field")
    if not isinstance(field, str) or field.split(".")[0] not in ("profile", "context", "event"):
        problems.append(
            FieldProblem(f"{pointer}/field", "a path starting with profile, context or event")
        )
    op = condition.get("op", "eq")
    if op not in OPERATORS:
        problems.append(FieldProblem(f"{pointer}/op", f"one of {', '.join(OPERATORS)}"))
    elif op != "exists" and "value" not in condition:
        problems.append(FieldProblem(f"{pointer}/value", "a value to compare with"))
    return problems


def lookup(facts: Mapping[str, Any], path: str) -> Any:
    current: Any = facts
    for part in path.split("."):
        if isinstance(current, Mapping) and part in current:
            current = current[part]
        else:
            return _MISSING
    return current


def _compare(op: str, actual: Any, expected: Any) -> bool:
    if op == "exists":
        return actual is not _MISSING and actual is not None
    if actual is _MISSING:
        return op == "ne"
    if op == "eq":
        return bool(actual == expected)
    if op == "ne":
        return bool(actual != expected)
    if op == "in":
        return isinstance(expected, list) and actual in expected
    if op == "contains":
        return isinstance(actual, list | str) and expected in actual
    try:
        if op == "gt":
            return bool(actual > expected)
        if op == "gte":
            return bool(actual >= expected)
        if op == "lt":
            return bool(actual < expected)
        return bool(actual <= expected)
    except TypeError:  # comparing text with a number: not true, not an error at run time
        return False


def evaluate(condition: Mapping[str, Any], facts: Mapping[str, Any]) -> bool:
    if "all" in condition:
        return all(evaluate(part, facts) for part in condition["all"])
    if "any" in condition:
        return any(evaluate(part, facts) for part in condition["any"])
    if "not" in condition:
        return not evaluate(condition["not"], facts)
    return _compare(
        condition.get("op", "eq"), lookup(facts, condition["field"]), condition.get("value")
    )
