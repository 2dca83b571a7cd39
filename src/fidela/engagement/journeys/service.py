"""Journey use cases: publishing definitions (compare-and-set versions), entering customers
when a trigger happens, ending runs on their goal, resuming runs waiting for an event, and
advancing the runs whose wake-up time has come (the worker's job).

Every change to a run and everything it causes (message records with their outbox jobs,
points, profile changes, advisor tasks) is written in the caller's transaction.
"""

from __future__ import annotations

import calendar
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy import String, and_, cast, extract, literal, or_, select, update
from sqlalchemy.orm import Session

from fidela.customer import service as customers
from fidela.customer.models import Customer
from fidela.customer.schemas import ProfileFields
from fidela.engagement.config import get_engagement_settings
from fidela.engagement.journeys.library import LIBRARY
from fidela.engagement.journeys.models import AdvisorTask, Journey, JourneyState, JourneyVersion
from fidela.engagement.journeys.rules.definition import Definition, parse_definition
from fidela.engagement.journeys.rules.engine import (
    FINISHED,
    Action,
    Advance,
    AwardPoints,
    CreateTask,
    RunStatus,
    Send,
    UpdateProfile,
    enter,
    resume,
)
from fidela.engagement.journeys.rules.errors import (
    JourneyNotFound,
    JourneyVersionConflict,
)
from fidela.engagement.messages import enqueue_message
from fidela.engagement.policy.config import get_send_settings
from fidela.engagement.policy.rules import SendPolicy, zone_of
from fidela.engagement.policy.service import plan_one
from fidela.engagement.rules import Channel
from fidela.event.dispatch import Effect, customer_learnt
from fidela.event.rules import DispatchedEvent
from fidela.experiment.rules.assignment import in_global_control
from fidela.kernel.errors import DomainError, FieldProblem
from fidela.ledger import service as ledger
from fidela.platform.revisions.service import Cached
from fidela.platform.upsert import insert_ignoring_conflicts
from fidela.segment.models import Segment, SegmentMembership

_definitions: dict[str, Definition] = {}


# -- definitions -----------------------------------------------------------------------------


def publish_journey(
    session: Session,
    *,
    definition: Mapping[str, Any],
    expected_version: int | None,
    now: datetime,
    active: bool = True,
) -> Journey:
    """Create a journey (``expected_version`` None or 0) or publish a new version of it
    (``expected_version`` its current version: a stale one is a conflict, nothing changes)."""
    parsed = parse_definition(dict(definition))
    journey = session.execute(
        select(Journey).where(Journey.code == parsed.code)
    ).scalar_one_or_none()
    if journey is None:
        if expected_version not in (None, 0):
            raise JourneyNotFound(
                f"journey {parsed.code!r} does not exist",
                [FieldProblem("/expected_version", "omit it (or 0) to create the journey")],
            )
        journey = Journey(
            code=parsed.code,
            name=parsed.name,
            version=1,
            definition=dict(definition),
            active=active,
            created_at=now,
            updated_at=now,
        )
        session.add(journey)
        session.flush()
    else:
        if expected_version is None or expected_version != journey.version:
            raise JourneyVersionConflict(
                f"journey {parsed.code!r} is at version {journey.version}",
                [FieldProblem("/expected_version", f"current version is {journey.version}")],
            )
        changed = session.execute(
            update(Journey)
            .where(Journey.id == journey.id, Journey.version == expected_version)
            .values(
                version=expected_version + 1,
                definition=dict(definition),
                name=parsed.name,
                active=active,
                updated_at=now,
            )
            .execution_options(synchronize_session=False)
        ).rowcount  # type: ignore[attr-defined]
        if changed != 1:
            raise JourneyVersionConflict(f"journey {parsed.code!r} changed concurrently")
        session.refresh(journey)
    session.add(
        JourneyVersion(
            journey_id=journey.id,
            version=journey.version,
            definition=dict(definition),
            created_at=now,
        )
    )
    session.flush()
    return journey


def get_journey(session: Session, code: str) -> Journey:
    journey = session.execute(select(Journey).where(Journey.code == code)).scalar_one_or_none()
    if journey is None:
        raise JourneyNotFound(f"journey {code!r} does not exist")
    return journey


def list_journeys(session: Session) -> Sequence[Journey]:
    return session.execute(select(Journey).order_by(Journey.code)).scalars().all()


def set_active(session: Session, *, code: str, active: bool, now: datetime) -> Journey:
    """Stop (or restart) new entries; runs already under way go on to their end."""
    journey = get_journey(session, code)
    journey.active = active
    journey.updated_at = now
    session.flush()
    return journey


