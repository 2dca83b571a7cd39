"""Analytics use cases: open the sources on an engine, compute an analytic for an ``as_of``
and store it as a snapshot (the read side is ``snapshots``).

The shells pass ``now`` (when the snapshot was computed) and choose the engine; nothing here
reads the business clock. Snapshot keys are (kind, as_of, canonical parameters): recomputing
replaces the earlier snapshot, so the nightly job is idempotent.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fidela.analytics import repository, rules
from fidela.analytics.cohorts import cohort_report
from fidela.analytics.funnel import funnel_report, journey_report
from fidela.analytics.kpis import kpi_report
from fidela.analytics.models import AnalyticsSnapshot
from fidela.analytics.rfm import orders_before, rfm_report
from fidela.analytics.snapshots import (
    SnapshotKind,
    SnapshotView,
    canonical_params,
    params_key,
    view_of,
)
from fidela.analytics.sources import (
    EngineName,
    Sources,
    duckdb_sources,
    export_parquet,
    postgres_sources,
    spark_sources,
)
from fidela.kernel.errors import FieldProblem
from fidela.platform.db import Database

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


# --- engines -----------------------------------------------------------------------------


def local_spark_session() -> SparkSession:
    """A local one-core Spark session in UTC, without its web UI (starting takes seconds)."""
    from pyspark.sql import SparkSession

    builder: Any = SparkSession.builder
    session: SparkSession = (
        builder.master("local[1]")
        .appName("fidela-analytics")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    return session


@contextmanager
def open_sources(
    database: Database,
    engine: EngineName,
    *,
    source_dir: Path | None = None,
    spark: SparkSession | None = None,
) -> Iterator[Sources]:
    """The sources on ``engine``: PostgreSQL reads the database in place; DuckDB and Spark
    read ``source_dir`` (a Parquet export) or, without one, a fresh export to a temporary
    directory that is removed afterwards."""
    if engine is EngineName.POSTGRES:
        with database.connection() as connection:
            yield postgres_sources(connection)
        return
    with tempfile.TemporaryDirectory(prefix="fidela-analytics-") as scratch:
        directory = source_dir
        if directory is None:
            directory = Path(scratch)
            with database.connection() as connection:
                export_parquet(connection, directory)
        if engine is EngineName.SPARK:
            yield spark_sources(spark or local_spark_session(), directory)
        else:
            yield duckdb_sources(directory)


def default_engine(database: Database) -> EngineName:
    """PostgreSQL deployments analyse in place; SQLite ones export and use DuckDB."""
    return EngineName.POSTGRES if database.dialect == "postgresql" else EngineName.DUCKDB


# --- computing ---------------------------------------------------------------------------


def _currency(sources: Sources, as_of: datetime, currency: str | None) -> str | None:
    """The currency to report in: the one given, or the only one orders use."""
    if currency is not None:
        return currency
    orders = orders_before(sources, as_of)
    found = sorted(row["currency"] for row in sources.rows(orders.select("currency").distinct()))
    if len(found) > 1:
        raise rules.AmbiguousCurrency(
            f"orders before {rules.as_of_text(as_of)} use {', '.join(found)}; choose one",
            [FieldProblem("/currency", f"one of {', '.join(found)}")],
        )
    return found[0] if found else None


@dataclass(frozen=True)
class Computed:
    payload: dict[str, Any]
    customer_rows: list[dict[str, Any]]


def compute(
    sources: Sources, kind: SnapshotKind, as_of: datetime, params: dict[str, Any]
) -> Computed:
    """Run one analytic (``params`` canonical, see ``canonical_params``)."""
    if kind is SnapshotKind.RFM:
        currency = _currency(sources, as_of, params["currency"])
        payload, rows = rfm_report(sources, as_of, currency=currency)
        return Computed(payload, rows)
    if kind is SnapshotKind.COHORTS:
        since = None if params["since"] is None else date.fromisoformat(params["since"])
        currency = _currency(sources, as_of, params["currency"])
        return Computed(cohort_report(sources, as_of, currency=currency, since=since), [])
    if kind is SnapshotKind.KPIS:
        currency = _currency(sources, as_of, params["currency"])
        payload = kpi_report(
            sources,
            as_of,
            period=rules.Period(params["period"]),
            periods=params["periods"],
            segment_by=rules.SegmentBy(params["segment_by"]),
            kpis=[rules.Kpi(k) for k in params["kpis"]],
            currency=currency,
        )
        return Computed(payload, [])
    if kind is SnapshotKind.FUNNEL:
        return Computed(
            funnel_report(sources, as_of, steps=params["steps"], days=params["days"]), []
        )
    return Computed(
        journey_report(sources, as_of, days=params["days"], lookback_days=params["lookback_days"]),
        [],
    )


def refresh_snapshot(
    database: Database,
    sources: Sources,
    *,
    kind: SnapshotKind,
    as_of: datetime,
    params: dict[str, Any] | None,
    now: datetime,
) -> SnapshotView:
    """Compute ``kind`` for ``as_of`` on ``sources`` and store it (replacing any snapshot
    with the same key) in its own unit of work. ``as_of`` is naive UTC."""
    canonical = canonical_params(kind, params)
    started = time.perf_counter()
    computed = compute(sources, kind, as_of, canonical)
    duration_ms = round((time.perf_counter() - started) * 1000)
    with database.write() as session:
        snapshot = repository.replace_snapshot(
            session,
            AnalyticsSnapshot(
                kind=kind.value,
                as_of=as_of.replace(tzinfo=UTC),
                params_key=params_key(canonical),
                params=canonical,
                engine=sources.engine.value,
                payload=computed.payload,
                row_count=len(computed.customer_rows),
                computed_at=now,
                duration_ms=duration_ms,
            ),
        )
        if computed.customer_rows:
            repository.add_rfm_rows(session, snapshot.id, computed.customer_rows)
        return view_of(snapshot)
