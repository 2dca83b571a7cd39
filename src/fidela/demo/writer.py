"""Streaming table files: one Parquet and/or CSV writer per table, fed one batch per chunk.

Memory stays bounded by a chunk: each chunk is appended to the open writers (a Parquet row
group, CSV rows) and dropped. Files are deterministic for a given content: no timestamps or
paths are embedded, so the same seed gives byte-identical files. The manifest lists every file
with its size and SHA-256.
"""

from __future__ import annotations

import hashlib
import json
import pathlib
import queue
import threading
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

_PARQUET_COMPRESSION = "zstd"
_HASH_BLOCK = 1 << 20


class TableSink:
    """The open files of one table (``name`` may contain a folder) in the requested formats."""

    def __init__(
        self,
        out_dir: pathlib.Path,
        name: str,
        schema: pa.Schema,
        formats: tuple[str, ...],
        dictionary: list[str] | bool = True,
    ) -> None:
        self.schema = schema
        self.rows = 0
        self.paths: list[pathlib.Path] = []
        self._parquet: Any = None
        self._csv: Any = None
        base = out_dir / name
        base.parent.mkdir(parents=True, exist_ok=True)
        if "parquet" in formats:
            path = base.with_name(base.name + ".parquet")
            self._parquet = pq.ParquetWriter(
                str(path), schema, compression=_PARQUET_COMPRESSION, use_dictionary=dictionary
            )
            self.paths.append(path)
        if "csv" in formats:
            path = base.with_name(base.name + ".csv")
            self._csv = pacsv.CSVWriter(str(path), _csv_schema(schema))
            self.paths.append(path)

    def write(self, table: pa.Table) -> None:
        if table.num_rows == 0:
            return
        table = table.cast(self.schema)
        if self._parquet is not None:
            self._parquet.write_table(table)
        if self._csv is not None:
            self._csv.write_table(_csv_view(table))
        self.rows += table.num_rows

    def close(self) -> None:
        if self._parquet is not None:
            self._parquet.close()
        if self._csv is not None:
            self._csv.close()


class BackgroundWriter:
    """Writes chunks to their sinks in a thread while the caller computes the next chunk.

    Arrow's Parquet and CSV writers release the GIL, so writing overlaps with simulation on a
    second core without copying data to another process. One thread writes, in submission
    order, so files are the same as when written inline. At most one chunk waits (memory).
    """

    def __init__(self, sinks: dict[str, TableSink]) -> None:
        self._sinks = sinks
        self._queue: queue.Queue[dict[str, pa.Table] | None] = queue.Queue(maxsize=1)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="fidela-demo-writer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (tables := self._queue.get()) is not None:
            if self._error is not None:
                continue  # keep draining so the producer never blocks on a dead writer
            try:
                for name, table in tables.items():
                    self._sinks[name].write(table)
            except BaseException as error:  # re-raised in the caller's thread
                self._error = error

    def submit(self, tables: dict[str, pa.Table]) -> None:
        self._raise_if_failed()
        self._queue.put(tables)

    def close(self) -> None:
        """Wait for pending writes; re-raise a write error in the caller's thread."""
        self._queue.put(None)
        self._thread.join()
        self._raise_if_failed()

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            raise self._error


def _is_utc_timestamp(data_type: pa.DataType) -> bool:
    return bool(pa.types.is_timestamp(data_type) and data_type.tz is not None)


def _csv_schema(schema: pa.Schema) -> pa.Schema:
    return pa.schema(
        [pa.field(f.name, pa.string()) if _is_utc_timestamp(f.type) else f for f in schema]
    )


def _csv_view(table: pa.Table) -> pa.Table:
    """UTC timestamps as text "2026-01-31 12:00:00.000000Z" (Arrow's own CSV rendering).

    Arrow formats zoned timestamps through a time zone lookup per value, about 25 times
    slower than naive ones; the values are UTC, so format them naive and append the "Z".
    """
    columns = []
    for f, column in zip(table.schema, table.columns, strict=True):
        if _is_utc_timestamp(f.type):
            naive = column.cast(pa.timestamp(f.type.unit)).cast(pa.string())
            column = pc.binary_join_element_wise(naive, "Z", "")
        columns.append(column)
    return pa.Table.from_arrays(columns, schema=_csv_schema(table.schema))


def sha256_of(path: pathlib.Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(_HASH_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def write_json(path: pathlib.Path, document: dict[str, Any]) -> None:
    """Deterministic JSON: sorted keys, fixed indentation, trailing newline."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


def manifest_document(
    out_dir: pathlib.Path,
    version: str,
    config: dict[str, Any],
    rows: dict[str, int],
    files: dict[str, list[pathlib.Path]],
    extra_files: list[pathlib.Path],
) -> dict[str, Any]:
    """Contents of ``manifest.json``: version, config, row counts and file checksums."""

    def describe(path: pathlib.Path) -> dict[str, Any]:
        return {
            "path": path.relative_to(out_dir).as_posix(),
            "bytes": path.stat().st_size,
            "sha256": sha256_of(path),
        }

    return {
        "generator": "fidela.demo",
        "generator_version": version,
        "config": config,
        "tables": {
            name: {"rows": rows[name], "files": [describe(p) for p in paths]}
            for name, paths in files.items()
        },
        "other_files": [describe(p) for p in extra_files],
    }