def _parsed(definition: Mapping[str, Any]) -> Definition:
    # Keyed by content, not by (journey id, version): ids of rolled-back rows are reused.
    key = json.dumps(definition, sort_keys=True, default=str)
    found = _definitions.get(key)
    if found is None:
        if len(_definitions) > 1_000:
            _definitions.clear()
        found = _definitions[key] = parse_definition(dict(definition))
    return found


def definition_of(session: Session, journey_id: int, version: int) -> Definition:
    """The definition a run follows: the version it entered, whatever was published since."""
    row = session.get(JourneyVersion, (journey_id, version))
    if row is None:
        raise JourneyNotFound(f"journey {journey_id} has no version {version}")
    return _parsed(row.definition)


def list_runs(
    session: Session,
    *,
    customer_id: int | None = None,
    journey_code: str | None = None,
    limit: int = 100,
) -> Sequence[JourneyState]:
    query = select(JourneyState).order_by(JourneyState.id.desc()).limit(limit)
    if customer_id is not None:
        query = query.where(JourneyState.customer_id == customer_id)
    if journey_code is not None:
        query = query.where(JourneyState.journey_id == get_journey(session, journey_code).id)
    return session.execute(query).scalars().all()


def list_tasks(
    session: Session, *, status: str = "open", limit: int = 100
) -> Sequence[AdvisorTask]:
    return (
        session.execute(
            select(AdvisorTask)
            .where(AdvisorTask.status == status)
            .order_by(AdvisorTask.id)
            .limit(limit)
        )
        .scalars()
        .all()
    )


# -- runs ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Runtime:
    """What a run needs from the outside, read once per unit of work."""

    policy: SendPolicy
    global_control_bp: int
    global_control_epoch: int
    programme: str

    @classmethod
    def from_settings(cls) -> Runtime:
        send = get_send_settings()
        return cls(
            send.policy(),
            send.global_control_bp,
            send.global_control_epoch,
            get_engagement_settings().default_programme,
        )


def _profile(customer: Customer | None) -> dict[str, Any]:
    if customer is None:
        return {}
    birth: date | None = customer.birth_date
    return {
        "country": customer.country,
        "language": customer.language,
        "timezone": customer.timezone,
        "preferred_channel": customer.preferred_channel,
        "signup_channel": customer.signup_channel,
        "birth_date": birth.isoformat() if birth else None,
        "tags": customer.tags or {},
        **(customer.attributes or {}),
    }


def _facts(
    customer: Customer | None, state: JourneyState, event: Mapping[str, Any]
) -> dict[str, Any]:
    return {"profile": _profile(customer), "context": dict(state.context), "event": dict(event)}


def _guard(definition: Definition, journey_id: int, customer_id: int, entry_key: str) -> str | None:
    if definition.reentry == "once":
        return f"{journey_id}:{customer_id}"
    if definition.reentry in ("after_exit", "once_per_key"):
        return f"{journey_id}:{customer_id}:{entry_key}"
    return None


def _carry_out(
    session: Session,
    state: JourneyState,
    journey_code: str,
    action: Action,
    *,
    now: datetime,
    runtime: Runtime,
) -> dict[str, Any]:
    key = f"journey:{state.id}:{action.step}"
    if isinstance(action, Send):
        planned = plan_one(
            session,
            runtime.policy,
            customer_id=state.customer_id,
            channel=action.channel,
            now=now,
            transactional=action.transactional,
        )
        outcome: dict[str, Any] = {
            "outcome": planned.decision.outcome.value,
            "channel": planned.channel,
        }
        if planned.decision.allowed and planned.channel is not None:
            message = enqueue_message(
                session,
                customer_id=state.customer_id,
                channel=Channel(planned.channel),
                key=key,
                now=now,
                template=action.template,
                context=dict(action.context),
                deliver_at=planned.decision.send_at,
                expires_at=action.expires_at,
                transactional=action.transactional,
                journey_id=state.journey_id,
                step=action.step,
            )
            outcome["message_id"] = message.id
            if planned.decision.held:
                outcome["held_until"] = (
                    planned.decision.send_at.isoformat() if (planned.decision.send_at) else None
                )
        return outcome
    if isinstance(action, AwardPoints):
        result = ledger.earn_points(
            session,
            customer_id=state.customer_id,
            programme=action.programme or runtime.programme,
            points=action.points,
            now=now,
            key=key,
            reason=ledger.Reason(rule=f"journey:{journey_code}"),
        )
        return {"outcome": "awarded", "points": action.points, "entry_id": result.entry_id}
    if isinstance(action, UpdateProfile):
        customer = customers.active_customer(session, state.customer_id)
        merged = {**(customer.attributes or {}), **action.attributes}
        customers.update_customer(
            session,
            customer_id=state.customer_id,
            fields=ProfileFields(attributes=merged),
            expected_version=None,
            now=now,
        )
        return {"outcome": "updated", "attributes": sorted(action.attributes)}
    task: CreateTask = action
    session.execute(
        insert_ignoring_conflicts(session, AdvisorTask, "key").values(
            customer_id=state.customer_id,
            journey_id=state.journey_id,
            kind=task.kind,
            note=task.note,
            status="open",
            key=key,
            created_at=now,
            due_at=task.due_at,
        )
    )
    return {"outcome": "task", "kind": task.kind}


