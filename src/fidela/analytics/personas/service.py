"""Persona snapshots: cluster the buyers as of a date and store the persona cards.

Ages are personal data and are not in the analytics sources; the shell's database session
supplies birth dates for the clustered customers (`ages_by_id`), read in chunks.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from fidela.analytics import rules
from fidela.analytics.churn.features import BehaviourTables
from fidela.analytics.churn.service import aware, store_snapshot
from fidela.analytics.models import AnalyticsSnapshot
from fidela.analytics.personas.build import build_personas
from fidela.customer.models import Customer
from fidela.kernel.errors import FieldProblem, InvalidInput

PERSONAS_KIND = rules.PERSONAS_KIND


class PersonasDataInsufficient(InvalidInput):
    code = "personas_data_insufficient"
    title = "Not enough buyers to cluster"


def ages_by_id(session: Session, customer_ids: list[object], on: date) -> dict[object, float]:
    """Age in years on ``on`` of the customers with a known birth date."""
    ages: dict[object, float] = {}
    for start in range(0, len(customer_ids), 5_000):
        chunk = customer_ids[start : start + 5_000]
        for customer_id, born in session.execute(
            select(Customer.id, Customer.birth_date).where(
                Customer.id.in_(chunk), Customer.birth_date.is_not(None)
            )
        ):
            if born is not None:
                ages[int(customer_id)] = (on - born).days / 365.25
    return ages


@dataclass(frozen=True)
class ComputedPersonas:
    as_of: datetime
    params: dict[str, Any]
    payload: dict[str, Any]
    customers: int
    duration_ms: int


def compute_personas(
    tables: BehaviourTables,
    *,
    as_of: datetime,
    seed: int = 0,
    ages: Callable[[list[object]], Mapping[object, float]] | None = None,
) -> ComputedPersonas:
    """Personas as of ``as_of``; ``ages`` (see `ages_by_id`) where the tables lack them."""
    started = time.perf_counter()
    when = aware(as_of)
    try:
        personas = build_personas(tables, as_of=when, seed=seed, ages=ages)
    except ValueError as error:
        raise PersonasDataInsufficient(
            str(error), [FieldProblem("/as_of", "a date with more buyers")]
        ) from None
    payload: dict[str, Any] = {
        "as_of": when.date().isoformat(),
        "criterion": "mean silhouette over k = 2..8, seeded k-means",
        "k": personas.clustering.k,
        "silhouettes": {str(k): round(v, 4) for k, v in personas.clustering.silhouettes.items()},
        "customers": len(personas.customer_ids),
        "cards": [
            {
                key: (round(value, 2) if isinstance(value, float) else value)
                for key, value in dataclasses.asdict(card).items()
            }
            for card in personas.cards
        ],
    }
    return ComputedPersonas(
        when,
        {"seed": seed},
        payload,
        len(personas.customer_ids),
        round((time.perf_counter() - started) * 1000),
    )


def store_personas(
    session: Session, computed: ComputedPersonas, *, engine: str, now: datetime
) -> AnalyticsSnapshot:
    return store_snapshot(
        session,
        kind=PERSONAS_KIND,
        as_of=computed.as_of,
        params=computed.params,
        engine=engine,
        payload=computed.payload,
        row_count=computed.customers,
        now=now,
        duration_ms=computed.duration_ms,
    )
