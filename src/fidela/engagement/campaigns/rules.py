"""Pure campaign rules: the campaign's shape (audience, variants, schedule) validated with
pointers, and when each recipient's message goes out.

A campaign is sent either at one instant (``send_at``) or at a local time on a local date in
each recipient's own timezone (``local_date`` + ``local_time``: "Saturday at 10:00 wherever
you are"). Variants are the A/B/n arms; each may change the template or inline content, the
channel or the offer. ``holdout_bp`` basis points of the eligible audience get a held-out
record instead of a message.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from fidela.engagement.policy.rules.quiet_hours import local_instant
from fidela.experiment.rules.assignment import Arm, Split
from fidela.kernel.errors import Conflict, DomainError, ErrorKind, FieldProblem, NotFound

CHANNELS = ("email", "sms", "push", "in_app", "postal", "social_audience", "preferred")
AUDIENCE_FILTERS = ("country", "language", "city", "gender", "signup_channel", "preferred_channel")
_CODE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,99}$")
_VARIANT = re.compile(r"^[a-z0-9][a-z0-9_-]{0,49}$")
# The earliest timezone on Earth (Kiribati, UTC+14): a local-time campaign is planned when
# its send time arrives there, and each recipient's message waits for their own.
EARLIEST_ZONE = ZoneInfo("Etc/GMT-14")


class CampaignStatus(StrEnum):
    DRAFT = "draft"
    SCHEDULED = "scheduled"
    PLANNED = "planned"
    CANCELLED = "cancelled"


class InvalidCampaign(DomainError):
    code = "invalid_campaign"
    kind = ErrorKind.VALIDATION
    title = "The campaign is not valid"


class CampaignNotFound(NotFound):
    code = "campaign_not_found"
    title = "No such campaign"


class CampaignStateConflict(Conflict):
    code = "campaign_state_conflict"
    title = "The campaign cannot do that in its current state"


@dataclass(frozen=True)
class Variant:
    name: str
    weight: int
    template: str | None
    content: Mapping[str, str] | None
    channel: str | None
    offer: str | None


def _variant_problems(raw: Any, pointer: str) -> list[FieldProblem]:
    if not isinstance(raw, dict):
        return [FieldProblem(pointer, "a variant is an object")]
    problems: list[FieldProblem] = []
    if not isinstance(raw.get("name"), str) or not _VARIANT.match(raw["name"]):
        problems.append(FieldProblem(f"{pointer}/name", "lower-case letters, digits, - _"))
    weight = raw.get("weight", 1)
    if not isinstance(weight, int) or isinstance(weight, bool) or weight <= 0:
        problems.append(FieldProblem(f"{pointer}/weight", "a whole number above 0"))
    if raw.get("channel") is not None and raw["channel"] not in CHANNELS:
        problems.append(FieldProblem(f"{pointer}/channel", f"one of {', '.join(CHANNELS)}"))
    content = raw.get("content")
    if content is not None and (
        not isinstance(content, dict)
        or not isinstance(content.get("body"), str)
        or set(content) - {"subject", "body", "text_body"}
        or not all(isinstance(v, str) for v in content.values())
    ):
        problems.append(
            FieldProblem(f"{pointer}/content", "an object with a body (subject, text_body)")
        )
    return problems


def parse_variants(
    raw: Any, *, template: str | None, content: Mapping[str, str] | None
) -> tuple[Variant, ...]:
    """The arms: the given variants (each falling back to the campaign's template/content),
    or one arm ``main`` when there are none."""
    if not raw:
        if (template is None) == (content is None):
            raise InvalidCampaign(
                "give a template or content (or variants that do)",
                [FieldProblem("/template", "exactly one of template or content")],
            )
        return (Variant("main", 1, template, content, None, None),)
    if not isinstance(raw, list):
        raise InvalidCampaign("variants are a list", [FieldProblem("/variants", "a list")])
    problems = [p for n, v in enumerate(raw) for p in _variant_problems(v, f"/variants/{n}")]
    names = [v.get("name") for v in raw if isinstance(v, dict)]
    if len(set(names)) != len(names):
        problems.append(FieldProblem("/variants", "variant names must be unique"))
    variants: list[Variant] = []
    for n, v in enumerate(raw):
        if not isinstance(v, dict):
            continue
        own_template, own_content = v.get("template"), v.get("content")
        if own_template is None and own_content is None:
            own_template, own_content = template, content
        if (own_template is None) == (own_content is None):
            problems.append(
                FieldProblem(f"/variants/{n}/template", "exactly one of template or content")
            )
        variants.append(
            Variant(
                str(v.get("name")),
                int(v.get("weight", 1)),
                own_template,
                own_content,
                v.get("channel"),
                v.get("offer"),
            )
        )
    if problems:
        raise InvalidCampaign("the campaign's variants are not valid", problems)
    return tuple(variants)


def check_audience(audience: Any) -> dict[str, Any]:
    """``{"customer_ids": [...]}``, ``{"segment": "key"}`` or ``{"filters": {...}}`` (equality
    on profile columns; an empty filter object means every active customer)."""
    if not isinstance(audience, dict) or len(audience) != 1:
        raise InvalidCampaign(
            "the audience is one of customer_ids, segment or filters",
            [FieldProblem("/audience", "an object with exactly one of those keys")],
        )
    ((kind, value),) = audience.items()
    if kind == "customer_ids":
        if not isinstance(value, list) or not all(
            isinstance(v, int) and not isinstance(v, bool) for v in value
        ):
            raise InvalidCampaign(
                "customer ids are integers",
                [FieldProblem("/audience/customer_ids", "a list of ids")],
            )
    elif kind == "segment":
        if not isinstance(value, str) or not value:
            raise InvalidCampaign("a segment key", [FieldProblem("/audience/segment", "text")])
    elif kind == "filters":
        if not isinstance(value, dict):
            raise InvalidCampaign(
                "filters are an object", [FieldProblem("/audience/filters", "an object")]
            )
        unknown = sorted(set(value) - set(AUDIENCE_FILTERS))
        if unknown:
            raise InvalidCampaign(
                f"unknown audience filter {unknown[0]!r}",
                [
                    FieldProblem(
                        f"/audience/filters/{unknown[0]}", f"one of {', '.join(AUDIENCE_FILTERS)}"
                    )
                ],
            )
    else:
        raise InvalidCampaign(
            f"unknown audience kind {kind!r}",
            [FieldProblem(f"/audience/{kind}", "customer_ids, segment or filters")],
        )
    return dict(audience)


def check_schedule(
    send_at: datetime | None, local_date: date | None, local_time: time | None
) -> None:
    if send_at is not None and (local_date is not None or local_time is not None):
        raise InvalidCampaign(
            "send at one instant or at a local time, not both",
            [FieldProblem("/send_at", "omit it with local_date and local_time")],
        )
    if (local_date is None) != (local_time is None):
        pointer = "/local_time" if local_time is None else "/local_date"
        raise InvalidCampaign(
            "a local send needs both a date and a time",
            [FieldProblem(pointer, "required with the other")],
        )


def check_code(code: str) -> None:
    if not _CODE.match(code):
        raise InvalidCampaign(
            "the campaign code is not valid",
            [FieldProblem("/code", "lower-case letters, digits, - _ .")],
        )


def split_of(code: str, variants: tuple[Variant, ...], holdout_bp: int) -> Split:
    return Split(f"campaign:{code}", tuple(Arm(v.name, v.weight) for v in variants), holdout_bp)


def planned_send_time(
    *,
    now: datetime,
    zone: ZoneInfo,
    send_at: datetime | None,
    local_date: date | None,
    local_time: time | None,
) -> datetime:
    """When the recipient's message is due (before quiet hours): the campaign's instant, or
    the local time in the recipient's zone; never in the past."""
    if local_date is not None and local_time is not None:
        due = local_instant(local_date, local_time, zone)
    else:
        due = send_at or now
    return max(due, now)


def plan_time(
    *, send_at: datetime | None, local_date: date | None, local_time: time | None
) -> datetime | None:
    """When a scheduled campaign must be planned: its instant, or its local time in the
    earliest zone (each recipient's message then waits for their own local time)."""
    if local_date is not None and local_time is not None:
        return local_instant(local_date, local_time, EARLIEST_ZONE)
    return send_at