def _apply(
    session: Session,
    state: JourneyState,
    definition: Definition,
    advance: Advance,
    *,
    now: datetime,
    runtime: Runtime,
) -> None:
    history = list(state.history or [])
    for action in advance.actions:
        outcome = _carry_out(session, state, definition.code, action, now=now, runtime=runtime)
        history.append({"step": action.step, "at": now.isoformat(), **outcome})
    state.history = history
    state.status = advance.status.value
    state.step = advance.step
    state.waiting_for = advance.waiting_for
    state.next_wake_at = advance.wake_at
    state.updated_at = now
    if advance.status in FINISHED:
        _finish(state, definition, now)
    session.flush()


def _finish(state: JourneyState, definition: Definition, now: datetime) -> None:
    state.finished_at = now
    state.next_wake_at = None
    state.waiting_for = None
    if definition.reentry == "after_exit":  # "once" and "once_per_key" keep their guard
        state.guard = None


def enter_journey(
    session: Session,
    journey: Journey | KnownJourney,
    *,
    customer: Customer,
    entry_key: str,
    data: Mapping[str, Any],
    now: datetime,
    runtime: Runtime,
) -> JourneyState | None:
    """Start a run, unless the re-entry rule refuses it (None). A customer in the global
    control group of a marketing journey gets a finished ``control`` run: counted, never
    messaged."""
    definition = definition_of(session, journey.id, journey.version)
    control = definition.marketing and in_global_control(
        customer.id, runtime.global_control_bp, epoch=runtime.global_control_epoch
    )
    context = {**data, "entry_key": entry_key}
    inserted = session.execute(
        insert_ignoring_conflicts(session, JourneyState, "guard")
        .values(
            journey_id=journey.id,
            version=journey.version,
            customer_id=customer.id,
            entry_key=entry_key,
            guard=_guard(definition, journey.id, customer.id, entry_key),
            status=(RunStatus.CONTROL if control else RunStatus.ACTIVE).value,
            step=None,
            waiting_for=None,
            next_wake_at=None,
            context=context,
            history=[],
            entered_at=now,
            updated_at=now,
            finished_at=None,
        )
        .returning(JourneyState.id)
    ).scalar_one_or_none()
    if inserted is None:
        return None
    state = session.get(JourneyState, inserted)
    if state is None:  # pragma: no cover - the row was inserted by this very transaction
        raise JourneyNotFound(f"journey run {inserted} vanished")
    if control:
        _finish(state, definition, now)
        session.flush()
        return state
    zone = zone_of(customer.timezone, runtime.policy.default_timezone)
    advance = enter(
        definition, customer_id=customer.id, now=now, zone=zone, facts=_facts(customer, state, data)
    )
    _apply(session, state, definition, advance, now=now, runtime=runtime)
    return state


def _resume(
    session: Session,
    state: JourneyState,
    *,
    now: datetime,
    runtime: Runtime,
    event_type: str | None,
    data: Mapping[str, Any],
) -> None:
    definition = definition_of(session, state.journey_id, state.version)
    customer = session.get(Customer, state.customer_id)
    zone: ZoneInfo = zone_of(
        customer.timezone if customer else None, runtime.policy.default_timezone
    )
    if state.step is None:  # defensive: an active run always waits somewhere
        return
    advance = resume(
        definition,
        state.step,
        customer_id=state.customer_id,
        now=now,
        zone=zone,
        facts=_facts(customer, state, data),
        event=event_type,
    )
    _apply(session, state, definition, advance, now=now, runtime=runtime)


class KnownJourney(NamedTuple):
    """What an event needs of a journey: which one, its current version, whether it is on."""

    id: int
    version: int
    active: bool


# Built once, and run through Core (columns, not entities: a fraction of the ORM's CPU):
# read for every group of events ingested.
_ALL_JOURNEYS = select(Journey.id, Journey.version, Journey.active, Journey.definition).order_by(
    Journey.id
)


