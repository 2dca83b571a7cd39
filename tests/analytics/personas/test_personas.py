from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from fidela.analytics.churn.features import connect_parquet
from fidela.analytics.personas.build import build_personas
from fidela.analytics.personas.cards import PersonaInputs, persona_cards
from fidela.analytics.personas.clustering import choose_k, prepare
from tests.analytics.churn.demo import generate_demo


def test_k_is_the_one_with_the_best_silhouette() -> None:
    rng = np.random.default_rng(0)
    centres = np.array([[0, 0], [10, 0], [0, 10], [10, 10]], dtype=np.float64)
    points = np.concatenate([c + rng.normal(0, 0.5, (60, 2)) for c in centres])
    clustering = choose_k(points, seed=1)
    assert clustering.k == 4
    assert clustering.silhouettes[4] == max(clustering.silhouettes.values())
    assert sorted(np.bincount(clustering.labels).tolist()) == [60, 60, 60, 60]


def test_choosing_k_needs_more_customers_than_the_largest_k() -> None:
    with pytest.raises(ValueError, match="more than 8"):
        choose_k(np.zeros((8, 2)))


def test_prepare_logs_fills_unknowns_and_standardises() -> None:
    x = prepare(np.array([[0.0, 1.0], [np.nan, 3.0], [1000.0, 5.0]]), (True, False))
    assert not np.isnan(x).any()
    assert np.allclose(x.mean(axis=0), 0)
    assert np.allclose(x.std(axis=0), 1)


def test_cards_describe_each_cluster() -> None:
    labels = np.array([0, 0, 0, 1, 1], dtype=np.int64)
    inputs = PersonaInputs(
        age=np.array([30.0, 32.0, np.nan, 60.0, 64.0]),
        channel=np.array(["email", "email", "sms", "postal", None], dtype=object),
        avg_order_minor=np.array([5000.0, 7000.0, 6000.0, 2000.0, 2000.0]),
        orders_365d=np.array([6.0, 8.0, 5.0, 0.0, 1.0]),
        spend_365d_minor=np.array([40000.0, 56000.0, 35000.0, 0.0, 2000.0]),
        recency_days=np.array([5.0, 10.0, 20.0, 400.0, 500.0]),
        categories=[["shoes", "shoes", "books"], ["shoes"], ["toys"], ["garden"], []],
    )
    big, small = persona_cards(labels, inputs)
    assert (big.size, big.typical_age, big.preferred_channel) == (3, 31.0, "email")
    assert big.top_categories == ("shoes", "books", "toys")
    assert big.avg_basket_minor == 6000.0
    assert (big.value, big.name) == ("high", "high-value frequent")
    assert (small.size, small.typical_age, small.value) == (2, 62.0, "low")
    assert small.name == "low-value lapsed"
    assert big.share + small.share == pytest.approx(1.0)


@pytest.mark.slow
def test_demo_personas_cover_every_buyer_with_a_card(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    directory: Path = generate_demo(
        tmp_path_factory.mktemp("personas") / "demo", customers=2_000, seed=11
    )
    tables = connect_parquet(str(directory))
    personas = build_personas(tables, as_of=datetime(2026, 10, 1, tzinfo=UTC), seed=0)
    assert 2 <= personas.clustering.k <= 8
    assert len(personas.cards) == personas.clustering.k
    assert sum(card.size for card in personas.cards) == len(personas.customer_ids)
    for card in personas.cards:
        assert card.typical_age is not None
        assert 18 <= card.typical_age <= 90
        assert card.preferred_channel is not None
        assert card.top_categories
    # Clustering is seeded: the same data gives the same personas.
    again = build_personas(tables, as_of=datetime(2026, 10, 1, tzinfo=UTC), seed=0)
    assert again.cards == personas.cards
