"""Behaviour tables from the analytics sources (the operational tables or their export).

The churn model, the early-warning rules and the personas read `BehaviourTables`; the
operational database records sessions, email engagement, support contacts and surveys as
events, so each table here is a view over ``event`` by type:

- sessions: ``login``, ``app.opened``, ``page.viewed`` (``login`` marks a signed-in visit);
- emails: ``email.opened``, ``email.clicked``, ``newsletter.unsubscribed``. Sends are not
  events, so ``emails_90d`` counts engagement events and ``open_rate_90d`` is the share of
  them that are opens, not opens per send as on the demo data;
- support: ``support.interaction``; surveys: ``survey.answered``.

The event source carries only the few data fields analytics need: a support contact's
complaint flag and resolution, and a survey answer's kind and score (NPS answers feed the
survey features; other scales are left out as missing, which the model handles).
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from fidela.analytics.churn.features import BehaviourTables
from fidela.analytics.sources import Sources

SESSION_TYPES = ("login", "app.opened", "page.viewed")
EMAIL_TYPES = ("email.opened", "email.clicked", "newsletter.unsubscribed")


def _when(events: ir.Table, event_type: str) -> ir.Value:
    return ibis.ifelse(
        events.type == event_type, events.occurred_at, ibis.null(events.occurred_at.type())
    )


def behaviour_tables(sources: Sources) -> BehaviourTables:
    events = sources.events
    sessions = events.filter(events.type.isin(SESSION_TYPES))
    emails = events.filter(events.type.isin(EMAIL_TYPES))
    support = events.filter(events.type == "support.interaction")
    surveys = events.filter(events.type == "survey.answered")
    return BehaviourTables(
        customers=sources.customers.select("customer_id", signup_at=sources.customers.joined_at),
        orders=sources.orders,
        sessions=sessions.select(
            "customer_id", started_at=sessions.occurred_at, login=sessions.type == "login"
        ),
        emails=emails.select(
            "customer_id",
            sent_at=emails.occurred_at,
            opened_at=ibis.ifelse(
                emails.type.isin(("email.opened", "email.clicked")),
                emails.occurred_at,
                ibis.null(emails.occurred_at.type()),
            ),
            clicked_at=_when(emails, "email.clicked"),
            unsubscribed_at=_when(emails, "newsletter.unsubscribed"),
        ),
        support=support.select(
            "customer_id",
            occurred_at=support.occurred_at,
            complaint=support.complaint.fill_null(False),
            # A contact not said to be unresolved counts as resolved: most systems only
            # flag the open ones.
            resolved=support.resolved.fill_null(True),
        ),
        surveys=surveys.select(
            "customer_id",
            answered_at=surveys.occurred_at,
            # NPS answers only: CSAT (1-5) and CES (1-7) scores on another scale would make
            # an average that means nothing.
            score=ibis.ifelse(
                surveys.survey == "nps", surveys.score.cast("float64"), ibis.null("float64")
            ),
        ),
        lines=sources.order_lines,
    )