def _journeys(session: Session) -> tuple[tuple[KnownJourney, Definition], ...]:
    return _known_journeys.get(session)


def _load_journeys(session: Session) -> tuple[tuple[KnownJourney, Definition], ...]:
    # `Cached` flushed the session first: a journey changed earlier in this session is seen.
    return tuple(
        (KnownJourney(journey_id, version, active), _parsed(definition))
        for journey_id, version, active, definition in session.connection().execute(_ALL_JOURNEYS)
    )


# Read for every group of events: kept while no journey changes.
_known_journeys = Cached("journey", _load_journeys)


def _entry_key(definition: Definition, data: Mapping[str, Any], fallback: str) -> str:
    if definition.entry_key:
        value = data.get(definition.entry_key)
        if value is not None:
            return str(value)[:200]
    return fallback


def handle_trigger(
    session: Session,
    *,
    customer_id: int,
    event_type: str,
    data: Mapping[str, Any],
    now: datetime,
    reference: str,
    runtime: Runtime | None = None,
    journeys: Iterable[tuple[KnownJourney, Definition]] | None = None,
) -> dict[str, Any]:
    """What an event about a customer does to journeys: ends the runs it is the goal of
    (conversions), resumes runs waiting for it, then enters the journeys it triggers."""
    runtime = runtime or Runtime.from_settings()
    known = list(journeys) if journeys is not None else _journeys(session)
    goals = {j.id for j, d in known if d.goal_event == event_type}
    effect: dict[str, Any] = {}
    active = (
        session.execute(
            select(JourneyState)
            .where(
                JourneyState.customer_id == customer_id,
                JourneyState.status == RunStatus.ACTIVE.value,
            )
            .order_by(JourneyState.id)
        )
        .scalars()
        .all()
    )
    for state in active:
        if state.journey_id in goals:
            definition = definition_of(session, state.journey_id, state.version)
            state.status = RunStatus.CONVERTED.value
            state.updated_at = now
            state.history = [
                *state.history,
                {"step": "goal", "at": now.isoformat(), "outcome": "converted", "event": reference},
            ]
            _finish(state, definition, now)
            effect.setdefault("converted", []).append(state.id)
        elif state.waiting_for == event_type:
            _resume(session, state, now=now, runtime=runtime, event_type=event_type, data=data)
            effect.setdefault("resumed", []).append(state.id)
    triggered = [(j, d) for j, d in known if j.active and d.trigger_event == event_type]
    if triggered:
        customer = customers.active_customer(session, customer_id)
        for journey, definition in triggered:
            entered = enter_journey(
                session,
                journey,
                customer=customer,
                entry_key=_entry_key(definition, data, reference),
                data=data,
                now=now,
                runtime=runtime,
            )
            if entered is not None:
                effect.setdefault("entered", []).append(entered.id)
    session.flush()
    return effect


def on_events(session: Session, events: Sequence[DispatchedEvent]) -> list[Effect | DomainError]:
    """The event subscriber (batch form): one look at the journeys per batch, and nothing at
    all for events no journey mentions. A journey's own failure (a broken step) does not
    reject the event: the event is the customer's fact, the journey only reacts to it."""
    known = _journeys(session)
    relevant: set[str] = set()
    for _, definition in known:
        relevant |= {t for t in (definition.trigger_event, definition.goal_event) if t}
        relevant |= {
            str(step.spec["event"])
            for step in definition.steps.values()
            if step.type == "wait_event"
        }
    outcomes: list[Effect | DomainError] = []
    if not known:
        return [None] * len(events)
    runtime = Runtime.from_settings()
    for event in events:
        customer_id = event.customer_id or customer_learnt(event.effects)
        if event.type not in relevant or customer_id is None:
            outcomes.append(None)
            continue
        try:
            with session.begin_nested():
                effect = handle_trigger(
                    session,
                    customer_id=customer_id,
                    event_type=event.type,
                    data=event.data,
                    now=event.now,
                    reference=f"event:{event.id}",
                    runtime=runtime,
                    journeys=known,
                )
        except DomainError as error:
            effect = {"error": error.code, "detail": error.detail}
        outcomes.append(effect or None)
    return outcomes


