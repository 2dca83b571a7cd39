"""Consent use cases: record a decision, confirm a double opt-in, read the current state."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from fidela.customer import repository
from fidela.customer.models import ConsentRecord, ConsentState
from fidela.customer.rules import (
    ConfirmationInvalid,
    ConsentChannel,
    ConsentPurpose,
    ConsentStatus,
    confirmation_digest,
    decide_consent,
)
from fidela.customer.service import active_customer

CONFIRMATION_VALIDITY = timedelta(days=7)


@dataclass(frozen=True)
class RecordedConsent:
    record: ConsentRecord
    confirmation_token: str | None


def _set_state(session: Session, record: ConsentRecord) -> None:
    state = repository.find_consent_state(
        session, record.customer_id, record.channel, record.purpose
    )
    if state is not None and state.since > record.occurred_at:
        return  # an older decision arriving late never overrides a newer one
    if state is None:
        session.add(
            ConsentState(
                customer_id=record.customer_id,
                channel=record.channel,
                purpose=record.purpose,
                status=record.status,
                since=record.occurred_at,
                record_id=record.id,
            )
        )
    else:
        state.status, state.since, state.record_id = record.status, record.occurred_at, record.id
    session.flush()


def record_consent(
    session: Session,
    *,
    customer_id: int,
    channel: ConsentChannel,
    purpose: ConsentPurpose,
    granted: bool,
    source: str,
    now: datetime,
    occurred_at: datetime | None = None,
    wording_version: str | None = None,
    proof: dict[str, Any] | None = None,
    double_opt_in: bool = False,
) -> RecordedConsent:
    """Append a consent decision and update the current state in the same transaction.

    With double opt-in the state is ``pending`` and a one-time confirmation token is
    returned (only its digest is stored).
    """
    active_customer(session, customer_id)
    decision = decide_consent(
        channel=channel, purpose=purpose, granted=granted, double_opt_in=double_opt_in
    )
    token = secrets.token_urlsafe(24) if decision.needs_confirmation else None
    record = repository.add_consent_record(
        session,
        ConsentRecord(
            customer_id=customer_id,
            channel=channel.value,
            purpose=purpose.value,
            status=decision.status.value,
            source=source,
            wording_version=wording_version,
            proof=proof or {},
            occurred_at=occurred_at or now,
            recorded_at=now,
            confirmation_digest=confirmation_digest(token) if token else None,
            confirmation_expires_at=now + CONFIRMATION_VALIDITY if token else None,
        ),
    )
    _set_state(session, record)
    return RecordedConsent(record, token)


def confirm_consent(
    session: Session, *, token: str, now: datetime, proof: dict[str, Any]
) -> ConsentRecord:
    """Turn a pending double opt-in into a grant (once; the token then stops working)."""
    pending = repository.find_pending_confirmation(session, confirmation_digest(token))
    if (
        pending is None
        or pending.confirmation_expires_at is None
        or pending.confirmation_expires_at <= now
    ):
        raise ConfirmationInvalid("this confirmation link is unknown, used or expired")
    pending.confirmation_digest = None  # single use
    confirmed = record_consent(
        session,
        customer_id=pending.customer_id,
        channel=ConsentChannel(pending.channel),
        purpose=ConsentPurpose(pending.purpose),
        granted=True,
        source=f"{pending.source}:double-opt-in",
        now=now,
        wording_version=pending.wording_version,
        proof={**proof, "confirms_record": pending.id},
    )
    return confirmed.record


def current_consents(session: Session, *, customer_id: int) -> list[ConsentState]:
    return list(repository.consent_states(session, customer_id))


def consent_history(session: Session, *, customer_id: int) -> list[ConsentRecord]:
    return list(repository.consent_history(session, customer_id))


def has_consent(
    session: Session, *, customer_id: int, channel: ConsentChannel, purpose: ConsentPurpose
) -> bool:
    """Granted for this channel, or for ``any`` channel when nothing channel-specific says
    otherwise (a channel-specific refusal always wins)."""
    specific = repository.find_consent_state(session, customer_id, channel.value, purpose.value)
    if specific is not None:
        return specific.status == ConsentStatus.GRANTED.value
    general = repository.find_consent_state(
        session, customer_id, ConsentChannel.ANY.value, purpose.value
    )
    return general is not None and general.status == ConsentStatus.GRANTED.value
