"""Customer rules.

Concepts:
- A **profile** is one person. It is ``active``, ``merged`` (into a survivor, kept as a
  tombstone so old references resolve) or ``erased`` (GDPR: personal data pseudonymised, the
  row kept so ledger and order sums stay intact).
- An **identity** is a key that points at one profile: email (normalised), phone (E.164),
  loyalty card, device id, or an external id within a source's namespace. An identity belongs
  to at most one profile (unique on kind + namespace + value).
- **Matching**: incoming data is resolved to the profile of its highest-priority identity
  (default card > email > phone > external > device). Lower-priority identities that belong
  to nobody are attached to that profile; ones that belong to another profile are reported,
  never silently moved (merging is an explicit act).
- **Consent** is per channel and purpose, a history of records (source, time, wording
  version, proof); the current state is the latest record. Email marketing may need double
  opt-in: ``pending`` until confirmed.
- **Merge** moves everything of the merged profile to the survivor; it is idempotent.
  Survivor values win; its empty fields are filled from the merged profile; for consent the
  most recent decision wins and, on a tie, the refusal (privacy first).

Invariants: an identity has one owner; only active profiles receive data; erasure leaves no
personal data in any text column and does not change any amount.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from email_validator import EmailNotValidError

from fidela.customer.email_syntax import normalised_address
from fidela.kernel.errors import Conflict, FieldProblem, InvalidInput, NotFound

# ---------------------------------------------------------------------------- errors


class CustomerNotFound(NotFound):
    code = "customer_not_found"
    title = "Customer not found"


class InvalidIdentity(InvalidInput):
    code = "identity_invalid"
    title = "Invalid identity"


class IdentityTaken(Conflict):
    code = "identity_taken"
    title = "Identity belongs to another customer"


class InvalidProfile(InvalidInput):
    code = "profile_invalid"
    title = "Invalid profile data"


class CustomerNotActive(Conflict):
    code = "customer_not_active"
    title = "Customer is merged or erased"


class MergeRefused(Conflict):
    code = "merge_refused"
    title = "These profiles cannot be merged"


class VersionConflict(Conflict):
    code = "version_conflict"
    title = "The profile changed since you read it"


class InvalidConsent(InvalidInput):
    code = "consent_invalid"
    title = "Invalid consent"


class ConfirmationInvalid(InvalidInput):
    code = "consent_confirmation_invalid"
    title = "Invalid or expired confirmation"


# ---------------------------------------------------------------------------- profiles


class CustomerStatus(StrEnum):
    ACTIVE = "active"
    MERGED = "merged"
    ERASED = "erased"


GENDERS = frozenset({"female", "male", "other", "unknown"})
LANGUAGES = frozenset({"fr", "en", "de", "es", "it", "nl", "pt"})
CHANNEL_PREFERENCES = frozenset({"email", "sms", "push", "in_app", "postal", "phone"})
TAG_KINDS = ("preferences", "interests", "motivations")


def validate_timezone(value: str, pointer: str = "/timezone") -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidProfile(
            f"'{value}' is not an IANA timezone", [FieldProblem(pointer, "unknown timezone")]
        ) from None
    return value


def validate_choice(value: str, allowed: frozenset[str], pointer: str) -> str:
    clean = value.strip().lower()
    if clean not in allowed:
        raise InvalidProfile(
            f"'{value}' is not one of {', '.join(sorted(allowed))}",
            [FieldProblem(pointer, f"must be one of {', '.join(sorted(allowed))}")],
        )
    return clean


def validate_birth_date(value: date, today: date) -> date:
    if value > today or value.year < today.year - 120:
        raise InvalidProfile(
            f"birth date {value.isoformat()} is not plausible",
            [FieldProblem("/birth_date", "must be in the past 120 years")],
        )
    return value


def normalise_tags(tags: Mapping[str, Iterable[str]]) -> dict[str, list[str]]:
    """Tags per kind, lower-case, de-duplicated and sorted (stable for comparisons)."""
    unknown = set(tags) - set(TAG_KINDS)
    if unknown:
        raise InvalidProfile(
            f"unknown tag kind(s): {', '.join(sorted(unknown))}",
            [FieldProblem(f"/tags/{kind}", "unknown tag kind") for kind in sorted(unknown)],
        )
    return {
        kind: sorted({tag.strip().lower() for tag in values if tag.strip()})
        for kind, values in tags.items()
    }


def age_on(birth_date: date, today: date) -> int:
    return (
        today.year
        - birth_date.year
        - ((today.month, today.day) < (birth_date.month, birth_date.day))
    )


# ---------------------------------------------------------------------------- custom attributes


class AttributeType(StrEnum):
    STRING = "string"
    INTEGER = "integer"
    NUMBER = "number"
    BOOLEAN = "boolean"
    DATE = "date"
    DATETIME = "datetime"


_ATTRIBUTE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


def validate_attribute_name(name: str) -> str:
    if not _ATTRIBUTE_NAME.match(name):
        raise InvalidProfile(
            f"attribute name '{name}' must be snake_case, start with a letter, max 63 chars",
            [FieldProblem("/name", "invalid attribute name")],
        )
    return name


def coerce_attribute(name: str, kind: AttributeType, value: Any) -> Any:
    """Check ``value`` against the declared type; return its JSON form (dates as ISO)."""
    pointer = f"/attributes/{name}"
    if value is None:
        return None
    ok: bool
    result: Any = value
    if kind is AttributeType.STRING:
        ok = isinstance(value, str) and len(value) <= 2000
    elif kind is AttributeType.INTEGER:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif kind is AttributeType.NUMBER:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
    elif kind is AttributeType.BOOLEAN:
        ok = isinstance(value, bool)
    else:
        parser = date.fromisoformat if kind is AttributeType.DATE else datetime.fromisoformat
        try:
            parsed = parser(value) if isinstance(value, str) else None
        except ValueError:
            parsed = None
        ok = parsed is not None and (
            kind is AttributeType.DATE or getattr(parsed, "tzinfo", None) is not None
        )
        result = parsed.isoformat() if parsed is not None else value
    if not ok:
        raise InvalidProfile(
            f"attribute '{name}' must be a {kind.value}",
            [FieldProblem(pointer, f"expected {kind.value}")],
        )
    return result


# ---------------------------------------------------------------------------- identities


class IdentityKind(StrEnum):
    CARD = "card"
    EMAIL = "email"
    PHONE = "phone"
    EXTERNAL = "external"
    DEVICE = "device"


DEFAULT_MATCH_PRIORITY: tuple[IdentityKind, ...] = (
    IdentityKind.CARD,
    IdentityKind.EMAIL,
    IdentityKind.PHONE,
    IdentityKind.EXTERNAL,
    IdentityKind.DEVICE,
)


@dataclass(frozen=True, order=True)
class Identity:
    kind: IdentityKind
    value: str
    namespace: str = ""  # the source of an external id; empty for the others


# Validating an address or a number costs ~100-150 us, as much as storing the event it came
# with; the same customers come back again and again, so the answers are memoised (pure
# functions of their input). Errors are not cached: they carry the caller's pointer.
_NORMALISED_CACHE = 65_536


@lru_cache(maxsize=_NORMALISED_CACHE)
def _normalised_email(raw: str) -> str | EmailNotValidError:
    try:
        normalised = normalised_address(raw.strip())
    except EmailNotValidError as exc:
        return exc
    local, _, domain = normalised.rpartition("@")
    return f"{local.casefold()}@{domain}"


def normalise_email(raw: str, pointer: str = "/email") -> str:
    """The normalised address (domain lower-cased, local part case-folded for matching).

    No DNS lookup: deliverability is the sending provider's job, and tests run offline.
    """
    found = _normalised_email(raw)
    if isinstance(found, EmailNotValidError):
        raise InvalidIdentity(
            f"'{raw}' is not a valid email address: {found}", [FieldProblem(pointer, str(found))]
        )
    return found


@lru_cache(maxsize=_NORMALISED_CACHE)
def _normalised_phone(raw: str, default_region: str) -> str | None:
    """E.164, or None if not a number at all; raises nothing (cached)."""
    try:
        number = phonenumbers.parse(raw, default_region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return ""
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


def normalise_phone(raw: str, default_region: str, pointer: str = "/phone") -> str:
    """E.164, only for numbers that are valid (not merely possible) in their region."""
    found = _normalised_phone(raw, default_region)
    if found is None:
        raise InvalidIdentity(
            f"'{raw}' is not a phone number", [FieldProblem(pointer, "not a phone number")]
        )
    if not found:
        raise InvalidIdentity(
            f"'{raw}' is not a valid phone number",
            [FieldProblem(pointer, "not a valid number for its region")],
        )
    return found


_CARD = re.compile(r"^[A-Z0-9]{4,64}$")


def normalise_card(raw: str, pointer: str = "/card") -> str:
    clean = re.sub(r"[\s-]", "", raw).upper()
    if not _CARD.match(clean):
        raise InvalidIdentity(
            f"'{raw}' is not a loyalty card number",
            [FieldProblem(pointer, "4 to 64 letters or digits")],
        )
    return clean


def normalise_opaque(raw: str, pointer: str, what: str) -> str:
    clean = raw.strip()
    if not clean or len(clean) > 200 or not clean.isprintable():
        raise InvalidIdentity(
            f"'{raw}' is not a valid {what}",
            [FieldProblem(pointer, "1 to 200 printable characters")],
        )
    return clean


def normalise_identity(
    kind: IdentityKind, value: str, *, namespace: str = "", default_region: str, pointer: str
) -> Identity:
    if kind is IdentityKind.EMAIL:
        return Identity(kind, normalise_email(value, pointer))
    if kind is IdentityKind.PHONE:
        return Identity(kind, normalise_phone(value, default_region, pointer))
    if kind is IdentityKind.CARD:
        return Identity(kind, normalise_card(value, pointer))
    if kind is IdentityKind.DEVICE:
        return Identity(kind, normalise_opaque(value, pointer, "device id"))
    source = normalise_opaque(namespace, pointer, "external id source").lower()
    return Identity(kind, normalise_opaque(value, pointer, "external id"), source)


@dataclass(frozen=True)
class MatchDecision:
    customer_id: int | None  # None: nobody matched
    attach: tuple[Identity, ...]  # identities to add to the matched (or new) profile
    conflicts: tuple[tuple[Identity, int], ...]  # identities owned by another profile


def decide_match(
    identities: Sequence[Identity],
    owners: Mapping[Identity, int],
    priority: Sequence[IdentityKind] = DEFAULT_MATCH_PRIORITY,
) -> MatchDecision:
    """Resolve ``identities`` (with their current ``owners``) to one profile."""
    rank = {kind: index for index, kind in enumerate(priority)}
    ordered = sorted(set(identities), key=lambda identity: (rank.get(identity.kind, 99), identity))
    winner = next((owners[i] for i in ordered if i in owners), None)
    attach = tuple(i for i in ordered if i not in owners)
    conflicts = tuple((i, owners[i]) for i in ordered if i in owners and owners[i] != winner)
    return MatchDecision(winner, attach, conflicts)


def parse_priority(text: str) -> tuple[IdentityKind, ...]:
    """``"card,email,phone"`` -> kinds; unlisted kinds follow in the default order."""
    chosen = [IdentityKind(part.strip()) for part in text.split(",") if part.strip()]
    return tuple(chosen + [kind for kind in DEFAULT_MATCH_PRIORITY if kind not in chosen])


# ---------------------------------------------------------------------------- consent


class ConsentChannel(StrEnum):
    ANY = "any"  # purposes not bound to a channel (profiling, analytics)
    EMAIL = "email"
    SMS = "sms"
    PUSH = "push"
    IN_APP = "in_app"
    POSTAL = "postal"
    PHONE = "phone"


class ConsentPurpose(StrEnum):
    MARKETING = "marketing"
    PROFILING = "profiling"  # personalisation and profiling
    ANALYTICS = "analytics"


class ConsentStatus(StrEnum):
    GRANTED = "granted"
    DENIED = "denied"  # refused or withdrawn
    PENDING = "pending"  # double opt-in sent, not yet confirmed


@dataclass(frozen=True)
class ConsentDecision:
    status: ConsentStatus
    needs_confirmation: bool


def moves_state(current_since: datetime | None, occurred_at: datetime) -> bool:
    """Whether a decision taken at ``occurred_at`` becomes the current consent state: always
    when there is none, never when the state comes from a later decision (an older decision
    arriving late is kept in the history, it never overrides a newer one)."""
    return current_since is None or current_since <= occurred_at


def decide_consent(
    *, channel: ConsentChannel, purpose: ConsentPurpose, granted: bool, double_opt_in: bool
) -> ConsentDecision:
    """The state a consent request leads to. Double opt-in applies to granting email."""
    if not granted:
        return ConsentDecision(ConsentStatus.DENIED, needs_confirmation=False)
    if double_opt_in and channel is not ConsentChannel.EMAIL:
        raise InvalidConsent(
            "double opt-in is for email consent only",
            [FieldProblem("/double_opt_in", "only with channel email")],
        )
    if double_opt_in:
        return ConsentDecision(ConsentStatus.PENDING, needs_confirmation=True)
    return ConsentDecision(ConsentStatus.GRANTED, needs_confirmation=False)


@dataclass(frozen=True)
class ConsentFact:
    """One consent record as the rules see it."""

    channel: ConsentChannel
    purpose: ConsentPurpose
    status: ConsentStatus
    occurred_at: datetime
    record_id: int


def merged_consent(
    facts: Iterable[ConsentFact],
) -> dict[tuple[ConsentChannel, ConsentPurpose], ConsentFact]:
    """Current consent after a merge: latest decision per (channel, purpose); on a tie, the
    refusal wins (privacy first), then the pending one."""
    order = {ConsentStatus.DENIED: 0, ConsentStatus.PENDING: 1, ConsentStatus.GRANTED: 2}
    best: dict[tuple[ConsentChannel, ConsentPurpose], ConsentFact] = {}
    for fact in facts:
        key = (fact.channel, fact.purpose)
        current = best.get(key)
        if current is None or (fact.occurred_at, -order[fact.status]) > (
            current.occurred_at,
            -order[current.status],
        ):
            best[key] = fact
    return best


def confirmation_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# ---------------------------------------------------------------------------- merge


@dataclass(frozen=True)
class ProfileState:
    id: int
    status: CustomerStatus
    merged_into_id: int | None


def check_merge(survivor: ProfileState, merged: ProfileState) -> bool:
    """True if the merge must run, False if it already happened (idempotent); raises
    ``MergeRefused`` if it cannot."""
    if survivor.id == merged.id:
        raise MergeRefused("a profile cannot be merged into itself")
    if merged.status is CustomerStatus.MERGED:
        if merged.merged_into_id == survivor.id:
            return False
        raise MergeRefused(f"customer {merged.id} was already merged into {merged.merged_into_id}")
    if survivor.status is not CustomerStatus.ACTIVE:
        raise MergeRefused(f"the survivor {survivor.id} is {survivor.status.value}")
    if merged.status is not CustomerStatus.ACTIVE:
        raise MergeRefused(f"customer {merged.id} is {merged.status.value}")
    return True


def fill_missing(survivor: Mapping[str, Any], merged: Mapping[str, Any]) -> dict[str, Any]:
    """Fields to set on the survivor: those it lacks and the merged profile has."""
    return {
        field: value
        for field, value in merged.items()
        if value not in (None, "", [], {}) and survivor.get(field) in (None, "", [], {})
    }


# ---------------------------------------------------------------------------- erasure


def pseudonym(customer_id: int, salt: str) -> str:
    """A stable, non-reversible stand-in for an erased person's identifiers."""
    digest = hashlib.sha256(f"{salt}:{customer_id}".encode()).hexdigest()[:16]
    return f"erased-{digest}"


