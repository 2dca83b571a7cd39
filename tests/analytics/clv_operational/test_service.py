"""CLV snapshots stored and read back (API, customer 360, nightly step), the KPI, and the
clear errors for input the models cannot use."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, func, select

from fidela.analytics import snapshots
from fidela.analytics.clv import TooFewRepeatCustomers
from fidela.analytics.clv import service as clv
from fidela.analytics.clv.models import AnalyticsCustomerClv
from fidela.analytics.clv.operational import ClvCurrencyNotUsed
from fidela.analytics.clv.prediction import ClvSettingsInvalid
from fidela.analytics.kpis import kpi_report
from fidela.analytics.rules import AmbiguousCurrency, Kpi, Period, SegmentBy, parse_as_of
from fidela.analytics.sources import Sources, duckdb_sources
from fidela.kernel.money import UnknownCurrency
from fidela.platform.db import Database
from tests.analytics.clv_operational.orders import Order, export, insert_orders, simulate
from tests.analytics.conftest import SourcesFactory
from tests.api.keys import issue
from tests.conftest import T0, Clock

AS_OF = parse_as_of("2026-07-01")
START = datetime(2025, 1, 1, tzinfo=UTC)


def seeded(connection: Connection, tmp_path: Path, extra: tuple[Order, ...] = ()) -> Sources:
    """150 simulated EUR buyers (and ``extra`` orders), read by DuckDB from an export."""
    orders = simulate(150, seed=5, start=START, end=AS_OF.replace(tzinfo=UTC))
    insert_orders(connection, [*orders, *extra])
    export(connection, tmp_path)
    return duckdb_sources(tmp_path, threads=1)


def test_a_stored_snapshot_serves_every_buyer_and_replaces_itself_when_recomputed(
    connection: Connection, database: Database, tmp_path: Path
) -> None:
    prediction = clv.compute_clv(seeded(connection, tmp_path), as_of=AS_OF)
    with database.write() as session:
        for _ in range(2):
            snapshot = clv.store_clv(session, prediction, engine="duckdb", now=T0, duration_ms=1)
        rows = session.scalar(select(func.count()).select_from(AnalyticsCustomerClv))
        stored_sum = session.scalar(select(func.sum(AnalyticsCustomerClv.clv_minor)))
    assert rows == prediction.customers == snapshot.row_count
    payload = snapshot.payload
    assert snapshot.kind == "clv"
    assert snapshot.params == {
        "currency": "EUR",
        "horizon_weeks": 52,
        "discount_rate": 0.10,
        "margin": 1.0,
    }
    assert payload["totals"]["clv_sum_minor"] == stored_sum
    assert payload["customers"] == rows
    assert payload["bgnbd"]["params"] == prediction.purchases.params
    assert payload["holdout"]["purchases"]["buckets"]
    top = payload["top"][0]
    assert top["clv_minor"] == max(prediction.clv_minor.tolist())

    with database.read() as session:
        found, row = clv.get_customer_clv(session, customer_id=top["customer_id"])
        scores = snapshots.scores_for(session, top["customer_id"], T0)
    assert found.id == snapshot.id
    assert (row.clv_minor, row.historical_minor) == (top["clv_minor"], top["historical_minor"])
    assert scores["clv"] == {
        "as_of": found.as_of.isoformat(),
        "currency": "EUR",
        "clv_minor": top["clv_minor"],
        "p_alive": row.p_alive,
    }


def test_the_nightly_step_stores_a_snapshot_or_nothing_while_too_few_buyers_repeat(
    connection: Connection, database: Database, tmp_path: Path
) -> None:
    insert_orders(connection, [Order(0, START, 1_000), Order(0, START.replace(month=2), 500)])
    export(connection, tmp_path / "few")
    few = duckdb_sources(tmp_path / "few", threads=1)
    assert clv.refresh_clv(database, few, as_of=AS_OF, now=T0, engine_name="duckdb") is None

    sources = seeded(connection, tmp_path / "many")
    snapshot = clv.refresh_clv(database, sources, as_of=AS_OF, now=T0, engine_name="duckdb")
    assert snapshot is not None
    assert (snapshot.engine, snapshot.payload["as_of"]) == ("duckdb", "2026-07-01")


@pytest.mark.parametrize(
    ("arguments", "error", "pointer"),
    [
        ({"currency": "USD"}, ClvCurrencyNotUsed, "/currency"),
        ({"currency": "EURO"}, UnknownCurrency, None),
        ({"margin": 0.0}, ClvSettingsInvalid, "/margin"),
        ({"margin": 1.5}, ClvSettingsInvalid, "/margin"),
        ({"discount_rate": -0.1}, ClvSettingsInvalid, "/discount_rate"),
        ({"horizon_weeks": 0}, ClvSettingsInvalid, "/horizon_weeks"),
    ],
)
def test_bad_settings_and_unknown_currencies_are_refused_with_a_pointer(
    connection: Connection,
    make_sources: SourcesFactory,
    arguments: dict[str, object],
    error: type[Exception],
    pointer: str | None,
) -> None:
    insert_orders(connection, [Order(0, START, 1_000)])
    with pytest.raises(error) as raised:
        clv.compute_clv(make_sources(), as_of=AS_OF, **arguments)  # type: ignore[arg-type]
    if pointer is not None:
        assert [p.pointer for p in raised.value.problems] == [pointer]  # type: ignore[attr-defined]


def test_several_currencies_need_a_choice_and_each_is_fitted_on_its_own(
    connection: Connection, tmp_path: Path
) -> None:
    sources = seeded(connection, tmp_path, (Order(150, START, 700, currency="CHF"),))
    with pytest.raises(AmbiguousCurrency) as raised:
        clv.compute_clv(sources, as_of=AS_OF)
    assert "CHF, EUR" in str(raised.value)
    euros = clv.compute_clv(sources, as_of=AS_OF, currency="eur")
    assert euros.currency == "EUR"
    assert euros.customers == 150  # the CHF buyer is not among them


def test_too_few_repeat_buyers_is_the_clv_error_on_the_seed_fixture(
    connection: Connection, make_sources: SourcesFactory
) -> None:
    from tests.analytics.test_rfm import five_customers

    five_customers().insert(connection)
    with pytest.raises(TooFewRepeatCustomers, match="at least 10 customers with a repeat"):
        clv.compute_clv(make_sources(), as_of=parse_as_of("2026-04-01"))


def test_predicted_clv_kpi_is_the_segment_mean_on_the_latest_period_only(
    connection: Connection, tmp_path: Path
) -> None:
    sources = seeded(connection, tmp_path)
    prediction = clv.compute_clv(sources, as_of=AS_OF)
    report = kpi_report(
        sources, AS_OF, period=Period.MONTH, periods=3, kpis=[Kpi.PREDICTED_CLV], currency="EUR"
    )
    values = [row["predicted_clv_minor"] for row in report["series"]]
    mean = round(int(prediction.clv_minor.sum()) / prediction.customers)
    assert values == [None, None, mean]
    assert "latest period only" in report["units"]["predicted_clv_minor"]

    by_value = kpi_report(
        sources,
        AS_OF,
        period=Period.MONTH,
        periods=2,
        segment_by=SegmentBy.VALUE,
        kpis=[Kpi.PREDICTED_CLV],
        currency="EUR",
    )
    latest = {
        row["segment"]: row["predicted_clv_minor"]
        for row in by_value["series"]
        if row["period_start"] == "2026-06-01"
    }
    assert latest["vip"] > latest["regular"]  # the top tenth by spend is worth more ahead


def test_predicted_clv_kpi_is_null_when_the_models_cannot_be_fitted(
    connection: Connection, make_sources: SourcesFactory
) -> None:
    insert_orders(connection, [Order(0, START, 1_000), Order(0, START.replace(month=3), 900)])
    report = kpi_report(make_sources(), AS_OF, periods=2, kpis=[Kpi.PREDICTED_CLV])
    assert [row["predicted_clv_minor"] for row in report["series"]] == [None, None]


def test_the_api_serves_the_snapshot_and_a_customers_clv(
    client: TestClient,
    connection: Connection,
    database: Database,
    clock: Clock,
    tmp_path: Path,
) -> None:
    headers = issue(database, clock, "analytics:read")
    missing = client.get("/v1/analytics/clv", headers=headers)
    assert (missing.status_code, missing.json()["code"]) == (404, "snapshot_not_found")
    assert "fidela analytics clv" in missing.json()["detail"]
    assert client.get("/v1/analytics/clv/customers/1", headers=headers).status_code == 404

    prediction = clv.compute_clv(seeded(connection, tmp_path), as_of=AS_OF)
    with database.write() as session:
        clv.store_clv(session, prediction, engine="duckdb", now=T0, duration_ms=1)
    snapshot = client.get("/v1/analytics/clv", headers=headers).json()
    assert snapshot["kind"] == "clv"
    assert snapshot["payload"]["customers"] == prediction.customers
    top = snapshot["payload"]["top"][0]
    one = client.get(f"/v1/analytics/clv/customers/{top['customer_id']}", headers=headers)
    assert one.status_code == 200, one.text
    body = one.json()
    assert (body["clv_minor"], body["currency"], body["horizon_weeks"]) == (
        top["clv_minor"],
        "EUR",
        52,
    )
    assert body["p_alive"] == pytest.approx(top["p_alive"], abs=1e-6)
