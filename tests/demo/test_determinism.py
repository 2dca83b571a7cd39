"""Same config, same bytes; ids and content independent of chunking; a manifest that checks out."""

from __future__ import annotations

import hashlib
import json
import pathlib

import pyarrow.parquet as pq

from fidela.demo import GenerationConfig, generate
from tests.demo.dataset import Dataset

SMALL = 1_200  # two blocks: exercises block boundaries and running id counters


def _digests(out_dir: pathlib.Path) -> dict[str, str]:
    return {
        path.relative_to(out_dir).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(out_dir.rglob("*"))
        if path.is_file()
    }


def test_same_seed_gives_byte_identical_files(tmp_path: pathlib.Path) -> None:
    first = generate(GenerationConfig(customers=SMALL, seed=5, out_dir=tmp_path / "a"))
    # Written inline this time: the background writer must not change a byte either.
    second = generate(
        GenerationConfig(customers=SMALL, seed=5, out_dir=tmp_path / "b"),
        background_writes=False,
    )
    digests = _digests(first.out_dir)
    assert len(digests) == 2 * 15 + 2  # 15 tables in two formats, parameters and manifest
    assert digests == _digests(second.out_dir)


def test_different_seed_gives_different_customers(tmp_path: pathlib.Path) -> None:
    a = generate(GenerationConfig(customers=300, seed=1, out_dir=tmp_path / "a"))
    b = generate(GenerationConfig(customers=300, seed=2, out_dir=tmp_path / "b"))
    emails_a = pq.read_table(a.out_dir / "customers.parquet")["email"].to_pylist()
    emails_b = pq.read_table(b.out_dir / "customers.parquet")["email"].to_pylist()
    assert len(set(emails_a) & set(emails_b)) < 10
    assert a.rows["orders"] != b.rows["orders"]


def test_output_does_not_depend_on_chunk_size(tmp_path: pathlib.Path) -> None:
    small = generate(
        GenerationConfig(customers=SMALL, seed=9, out_dir=tmp_path / "a", chunk_size=1)
    )
    large = generate(
        GenerationConfig(customers=SMALL, seed=9, out_dir=tmp_path / "b", chunk_size=50_000)
    )
    small_digests = _digests(small.out_dir)
    large_digests = _digests(large.out_dir)
    for name, digest in small_digests.items():
        if name.endswith(".csv"):
            assert digest == large_digests[name], name
    # Parquet files differ by row groups only: their content is equal.
    for path in small.out_dir.rglob("*.parquet"):
        relative = path.relative_to(small.out_dir)
        assert pq.read_table(path).equals(pq.read_table(large.out_dir / relative)), relative


def test_manifest_lists_every_file_with_its_checksum(dataset: Dataset) -> None:
    manifest = json.loads((dataset.out_dir / "manifest.json").read_text())
    assert manifest["config"]["seed"] == dataset.config.seed
    assert manifest["config"]["customers"] == dataset.config.customers
    assert manifest["config"]["end"] == "2026-10-31"
    listed = [f for table in manifest["tables"].values() for f in table["files"]]
    listed += manifest["other_files"]
    on_disk = _digests(dataset.out_dir)
    del on_disk["manifest.json"]
    assert {f["path"]: f["sha256"] for f in listed} == on_disk
    for name, table in manifest["tables"].items():
        assert table["rows"] == dataset.report.rows[name]
        assert pq.read_metadata(dataset.out_dir / f"{name}.parquet").num_rows == table["rows"]


def test_report_counts_rows_and_lists_every_file(dataset: Dataset) -> None:
    report = dataset.report
    assert report.rows["customers"] == dataset.config.customers
    assert report.rows["truth/customers"] == dataset.config.customers
    assert report.seconds > 0
    assert sorted(report.files) == sorted(p for p in dataset.out_dir.rglob("*") if p.is_file())


def test_progress_is_reported_after_each_chunk(tmp_path: pathlib.Path) -> None:
    calls: list[tuple[int, int]] = []
    generate(
        GenerationConfig(
            customers=2_500, seed=3, out_dir=tmp_path, formats=("parquet",), chunk_size=1_000
        ),
        progress=lambda done, total: calls.append((done, total)),
    )
    assert calls == [(1_000, 2_500), (2_000, 2_500), (2_500, 2_500)]
    assert not list(tmp_path.rglob("*.csv"))
