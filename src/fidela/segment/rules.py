"""Segment definitions: the rule-builder tree, its validation, and membership changes.

Concepts and invariants:

- A **definition** is a JSON tree. Inner nodes are ``{"all": [...]}``, ``{"any": [...]}`` and
  ``{"not": node}``; leaves are **conditions** ``{"fact": F, "op": O, "value": V}`` with
  ``params`` for facts that need them (``{"fact": "events.count", "params": {"type":
  "order.completed", "within_days": 30}, "op": "gte", "value": 2}``).
- **Facts** (`FACTS`) are typed: profile fields (strings, ``profile.age`` in whole years),
  consent for a channel and purpose (boolean), counts and sums of events and orders over an
  optional trailing window, and what the analytics snapshots and the tier context know (RFM
  segment and scores, CLV, churn risk, tier). Each type allows its operators only.
- Validation collects **every** problem with a JSON pointer into the definition
  (``/all/1/value``) and never evaluates a tree that did not validate. Trees are bounded
  (depth, conditions) so a definition cannot become a denial of service.
- A condition on an **unknown value** (no birth date, no snapshot for the customer) is false,
  and ``not`` of it is true: SQL's three-valued logic is closed to two values when compiled,
  so "not in segment A" is always the complement of "in segment A".
- **Membership changes** (`membership_changes`) are pure set arithmetic: who enters (in the
  new set, not open before) and who exits (open before, not in the new set).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from fidela.customer.rules import ConsentChannel, ConsentPurpose
from fidela.kernel.errors import Conflict, FieldProblem, InvalidInput, NotFound

MAX_DEPTH = 8
MAX_CONDITIONS = 100
MAX_LIST = 1_000

STRING_OPS = frozenset({"eq", "ne", "in", "not_in", "is_null", "not_null"})
NUMBER_OPS = frozenset(
    {"eq", "ne", "gt", "gte", "lt", "lte", "between", "in", "not_in", "is_null", "not_null"}
)
BOOLEAN_OPS = frozenset({"eq"})


class SegmentDefinitionInvalid(InvalidInput):
    code = "segment_definition_invalid"
    title = "The segment definition is invalid"


class SegmentNotFound(NotFound):
    code = "segment_not_found"
    title = "Segment not found"


class SegmentKeyTaken(Conflict):
    code = "segment_key_taken"
    title = "A segment with this key exists"


class SegmentVersionConflict(Conflict):
    code = "segment_version_conflict"
    title = "The segment was changed by someone else"


class FactUnavailable(InvalidInput):
    code = "segment_fact_unavailable"
    title = "A fact of the definition has no data source yet"


@dataclass(frozen=True)
class FactSpec:
    type: str  # "string", "number", "integer", "boolean"
    params: frozenset[str] = frozenset()
    required: frozenset[str] = frozenset()
    description: str = ""

    @property
    def ops(self) -> frozenset[str]:
        if self.type == "boolean":
            return BOOLEAN_OPS
        if self.type == "string":
            return STRING_OPS
        return NUMBER_OPS


_WINDOW = frozenset({"within_days"})
FACTS: dict[str, FactSpec] = {
    "profile.gender": FactSpec("string"),
    "profile.country": FactSpec("string"),
    "profile.city": FactSpec("string"),
    "profile.language": FactSpec("string"),
    "profile.preferred_channel": FactSpec("string", description="channel preference"),
    "profile.signup_channel": FactSpec("string"),
    "profile.age": FactSpec("integer", description="whole years on the evaluation date"),
    "profile.tenure_days": FactSpec("integer", description="days since signup"),
    "consent": FactSpec(
        "boolean",
        frozenset({"channel", "purpose"}),
        frozenset({"channel", "purpose"}),
        "granted for the channel and purpose (a channel refusal beats a general grant)",
    ),
    "events.count": FactSpec(
        "integer", frozenset({"type", "within_days"}), frozenset({"type"}), "events of a type"
    ),
    "orders.count": FactSpec("integer", _WINDOW, description="orders placed"),
    "orders.total_minor": FactSpec("integer", _WINDOW, description="order totals, minor units"),
    "rfm.segment": FactSpec("string", description="named RFM segment (latest snapshot)"),
    "rfm.r": FactSpec("integer", description="recency quintile 1-5 (latest snapshot)"),
    "rfm.f": FactSpec("integer", description="frequency quintile 1-5 (latest snapshot)"),
    "rfm.m": FactSpec("integer", description="monetary quintile 1-5 (latest snapshot)"),
    "clv.value_minor": FactSpec(
        "number", description="predicted CLV, minor units (latest CLV snapshot)"
    ),
    "clv.p_alive": FactSpec(
        "number", description="probability 0-1 of still being active (latest CLV snapshot)"
    ),
    "churn.risk": FactSpec("number", description="churn probability 0-1 (latest snapshot)"),
    "tier": FactSpec("string", frozenset({"programme"}), description="current tier code"),
}


@dataclass(frozen=True)
class Condition:
    fact: str
    op: str
    value: Any
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AllOf:
    children: tuple[Node, ...]


@dataclass(frozen=True)
class AnyOf:
    children: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    child: Node


Node = Condition | AllOf | AnyOf | Not


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _check_scalar(spec: FactSpec, value: Any) -> str | None:
    if spec.type == "string":
        return (
            None
            if isinstance(value, str) and 0 < len(value) <= 200
            else ("expected a non-empty string (at most 200 characters)")
        )
    if spec.type == "boolean":
        return None if isinstance(value, bool) else "expected true or false"
    if spec.type == "integer":
        return (
            None
            if isinstance(value, int) and not isinstance(value, bool)
            else ("expected an integer")
        )
    return None if _is_number(value) else "expected a finite number"


class _Parser:
    def __init__(self) -> None:
        self.problems: list[FieldProblem] = []
        self.conditions = 0

    def fail(self, pointer: str, message: str) -> None:
        self.problems.append(FieldProblem(pointer or "/", message))

    def node(self, raw: Any, pointer: str, depth: int) -> Node | None:
        if depth > MAX_DEPTH:
            self.fail(pointer, f"the tree is deeper than {MAX_DEPTH} levels")
            return None
        if not isinstance(raw, dict):
            self.fail(pointer, "expected an object: all, any, not or a condition")
            return None
        groups = [k for k in ("all", "any", "not") if k in raw]
        if groups:
            if len(raw) != 1:
                self.fail(pointer, "a group holds exactly one key: all, any or not")
                return None
            key = groups[0]
            if key == "not":
                child = self.node(raw["not"], f"{pointer}/not", depth + 1)
                return None if child is None else Not(child)
            items = raw[key]
            if not isinstance(items, list) or not items:
                self.fail(f"{pointer}/{key}", "expected a non-empty list")
                return None
            children = [
                self.node(c, f"{pointer}/{key}/{i}", depth + 1) for i, c in enumerate(items)
            ]
            if any(c is None for c in children):
                return None
            kept = tuple(c for c in children if c is not None)
            return AllOf(kept) if key == "all" else AnyOf(kept)
        return self.condition(raw, pointer)

    def condition(self, raw: dict[str, Any], pointer: str) -> Condition | None:
        self.conditions += 1
        if self.conditions == MAX_CONDITIONS + 1:
            self.fail(pointer, f"a definition holds at most {MAX_CONDITIONS} conditions")
        before = len(self.problems)
        for key in sorted(set(raw) - {"fact", "op", "value", "params"}):
            self.fail(f"{pointer}/{key}", "unknown key")
        fact = raw.get("fact")
        spec = FACTS.get(fact) if isinstance(fact, str) else None
        if spec is None:
            self.fail(
                f"{pointer}/fact", f"unknown fact; expected one of {', '.join(sorted(FACTS))}"
            )
            return None
        params = raw.get("params", {})
        if not isinstance(params, dict):
            self.fail(f"{pointer}/params", "expected an object")
            params = {}
        self.params(spec, params, f"{pointer}/params")
        op = raw.get("op")
        if op not in spec.ops:
            self.fail(
                f"{pointer}/op",
                f"expected one of {', '.join(sorted(spec.ops))} for a {spec.type} fact",
            )
            return None
        value = raw.get("value")
        self.value(spec, op, value, raw, f"{pointer}/value")
        if len(self.problems) > before:
            return None
        if isinstance(value, list):
            value = tuple(value)
        return Condition(str(fact), str(op), value, dict(params))

    def params(self, spec: FactSpec, params: dict[str, Any], pointer: str) -> None:
        for key in sorted(set(params) - spec.params):
            self.fail(f"{pointer}/{key}", "unknown parameter")
        for key in sorted(spec.required - set(params)):
            self.fail(f"{pointer}/{key}", "required")
        if "within_days" in params:
            days = params["within_days"]
            if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 3660:
                self.fail(f"{pointer}/within_days", "expected an integer from 1 to 3660")
        for key in ("type", "programme"):
            if key in params and not (isinstance(params[key], str) and params[key]):
                self.fail(f"{pointer}/{key}", "expected a non-empty string")
        if "channel" in params and params["channel"] not in {c.value for c in ConsentChannel}:
            self.fail(
                f"{pointer}/channel",
                f"expected one of {', '.join(c.value for c in ConsentChannel)}",
            )
        if "purpose" in params and params["purpose"] not in {p.value for p in ConsentPurpose}:
            self.fail(
                f"{pointer}/purpose",
                f"expected one of {', '.join(p.value for p in ConsentPurpose)}",
            )

    def value(self, spec: FactSpec, op: str, value: Any, raw: dict[str, Any], pointer: str) -> None:
        if op in {"is_null", "not_null"}:
            if "value" in raw:
                self.fail(pointer, f"'{op}' takes no value")
            return
        if "value" not in raw:
            self.fail(pointer, "required")
            return
        if op in {"in", "not_in", "between"}:
            if not isinstance(value, list) or not value or len(value) > MAX_LIST:
                self.fail(pointer, f"expected a non-empty list (at most {MAX_LIST} items)")
                return
            if op == "between" and len(value) != 2:
                self.fail(pointer, "expected [low, high]")
                return
            for i, item in enumerate(value):
                message = _check_scalar(spec, item)
                if message:
                    self.fail(f"{pointer}/{i}", message)
            if op == "between" and all(_is_number(v) for v in value) and value[0] > value[1]:
                self.fail(pointer, "low must not exceed high")
            return
        message = _check_scalar(spec, value)
        if message:
            self.fail(pointer, message)


def parse_definition(document: Any) -> Node:
    """The validated tree of ``document``; raises `SegmentDefinitionInvalid` with a JSON
    pointer (relative to the definition) for every problem."""
    parser = _Parser()
    node = parser.node(document, "", 1)
    if parser.problems or node is None:
        problems = parser.problems or [FieldProblem("/", "invalid definition")]
        raise SegmentDefinitionInvalid(
            "; ".join(f"{p.pointer}: {p.message}" for p in problems[:5]), problems
        )
    return node


def prefix_problems(error: SegmentDefinitionInvalid, prefix: str) -> SegmentDefinitionInvalid:
    """The same error with pointers relative to the request (``/definition/all/0/op``)."""
    problems = [
        FieldProblem(prefix + ("" if p.pointer == "/" else p.pointer), p.message)
        for p in error.problems
    ]
    return SegmentDefinitionInvalid(
        "; ".join(f"{p.pointer}: {p.message}" for p in problems[:5]), problems
    )


def facts_of(node: Node) -> set[str]:
    """Every fact a tree reads."""
    if isinstance(node, Condition):
        return {node.fact}
    if isinstance(node, Not):
        return facts_of(node.child)
    return set().union(*(facts_of(child) for child in node.children))


@dataclass(frozen=True)
class MembershipChanges:
    entered: tuple[int, ...]
    exited: tuple[int, ...]


def membership_changes(current: Iterable[int], open_members: Iterable[int]) -> MembershipChanges:
    """Entries and exits when the segment now holds ``current`` and ``open_members`` were in
    it; both sorted so writes lock rows in key order."""
    now, before = set(current), set(open_members)
    return MembershipChanges(tuple(sorted(now - before)), tuple(sorted(before - now)))
