"""Validation of generation configs: bad values fail early with a message naming the field."""

from __future__ import annotations

import datetime
import pathlib
from typing import Any

import pytest

from fidela.demo import GenerationConfig, TruthParameters


def _config(**changes: Any) -> GenerationConfig:
    values: dict[str, Any] = {"customers": 10, "seed": 1, "out_dir": pathlib.Path("unused")}
    values.update(changes)
    return GenerationConfig(**values)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"customers": 0}, "customers must be at least 1, got 0"),
        ({"customers": -5}, "customers must be at least 1"),
        ({"customers": 2.5}, "customers must be an integer"),
        ({"seed": -1}, "seed must be a non-negative integer"),
        ({"formats": ("parquet", "json")}, "unknown format 'json'"),
        ({"formats": ()}, "formats must name at least one of"),
        ({"formats": ("csv", "csv")}, "formats must not repeat"),
        ({"chunk_size": 0}, "chunk_size must be at least 1"),
        ({"years": 0}, "years must be between 1 and 10"),
        ({"end": "2026-10-31"}, "end must be a datetime.date"),
        ({"end": datetime.datetime(2026, 10, 31, tzinfo=datetime.UTC)}, "end must be a"),
    ],
)
def test_bad_config_is_rejected_with_clear_message(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _config(**changes)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"r": 0.0}, "truth parameter r must be a positive number"),
        ({"alpha": float("nan")}, "truth parameter alpha must be a positive number"),
        ({"q": 1.0}, "q must be > 1"),
        ({"never_buy_share": 1.0}, "never_buy_share must be in"),
        ({"fraud_share": 0.5}, "fraud_share must be in"),
    ],
)
def test_bad_truth_parameters_are_rejected_with_clear_message(
    changes: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        TruthParameters(**changes)


def test_chunks_are_whole_blocks_of_a_thousand_customers() -> None:
    assert _config(chunk_size=1).blocks_per_chunk == 1
    assert _config(chunk_size=1_000).blocks_per_chunk == 1
    assert _config(chunk_size=1_001).blocks_per_chunk == 2
    assert _config(chunk_size=20_000).blocks_per_chunk == 20


def test_signup_window_starts_years_before_end() -> None:
    assert _config(end=datetime.date(2026, 10, 31), years=3).start == datetime.date(2023, 10, 31)
    assert _config(end=datetime.date(2028, 2, 29), years=1).start == datetime.date(2027, 2, 28)
