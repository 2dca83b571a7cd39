"""Engines for the analytics tests: DuckDB always; PostgreSQL in place and Spark (local mode)
when ``FIDELA_TEST_DATABASE_URL`` is set, so the SQLite run stays fast. One SparkSession per
test session (it takes seconds to start)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import Connection

from fidela.analytics.sources import (
    EngineName,
    Sources,
    duckdb_sources,
    export_parquet,
    postgres_sources,
    spark_sources,
)
from tests.databases import postgres_admin_url

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

ENGINES = [EngineName.DUCKDB] + (
    [EngineName.POSTGRES, EngineName.SPARK] if postgres_admin_url() else []
)


@pytest.fixture(scope="session")
def spark_session() -> Iterator[SparkSession]:
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[1]")
        .appName("fidela-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.default.parallelism", "1")
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


SourcesFactory = Callable[[], Sources]


# Spark pays seconds per query on a small machine: its variants are marked slow.
ENGINE_PARAMS = [
    pytest.param(engine, id=engine.value, marks=[pytest.mark.slow] if engine == "spark" else [])
    for engine in ENGINES
]


@pytest.fixture(params=ENGINE_PARAMS)
def make_sources(
    request: pytest.FixtureRequest, connection: Connection, tmp_path: Path
) -> SourcesFactory:
    """Call after seeding ``connection``: the sources on the parametrised engine, reading the
    seeded rows (an export through the same connection for DuckDB and Spark)."""
    engine: EngineName = request.param

    def build() -> Sources:
        if engine is EngineName.POSTGRES:
            return postgres_sources(connection)
        export_parquet(connection, tmp_path / "export")
        if engine is EngineName.SPARK:
            return spark_sources(request.getfixturevalue("spark_session"), tmp_path / "export")
        return duckdb_sources(tmp_path / "export", threads=1)

    return build
