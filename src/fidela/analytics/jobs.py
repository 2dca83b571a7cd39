"""The nightly refresh: every analytic with its default parameters, for as_of = the last
midnight (UTC), on the deployment's default engine (PostgreSQL in place, or a Parquet export
read by DuckDB), then the evaluation of every active SMART objective.

Each analytic is isolated: one that cannot run for a state of the data (too little history
to train churn, too few buyers to cluster or to fit CLV, orders in several currencies) raises
a domain error, which is logged and recorded in the night's ``refresh`` snapshot while the
others still run; the job succeeds. Anything else is a bug and fails the job (the outbox
retries it; every step replaces its own snapshot, so a rerun is idempotent).
"""

from __future__ import annotations

import time as clock
from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from fidela.analytics import rules, snapshots
from fidela.kernel.errors import DomainError, FieldProblem, InvalidInput
from fidela.platform.logging import get_logger
from fidela.platform.outbox.registry import JobContext, JobRegistry, PeriodicTask
from fidela.platform.settings import Settings

if TYPE_CHECKING:
    from fidela.analytics.churn.features import BehaviourTables
    from fidela.analytics.sources import Sources
    from fidela.platform.db import Database

REFRESH_TOPIC = "analytics.refresh"
REFRESH_KIND = "refresh"  # the snapshot recording what each night stored and skipped
# The model steps store snapshots of these kinds; objectives store evaluations.
CHURN, RECOMMEND, PERSONAS, CLV = (
    rules.CHURN_KIND,
    rules.RECOMMEND_KIND,
    rules.PERSONAS_KIND,
    rules.CLV_KIND,
)
OBJECTIVES = "objectives"
# In this order: objectives last, so they are judged once everything else is stored.
ANALYTICS: tuple[str, ...] = (
    *(kind.value for kind in snapshots.SnapshotKind),
    CHURN,
    RECOMMEND,
    PERSONAS,
    CLV,
    OBJECTIVES,
)

log = get_logger(__name__)


def nightly_as_of(now: datetime) -> datetime:
    """The last midnight UTC before ``now`` (aware), as naive UTC: full days only."""
    return datetime.combine(now.astimezone(UTC).date(), time())


def parse_analytics(names: list[str]) -> list[str]:
    """The analytics a payload asks for, in run order; all of them when none is named."""
    unknown = [name for name in names if name not in ANALYTICS]
    if unknown:
        raise InvalidInput(
            f"unknown analytic(s) {', '.join(unknown)}; expected some of {', '.join(ANALYTICS)}",
            [FieldProblem("/kinds", ", ".join(ANALYTICS))],
        )
    return [name for name in ANALYTICS if name in names] if names else list(ANALYTICS)


