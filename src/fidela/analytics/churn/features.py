"""Per-customer behaviour features as of a date, written once as Ibis expressions.

The expressions run wherever Ibis runs (DuckDB over the Parquet export, PostgreSQL in place,
Spark), so the churn model, the early-warning rules and the personas read the same numbers on
every engine. Times are compared as epoch seconds: interval arithmetic differs between
backends, integer seconds do not.

`BehaviourTables` names the columns read (the demo/export shape):

- customers: customer_id, signup_at
- orders: customer_id, ordered_at, total_minor
- sessions: customer_id, started_at, login
- emails: customer_id, sent_at, opened_at, clicked_at, unsubscribed_at
- support: customer_id, occurred_at, complaint, resolved
- surveys: customer_id, answered_at, score
- lines (optional): order_id, product_id, category

Everything strictly before ``as_of`` is history; the label window is ``[as_of, as_of + horizon)``.
Features a customer has no data for are NaN where "unknown" differs from zero (days since a
login that never happened), 0 where a count is meant.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import ibis
import ibis.expr.types as ir
import numpy as np
import numpy.typing as npt
import pandas as pd

DAY = 86_400

# Model features, in column order. Early-warning rules may use these and the derived facts.
FEATURES: tuple[str, ...] = (
    "recency_days",
    "tenure_days",
    "orders_30d",
    "orders_90d",
    "orders_prev_90d",
    "orders_365d",
    "orders_total",
    "avg_order_minor",
    "spend_365d_minor",
    "purchase_change_30d",
    "sessions_30d",
    "sessions_90d",
    "days_since_login",
    "emails_90d",
    "opens_90d",
    "clicks_90d",
    "open_rate_90d",
    "unsubscribed",
    "unsubscribed_90d",
    "contacts_90d",
    "complaints_90d",
    "complaints_365d",
    "unresolved_365d",
    "last_survey_score",
    "avg_survey_score",
)


@dataclass(frozen=True)
class BehaviourTables:
    """The tables the behaviour features read (see the module docstring for columns)."""

    customers: ir.Table
    orders: ir.Table
    sessions: ir.Table
    emails: ir.Table
    support: ir.Table
    surveys: ir.Table
    lines: ir.Table | None = None  # order_id, product_id, category (personas, recommendations)


def _seconds(moment: datetime) -> int:
    if moment.tzinfo is None:
        raise ValueError("as_of must be timezone-aware")
    return int(moment.timestamp())


def _epoch(column: ir.TimestampValue) -> ir.IntegerValue:
    return column.epoch_seconds().cast("int64")


def _order_facts(orders: ir.Table, now: int) -> ir.Table:
    at = _epoch(orders.ordered_at)
    past = orders.mutate(at=at).filter(at < now)
    return past.group_by("customer_id").aggregate(
        last_order=past.at.max(),
        first_order=past.at.min(),
        orders_total=past.count(),
        orders_30d=past.count(where=past.at >= now - 30 * DAY),
        orders_90d=past.count(where=past.at >= now - 90 * DAY),
        orders_prev_90d=past.count(where=(past.at >= now - 180 * DAY) & (past.at < now - 90 * DAY)),
        orders_365d=past.count(where=past.at >= now - 365 * DAY),
        spend_total=past.total_minor.sum(),
        spend_365d_minor=past.total_minor.sum(where=past.at >= now - 365 * DAY),
    )


def _session_facts(sessions: ir.Table, now: int) -> ir.Table:
    at = _epoch(sessions.started_at)
    past = sessions.mutate(at=at).filter(at < now)
    return past.group_by("customer_id").aggregate(
        sessions_30d=past.count(where=past.at >= now - 30 * DAY),
        sessions_90d=past.count(where=past.at >= now - 90 * DAY),
        last_login=past.at.max(where=past.login),
    )


def _email_facts(emails: ir.Table, now: int) -> ir.Table:
    sent = _epoch(emails.sent_at)
    opened = _epoch(emails.opened_at)
    clicked = _epoch(emails.clicked_at)
    unsub = _epoch(emails.unsubscribed_at)
    past = emails.mutate(sent=sent, opened=opened, clicked=clicked, unsub=unsub).filter(sent < now)
    recent = past.sent >= now - 90 * DAY
    return past.group_by("customer_id").aggregate(
        emails_90d=past.count(where=recent),
        opens_90d=past.count(where=recent & (past.opened < now)),
        clicks_90d=past.count(where=recent & (past.clicked < now)),
        unsubscribed=past.count(where=past.unsub < now),
        unsubscribed_90d=past.count(where=(past.unsub < now) & (past.unsub >= now - 90 * DAY)),
    )


def _support_facts(support: ir.Table, now: int) -> ir.Table:
    at = _epoch(support.occurred_at)
    past = support.mutate(at=at).filter(at < now)
    return past.group_by("customer_id").aggregate(
        contacts_90d=past.count(where=past.at >= now - 90 * DAY),
        complaints_90d=past.count(where=(past.at >= now - 90 * DAY) & past.complaint),
        complaints_365d=past.count(where=(past.at >= now - 365 * DAY) & past.complaint),
        unresolved_365d=past.count(where=(past.at >= now - 365 * DAY) & ~past.resolved),
    )


def _survey_facts(surveys: ir.Table, now: int) -> ir.Table:
    at = _epoch(surveys.answered_at)
    past = surveys.mutate(at=at).filter(at < now)
    return past.group_by("customer_id").aggregate(
        avg_survey_score=past.score.cast("float64").mean(),
        last_survey_score=past.score.cast("float64").argmax(past.at),
    )


def feature_expression(tables: BehaviourTables, *, as_of: datetime) -> ir.Table:
    """One row per customer signed up before ``as_of`` with the raw aggregates the features
    are derived from (`behaviour_features` finishes them in numpy)."""
    now = _seconds(as_of)
    customers = tables.customers
    signup = _epoch(customers.signup_at)
    base = customers.mutate(signup=signup).filter(signup < now).select("customer_id", "signup")
    joined = base
    for facts in (
        _order_facts(tables.orders, now),
        _session_facts(tables.sessions, now),
        _email_facts(tables.emails, now),
        _support_facts(tables.support, now),
        _survey_facts(tables.surveys, now),
    ):
        joined = joined.left_join(facts, "customer_id").drop("customer_id_right")
    return joined.order_by("customer_id")


def purchases_between(orders: ir.Table, *, start: datetime, end: datetime) -> ir.Table:
    """Customers with at least one order in ``[start, end)`` (the label window)."""
    at = _epoch(orders.ordered_at)
    window = orders.mutate(at=at).filter((at >= _seconds(start)) & (at < _seconds(end)))
    return window.select("customer_id").distinct()


@dataclass(frozen=True)
class FeatureFrame:
    """Features of customers as of a date: ids aligned with the rows of ``values``."""

    as_of: datetime
    customer_ids: npt.NDArray[np.object_]
    values: npt.NDArray[np.float64]  # (customers, len(FEATURES))
    names: tuple[str, ...] = FEATURES

    def column(self, name: str) -> npt.NDArray[np.float64]:
        return self.values[:, self.names.index(name)]

    def rows(self, mask: npt.NDArray[np.bool_]) -> FeatureFrame:
        return FeatureFrame(self.as_of, self.customer_ids[mask], self.values[mask], self.names)

    def facts(self, row: int) -> dict[str, float | None]:
        """One customer's features as plain values (None for unknown), for the rules."""
        return {
            name: (None if np.isnan(value) else float(value))
            for name, value in zip(self.names, self.values[row], strict=True)
        }


