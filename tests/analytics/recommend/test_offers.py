from __future__ import annotations

import pytest

from fidela.analytics.recommend.rules import (
    Offer,
    RecommendedProduct,
    RewardOption,
    next_best_offers,
)

RECOMMENDED = [
    RecommendedProduct("P-run", "shoes"),
    RecommendedProduct("P-tea", "grocery"),
    RecommendedProduct("P-mug", "kitchen"),
]


def test_rewards_on_recommended_products_come_first_then_categories_then_products() -> None:
    offers = next_best_offers(
        RECOMMENDED,
        [
            RewardOption("R-kitchen", 300, category="kitchen"),
            RewardOption("R-tea", 500, product_id="P-tea"),
            RewardOption("R-shoes", 200, category="shoes"),
            RewardOption("R-other", 100, category="toys"),
        ],
        available_points=1_000,
        limit=5,
    )
    assert [(o.kind, o.id) for o in offers] == [
        ("reward", "R-tea"),
        ("reward", "R-shoes"),
        ("reward", "R-kitchen"),
        ("product", "P-run"),
        ("product", "P-mug"),
    ]


def test_rewards_the_member_cannot_afford_are_never_offered() -> None:
    offers = next_best_offers(
        RECOMMENDED,
        [RewardOption("R-tea", 5_000, product_id="P-tea")],
        available_points=4_999,
    )
    assert all(o.kind == "product" for o in offers)
    assert offers[0] == Offer("product", "P-run", "bought by customers like you")


def test_ties_go_to_the_cheaper_reward_then_the_smaller_id() -> None:
    offers = next_best_offers(
        RECOMMENDED,
        [
            RewardOption("R-b", 200, category="shoes"),
            RewardOption("R-c", 100, category="shoes"),
            RewardOption("R-a", 200, category="shoes"),
        ],
        available_points=1_000,
        limit=3,
    )
    assert [o.id for o in offers] == ["R-c", "R-a", "R-b"]


def test_limit_must_be_positive() -> None:
    with pytest.raises(ValueError, match="limit"):
        next_best_offers(RECOMMENDED, [], available_points=0, limit=0)
