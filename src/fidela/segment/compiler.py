"""Definitions compiled to SQLAlchemy: one boolean expression over ``customer``.

Each condition becomes a predicate on the customer row: a column comparison for profile
facts, ``EXISTS`` for consent and tier, a correlated scalar subquery for counts and sums
(``COALESCE(..., 0)`` so "no orders" is 0, not unknown). Every predicate is wrapped so that
an unknown value is false (`_known`), which keeps ``not`` the exact complement.

Analytics facts read the customer's row in the latest snapshot of their kind (RFM: the newest
``rfm`` snapshot whatever its parameters; churn risk: the newest ``churn`` snapshot; CLV and
P(alive): the newest ``clv`` snapshot); a customer the snapshot does not score has an unknown
value. A fact with no data source in this database would be refused up front
(`FactUnavailable`), never at refresh.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, false, func, not_, or_, select, true
from sqlalchemy.sql.elements import ColumnElement as Element

from fidela.analytics.churn.models import AnalyticsCustomerChurn
from fidela.analytics.clv.models import AnalyticsCustomerClv
from fidela.analytics.models import AnalyticsCustomerRfm, AnalyticsSnapshot
from fidela.commerce.models import SalesOrder
from fidela.customer.models import ConsentState, Customer
from fidela.customer.rules import ConsentChannel, ConsentStatus, CustomerStatus
from fidela.event.models import Event
from fidela.kernel.errors import FieldProblem
from fidela.loyalty.models import LoyaltyProgramme
from fidela.segment.rules import AllOf, AnyOf, Condition, FactUnavailable, Node, Not, facts_of
from fidela.tier.models import TierMembership

# Facts with no per-customer store yet (none today; kept so a fact can be declared before
# its store exists).
UNAVAILABLE_FACTS: frozenset[str] = frozenset()

_CLV_COLUMNS: dict[str, Any] = {
    "clv.value_minor": AnalyticsCustomerClv.clv_minor,
    "clv.p_alive": AnalyticsCustomerClv.p_alive,
}

_RFM_COLUMNS: dict[str, Any] = {
    "rfm.segment": AnalyticsCustomerRfm.segment,
    "rfm.r": AnalyticsCustomerRfm.r,
    "rfm.f": AnalyticsCustomerRfm.f,
    "rfm.m": AnalyticsCustomerRfm.m,
}

_PROFILE_COLUMNS: dict[str, Any] = {
    "profile.gender": Customer.gender,
    "profile.country": Customer.country,
    "profile.city": Customer.city,
    "profile.language": Customer.language,
    "profile.preferred_channel": Customer.preferred_channel,
    "profile.signup_channel": Customer.signup_channel,
}


def check_available(node: Node) -> None:
    """Refuse a definition reading facts with no data source in this database."""
    missing = sorted(facts_of(node) & UNAVAILABLE_FACTS)
    if missing:
        raise FactUnavailable(
            f"no analytics snapshot store is available yet for {', '.join(missing)}",
            [FieldProblem("/definition", f"fact {name} has no data source") for name in missing],
        )


def _compare(column: Any, op: str, value: Any) -> ColumnElement[bool]:
    if op == "is_null":
        return column.is_(None)  # type: ignore[no-any-return]
    if op == "not_null":
        return column.is_not(None)  # type: ignore[no-any-return]
    comparisons: dict[str, Any] = {
        "eq": lambda: column == value,
        "ne": lambda: column != value,
        "gt": lambda: column > value,
        "gte": lambda: column >= value,
        "lt": lambda: column < value,
        "lte": lambda: column <= value,
        "in": lambda: column.in_(list(value)),
        "not_in": lambda: column.not_in(list(value)),
        "between": lambda: column.between(value[0], value[1]),
    }
    predicate: ColumnElement[bool] = comparisons[op]()
    # Unknown is false: NULL compared with anything would otherwise poison `not`.
    return and_(column.is_not(None), predicate)


def _years_before(today: date, years: int) -> date:
    try:
        return today.replace(year=today.year - years)
    except ValueError:  # 29 February
        return today.replace(year=today.year - years, day=28)


def _age(op: str, value: Any, now: datetime) -> ColumnElement[bool]:
    """Age in whole years on ``now``'s date, as a range of birth dates (index-friendly)."""
    born = Customer.birth_date
    today = now.date()

    def at_least(years: int) -> ColumnElement[bool]:
        return born <= _years_before(today, years)

    def below(years: int) -> ColumnElement[bool]:
        return born > _years_before(today, years)

    def equal(years: int) -> ColumnElement[bool]:
        return and_(at_least(years), below(years + 1))

    if op in {"is_null", "not_null"}:
        return _compare(born, op, None)
    build: dict[str, Any] = {
        "eq": lambda: equal(value),
        "ne": lambda: not_(equal(value)),
        "gt": lambda: at_least(value + 1),
        "gte": lambda: at_least(value),
        "lt": lambda: below(value),
        "lte": lambda: below(value + 1),
        "between": lambda: and_(at_least(value[0]), below(value[1] + 1)),
        "in": lambda: or_(*(equal(v) for v in value)),
        "not_in": lambda: not_(or_(*(equal(v) for v in value))),
    }
    return and_(born.is_not(None), build[op]())


