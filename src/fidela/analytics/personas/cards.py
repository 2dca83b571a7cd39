"""Persona cards: who is in each cluster, in words an operator can use."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True)
class PersonaCard:
    persona: int
    name: str
    size: int
    share: float
    typical_age: float | None  # median age in years
    preferred_channel: str | None  # most common preferred channel
    avg_basket_minor: float | None  # median average order value, minor units
    orders_365d: float
    spend_365d_minor: float
    top_categories: tuple[str, ...]
    value: str  # "high", "medium" or "low": median yearly spend against the population


@dataclass(frozen=True)
class PersonaInputs:
    """Per-customer values the cards summarise, aligned with the cluster labels."""

    age: npt.NDArray[np.float64]
    channel: npt.NDArray[np.object_]
    avg_order_minor: npt.NDArray[np.float64]
    orders_365d: npt.NDArray[np.float64]
    spend_365d_minor: npt.NDArray[np.float64]
    recency_days: npt.NDArray[np.float64]
    categories: list[list[str]]  # categories bought, per customer (repeats count)


def _median(values: npt.NDArray[np.float64]) -> float | None:
    finite = values[np.isfinite(values)]
    return float(np.median(finite)) if finite.size else None


def _name(value: str, recency: float | None, orders: float) -> str:
    # A short handle; the numbers on the card are what matters.
    if recency is not None and recency > 365:
        activity = "lapsed"
    elif orders >= 4:
        activity = "frequent"
    else:
        activity = "occasional"
    return f"{value}-value {activity}"


def persona_cards(
    labels: npt.NDArray[np.int64], inputs: PersonaInputs, *, top: int = 3
) -> list[PersonaCard]:
    """One card per cluster, largest cluster first."""
    total = labels.size
    spend_all = inputs.spend_365d_minor
    terciles = np.quantile(spend_all, [1 / 3, 2 / 3]) if total else np.zeros(2)
    cards = []
    for persona in np.unique(labels):
        rows = np.flatnonzero(labels == persona)
        channels = Counter(c for c in inputs.channel[rows].tolist() if c)
        categories: Counter[str] = Counter()
        for row in rows.tolist():
            categories.update(inputs.categories[row])
        spend = float(np.median(spend_all[rows]))
        value = "high" if spend > terciles[1] else "medium" if spend > terciles[0] else "low"
        recency = _median(inputs.recency_days[rows])
        orders = float(np.median(inputs.orders_365d[rows]))
        cards.append(
            PersonaCard(
                persona=int(persona),
                name=_name(value, recency, orders),
                size=int(rows.size),
                share=rows.size / total,
                typical_age=_median(inputs.age[rows]),
                preferred_channel=channels.most_common(1)[0][0] if channels else None,
                avg_basket_minor=_median(inputs.avg_order_minor[rows]),
                orders_365d=orders,
                spend_365d_minor=spend,
                top_categories=tuple(c for c, _ in categories.most_common(top)),
                value=value,
            )
        )
    cards.sort(key=lambda card: (-card.size, card.persona))
    return cards
