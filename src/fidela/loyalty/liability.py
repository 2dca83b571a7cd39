"""A programme's liability: outstanding points valued at its cost per point, breakage
expected from its matured cohorts, realised breakage and monthly figures."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from fidela.kernel.errors import FieldProblem, InvalidInput
from fidela.ledger.liability import LiabilityReport, liability_report
from fidela.ledger.rules import ActivityExpiry, FixedExpiry
from fidela.loyalty.programmes import Programme

DEFAULT_MATURITY_MONTHS = 12


def maturity_months(programme: Programme) -> int:
    """Months after which a cohort's fate is known: the longest validity the programme has
    given (plus one for rounding to a period end), 12 when points never expire."""
    longest = 0
    for policy in programme.expiry.policies:
        if isinstance(policy, FixedExpiry | ActivityExpiry):
            longest = max(longest, policy.months + (policy.days + 29) // 30 + 1)
    return longest or DEFAULT_MATURITY_MONTHS


def programme_liability(
    session: Session, *, programme: Programme, now: datetime, start: datetime, end: datetime
) -> LiabilityReport:
    if end <= start:
        raise InvalidInput("'to' must be after 'from'", [FieldProblem("/to", "after 'from'")])
    timezone = programme.rule_set.timezone if programme.rule_set is not None else "UTC"
    return liability_report(
        session,
        programme=programme.code,
        cost_per_point_minor=programme.cost_per_point_minor,
        now=now,
        start=start,
        end=end,
        matured_after_months=maturity_months(programme),
        timezone=timezone,
    )