def _consent(params: dict[str, Any], granted: bool) -> ColumnElement[bool]:
    def state(channel: str) -> Any:
        return (
            select(ConsentState.status)
            .where(
                ConsentState.customer_id == Customer.id,
                ConsentState.channel == channel,
                ConsentState.purpose == params["purpose"],
            )
            .scalar_subquery()
        )

    specific = state(params["channel"])
    general = state(ConsentChannel.ANY.value)
    yes = ConsentStatus.GRANTED.value
    # A channel-specific decision wins over the general one (see customer.consent).
    is_granted = or_(
        and_(specific.is_not(None), specific == yes),
        and_(specific.is_(None), func.coalesce(general, "") == yes),
    )
    return is_granted if granted else not_(is_granted)


def _since(params: dict[str, Any], now: datetime) -> datetime | None:
    days = params.get("within_days")
    return None if days is None else now - timedelta(days=int(days))


def _latest_snapshot(kind: str) -> Any:
    """The id of the newest snapshot of ``kind`` (by as_of, then by id)."""
    return (
        select(AnalyticsSnapshot.id)
        .where(AnalyticsSnapshot.kind == kind)
        .order_by(AnalyticsSnapshot.as_of.desc(), AnalyticsSnapshot.id.desc())
        .limit(1)
        .scalar_subquery()
    )


