"""Personas of the buying customers as of a date: features, clustering, cards.

Behaviour comes from `fidela.analytics.churn.features` (one definition of recency, frequency
and engagement); this module adds what only personas need, also as Ibis expressions: the
share of orders placed online, the age on ``as_of``, the preferred channel and the categories
bought.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd

from fidela.analytics.churn.features import BehaviourTables, behaviour_features
from fidela.analytics.personas.cards import PersonaCard, PersonaInputs, persona_cards
from fidela.analytics.personas.clustering import CLUSTER_FEATURES, Clustering, choose_k, prepare

ONLINE_CHANNELS = ("web", "app")


@dataclass(frozen=True)
class Personas:
    as_of: datetime
    clustering: Clustering
    cards: list[PersonaCard]
    customer_ids: list[object]


def _extras(tables: BehaviourTables, as_of: datetime) -> tuple[pd.DataFrame, pd.DataFrame]:
    cut = int(as_of.timestamp())
    orders = tables.orders.filter(tables.orders.ordered_at.epoch_seconds().cast("int64") < cut)
    channels = orders.group_by("customer_id").aggregate(
        # 1 or 0, then a cast: PostgreSQL cannot cast a boolean to double precision, and
        # float literals are decimal(2,1) to Spark, whose mean of decimals keeps 5 digits
        # (0.66667 where the other engines give 0.666666...).
        online_share=orders.channel.isin(ONLINE_CHANNELS).ifelse(1, 0).cast("float64").mean()
    )
    # Birth dates are personal data: the demo tables have them, the analytics export does not
    # (the service then passes ages read from the database).
    wanted = [c for c in ("birth_date", "preferred_channel") if c in tables.customers.columns]
    customers = tables.customers.select("customer_id", *wanted)
    profile = customers.left_join(channels, "customer_id").drop("customer_id_right")
    if tables.lines is None:
        raise ValueError("personas need the order lines (categories bought)")
    lines = tables.lines
    categories = (
        orders.select("order_id", "customer_id")
        .inner_join(lines.select("order_id", "category"), "order_id")
        .select("customer_id", "category")
    )
    return profile.to_pandas(), categories.to_pandas()


def build_personas(
    tables: BehaviourTables,
    *,
    as_of: datetime,
    seed: int = 0,
    ages: Callable[[list[object]], Mapping[object, float]] | None = None,
) -> Personas:
    """Cluster the customers who bought before ``as_of`` and describe each cluster (needs
    ``tables.lines`` for the categories). ``ages`` maps customer ids to ages in years when
    the tables hold no birth dates."""
    behaviour = behaviour_features(tables, as_of=as_of)
    profile, bought = _extras(tables, as_of)
    profile = profile.set_index("customer_id").reindex(list(behaviour.customer_ids))
    columns = []
    for name, _log in CLUSTER_FEATURES:
        if name == "online_share":
            columns.append(profile["online_share"].to_numpy(dtype=np.float64, na_value=np.nan))
        else:
            columns.append(behaviour.column(name))
    x = prepare(np.column_stack(columns), tuple(log for _, log in CLUSTER_FEATURES))
    clustering = choose_k(x, seed=seed)
    ids = behaviour.customer_ids.tolist()
    if ages is not None:
        known = ages(ids)
        age = np.array([known.get(c, np.nan) for c in ids], dtype=np.float64)
    elif "birth_date" in profile.columns:
        birth = pd.to_datetime(profile["birth_date"], errors="coerce")
        age = ((pd.Timestamp(as_of.date()) - birth).dt.days / 365.25).to_numpy(
            dtype=np.float64, na_value=np.nan
        )
    else:
        age = np.full(len(ids), np.nan)
    channel = (
        profile["preferred_channel"].to_numpy(dtype=object)
        if "preferred_channel" in profile.columns
        else np.full(len(ids), None, dtype=object)
    )
    grouped = bought.groupby("customer_id")["category"].apply(list).to_dict()
    inputs = PersonaInputs(
        age=age,
        channel=channel,
        avg_order_minor=behaviour.column("avg_order_minor"),
        orders_365d=behaviour.column("orders_365d"),
        spend_365d_minor=behaviour.column("spend_365d_minor"),
        recency_days=behaviour.column("recency_days"),
        categories=[grouped.get(c, []) for c in behaviour.customer_ids.tolist()],
    )
    return Personas(
        as_of=as_of,
        clustering=clustering,
        cards=persona_cards(clustering.labels, inputs),
        customer_ids=behaviour.customer_ids.tolist(),
    )
