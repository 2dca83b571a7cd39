"""``fidela analytics clv|churn|recommend|personas``: the predictive analytics, stored as
snapshots like the others (registered on the ``analytics`` app by ``register``).

Each command reads the sources on the chosen engine, computes outside any transaction, then
stores the snapshot in one short unit of work, and prints it (``--json`` for machines).
"""

from __future__ import annotations

from datetime import UTC, datetime, time
from pathlib import Path
from time import perf_counter
from typing import Annotated, Any

import typer

from fidela.cli import context
from fidela.cli.output import JsonOption, console, emit, failures_exit_1, print_table
from fidela.kernel.clock import utc_now
from fidela.kernel.errors import InvalidInput

AsOf = Annotated[
    str | None,
    typer.Option(
        "--as-of",
        help="Only data before this instant: YYYY-MM-DD (midnight UTC) or an ISO datetime "
        "with offset. Default: the last midnight UTC.",
    ),
]
Engine = Annotated[
    str | None, typer.Option("--engine", help="duckdb, postgres (in place) or spark.")
]
Source = Annotated[
    Path | None,
    typer.Option("--source", help="Read this Parquet export (fidela analytics export)."),
]


def _as_of(value: str | None) -> datetime:
    from fidela.analytics import rules

    if value is None:
        return datetime.combine(utc_now().astimezone(UTC).date(), time())
    return rules.parse_as_of(value, pointer="--as-of")


class _Run:
    """The sources of one command: engine chosen, export made if needed."""

    def __init__(self, engine: str | None, source: Path | None) -> None:
        from fidela.analytics import service
        from fidela.analytics.sources import EngineName, parse_engine

        self.database = context.database()
        self.engine = (
            service.default_engine(self.database) if engine is None else parse_engine(engine)
        )
        if source is not None and self.engine is EngineName.POSTGRES:
            raise InvalidInput("--source is for duckdb or spark; postgres reads in place")
        self.sources = service.open_sources(self.database, self.engine, source_dir=source)


def _snapshot_document(snapshot: Any) -> dict[str, Any]:
    return {
        "kind": snapshot.kind,
        "as_of": snapshot.as_of.astimezone(UTC).date().isoformat(),
        "engine": snapshot.engine,
        "params": snapshot.params,
        "duration_ms": snapshot.duration_ms,
        "payload": snapshot.payload,
    }


def churn(
    as_of: AsOf = None,
    engine: Engine = None,
    source: Source = None,
    horizon_days: Annotated[
        int, typer.Option("--horizon-days", min=7, help="Churn = no order in this many days.")
    ] = 90,
    as_json: JsonOption = False,
) -> None:
    """Churn risk per buyer (gradient boosting), top reasons, early warnings, and AUC and
    calibration on a held-out period."""
    from fidela.analytics.churn import service
    from fidela.analytics.churn.operational import behaviour_tables

    with failures_exit_1():
        when = _as_of(as_of)
        run = _Run(engine, source)
        with console.status(f"scoring churn on {run.engine.value}"), run.sources as sources:
            result = service.compute_churn(
                behaviour_tables(sources), as_of=when, horizon_days=horizon_days
            )
        with run.database.write() as session:
            snapshot = service.store_churn(
                session,
                result,
                params={"horizon_days": horizon_days},
                engine=run.engine.value,
                now=utc_now(),
                duration_ms=0,
            )
            document = _snapshot_document(snapshot)
    payload = document["payload"]

    def human() -> None:
        holdout = payload["holdout"]
        if holdout:
            console.print(
                f"held out {holdout['test_as_of']}: AUC {holdout['auc']} (rules only "
                f"{holdout['rules_auc']}), Brier {holdout['brier']}, ECE {holdout['ece']}"
            )
        else:
            console.print(f"no held-out report: {payload['holdout_problem']}")
        print_table(
            f"riskiest of {payload['customers']} buyers as of {payload['as_of']}",
            ["customer", "risk", "reasons", "warnings"],
            [
                (
                    r["customer_id"],
                    r["risk"],
                    ", ".join(x["feature"] for x in r["reasons"]),
                    "; ".join(r["warnings"]),
                )
                for r in payload["riskiest"]
            ],
        )

    emit(document, as_json, human)


def recommend(
    as_of: AsOf = None,
    engine: Engine = None,
    source: Source = None,
    k: Annotated[int, typer.Option("-k", min=1, max=100, help="Products per customer.")] = 10,
    horizon_days: Annotated[
        int, typer.Option("--horizon-days", min=7, help="Held-out period for precision@k.")
    ] = 90,
    as_json: JsonOption = False,
) -> None:
    """Item-item recommendations for every buyer, and precision@k / recall@k against the
    popularity baseline on the last held-out period."""
    from fidela.analytics.recommend import service

    with failures_exit_1():
        when = _as_of(as_of)
        run = _Run(engine, source)
        with console.status(f"recommending on {run.engine.value}"), run.sources as sources:
            computed = service.compute_recommendations(
                sources.orders, sources.order_lines, as_of=when, k=k, horizon_days=horizon_days
            )
        with run.database.write() as session:
            snapshot = service.store_recommendations(
                session, computed, engine=run.engine.value, now=utc_now()
            )
            document = _snapshot_document(snapshot)
    payload = document["payload"]

    def human() -> None:
        evaluation = payload["evaluation"]
        print_table(
            f"recommendations as of {payload['as_of']} ({payload['customers']} customers)",
            ["measure", "model", "popularity"],
            [
                (
                    "precision@k",
                    evaluation.get("precision_at_k"),
                    evaluation.get("popularity_precision_at_k"),
                ),
                (
                    "recall@k",
                    evaluation.get("recall_at_k"),
                    evaluation.get("popularity_recall_at_k"),
                ),
            ],
        )
        if "problem" in evaluation:
            console.print(f"no evaluation: {evaluation['problem']}")

    emit(document, as_json, human)