def _condition(node: Condition, now: datetime) -> ColumnElement[bool]:
    fact, op, value, params = node.fact, node.op, node.value, dict(node.params)
    if fact in _PROFILE_COLUMNS:
        return _compare(_PROFILE_COLUMNS[fact], op, value)
    if fact == "profile.age":
        return _age(op, value, now)
    if fact == "profile.tenure_days":
        # Tenure in whole days as a range of signup times (portable, index-friendly).
        column = Customer.signup_at
        if op in {"is_null", "not_null"}:
            return _compare(column, op, None)
        bounds: dict[str, Any] = {
            "gte": lambda: column <= now - timedelta(days=value),
            "gt": lambda: column <= now - timedelta(days=value + 1),
            "lte": lambda: column > now - timedelta(days=value + 1),
            "lt": lambda: column > now - timedelta(days=value),
            "eq": lambda: and_(
                column <= now - timedelta(days=value), column > now - timedelta(days=value + 1)
            ),
            "ne": lambda: not_(
                and_(
                    column <= now - timedelta(days=value), column > now - timedelta(days=value + 1)
                )
            ),
            "between": lambda: and_(
                column <= now - timedelta(days=value[0]),
                column > now - timedelta(days=value[1] + 1),
            ),
            "in": lambda: or_(
                *(
                    and_(column <= now - timedelta(days=v), column > now - timedelta(days=v + 1))
                    for v in value
                )
            ),
            "not_in": lambda: not_(
                or_(
                    *(
                        and_(
                            column <= now - timedelta(days=v), column > now - timedelta(days=v + 1)
                        )
                        for v in value
                    )
                )
            ),
        }
        return and_(column.is_not(None), bounds[op]())
    if fact == "consent":
        return _consent(params, bool(value))
    if fact == "events.count":
        query = select(func.count(Event.id)).where(
            Event.customer_id == Customer.id,
            Event.type == params["type"],
            Event.occurred_at <= now,
        )
        since = _since(params, now)
        if since is not None:
            query = query.where(Event.occurred_at > since)
        return _compare(query.scalar_subquery(), op, value)
    if fact in {"orders.count", "orders.total_minor"}:
        measure = (
            func.count(SalesOrder.id)
            if fact == "orders.count"
            else func.coalesce(func.sum(SalesOrder.total_minor), 0)
        )
        query = select(measure).where(
            SalesOrder.customer_id == Customer.id, SalesOrder.ordered_at <= now
        )
        since = _since(params, now)
        if since is not None:
            query = query.where(SalesOrder.ordered_at > since)
        return _compare(query.scalar_subquery(), op, value)
    if fact in _RFM_COLUMNS:
        column = _RFM_COLUMNS[fact]
        value_of = select(column).where(
            AnalyticsCustomerRfm.snapshot_id == _latest_snapshot("rfm"),
            AnalyticsCustomerRfm.customer_id == Customer.id,
        )
        return _compare(value_of.scalar_subquery(), op, value)
    if fact == "churn.risk":
        risk = select(AnalyticsCustomerChurn.risk).where(
            AnalyticsCustomerChurn.snapshot_id == _latest_snapshot("churn"),
            AnalyticsCustomerChurn.customer_id == Customer.id,
        )
        return _compare(risk.scalar_subquery(), op, value)
    if fact in _CLV_COLUMNS:
        clv = select(_CLV_COLUMNS[fact]).where(
            AnalyticsCustomerClv.snapshot_id == _latest_snapshot("clv"),
            AnalyticsCustomerClv.customer_id == Customer.id,
        )
        return _compare(clv.scalar_subquery(), op, value)
    if fact == "tier":
        tiers = select(TierMembership.tier_code).where(TierMembership.customer_id == Customer.id)
        if "programme" in params:
            tiers = tiers.join(
                LoyaltyProgramme, LoyaltyProgramme.id == TierMembership.programme_id
            ).where(LoyaltyProgramme.code == params["programme"])
        codes = tiers.subquery()
        if op == "is_null":
            return not_(exists(select(codes.c.tier_code)))
        if op == "not_null":
            return exists(select(codes.c.tier_code))
        if op in {"ne", "not_in"}:
            positive = _compare(codes.c.tier_code, "eq" if op == "ne" else "in", value)
            return and_(
                exists(select(codes.c.tier_code)),
                not_(exists(select(codes.c.tier_code).where(positive))),
            )
        return exists(select(codes.c.tier_code).where(_compare(codes.c.tier_code, op, value)))
    raise FactUnavailable(
        f"fact {fact} has no data source yet", [FieldProblem("/definition", fact)]
    )


def compile_node(node: Node, *, now: datetime) -> ColumnElement[bool]:
    """The predicate on ``customer`` rows selected by ``node`` as of ``now``."""
    if isinstance(node, Condition):
        return _condition(node, now)
    if isinstance(node, Not):
        return not_(compile_node(node.child, now=now))
    parts = [compile_node(child, now=now) for child in node.children]
    if isinstance(node, AllOf):
        return and_(true(), *parts)
    assert isinstance(node, AnyOf)  # noqa: S101 - the union is closed
    return or_(false(), *parts)


def members_query(node: Node, *, now: datetime) -> Any:
    """``SELECT customer.id`` of the active customers in the segment."""
    predicate: Element[bool] = compile_node(node, now=now)
    return select(Customer.id).where(Customer.status == CustomerStatus.ACTIVE.value, predicate)