class _Night:
    """The sources and clock of one run, shared by every step."""

    def __init__(self, database: Database, sources: Sources, as_of: datetime, now: datetime):
        self.database, self.sources, self.as_of, self.now = database, sources, as_of, now
        self._behaviour: BehaviourTables | None = None

    @property
    def engine(self) -> str:
        return self.sources.engine.value

    def behaviour(self) -> BehaviourTables:
        """Churn and personas read the same behaviour tables: built once a night."""
        if self._behaviour is None:
            from fidela.analytics.churn.operational import behaviour_tables

            self._behaviour = behaviour_tables(self.sources)
        return self._behaviour

    def snapshot(self, kind: snapshots.SnapshotKind) -> str | None:
        from fidela.analytics import service

        service.refresh_snapshot(
            self.database, self.sources, kind=kind, as_of=self.as_of, params=None, now=self.now
        )
        return None

    def churn(self) -> str | None:
        # Engine and model libraries (scikit-learn) load only here: the worker starts without.
        from fidela.analytics.churn import service

        started = clock.perf_counter()
        result = service.compute_churn(self.behaviour(), as_of=self.as_of)
        with self.database.write() as session:
            service.store_churn(
                session,
                result,
                params={"horizon_days": result.horizon_days},  # the CLI's default key
                engine=self.engine,
                now=self.now,
                duration_ms=round((clock.perf_counter() - started) * 1000),
            )
        return (
            None if result.holdout is not None else f"no held-out report: {result.holdout_problem}"
        )

    def recommend(self) -> str | None:
        from fidela.analytics.recommend import service

        computed = service.compute_recommendations(
            self.sources.orders, self.sources.order_lines, as_of=self.as_of
        )
        with self.database.write() as session:
            service.store_recommendations(session, computed, engine=self.engine, now=self.now)
        problem = computed.payload["evaluation"].get("problem")
        return None if problem is None else f"no evaluation: {problem}"

    def personas(self) -> str | None:
        from fidela.analytics.personas import service

        day = self.as_of.date()
        with self.database.read() as session:
            computed = service.compute_personas(
                self.behaviour(),
                as_of=self.as_of,
                ages=lambda ids: service.ages_by_id(session, ids, day),
            )
        with self.database.write() as session:
            service.store_personas(session, computed, engine=self.engine, now=self.now)
        return None

    def clv(self) -> str | None:
        from fidela.analytics.clv.service import refresh_clv

        stored = refresh_clv(
            self.database, self.sources, as_of=self.as_of, now=self.now, engine_name=self.engine
        )
        return "too few repeat customers to fit the CLV models" if stored is None else None

    def objectives(self) -> str | None:
        from fidela.analytics.objectives.service import evaluate_due_objectives

        run = evaluate_due_objectives(self.database, self.sources, as_of=self.as_of, now=self.now)
        for objective_id, problem in run.failed.items():
            log.warning("objective not evaluated", objective_id=objective_id, problem=problem)
        if run.failed:
            failed = "; ".join(f"{i}: {problem}" for i, problem in run.failed.items())
            return f"{len(run.evaluated)} evaluated, not evaluated: {failed}"
        return None

    def step(self, name: str) -> Callable[[], str | None]:
        if name in {kind.value for kind in snapshots.SnapshotKind}:
            kind = snapshots.SnapshotKind(name)
            return lambda: self.snapshot(kind)
        steps: dict[str, Callable[[], str | None]] = {
            CHURN: self.churn,
            RECOMMEND: self.recommend,
            PERSONAS: self.personas,
            CLV: self.clv,
            OBJECTIVES: self.objectives,
        }
        return steps[name]


def refresh_all(context: JobContext, payload: dict[str, Any]) -> None:
    # The engines load on first use: every worker start need not pay for them.
    from fidela.analytics import service
    from fidela.analytics.churn.service import store_snapshot

    as_of = nightly_as_of(context.now)
    names = parse_analytics(list(payload.get("kinds", [])))
    engine = service.default_engine(context.database)
    outcomes: dict[str, dict[str, Any]] = {}
    # One export (or one in-place session) serves every analytic of the night.
    with service.open_sources(context.database, engine) as sources:
        night = _Night(context.database, sources, as_of, context.now)
        for name in names:
            started = clock.perf_counter()
            outcome: dict[str, Any]
            try:
                note = night.step(name)()
            except DomainError as error:  # a state of the data; a bug is not caught here
                log.warning("analytic skipped", analytic=name, code=error.code, detail=str(error))
                outcome = {"status": "skipped", "code": error.code, "detail": str(error)}
            else:
                outcome = {"status": "stored"}
                if note is not None:
                    outcome["note"] = note
            outcome["duration_ms"] = round((clock.perf_counter() - started) * 1000)
            outcomes[name] = outcome
    with context.database.write() as session:
        store_snapshot(
            session,
            kind=REFRESH_KIND,
            as_of=as_of,
            params={"analytics": names},
            engine=engine.value,
            payload={"as_of": as_of.date().isoformat(), "analytics": outcomes},
            row_count=0,
            now=context.now,
            duration_ms=sum(o["duration_ms"] for o in outcomes.values()),
        )
    log.info(
        "analytics refreshed",
        as_of=as_of.date().isoformat(),
        skipped=[name for name, o in outcomes.items() if o["status"] == "skipped"],
    )


def register_analytics_jobs(registry: JobRegistry, settings: Settings) -> None:
    del settings  # the defaults need no configuration yet
    registry.add_handler(REFRESH_TOPIC, refresh_all)
    registry.add_periodic(PeriodicTask("analytics-refresh", REFRESH_TOPIC, timedelta(days=1)))
