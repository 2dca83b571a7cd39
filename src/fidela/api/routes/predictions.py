"""Predicted CLV, churn risk, recommendations, next-best-offers and personas: read from stored
snapshots (``fidela analytics clv|churn|recommend|personas`` computes them), never recomputed
per request."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from fidela.access.rules import Principal
from fidela.analytics import rules
from fidela.analytics.recommend.rules import RewardOption
from fidela.api.deps import DatabaseDep, scoped
from fidela.api.errors import PROBLEM_RESPONSES

# The prediction services bring scikit-learn, scipy and pandas (seconds and ~150 MB per
# process): they load on the first prediction request, not when every API worker starts.

router = APIRouter(prefix="/v1/analytics", tags=["Analytics"], responses=PROBLEM_RESPONSES)
Read = Annotated[Principal, Depends(scoped("analytics:read"))]
AsOf = Annotated[AwareDatetime | None, Query(description="default: the latest snapshot")]


class PredictionSnapshot(BaseModel):
    kind: str
    as_of: datetime
    engine: str
    params: dict[str, Any]
    computed_at: datetime
    payload: dict[str, Any]


class CustomerChurn(BaseModel):
    customer_id: int
    as_of: datetime
    risk: float
    warning_score: float
    reasons: list[dict[str, Any]]
    warnings: list[str]


class CustomerClv(BaseModel):
    customer_id: int
    as_of: datetime
    currency: str | None = Field(description="the snapshot's currency (of every *_minor)")
    frequency: int = Field(description="repeat purchase days before as_of")
    recency_weeks: float
    age_weeks: float
    p_alive: float = Field(description="probability 0..1 the customer is still active")
    expected_purchases: float = Field(description="purchase days expected over the horizon")
    expected_spend_minor: int = Field(description="expected value of a purchase day")
    clv_minor: int = Field(description="discounted predicted value over the horizon")
    historical_minor: int = Field(description="order totals net of returns before as_of")
    horizon_weeks: int
    discount_rate: float = Field(description="annual")
    margin: float = Field(description="1.0 = revenue CLV")


class CustomerRecommendations(BaseModel):
    customer_id: int
    products: list[str]


class RewardIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reward_id: str = Field(min_length=1, max_length=100)
    points_cost: int = Field(ge=0)
    product_id: str | None = Field(default=None, max_length=100)
    category: str | None = Field(default=None, max_length=100)


class NextBestOfferIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    available_points: int = Field(ge=0, description="the member's spendable points")
    rewards: list[RewardIn] = Field(default_factory=list, max_length=500)
    categories: dict[str, str] = Field(
        default_factory=dict, description="product id -> category, to match category rewards"
    )
    limit: int = Field(default=5, ge=1, le=50)


class OfferOut(BaseModel):
    kind: str
    id: str
    reason: str
    points_cost: int


def _snapshot(kind: str, database: Any, as_of: datetime | None) -> PredictionSnapshot:
    from fidela.analytics.churn import service as churn

    with database.read() as session:
        found = churn.latest_snapshot(session, kind=kind, as_of=as_of)
        return PredictionSnapshot(
            kind=found.kind,
            as_of=found.as_of,
            engine=found.engine,
            params=found.params,
            computed_at=found.computed_at,
            payload=found.payload,
        )


@router.get("/clv", response_model=PredictionSnapshot, summary="Predicted CLV snapshot")
def clv_snapshot(_: Read, database: DatabaseDep, as_of: AsOf = None) -> PredictionSnapshot:
    """BG/NBD and Gamma-Gamma parameters and log-likelihoods, the holdout check on the last
    horizon, totals (customers, sum and mean predicted CLV) and the most valuable buyers."""
    return _snapshot(rules.CLV_KIND, database, as_of)


@router.get("/clv/customers/{customer_id}", response_model=CustomerClv, summary="A customer's CLV")
def customer_clv(customer_id: int, _: Read, database: DatabaseDep) -> CustomerClv:
    """The customer's row in the newest CLV snapshot that values them (buyers only)."""
    from fidela.analytics.clv import service as clv

    with database.read() as session:
        snapshot, row = clv.get_customer_clv(session, customer_id=customer_id)
        params = snapshot.params
        return CustomerClv(
            customer_id=row.customer_id,
            as_of=snapshot.as_of,
            currency=params.get("currency"),
            frequency=row.frequency,
            recency_weeks=row.recency_weeks,
            age_weeks=row.age_weeks,
            p_alive=row.p_alive,
            expected_purchases=row.expected_purchases,
            expected_spend_minor=row.expected_spend_minor,
            clv_minor=row.clv_minor,
            historical_minor=row.historical_minor,
            horizon_weeks=params["horizon_weeks"],
            discount_rate=params["discount_rate"],
            margin=params["margin"],
        )


