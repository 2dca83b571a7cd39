"""Deterministic assignment: a customer's bucket (0-9999) in an experiment is a hash of the
experiment key and the customer id, so it is the same in every process, on every run and
after a restart, and needs no stored assignment to be reproduced.

SHA-256 (not Python's ``hash``, which is salted per process) of ``"<key>:<customer id>"``;
the first 8 bytes as an integer, modulo 10,000. The global control group uses the reserved key
``global-control``: a customer in its first ``share`` buckets is never messaged by marketing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from fidela.experiment.rules.errors import InvalidExperiment
from fidela.kernel.errors import FieldProblem

BUCKETS = 10_000
GLOBAL_CONTROL_KEY = "global-control"
HOLDOUT = "holdout"


def bucket(key: str, customer_id: int) -> int:
    digest = hashlib.sha256(f"{key}:{customer_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % BUCKETS


def in_global_control(customer_id: int, share_bp: int, *, epoch: int = 0) -> bool:
    """In the global control group when the share (in basis points) covers the customer's
    bucket; a new ``epoch`` reshuffles the group (its membership history stays computable)."""
    if share_bp <= 0:
        return False
    key = GLOBAL_CONTROL_KEY if epoch == 0 else f"{GLOBAL_CONTROL_KEY}#{epoch}"
    return bucket(key, customer_id) < share_bp


@dataclass(frozen=True)
class Arm:
    name: str
    weight: int  # relative weight among the arms


@dataclass(frozen=True)
class Split:
    """A holdout share (basis points, first buckets) then the arms sharing the rest of the
    buckets in proportion to their weights."""

    key: str
    arms: tuple[Arm, ...]
    holdout_bp: int = 0

    def __post_init__(self) -> None:
        problems: list[FieldProblem] = []
        if not self.key:
            problems.append(FieldProblem("/key", "an experiment needs a key"))
        if not 0 <= self.holdout_bp < BUCKETS:
            problems.append(FieldProblem("/holdout_bp", "between 0 and 9999 basis points"))
        if not self.arms:
            problems.append(FieldProblem("/variants", "at least one variant"))
        names = [arm.name for arm in self.arms]
        if len(set(names)) != len(names) or HOLDOUT in names:
            problems.append(FieldProblem("/variants", "variant names must be unique, not holdout"))
        for n, arm in enumerate(self.arms):
            if arm.weight <= 0:
                problems.append(FieldProblem(f"/variants/{n}/weight", "a positive weight"))
        if problems:
            raise InvalidExperiment("the experiment split is not valid", problems)

    def bounds(self) -> list[tuple[str, int, int]]:
        """Each arm's bucket range [low, high): the holdout first, then arms in order."""
        ranges: list[tuple[str, int, int]] = []
        if self.holdout_bp:
            ranges.append((HOLDOUT, 0, self.holdout_bp))
        room = BUCKETS - self.holdout_bp
        total = sum(arm.weight for arm in self.arms)
        low, cumulative = self.holdout_bp, 0
        for arm in self.arms:
            cumulative += arm.weight
            high = self.holdout_bp + room * cumulative // total
            ranges.append((arm.name, low, high))
            low = high
        return ranges

    def arm_of_bucket(self, value: int) -> str:
        for name, low, high in self.bounds():
            if low <= value < high:
                return name
        raise AssertionError("the arms cover every bucket")  # pragma: no cover

    def assign(self, customer_id: int) -> str:
        return self.arm_of_bucket(bucket(self.key, customer_id))

    def assign_many(self, customer_ids: Sequence[int]) -> list[str]:
        ranges = self.bounds()
        out: list[str] = []
        for customer_id in customer_ids:
            value = bucket(self.key, customer_id)
            for name, low, high in ranges:
                if low <= value < high:
                    out.append(name)
                    break
        return out
