"""Consent use cases: record a decision, confirm a double opt-in, read the current state."""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
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
    moves_state,
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
    if not moves_state(None if state is None else state.since, record.occurred_at):
        return
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


@dataclass(frozen=True)
class CurrentConsent:
    """A current consent as read: its status and since when."""

    status: str
    since: datetime


StateKey = tuple[int, str, str]  # (customer id, channel, purpose)


@dataclass(frozen=True)
class ConsentToRecord:
    """One decision for `record_changes` (never a double opt-in: nothing to confirm)."""

    customer_id: int
    channel: ConsentChannel
    purpose: ConsentPurpose
    granted: bool
    source: str
    occurred_at: datetime
    proof: dict[str, Any]

    @property
    def key(self) -> StateKey:
        return (self.customer_id, self.channel.value, self.purpose.value)

    @property
    def status(self) -> str:
        decision = decide_consent(
            channel=self.channel, purpose=self.purpose, granted=self.granted, double_opt_in=False
        )
        return decision.status.value


def current_states(
    session: Session, customer_ids: Iterable[int], *, lock: bool = False
) -> dict[StateKey, CurrentConsent]:
    """Every current consent of these profiles, in one statement (``lock``: held until the
    transaction ends, for a caller that writes them next)."""
    return {
        (customer, channel, purpose): CurrentConsent(status, since)
        for customer, channel, purpose, status, since in repository.consent_states_of(
            session, customer_ids, lock=lock
        )
    }


def record_changes(
    session: Session, decisions: Sequence[ConsentToRecord], *, now: datetime
) -> list[bool]:
    """Record, in order, each decision that differs from the consent then current (the
    earlier decisions of the list included) and is not in the history already; whether
    each one was recorded. Recording the same decisions again records nothing, even one
    older than the state (kept in the history the first time, it moves nothing).

    For many profiles at once (they must be active), with a constant number of statements:
    their states read and locked in one, every record appended in one, the states moved
    inserted and updated in one each (`rules.moves_state` decides, as for `record_consent`)."""
    if not decisions:
        return []
    current = current_states(session, {d.customer_id for d in decisions}, lock=True)
    # The state each key reaches, and the position in ``recorded`` of the record that set it
    # (None: it is still the state read).
    states: dict[StateKey, tuple[str, datetime, int | None]] = {
        key: (state.status, state.since, None) for key, state in current.items()
    }
    recorded: list[ConsentToRecord] = []
    flags: list[bool] = []
    history: set[tuple[int, str, str, str, datetime]] | None = None
    for decision in decisions:
        state = states.get(decision.key)
        if state is not None and state[0] == decision.status:
            flags.append(False)
            continue
        if moves_state(None if state is None else state[1], decision.occurred_at):
            states[decision.key] = (decision.status, decision.occurred_at, len(recorded))
        else:
            # Older than the state: the history may hold it already (one statement, read
            # only when such a decision comes, which is rare).
            if history is None:
                history = repository.consent_decisions_of(
                    session, {d.customer_id for d in decisions}
                )
            fact = (*decision.key, decision.status, decision.occurred_at)
            if fact in history:
                flags.append(False)
                continue
            history.add(fact)
        flags.append(True)
        recorded.append(decision)
    ids = repository.add_consent_records(
        session,
        [
            {
                "customer_id": d.customer_id,
                "channel": d.channel.value,
                "purpose": d.purpose.value,
                "status": d.status,
                "source": d.source,
                "wording_version": None,
                "proof": d.proof,
                "occurred_at": d.occurred_at,
                "recorded_at": now,
                "confirmation_digest": None,
                "confirmation_expires_at": None,
            }
            for d in recorded
        ],
    )
    moved = [
        {
            "customer_id": key[0],
            "channel": key[1],
            "purpose": key[2],
            "status": status,
            "since": since,
            "record_id": ids[position],
        }
        for key, (status, since, position) in sorted(states.items())
        if position is not None
    ]
    repository.add_consent_states(session, [r for r in moved if _key(r) not in current])
    repository.set_consent_states(session, [r for r in moved if _key(r) in current])
    return flags


def _key(row: dict[str, Any]) -> StateKey:
    return (row["customer_id"], row["channel"], row["purpose"])


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