@router.get("/churn", response_model=PredictionSnapshot, summary="Churn risk snapshot")
def churn_snapshot(_: Read, database: DatabaseDep, as_of: AsOf = None) -> PredictionSnapshot:
    """Held-out AUC, Brier and reliability bins, warnings counts and the riskiest buyers."""
    return _snapshot(rules.CHURN_KIND, database, as_of)


@router.get(
    "/churn/customers/{customer_id}", response_model=CustomerChurn, summary="A customer's risk"
)
def customer_churn(customer_id: int, _: Read, database: DatabaseDep) -> CustomerChurn:
    from fidela.analytics.churn import service as churn

    with database.read() as session:
        snapshot, row = churn.get_customer_churn(session, customer_id=customer_id)
        return CustomerChurn(
            customer_id=row.customer_id,
            as_of=snapshot.as_of,
            risk=row.risk,
            warning_score=row.warning_score,
            reasons=row.reasons,
            warnings=row.warnings,
        )


@router.get(
    "/recommendations", response_model=PredictionSnapshot, summary="Recommendation snapshot"
)
def recommendations_snapshot(
    _: Read, database: DatabaseDep, as_of: AsOf = None
) -> PredictionSnapshot:
    """precision@k and recall@k against popularity, and the popular products."""
    return _snapshot(rules.RECOMMEND_KIND, database, as_of)


@router.get(
    "/recommendations/customers/{customer_id}",
    response_model=CustomerRecommendations,
    summary="A customer's recommended products",
)
def customer_recommendations(
    customer_id: int, _: Read, database: DatabaseDep
) -> CustomerRecommendations:
    from fidela.analytics.churn import service as churn
    from fidela.analytics.recommend import service as recommend

    with database.read() as session:
        churn.latest_snapshot(session, kind=rules.RECOMMEND_KIND)
        products = recommend.recommendations_for(session, customer_id=customer_id)
    return CustomerRecommendations(customer_id=customer_id, products=products)


@router.post(
    "/recommendations/customers/{customer_id}/next-best-offer",
    response_model=list[OfferOut],
    summary="Next-best-offer",
)
def next_best_offer(
    customer_id: int, payload: NextBestOfferIn, _: Read, database: DatabaseDep
) -> list[OfferOut]:
    """Rewards the member can afford on or near their recommended products, then the
    products themselves. The caller passes the candidate rewards (from the reward catalogue)."""
    from fidela.analytics.churn import service as churn
    from fidela.analytics.recommend import service as recommend

    with database.read() as session:
        churn.latest_snapshot(session, kind=rules.RECOMMEND_KIND)
        offers = recommend.next_best_offer(
            session,
            customer_id=customer_id,
            available_points=payload.available_points,
            rewards=[RewardOption(**r.model_dump()) for r in payload.rewards],
            categories=payload.categories,
            limit=payload.limit,
        )
    return [
        OfferOut(kind=o.kind, id=o.id, reason=o.reason, points_cost=o.points_cost) for o in offers
    ]


@router.get("/personas", response_model=PredictionSnapshot, summary="Persona cards")
def personas_snapshot(_: Read, database: DatabaseDep, as_of: AsOf = None) -> PredictionSnapshot:
    """k chosen by silhouette, and a card per persona (size, age, channel, basket,
    categories, value)."""
    return _snapshot("personas", database, as_of)
