"""A transaction table (pyarrow or pandas) checked and turned into the arrays `summary` reads.

Every bad value is reported with its 1-based data row number (the header is not a row) and the
value itself, so an operator can find it in the file: a missing column (all missing ones are
named), a missing customer, a date that does not parse, an amount that is missing, not a number
or negative.

Dates: date and timestamp columns are used as they are (time-zone-aware timestamps by their UTC
date); text is parsed as ISO 8601 (``2026-03-01``, ``2026-03-01T10:00:00+01:00``, ``20260301``),
times with an offset by their UTC date.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from fidela.analytics.clv.errors import TransactionsInvalid
from fidela.kernel.errors import FieldProblem

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Transactions:
    customer: npt.NDArray[Any]
    day: npt.NDArray[np.datetime64]
    amount: FloatArray

    @property
    def size(self) -> int:
        return int(self.day.size)


def _fail(column: str, row: int, what: str, value: Any) -> TransactionsInvalid:
    shown = "an empty value" if value is None or value == "" else repr(value)
    return TransactionsInvalid(
        f"row {row}: column {column!r} has {what}: {shown}",
        [FieldProblem(f"/rows/{row}/{column}", what)],
    )


def _first_bad(mask: npt.NDArray[np.bool_]) -> int | None:
    bad = np.flatnonzero(mask)
    return int(bad[0]) if bad.size else None


def _days(column: pa.ChunkedArray, name: str) -> npt.NDArray[np.datetime64]:
    kind = column.type
    if pa.types.is_timestamp(kind) or pa.types.is_date(kind):
        missing = _first_bad(np.asarray(column.is_null().to_numpy(zero_copy_only=False)))
        if missing is not None:
            raise _fail(name, missing + 1, "no date", None)
        if pa.types.is_timestamp(kind) and kind.tz is not None:
            column = pc.cast(column, pa.timestamp(kind.unit))  # the UTC wall clock
        values = np.asarray(column.to_numpy(zero_copy_only=False))
        return values.astype("datetime64[D]")
    text = pd.Series(column.cast(pa.string()).to_pylist(), dtype=object)
    parsed = pd.to_datetime(text, format="ISO8601", errors="coerce", utc=True)
    bad = _first_bad(np.asarray(parsed.isna()))
    if bad is not None:
        raise _fail(name, bad + 1, "a date that cannot be parsed", text.iloc[bad])
    return np.asarray(parsed.dt.tz_localize(None).to_numpy()).astype("datetime64[D]")


def _amounts(column: pa.ChunkedArray, name: str) -> FloatArray:
    if (
        pa.types.is_integer(column.type)
        or pa.types.is_floating(column.type)
        or pa.types.is_decimal(column.type)
    ):
        values = np.asarray(
            column.cast(pa.float64()).to_numpy(zero_copy_only=False), dtype=np.float64
        )
        raw: Any = column
    else:
        raw = pd.Series(column.cast(pa.string()).to_pylist(), dtype=object)
        values = np.asarray(pd.to_numeric(raw.str.strip(), errors="coerce"), dtype=np.float64)
    bad = _first_bad(~np.isfinite(values))
    if bad is not None:
        original = raw.iloc[bad] if isinstance(raw, pd.Series) else raw[bad].as_py()
        raise _fail(name, bad + 1, "an amount that is not a number", original)
    negative = _first_bad(values < 0)
    if negative is not None:
        raise _fail(name, negative + 1, "a negative amount", float(values[negative]))
    return values


def check_columns(
    available: list[str], customer_col: str, date_col: str, amount_col: str | None
) -> None:
    """Name every requested column the table lacks (and those it has)."""
    wanted = [customer_col, date_col] + ([amount_col] if amount_col else [])
    missing = [name for name in wanted if name not in available]
    if missing:
        raise TransactionsInvalid(
            f"missing column{'s' if len(missing) > 1 else ''} {', '.join(map(repr, missing))} "
            f"(the table has: {', '.join(available) or 'no columns'})",
            [FieldProblem(f"/columns/{name}", "missing column") for name in missing],
        )


def transactions_from_table(
    table: pa.Table | pd.DataFrame, customer_col: str, date_col: str, amount_col: str | None
) -> Transactions:
    """The checked customer, day and amount columns of ``table`` (amount 0 when ``None``)."""
    if isinstance(table, pd.DataFrame):
        table = pa.Table.from_pandas(table, preserve_index=False)
    check_columns(table.column_names, customer_col, date_col, amount_col)
    customers = table[customer_col]
    no_customer = _first_bad(np.asarray(customers.is_null().to_numpy(zero_copy_only=False)))
    if no_customer is not None:
        raise _fail(customer_col, no_customer + 1, "no customer", None)
    customer: npt.NDArray[Any]
    if pa.types.is_integer(customers.type):
        customer = np.asarray(customers.to_numpy(), dtype=np.int64)
    else:
        text = customers.cast(pa.string())
        blank = pc.equal(pc.utf8_length(pc.utf8_trim_whitespace(text)), 0)
        first_blank = _first_bad(np.asarray(blank.to_numpy(zero_copy_only=False)))
        if first_blank is not None:
            raise _fail(customer_col, first_blank + 1, "no customer", None)
        customer = np.asarray(text.to_numpy(zero_copy_only=False)).astype(str)
    day = _days(table[date_col], date_col)
    amount = _amounts(table[amount_col], amount_col) if amount_col else np.zeros(table.num_rows)
    return Transactions(customer, day, amount)
