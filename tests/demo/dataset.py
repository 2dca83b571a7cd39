"""Reading a generated demo data set back for checks: tables, id numbers, times as integers."""

from __future__ import annotations

import datetime
import pathlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from fidela.demo import GenerationConfig, GenerationReport

IntArray = npt.NDArray[np.int64]
MISSING = np.iinfo(np.int64).min


@dataclass
class Dataset:
    """A generated data set and cached readers over its Parquet files."""

    config: GenerationConfig
    report: GenerationReport
    _tables: dict[str, Any] = field(default_factory=dict)

    @property
    def out_dir(self) -> pathlib.Path:
        return self.config.out_dir

    @property
    def end_us(self) -> int:
        end = datetime.datetime.combine(self.config.end, datetime.time(0), tzinfo=datetime.UTC)
        return int(end.timestamp()) * 1_000_000

    def table(self, name: str) -> pa.Table:
        if name not in self._tables:
            self._tables[name] = pq.read_table(self.out_dir / f"{name}.parquet")
        return self._tables[name]

    def values(self, name: str, column: str) -> npt.NDArray[Any]:
        """A column as numpy (objects for strings, None for nulls)."""
        return np.asarray(self.table(name)[column].to_numpy(zero_copy_only=False))

    def numbers(self, name: str, column: str) -> IntArray:
        """The number of each id ("O000000012" -> 12); -1 for a null id."""
        ids = self.table(name)[column]
        digits = pc.utf8_trim(ids, characters="ABCDEFGHIJKLMNOPQRSTUVWXYZ")
        return np.asarray(digits.cast(pa.int64()).fill_null(-1).to_numpy(), dtype=np.int64)

    def micros(self, name: str, column: str) -> IntArray:
        """UTC epoch microseconds of a timestamp column; `MISSING` for nulls."""
        values = self.table(name)[column].cast(pa.int64()).fill_null(MISSING)
        return np.asarray(values.to_numpy(), dtype=np.int64)

    def customer_positions(self, name: str, column: str = "customer_id") -> IntArray:
        """Row of each referenced customer in the customers table (ids are 1..N in order)."""
        return self.numbers(name, column) - 1

    def fraud_customers(self) -> IntArray:
        return np.unique(self.customer_positions("truth/fraud"))
