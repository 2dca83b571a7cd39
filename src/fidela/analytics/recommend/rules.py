"""Next-best-offer: recommendations combined with the rewards a member can afford.

Concepts and invariants:

- **Recommended products** arrive ranked (best first) with their category, from the
  item-item model or the popularity fallback.
- **Rewards** arrive as a list from the reward context (a port: this module never reads the
  catalogue): id, points cost, and optionally the product or category they apply to.
- A reward is **affordable** when its cost is at most the member's available points; an
  unaffordable reward is never offered, whatever it matches.
- Offers are ordered: rewards on a recommended product (by that product's rank), then rewards
  on a recommended category (by the category's best rank), then the remaining product
  recommendations as plain cross-sell; ties go to the cheaper reward, then the smaller id,
  so the same inputs always give the same offers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class RecommendedProduct:
    product_id: str
    category: str | None = None


@dataclass(frozen=True)
class RewardOption:
    reward_id: str
    points_cost: int
    product_id: str | None = None
    category: str | None = None


@dataclass(frozen=True)
class Offer:
    kind: str  # "reward" or "product"
    id: str
    reason: str
    points_cost: int = 0


def next_best_offers(
    recommended: Sequence[RecommendedProduct],
    rewards: Sequence[RewardOption],
    *,
    available_points: int,
    limit: int = 5,
) -> list[Offer]:
    """Up to ``limit`` offers for a member holding ``available_points`` (see module docstring)."""
    if limit < 1:
        raise ValueError("limit must be at least 1")
    product_rank = {p.product_id: i for i, p in enumerate(recommended)}
    category_rank: dict[str, int] = {}
    for i, p in enumerate(recommended):
        if p.category is not None:
            category_rank.setdefault(p.category, i)
    ranked: list[tuple[int, int, int, str, Offer]] = []
    offered_products: set[str] = set()
    for reward in rewards:
        if reward.points_cost > available_points or reward.points_cost < 0:
            continue
        if reward.product_id is not None and reward.product_id in product_rank:
            rank = product_rank[reward.product_id]
            reason = f"reward on recommended product {reward.product_id}"
            ranked.append(
                (
                    0,
                    rank,
                    reward.points_cost,
                    reward.reward_id,
                    Offer("reward", reward.reward_id, reason, reward.points_cost),
                )
            )
            offered_products.add(reward.product_id)
        elif reward.category is not None and reward.category in category_rank:
            rank = category_rank[reward.category]
            reason = f"reward in recommended category {reward.category}"
            ranked.append(
                (
                    1,
                    rank,
                    reward.points_cost,
                    reward.reward_id,
                    Offer("reward", reward.reward_id, reason, reward.points_cost),
                )
            )
    for i, product in enumerate(recommended):
        if product.product_id not in offered_products:
            ranked.append(
                (
                    2,
                    i,
                    0,
                    product.product_id,
                    Offer("product", product.product_id, "bought by customers like you"),
                )
            )
    ranked.sort(key=lambda item: item[:4])
    return [item[4] for item in ranked[:limit]]
