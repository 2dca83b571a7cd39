"""Reading import files: what a Parquet cell becomes, and that the import reads it back."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from fidela.cli.files import read_rows
from fidela.imports.rules import RowInvalid, instant, whole

PARIS_WINTER = timezone(timedelta(hours=1))
BORN = date(1990, 5, 17)


def _write(path: Path, columns: dict[str, pa.Array]) -> Path:
    pq.write_table(pa.table(columns), path)
    return path


def _cells(path: Path, column: str) -> list[object]:
    return [row[column] for chunk in read_rows(path) for _, row in chunk]


@pytest.mark.parametrize(
    ("unit", "zone"),
    [("us", "UTC"), ("ns", "UTC"), ("s", "UTC"), ("ms", "Europe/Paris"), ("ns", "+01:00")],
)
def test_timestamp_cells_are_read_as_the_same_instants(
    tmp_path: Path, unit: str, zone: str
) -> None:
    moments = [
        datetime(2026, 1, 31, 23, 59, 59, tzinfo=PARIS_WINTER),
        datetime(2023, 10, 31, 2, 4, 44, 999000, tzinfo=UTC),
    ]
    if unit == "s":
        moments = [m.replace(microsecond=0) for m in moments]
    path = _write(
        tmp_path / "orders.parquet",
        {"ordered_at": pa.array([*moments, None], pa.timestamp(unit, tz=zone))},
    )

    cells = _cells(path, "ordered_at")

    assert [instant(cell, "ordered_at") for cell in cells] == [*moments, None]


def test_a_timestamp_without_timezone_is_still_refused(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "orders.parquet",
        # A local time in the file, with no offset: which instant it is cannot be known.
        {"ordered_at": pa.array([datetime(2026, 1, 31, 12, 0)], pa.timestamp("us"))},  # noqa: DTZ001
    )

    (cell,) = _cells(path, "ordered_at")

    with pytest.raises(RowInvalid, match="no timezone"):
        instant(cell, "ordered_at")


def test_other_columns_keep_their_types(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "orders.parquet",
        {
            "order_id": pa.array([" O1 ", None]),
            "quantity": pa.array([3, None], pa.int64()),
            "paid": pa.array([True, False]),
            "born": pa.array([BORN, None], pa.date32()),
        },
    )

    rows = [row for chunk in read_rows(path) for _, row in chunk]

    assert rows == [
        {"order_id": " O1 ", "quantity": 3, "paid": True, "born": BORN},
        {"order_id": None, "quantity": None, "paid": False, "born": None},
    ]
    assert [whole(row["quantity"], "quantity") for row in rows] == [3, None]
