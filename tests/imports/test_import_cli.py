from __future__ import annotations

import csv
import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, text
from typer.testing import CliRunner

from fidela.cli import context
from fidela.cli.main import app
from fidela.demo import GenerationConfig, generate
from fidela.platform import migrate
from fidela.platform.db import Base, create_db_engine
from fidela.platform.settings import get_settings
from tests.databases import fresh_database_url

runner = CliRunner()


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo")
    generate(GenerationConfig(customers=200, seed=11, out_dir=out))
    return out


@pytest.fixture
def engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    """A fresh migrated database that the CLI commands use (in-process)."""
    with fresh_database_url(tmp_path) as url:
        monkeypatch.setenv("FIDELA_DATABASE_URL", url)
        monkeypatch.setenv("FIDELA_CONFIG", str(tmp_path / "none.toml"))
        get_settings.cache_clear()
        context.database.cache_clear()
        engine = create_db_engine(url)
        migrate.upgrade(engine)
        try:
            yield engine
        finally:
            context.database().dispose()
            context.database.cache_clear()
            get_settings.cache_clear()
            engine.dispose()


def fidela(*args: str) -> str:
    result = runner.invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def fingerprint(engine: Engine) -> dict[str, str]:
    with engine.connect() as connection:
        return {
            table.name: hashlib.sha256(
                repr(
                    connection.execute(select(table).order_by(*table.primary_key.columns)).all()
                ).encode()
            ).hexdigest()
            for table in Base.metadata.sorted_tables
        }


def count(engine: Engine, table: str) -> int:
    with engine.connect() as connection:
        return int(
            connection.execute(
                select(func.count()).select_from(Base.metadata.tables[table])
            ).scalar_one()
        )


def test_importing_twice_changes_nothing_and_keeps_every_row(engine: Engine, data: Path) -> None:
    fidela("import", "customers", str(data / "customers.parquet"), "--source", "demo", "--quiet")
    fidela("import", "orders", str(data / "orders.parquet"), "--source", "demo", "--quiet")
    fidela("import", "events", str(data / "returns.parquet"), "--source", "demo", "--quiet")
    customers = sum(1 for _ in csv.DictReader((data / "customers.csv").open()))
    orders = sum(1 for _ in csv.DictReader((data / "orders.csv").open()))
    lines = sum(1 for _ in csv.DictReader((data / "order_lines.csv").open()))
    assert (
        count(engine, "customer"),
        count(engine, "sales_order"),
        count(engine, "sales_order_line"),
    ) == (
        customers,
        orders,
        lines,
    )
    before = fingerprint(engine)
    # Again, from the CSV twins of the same files: nothing changes.
    assert "0 created, 0 updated" in fidela(
        "import", "customers", str(data / "customers.csv"), "--source", "demo", "--quiet"
    )
    assert "0 created, 0 updated" in fidela(
        "import", "orders", str(data / "orders.csv"), "--source", "demo", "--quiet"
    )
    fidela("import", "events", str(data / "returns.csv"), "--source", "demo", "--quiet")
    assert fingerprint(engine) == before


def test_bad_rows_are_reported_and_never_block_good_ones(
    engine: Engine, data: Path, tmp_path: Path
) -> None:
    rows = list(csv.DictReader((data / "customers.csv").open()))
    rows[2]["email"] = "not-an-email"
    rows[4]["birth_date"] = "31/12/1990"
    rows[6]["signup_at"] = "yesterday"
    bad = tmp_path / "customers.csv"
    with bad.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    report = tmp_path / "errors.csv"
    output = fidela("import", "customers", str(bad), "--errors", str(report), "--quiet")
    assert f"{len(rows) - 3:,} created" in output
    assert "3 rejected" in output
    problems = list(csv.DictReader(report.open()))
    assert [(p["row"], p["field"]) for p in problems] == [
        ("3", "/email"),
        ("5", "/birth_date"),
        ("7", "/signup_at"),
    ]
    assert count(engine, "customer") == len(rows) - 3


def test_dry_run_writes_nothing(engine: Engine, data: Path) -> None:
    before = fingerprint(engine)
    output = fidela("import", "customers", str(data / "customers.parquet"), "--dry-run", "--quiet")
    assert "dry run" in output
    assert fingerprint(engine) == before


def test_column_mapping_renames_their_columns_to_ours(
    engine: Engine, data: Path, tmp_path: Path
) -> None:
    rows = list(csv.DictReader((data / "customers.csv").open()))[:20]
    renamed = tmp_path / "crm.csv"
    with renamed.open("w", newline="") as handle:
        fields = ["mail" if f == "email" else "id" if f == "customer_id" else f for f in rows[0]]
        writer = csv.writer(handle)
        writer.writerow(fields)
        writer.writerows(list(row.values()) for row in rows)
    fidela(
        "import",
        "customers",
        str(renamed),
        "--map",
        "email=mail",
        "--map",
        "customer_id=id",
        "--quiet",
    )
    with engine.connect() as connection:
        emails = connection.execute(
            text("SELECT count(*) FROM customer_identity WHERE kind = 'email'")
        ).scalar_one()
    assert emails == sum(1 for row in rows if row["email"])


def test_unreadable_files_fail_with_a_clear_message(engine: Engine, tmp_path: Path) -> None:
    missing = runner.invoke(app, ["import", "customers", str(tmp_path / "nope.parquet")])
    assert missing.exit_code == 1
    assert "does not exist" in missing.output
    odd = tmp_path / "customers.xlsx"
    odd.write_text("x")
    wrong = runner.invoke(app, ["import", "customers", str(odd)])
    assert wrong.exit_code == 1
    assert ".csv and .parquet" in wrong.output


def test_orders_imported_by_two_processes_match_the_file_and_rerun_unchanged(
    engine: Engine, data: Path
) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("several import processes need PostgreSQL")
    fidela("import", "customers", str(data / "customers.parquet"), "--source", "demo", "--quiet")
    fidela(
        "import",
        "orders",
        str(data / "orders.parquet"),
        "--source",
        "demo",
        "--quiet",
        "--jobs",
        "2",
    )
    with (data / "orders.csv").open() as handle:
        orders = list(csv.DictReader(handle))
    with engine.connect() as connection:
        stored = connection.execute(
            text(
                "SELECT i.value, count(*), sum(o.total_minor) FROM sales_order AS o "
                "JOIN customer_identity AS i ON i.customer_id = o.customer_id "
                "AND i.kind = 'external' GROUP BY i.value"
            )
        ).all()
    expected: dict[str, tuple[int, int]] = {}
    for row in orders:
        n, total = expected.get(row["customer_id"], (0, 0))
        expected[row["customer_id"]] = (n + 1, total + int(row["total_minor"]))
    assert {value: (n, total) for value, n, total in stored} == expected
    assert count(engine, "sales_order_line") == sum(
        1 for _ in csv.DictReader((data / "order_lines.csv").open())
    )
    before = fingerprint(engine)
    assert "0 created, 0 updated" in fidela(
        "import", "orders", str(data / "orders.csv"), "--source", "demo", "--quiet", "--jobs", "2"
    )
    assert fingerprint(engine) == before


def test_several_import_processes_are_refused_on_sqlite(engine: Engine, data: Path) -> None:
    if engine.dialect.name != "sqlite":
        pytest.skip("the SQLite refusal")
    result = runner.invoke(
        app, ["import", "orders", str(data / "orders.parquet"), "--quiet", "--jobs", "2"]
    )
    assert result.exit_code != 0
    # The message is laid out in a box: compare its words, not its line breaks.
    assert "SQLite takes one writer at a time" in " ".join(result.output.replace("│", " ").split())