def personas(
    as_of: AsOf = None,
    engine: Engine = None,
    source: Source = None,
    seed: Annotated[int, typer.Option("--seed", min=0, help="k-means seed.")] = 0,
    as_json: JsonOption = False,
) -> None:
    """Personas: k-means on behavioural features, k by silhouette, one card per persona."""
    from fidela.analytics.churn.operational import behaviour_tables
    from fidela.analytics.personas import service

    with failures_exit_1():
        when = _as_of(as_of)
        run = _Run(engine, source)
        with (
            console.status(f"clustering on {run.engine.value}"),
            run.sources as sources,
            run.database.read() as session,
        ):
            computed = service.compute_personas(
                behaviour_tables(sources),
                as_of=when,
                seed=seed,
                ages=lambda ids: service.ages_by_id(session, ids, when.date()),
            )
        with run.database.write() as session:
            snapshot = service.store_personas(
                session, computed, engine=run.engine.value, now=utc_now()
            )
            document = _snapshot_document(snapshot)
    payload = document["payload"]

    def human() -> None:
        print_table(
            f"{payload['k']} personas as of {payload['as_of']} ({payload['criterion']})",
            ["persona", "size", "age", "channel", "basket", "categories", "value"],
            [
                (
                    c["name"],
                    c["size"],
                    c["typical_age"],
                    c["preferred_channel"],
                    c["avg_basket_minor"],
                    ", ".join(c["top_categories"]),
                    c["value"],
                )
                for c in payload["cards"]
            ],
        )

    emit(document, as_json, human)


def clv(
    as_of: AsOf = None,
    engine: Engine = None,
    source: Source = None,
    horizon_weeks: Annotated[
        int, typer.Option("--horizon-weeks", min=1, max=520, help="Prediction horizon.")
    ] = 52,
    discount_rate: Annotated[
        float, typer.Option("--discount-rate", help="Annual discount rate, e.g. 0.10.")
    ] = 0.10,
    margin: Annotated[
        float,
        typer.Option("--margin", help="Margin share in (0, 1]; 1.0 = revenue CLV."),
    ] = 1.0,
    currency: Annotated[
        str | None,
        typer.Option("--currency", help="ISO code; default: the only currency orders use."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Predicted CLV per buyer (BG/NBD + Gamma-Gamma, weekly), with the fitted parameters
    and a holdout check on the last horizon."""
    from fidela.analytics.clv import service

    with failures_exit_1():
        when = _as_of(as_of)
        run = _Run(engine, source)
        started = perf_counter()
        with console.status(f"fitting CLV on {run.engine.value}"), run.sources as sources:
            prediction = service.compute_clv(
                sources,
                as_of=when,
                currency=currency,
                horizon_weeks=horizon_weeks,
                discount_rate=discount_rate,
                margin=margin,
            )
        duration_ms = round((perf_counter() - started) * 1000)
        with run.database.write() as session:
            snapshot = service.store_clv(
                session,
                prediction,
                engine=run.engine.value,
                now=utc_now(),
                duration_ms=duration_ms,
            )
            document = _snapshot_document(snapshot)
    payload = document["payload"]

    def human() -> None:
        totals = payload["totals"]
        console.print(
            f"{payload['customers']} buyers ({payload['repeat_customers']} repeat) as of "
            f"{payload['as_of']}, {payload['currency']}: predicted CLV over "
            f"{payload['horizon_weeks']} weeks {totals['clv_sum_minor']} minor units in all, "
            f"{totals['clv_mean_minor']} on average (margin {payload['margin']}, "
            f"discount {payload['discount_rate']} a year)"
        )
        console.print(f"BG/NBD {payload['bgnbd']['params']}")
        console.print(f"Gamma-Gamma {payload['gamma_gamma']['params']}")
        holdout = payload["holdout"]
        if holdout:
            purchases = holdout["purchases"]
            console.print(
                f"holdout after {holdout['calibration_end']}: purchases per customer actual "
                f"{purchases['actual_mean']:.3f}, predicted {purchases['predicted_mean']:.3f}"
            )
        else:
            console.print(payload["holdout_problem"])
        print_table(
            "highest predicted CLV",
            ["customer", "clv_minor", "p_alive", "expected purchases", "historical_minor"],
            [
                (
                    r["customer_id"],
                    r["clv_minor"],
                    r["p_alive"],
                    r["expected_purchases"],
                    r["historical_minor"],
                )
                for r in payload["top"]
            ],
        )

    emit(document, as_json, human)


def register(app: typer.Typer) -> None:
    app.command("clv")(clv)
    app.command("churn")(churn)
    app.command("recommend")(recommend)
    app.command("personas")(personas)