def _num(frame: pd.DataFrame, name: str, fill: float | None = 0.0) -> npt.NDArray[np.float64]:
    values = pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    return values if fill is None else np.where(np.isnan(values), fill, values)


def behaviour_features(
    tables: BehaviourTables, *, as_of: datetime, buyers_only: bool = True
) -> FeatureFrame:
    """The features of every customer signed up before ``as_of`` (only those with an order
    before it when ``buyers_only``: churn is about customers who bought)."""
    frame = feature_expression(tables, as_of=as_of).to_pandas()
    if buyers_only:
        frame = frame[pd.to_numeric(frame["orders_total"], errors="coerce").fillna(0) > 0]
    now = float(_seconds(as_of))
    signup = _num(frame, "signup", None)
    orders_total = _num(frame, "orders_total")
    orders_30 = _num(frame, "orders_30d")
    orders_90 = _num(frame, "orders_90d")
    prev_90 = _num(frame, "orders_prev_90d")
    emails = _num(frame, "emails_90d")
    opens = _num(frame, "opens_90d")
    last_login = _num(frame, "last_login", None)
    # A customer who never logged in has been away since they signed up.
    login_or_signup = np.where(np.isnan(last_login), signup, last_login)
    # Monthly purchases now against the monthly average of the 90 days before; unknown when
    # there was nothing to fall from.
    baseline = (orders_90 - orders_30 + prev_90) / 5.0
    with np.errstate(divide="ignore", invalid="ignore"):
        change = np.where(baseline > 0, orders_30 / baseline - 1.0, np.nan)
        open_rate = np.where(emails > 0, opens / emails, np.nan)
        avg_order = np.where(orders_total > 0, _num(frame, "spend_total") / orders_total, np.nan)
    columns = {
        "recency_days": (now - _num(frame, "last_order", None)) / DAY,
        "tenure_days": (now - signup) / DAY,
        "orders_30d": orders_30,
        "orders_90d": orders_90,
        "orders_prev_90d": prev_90,
        "orders_365d": _num(frame, "orders_365d"),
        "orders_total": orders_total,
        "avg_order_minor": avg_order,
        "spend_365d_minor": _num(frame, "spend_365d_minor"),
        "purchase_change_30d": change,
        "sessions_30d": _num(frame, "sessions_30d"),
        "sessions_90d": _num(frame, "sessions_90d"),
        "days_since_login": (now - login_or_signup) / DAY,
        "emails_90d": emails,
        "opens_90d": opens,
        "clicks_90d": _num(frame, "clicks_90d"),
        "open_rate_90d": open_rate,
        "unsubscribed": (_num(frame, "unsubscribed") > 0).astype(np.float64),
        "unsubscribed_90d": (_num(frame, "unsubscribed_90d") > 0).astype(np.float64),
        "contacts_90d": _num(frame, "contacts_90d"),
        "complaints_90d": _num(frame, "complaints_90d"),
        "complaints_365d": _num(frame, "complaints_365d"),
        "unresolved_365d": _num(frame, "unresolved_365d"),
        "last_survey_score": _num(frame, "last_survey_score", None),
        "avg_survey_score": _num(frame, "avg_survey_score", None),
    }
    values = (
        np.column_stack([columns[name] for name in FEATURES])
        if len(frame)
        else (np.empty((0, len(FEATURES))))
    )
    ids = np.asarray(frame["customer_id"].to_numpy(), dtype=object)
    return FeatureFrame(as_of, ids, values.astype(np.float64))


def churn_labels(
    tables: BehaviourTables, features: FeatureFrame, *, horizon: timedelta
) -> npt.NDArray[np.int64]:
    """1 where the customer placed no order in ``[as_of, as_of + horizon)`` (churned), else 0."""
    bought = purchases_between(
        tables.orders, start=features.as_of, end=features.as_of + horizon
    ).to_pandas()
    active = set(bought["customer_id"].tolist())
    return np.fromiter(
        (0 if cid in active else 1 for cid in features.customer_ids),
        dtype=np.int64,
        count=len(features.customer_ids),
    )


def connect_parquet(directory: str) -> BehaviourTables:
    """The behaviour tables of a Parquet export/demo directory, on an in-memory DuckDB."""
    con = ibis.duckdb.connect()

    def read(name: str) -> ir.Table:
        return con.read_parquet(f"{directory}/{name}.parquet", table_name=name)

    return BehaviourTables(
        customers=read("customers"),
        orders=read("orders"),
        sessions=read("sessions"),
        emails=read("email_events"),
        support=read("support_interactions"),
        surveys=read("survey_answers"),
        lines=read("order_lines"),
    )