def run_due(session: Session, *, now: datetime, limit: int = 500) -> int:
    """Advance up to ``limit`` runs whose wake-up time has come; the number advanced. Rows
    are claimed with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL so two workers share the
    work without doing any run twice."""
    runtime = Runtime.from_settings()
    query = (
        select(JourneyState)
        .where(JourneyState.status == RunStatus.ACTIVE.value, JourneyState.next_wake_at <= now)
        .order_by(JourneyState.next_wake_at, JourneyState.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    states = session.execute(query).scalars().all()
    for state in states:
        _resume(session, state, now=now, runtime=runtime, event_type=None, data={})
    return len(states)


def validate(definition: Any) -> Definition:
    """Check a definition without publishing it."""
    return parse_definition(definition)


def enter_segment_members(session: Session, *, now: datetime, limit: int = 500) -> int:
    """Enter the customers now in the segment of a segment-triggered journey, once per stay
    in the segment (the stay's id is the run's entry key); the number entered."""
    runtime = Runtime.from_settings()
    entered = 0
    for journey, definition in _journeys(session):
        if not journey.active or definition.trigger_segment is None or entered >= limit:
            continue
        segment_id = session.execute(
            select(Segment.id).where(Segment.key == definition.trigger_segment)
        ).scalar_one_or_none()
        if segment_id is None:
            continue
        already = select(JourneyState.id).where(
            JourneyState.journey_id == journey.id,
            JourneyState.customer_id == SegmentMembership.customer_id,
            JourneyState.entry_key == literal("segment:") + cast(SegmentMembership.id, String),
        )
        stays = session.execute(
            select(SegmentMembership.id, SegmentMembership.customer_id)
            .where(
                SegmentMembership.segment_id == segment_id,
                SegmentMembership.exited_at.is_(None),
                ~already.exists(),
            )
            .order_by(SegmentMembership.id)
            .limit(limit - entered)
        ).all()
        for stay_id, customer_id in stays:
            customer = session.get(Customer, customer_id)
            if customer is None or customer.status != "active":
                continue
            enter_journey(
                session,
                journey,
                customer=customer,
                entry_key=f"segment:{stay_id}",
                data={"segment": definition.trigger_segment},
                now=now,
                runtime=runtime,
            )
            entered += 1
    return entered


def install_library(session: Session, *, now: datetime) -> list[str]:
    """Publish the ready-made journeys not yet present, inactive: each needs its templates
    before it is switched on. The codes installed."""
    installed: list[str] = []
    for definition in LIBRARY:
        exists = session.execute(
            select(Journey.id).where(Journey.code == definition["code"])
        ).first()
        if exists is None:
            publish_journey(
                session, definition=definition, expected_version=None, now=now, active=False
            )
            installed.append(str(definition["code"]))
    return installed


BIRTHDAY = "customer.birthday"
BIRTHDAY_HOUR = 9  # local time from which a birthday journey starts


def _birthday_on(birth: date, year: int) -> date:
    # 29 February is celebrated on 28 February in other years.
    if birth.month == 2 and birth.day == 29 and not calendar.isleap(year):
        return date(year, 2, 28)
    return date(year, birth.month, birth.day)


def trigger_birthdays(session: Session, *, now: datetime, limit: int = 5_000) -> int:
    """Trigger ``customer.birthday`` for customers whose birthday it is, in their own
    timezone, from 09:00 local (the job runs hourly, so every zone gets its morning). Each
    birthday enters once (entry key: the year); the number triggered."""
    runtime = Runtime.from_settings()
    journeys = [(j, d) for j, d in _journeys(session) if j.active and d.trigger_event == BIRTHDAY]
    if not journeys:
        return 0
    # Candidates: a birthday within a day of today's UTC date (timezones span ±14 hours).
    days = {(now + timedelta(days=n)).date() for n in (-1, 0, 1)}
    days |= {date(d.year, 2, 29) for d in days if d.month == 2 and d.day == 28}
    wanted = or_(
        *(
            and_(
                extract("month", Customer.birth_date) == d.month,
                extract("day", Customer.birth_date) == d.day,
            )
            for d in days
        )
    )
    candidates = session.execute(
        select(Customer.id, Customer.birth_date, Customer.timezone)
        .where(Customer.status == "active", Customer.birth_date.is_not(None), wanted)
        .order_by(Customer.id)
        .limit(limit)
    ).all()
    triggered = 0
    for customer_id, birth, timezone in candidates:
        if birth is None:  # excluded by the query; keeps the types honest
            continue
        local = now.astimezone(zone_of(timezone, runtime.policy.default_timezone))
        if local.hour < BIRTHDAY_HOUR or _birthday_on(birth, local.year) != local.date():
            continue
        effect = handle_trigger(
            session,
            customer_id=customer_id,
            event_type=BIRTHDAY,
            data={"year": local.year, "birth_date": birth.isoformat()},
            now=now,
            reference=f"birthday:{customer_id}:{local.year}",
            runtime=runtime,
            journeys=journeys,
        )
        triggered += len(effect.get("entered", []))
    return triggered
