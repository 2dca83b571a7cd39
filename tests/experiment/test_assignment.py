"""Deterministic assignment: SHA-256 buckets, the global control group, holdouts and arms."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from collections import Counter

import pytest

from fidela.experiment.rules.assignment import (
    HOLDOUT,
    Arm,
    Split,
    bucket,
    in_global_control,
)
from fidela.experiment.rules.errors import InvalidExperiment
from fidela.experiment.rules.statistics import sample_ratio_check


def test_a_bucket_is_the_sha256_of_key_and_customer_modulo_ten_thousand() -> None:
    digest = hashlib.sha256(b"spring-sale:42").digest()
    assert bucket("spring-sale", 42) == int.from_bytes(digest[:8], "big") % 10_000


def test_a_bucket_is_the_same_in_another_process() -> None:
    code = "from fidela.experiment.rules.assignment import bucket; print(bucket('k', 123456))"
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert int(other.stdout) == bucket("k", 123456)


def test_the_global_control_group_holds_about_its_share_and_is_stable() -> None:
    members = [c for c in range(1, 20_001) if in_global_control(c, 500)]
    assert 900 < len(members) < 1100  # 5 % of 20,000
    assert members == [c for c in range(1, 20_001) if in_global_control(c, 500)]
    assert not any(in_global_control(c, 0) for c in range(1, 1000))
    reshuffled = {c for c in range(1, 20_001) if in_global_control(c, 500, epoch=1)}
    assert reshuffled != set(members)


def test_arms_get_their_weighted_share_after_the_holdout() -> None:
    split = Split("welcome-test", (Arm("a", 1), Arm("b", 1), Arm("c", 2)), holdout_bp=1000)
    counts = Counter(split.assign_many(list(range(1, 40_001))))
    observed = [counts[HOLDOUT], counts["a"], counts["b"], counts["c"]]
    assert not sample_ratio_check(observed, [0.1, 0.225, 0.225, 0.45]).mismatch
    assert [split.assign(c) for c in range(1, 200)] == split.assign_many(list(range(1, 200)))


def test_the_bucket_ranges_cover_every_bucket_once() -> None:
    split = Split("x", (Arm("a", 3), Arm("b", 7)), holdout_bp=333)
    ranges = split.bounds()
    assert ranges[0] == (HOLDOUT, 0, 333)
    assert [r[1] for r in ranges[1:]] == [r[2] for r in ranges[:-1]]
    assert ranges[-1][2] == 10_000


def test_different_experiments_assign_independently() -> None:
    one = Split("one", (Arm("a", 1), Arm("b", 1)))
    two = Split("two", (Arm("a", 1), Arm("b", 1)))
    same = sum(one.assign(c) == two.assign(c) for c in range(1, 10_001))
    assert 4700 < same < 5300


def test_an_invalid_split_is_refused_with_pointers() -> None:
    with pytest.raises(InvalidExperiment) as caught:
        Split("", (Arm("a", 0), Arm("a", 1)), holdout_bp=10_000)
    pointers = {p.pointer for p in caught.value.problems}
    assert pointers == {"/key", "/holdout_bp", "/variants", "/variants/0/weight"}
