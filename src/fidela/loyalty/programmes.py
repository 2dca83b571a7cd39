"""Programmes: their settings, the versions of their rule sets and tier ladders.

Configuration is data, validated on save with a JSON pointer for every problem, and saved
by compare-and-set on ``version``: two operators editing the same rules cannot silently
overwrite each other (a stale version is a 409). Every version is kept.

The earning path reads programmes on every batch; :func:`programmes_in_force` answers from a
per-process cache keyed by the versions stored on the programme row, so a batch costs one
small query and a new version is seen by the next batch of every process.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from fidela.kernel.decimals import read_decimal
from fidela.kernel.errors import Conflict, FieldProblem, InvalidInput, NotFound
from fidela.kernel.money import KNOWN_CURRENCIES
from fidela.ledger.rules import ExpirySchedule
from fidela.ledger.rules.returns import ReturnPolicy
from fidela.loyalty.config import (
    HoldConfig,
    InvalidProgramme,
    read_expiry,
    read_hold,
    read_return_policy,
)
from fidela.loyalty.models import LoyaltyProgramme, LoyaltyRuleSet
from fidela.loyalty.rules import InvalidRuleSet, RuleSet, activation_events, load_rule_set
from fidela.platform.revisions.service import Cached
from fidela.tier.models import TierLadderVersion
from fidela.tier.rules import InvalidLadder, TierLadder, check_ladder_change, load_ladder
from fidela.tier.service import stored_ladder

MAX_WARNING_DAYS = 365


class ProgrammeNotFound(NotFound):
    code = "programme_unknown"
    title = "Unknown programme"


class ProgrammeExists(Conflict):
    code = "programme_exists"
    title = "Programme exists"


class StaleVersion(Conflict):
    code = "version_stale"
    title = "Stale version"


class ProgrammeRequired(InvalidInput):
    code = "programme_required"
    title = "Programme required"


@dataclass(frozen=True)
class Programme:
    """A programme as the engine uses it: settings parsed, rule set and ladder loaded."""

    id: int
    code: str
    name: str
    currency: str
    cost_per_point_minor: Decimal
    return_policy: ReturnPolicy
    hold: HoldConfig
    hold_json: Mapping[str, Any]
    expiry: ExpirySchedule
    expiry_json: Mapping[str, Any]
    warning_days: int
    active: bool
    version: int
    rule_set: RuleSet | None
    rule_set_json: Mapping[str, Any] | None
    rule_set_version: int
    ladder: TierLadder | None
    ladder_json: Mapping[str, Any] | None
    ladder_version: int
    created_at: datetime
    updated_at: datetime
    # The event types that release some held points (the hold's and the rules'): asked of
    # every ingested event, so computed once per parsed programme.
    activation_events: frozenset[str] = frozenset()


# revision token -> parsed programme
_cache: dict[str, Programme] = {}


def _key(row: LoyaltyProgramme) -> str:
    return row.revision


def _renew(row: LoyaltyProgramme, now: datetime) -> None:
    row.revision = secrets.token_hex(16)
    row.updated_at = now


def _rules_json(session: Session, programme_id: int, version: int) -> dict[str, Any] | None:
    if version == 0:
        return None
    rules: dict[str, Any] = session.execute(
        select(LoyaltyRuleSet.rules).where(
            LoyaltyRuleSet.programme_id == programme_id, LoyaltyRuleSet.version == version
        )
    ).scalar_one()
    return rules


def _ladder_json(session: Session, programme_id: int, version: int) -> dict[str, Any] | None:
    if version == 0:
        return None
    ladder: dict[str, Any] = session.execute(
        select(TierLadderVersion.ladder).where(
            TierLadderVersion.programme_id == programme_id, TierLadderVersion.version == version
        )
    ).scalar_one()
    return ladder


def _parsed(session: Session, row: LoyaltyProgramme) -> Programme:
    key = _key(row)
    cached = _cache.get(key)
    if cached is not None:
        return cached
    rules = _rules_json(session, row.id, row.rule_set_version)
    ladder = _ladder_json(session, row.id, row.ladder_version)
    hold = read_hold(row.hold)
    rule_set = None if rules is None else load_rule_set(rules)
    programme = Programme(
        id=row.id,
        code=row.code,
        name=row.name,
        currency=row.currency,
        cost_per_point_minor=Decimal(row.cost_per_point_minor),
        return_policy=ReturnPolicy(row.return_policy),
        hold=hold,
        hold_json=row.hold,
        expiry=read_expiry(row.expiry),
        expiry_json=row.expiry,
        warning_days=row.warning_days,
        active=row.active,
        version=row.version,
        rule_set=rule_set,
        rule_set_json=rules,
        rule_set_version=row.rule_set_version,
        ladder=None if ladder is None else load_ladder(ladder),
        ladder_json=ladder,
        ladder_version=row.ladder_version,
        created_at=row.created_at,
        updated_at=row.updated_at,
        activation_events=activation_events(rule_set, hold.hold),
    )
    if len(_cache) > 256:  # bounded: a process sees a handful of programmes
        _cache.clear()
    _cache[key] = programme
    return programme


# Built once: the earning subscriber asks for every group of events, and building the
# statement, and loading whole rows into the session, cost more than running it.
_IN_FORCE = (
    select(LoyaltyProgramme.id, LoyaltyProgramme.revision)
    .where(LoyaltyProgramme.active.is_(True), LoyaltyProgramme.rule_set_version > 0)
    .order_by(LoyaltyProgramme.id)
)


def programmes_in_force(session: Session) -> list[Programme]:
    """Active programmes with a rule set, in id order (what the earning subscriber runs).
    Nothing is read but the configuration revisions while no programme changed since this
    process last loaded them."""
    return list(_in_force.get(session))


def _load_in_force(session: Session) -> tuple[Programme, ...]:
    # Only ids and revisions are read unless a programme changed since this process parsed
    # it. Core, not ORM, execution (a fraction of the CPU for two columns); `Cached` flushed
    # the session first, so a programme changed earlier in this session is seen.
    in_force = session.connection().execute(_IN_FORCE).all()
    cached = {programme_id: _cache.get(revision) for programme_id, revision in in_force}
    missing = [programme_id for programme_id, programme in cached.items() if programme is None]
    if missing:
        rows = session.execute(
            select(LoyaltyProgramme).where(LoyaltyProgramme.id.in_(missing))
        ).scalars()
        # A row changed or switched off since the first read is taken as it is now.
        cached.update(
            {row.id: _parsed(session, row) for row in rows if row.active and row.rule_set_version}
        )
    return tuple(programme for programme in cached.values() if programme is not None)


_in_force = Cached("loyalty_programme", _load_in_force)


def list_programmes(session: Session) -> list[Programme]:
    rows = session.execute(select(LoyaltyProgramme).order_by(LoyaltyProgramme.id)).scalars()
    return [_parsed(session, row) for row in rows]


def _row(session: Session, code: str, *, lock: bool = False) -> LoyaltyProgramme:
    statement = select(LoyaltyProgramme).where(LoyaltyProgramme.code == code)
    if lock:
        statement = statement.with_for_update()
    row = session.execute(statement.execution_options(populate_existing=True)).scalar_one_or_none()
    if row is None:
        raise ProgrammeNotFound(f"no programme '{code}'", [FieldProblem("/programme", "unknown")])
    return row


def get_programme(session: Session, *, code: str) -> Programme:
    return _parsed(session, _row(session, code))


def choose_programme(session: Session, code: str | None) -> Programme:
    """The programme named, or the only one when none is named."""
    if code is not None:
        return get_programme(session, code=code)
    every = list_programmes(session)
    if len(every) != 1:
        raise ProgrammeRequired(
            f"name the programme ({len(every)} exist)",
            [FieldProblem("/programme", "required when there is not exactly one programme")],
        )
    return every[0]


def _summary(what: str, problems: list[FieldProblem]) -> str:
    listed = "; ".join(f"{p.pointer}: {p.message}" for p in problems)
    return f"{len(problems)} problem(s) in the {what}: {listed}"


def _checked_rules(data: Mapping[str, Any], currency: str, cost: Decimal) -> dict[str, Any]:
    """The rule set with the programme's currency and cost filled in; a different currency
    or cost in the rules is refused rather than silently overridden."""
    if not isinstance(data, Mapping):
        raise InvalidProgramme("/rules: must be an object", [FieldProblem("/rules", "object")])
    rules = dict(data)
    if rules.setdefault("currency", currency) != currency:
        raise InvalidProgramme(
            f"the rules earn on {rules['currency']}, the programme is in {currency}",
            [FieldProblem("/rules/currency", f"must be {currency}")],
        )
    stated = rules.setdefault("cost_per_point_minor", str(cost))
    try:
        same = read_decimal(stated) == cost
    except (ValueError, ArithmeticError, TypeError):
        same = False
    if not same:
        raise InvalidProgramme(
            "the rules' cost per point differs from the programme's",
            [FieldProblem("/rules/cost_per_point_minor", f"must be {cost}")],
        )
    rules.setdefault("timezone", "UTC")
    try:
        load_rule_set(rules)
    except InvalidRuleSet as error:
        problems = [FieldProblem(f"/rules{p.pointer}", p.message) for p in error.problems]
        raise InvalidRuleSet(_summary("rule set", problems), problems) from None
    return rules


def _checked_ladder(data: Mapping[str, Any]) -> dict[str, Any]:
    try:
        load_ladder(data)
    except InvalidLadder as error:
        problems = [FieldProblem(f"/ladder{p.pointer}", p.message) for p in error.problems]
        raise InvalidLadder(_summary("ladder", problems), problems) from None
    return dict(data)


def _cost(value: object) -> Decimal:
    try:
        cost = read_decimal(value)
    except (ValueError, ArithmeticError, TypeError):
        cost = Decimal(-1)
    if not cost.is_finite() or cost < 0:
        raise InvalidProgramme(
            'cost_per_point_minor must be a decimal >= 0 (a string such as "0.5")',
            [FieldProblem("/cost_per_point_minor", "a decimal >= 0")],
        )
    return cost


def create_programme(
    session: Session,
    *,
    code: str,
    name: str,
    currency: str,
    cost_per_point_minor: object,
    return_policy: str = "within_balance",
    hold: Mapping[str, Any] | None = None,
    expiry: Mapping[str, Any] | None = None,
    warning_days: int = 30,
    rules: Mapping[str, Any] | None = None,
    ladder: Mapping[str, Any] | None = None,
    now: datetime,
    actor: str | None = None,
) -> Programme:
    """Create a programme, optionally with its first rule set and ladder (version 1)."""
    if currency not in KNOWN_CURRENCIES:
        raise InvalidProgramme(
            f"unknown currency {currency!r}", [FieldProblem("/currency", "ISO 4217, upper case")]
        )
    if not 0 <= warning_days <= MAX_WARNING_DAYS:
        raise InvalidProgramme(
            "warning_days out of range", [FieldProblem("/warning_days", "0 to 365")]
        )
    cost = _cost(cost_per_point_minor)
    read_return_policy(return_policy)
    hold_json = dict(hold or {"kind": "none"})
    expiry_json = dict(expiry or {"policies": []})
    read_hold(hold_json)
    read_expiry(expiry_json)
    checked_rules = None if rules is None else _checked_rules(rules, currency, cost)
    checked_ladder = None if ladder is None else _checked_ladder(ladder)
    if session.execute(select(LoyaltyProgramme.id).where(LoyaltyProgramme.code == code)).first():
        raise ProgrammeExists(f"programme '{code}' exists", [FieldProblem("/code", "taken")])
    row = LoyaltyProgramme(
        code=code,
        name=name,
        currency=currency,
        cost_per_point_minor=str(cost),
        return_policy=return_policy,
        hold=hold_json,
        expiry=expiry_json,
        warning_days=warning_days,
        active=True,
        rule_set_version=0,
        ladder_version=0,
        version=1,
        revision=secrets.token_hex(16),
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    session.flush()
    if checked_rules is not None:
        session.add(
            LoyaltyRuleSet(
                programme_id=row.id, version=1, rules=checked_rules, actor=actor, created_at=now
            )
        )
        row.rule_set_version = 1
    if checked_ladder is not None:
        session.add(
            TierLadderVersion(programme_id=row.id, version=1, ladder=checked_ladder, created_at=now)
        )
        row.ladder_version = 1
    _renew(row, now)
    session.flush()
    return _parsed(session, row)


def set_rule_set(
    session: Session,
    *,
    code: str,
    rules: Mapping[str, Any],
    expected_version: int,
    now: datetime,
    actor: str | None = None,
) -> Programme:
    """Save a new rule set version if the current one is ``expected_version`` (0: none yet);
    otherwise ``StaleVersion``. Points already earned keep the version that awarded them."""
    row = _row(session, code, lock=True)
    checked = _checked_rules(rules, row.currency, Decimal(row.cost_per_point_minor))
    if row.rule_set_version != expected_version:
        raise StaleVersion(
            f"the rules of '{code}' are at version {row.rule_set_version}, not {expected_version}",
            [FieldProblem("/version", f"current version is {row.rule_set_version}")],
        )
    version = row.rule_set_version + 1
    session.add(
        LoyaltyRuleSet(
            programme_id=row.id, version=version, rules=checked, actor=actor, created_at=now
        )
    )
    row.rule_set_version = version
    _renew(row, now)
    session.flush()
    return _parsed(session, row)


def set_ladder(
    session: Session,
    *,
    code: str,
    ladder: Mapping[str, Any],
    expected_version: int,
    now: datetime,
) -> Programme:
    """Save a new ladder version (compare-and-set). Nobody is lowered on save: members move to
    the new version, never lower, when they are next evaluated (``tier.service``)."""
    row = _row(session, code, lock=True)
    checked = _checked_ladder(ladder)
    if row.ladder_version != expected_version:
        raise StaleVersion(
            f"the ladder of '{code}' is at version {row.ladder_version}, not {expected_version}",
            [FieldProblem("/version", f"current version is {row.ladder_version}")],
        )
    if row.ladder_version:
        old = stored_ladder(session, row.id, row.ladder_version)
        if old is not None:
            check_ladder_change(old, load_ladder(checked))
    version = row.ladder_version + 1
    session.add(
        TierLadderVersion(programme_id=row.id, version=version, ladder=checked, created_at=now)
    )
    row.ladder_version = version
    _renew(row, now)
    session.flush()
    return _parsed(session, row)


def rule_set_versions(session: Session, *, code: str) -> list[LoyaltyRuleSet]:
    row = _row(session, code)
    return list(
        session.execute(
            select(LoyaltyRuleSet)
            .where(LoyaltyRuleSet.programme_id == row.id)
            .order_by(LoyaltyRuleSet.version.desc())
        ).scalars()
    )