REDACTED = "[erased]"
PERSONAL_KEYS = frozenset(
    {
        "email", "phone", "first_name", "last_name", "name", "full_name", "address",
        "street", "postcode", "zip", "ip", "ip_address", "user_agent", "birth_date",
        "comment", "body", "title", "notes", "message", "referee_email", "card",
    }
)  # fmt: skip


def scrub(value: Any, secrets: frozenset[str], *, personal_keys: bool = True) -> Any:
    """Remove personal data from a JSON document: values under personal keys are redacted
    (when ``personal_keys``), and any string containing one of ``secrets`` (the person's
    email, phone, names...) too."""
    if isinstance(value, dict):
        return {
            key: (
                REDACTED
                if personal_keys and key.lower() in PERSONAL_KEYS and item is not None
                else scrub(item, secrets, personal_keys=personal_keys)
            )
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [scrub(item, secrets, personal_keys=personal_keys) for item in value]
    if isinstance(value, str):
        return REDACTED if contains_secret(value, secrets) else value
    return value


def contains_secret(value: str, secrets: frozenset[str]) -> bool:
    lowered = value.casefold()
    return any(secret in lowered for secret in secrets)


def erasure_secrets(values: Iterable[str | None]) -> frozenset[str]:
    """The strings to hunt for: case-folded, ignoring ones too short to be identifying."""
    return frozenset(v.casefold() for v in values if v and len(v.strip()) >= 3)


@dataclass(frozen=True)
class CustomerPolicy:
    """Deployment choices for identity handling (from settings)."""

    default_region: str = "FR"  # phone numbers without +country are read in this region
    match_priority: tuple[IdentityKind, ...] = DEFAULT_MATCH_PRIORITY
    erasure_salt: str = "fidela"
