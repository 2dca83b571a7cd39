"""Planning a campaign, set-based: audience → global control group → consent and channel →
quiet hours and caps → A/B/n and holdout assignment → enqueue, in chunks of recipients read
by keyset pagination.

No ORM object per recipient: each chunk is one SQL query (customers joined with their
marketing consent), one query of recent sends for the caps, plain tuples in Python, and
bulk inserts of message rows and outbox jobs (``enqueue_messages``). Message keys are
``campaign:<id>:<customer>``, so planning again after a crash queues only what is missing.
Consent is checked again by delivery at send time.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from fidela.customer.models import ConsentState, Customer
from fidela.engagement.campaigns.enqueue import Group, enqueue_group
from fidela.engagement.campaigns.models import Campaign
from fidela.engagement.campaigns.rules import (
    InvalidCampaign,
    Variant,
    parse_variants,
    planned_send_time,
    split_of,
)
from fidela.engagement.policy.rules import (
    PastSend,
    SendPolicy,
    check_caps,
    choose_channel,
    release_time,
    zone_of,
)
from fidela.engagement.policy.service import consent_channel, recent_sends_between
from fidela.experiment.rules.assignment import HOLDOUT, bucket, in_global_control
from fidela.kernel.errors import FieldProblem
from fidela.segment.models import Segment, SegmentMembership

CHUNK = 20_000
ENQUEUE_BATCH = 50_000


@dataclass
class PlanReport:
    audience: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    variants: Counter[str] = field(default_factory=Counter)
    channels: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, Any]:
        return {
            "audience": self.audience,
            "outcomes": dict(sorted(self.outcomes.items())),
            "variants": dict(sorted(self.variants.items())),
            "channels": dict(sorted(self.channels.items())),
        }


# (customer id, timezone, preferred channel, channels consented to for marketing)
_Recipient = tuple[int, str | None, str | None, frozenset[str]]


def _audience_query(session: Session, audience: Mapping[str, Any]) -> Any:
    query = select(Customer.id).where(Customer.status == "active")
    if "customer_ids" in audience:
        return query.where(Customer.id.in_(audience["customer_ids"]))
    if "segment" in audience:
        segment_id = session.execute(
            select(Segment.id).where(Segment.key == audience["segment"])
        ).scalar_one_or_none()
        if segment_id is None:
            raise InvalidCampaign(
                f"no segment {audience['segment']!r}",
                [FieldProblem("/audience/segment", "not an existing segment")],
            )
        members = select(SegmentMembership.customer_id).where(
            SegmentMembership.segment_id == segment_id, SegmentMembership.exited_at.is_(None)
        )
        return query.where(Customer.id.in_(members))
    for column, value in audience.get("filters", {}).items():
        query = query.where(getattr(Customer, column) == value)
    return query


def _rows(session: Session, statement: Any) -> list[tuple[Any, ...]]:
    """All rows of a read as plain tuples through the driver's own cursor: a million rows
    through SQLAlchemy's result objects cost more than the queries (measured, psycopg).
    Only for reads of integers and text (no type processing is needed)."""
    dialect = session.get_bind().dialect
    compiled = statement.compile(dialect=dialect, compile_kwargs={"render_postcompile": True})
    if compiled.positiontup is not None:
        params: Any = tuple(compiled.params[name] for name in compiled.positiontup)
    else:
        params = compiled.params
    cursor = session.connection().connection.cursor()
    try:
        cursor.execute(str(compiled), params)
        return [tuple(row) for row in cursor.fetchall()]
    finally:
        cursor.close()


_BITS = {"any": 1, "email": 2, "sms": 4, "push": 8, "in_app": 16, "postal": 32, "phone": 64}


def _consents_of(granted: int, denied: int) -> frozenset[str]:
    """The channels a customer may get marketing on, from the bit masks of their granted and
    refused decisions: a channel-specific decision wins over one for ``any`` channel."""
    if granted & 1:
        return frozenset(c for c, bit in _BITS.items() if c != "any" and not denied & bit)
    return frozenset(c for c, bit in _BITS.items() if c != "any" and granted & bit)


def _chunks(session: Session, audience: Mapping[str, Any]) -> Iterator[list[_Recipient]]:
    """The audience in id order, a chunk at a time, each customer with the channels they may
    get marketing on. One query per chunk: the database folds each customer's consent rows
    into two bit masks (granted, refused), so Python sees one row per customer."""
    bit = case(*((ConsentState.channel == c, b) for c, b in _BITS.items()), else_=0)
    masks = (
        select(
            ConsentState.customer_id.label("customer_id"),
            func.sum(case((ConsentState.status == "granted", bit), else_=0)).label("granted"),
            func.sum(case((ConsentState.status != "granted", bit), else_=0)).label("denied"),
        )
        .where(ConsentState.purpose == "marketing")
        .group_by(ConsentState.customer_id)
    )
    ids = _audience_query(session, audience)
    decoded: dict[tuple[int, int], frozenset[str]] = {}
    after = 0
    while True:
        people = _rows(
            session,
            ids.add_columns(Customer.timezone, Customer.preferred_channel)
            .where(Customer.id > after)
            .order_by(Customer.id)
            .limit(CHUNK),
        )
        if not people:
            return
        first, last = people[0][0], people[-1][0]
        window = masks.where(
            ConsentState.customer_id >= first, ConsentState.customer_id <= last
        ).subquery()
        found = {
            customer_id: (int(granted or 0), int(denied or 0))
            for customer_id, granted, denied in _rows(
                session, select(window.c.customer_id, window.c.granted, window.c.denied)
            )
        }
        chunk: list[_Recipient] = []
        for customer_id, timezone, preferred in people:
            pair = found.get(customer_id, (0, 0))
            consents = decoded.get(pair)
            if consents is None:
                consents = decoded[pair] = _consents_of(*pair)
            chunk.append((customer_id, timezone, preferred, consents))
        yield chunk
        after = last


@dataclass(frozen=True)
class CampaignPlan:
    """What planning needs from the campaign row, read once."""

    id: int
    code: str
    channel: str | None
    audience: Mapping[str, Any]
    variants: tuple[Variant, ...]
    holdout_bp: int
    send_at: datetime | None
    local_date: date | None
    local_time: time | None
    expires_after: timedelta | None
    transactional: bool

    @classmethod
    def of(cls, campaign: Campaign) -> CampaignPlan:
        return cls(
            campaign.id,
            campaign.code,
            campaign.channel,
            campaign.audience,
            parse_variants(campaign.variants, template=None, content=None),
            campaign.holdout_bp,
            campaign.send_at,
            date.fromisoformat(campaign.local_date) if campaign.local_date else None,
            time.fromisoformat(campaign.local_time) if campaign.local_time else None,
            timedelta(hours=campaign.expires_after_hours) if campaign.expires_after_hours else None,
            campaign.transactional,
        )


def plan(
    session: Session,
    campaign: CampaignPlan,
    *,
    policy: SendPolicy,
    now: datetime,
    global_control_bp: int = 0,
    global_control_epoch: int = 0,
) -> PlanReport:
    report = PlanReport()
    split = split_of(campaign.code, campaign.variants, campaign.holdout_bp)
    arm_of_bucket = [""] * 10_000
    for name, low, high in split.bounds():
        arm_of_bucket[low:high] = [name] * (high - low)
    variants = {v.name: v for v in campaign.variants}
    # A held-out recipient goes through the same eligibility as the others (as if sent the
    # first variant), so both arms hold comparable people.
    wanted_of = {
        arm: (variants.get(arm) or campaign.variants[0]).channel or campaign.channel or "preferred"
        for arm in set(arm_of_bucket)
    }
    fallback_consent = [(c, consent_channel(c)) for c in policy.fallback_channels]
    # Channel choice depends on (wanted channel, preferred channel, consents): few distinct
    # combinations, each decided once.
    channels: dict[tuple[str, str | None, frozenset[str]], str | None] = {}

    def channel_for(wanted: str, preferred: str | None, consents: frozenset[str]) -> str | None:
        if wanted == "preferred":
            chosen = choose_channel(
                preferred=preferred,
                consented={c for c, needs in fallback_consent if needs in consents},
                fallback=policy.fallback_channels,
            )
        else:
            chosen = wanted if consent_channel(wanted) in consents else None
        if chosen is None and campaign.transactional:  # sent without marketing consent
            chosen = wanted if wanted != "preferred" else preferred or policy.fallback_channels[0]
        return chosen

    # The send time depends only on the zone: each zone's is computed once.
    timing: dict[str | None, tuple[ZoneInfo, datetime]] = {}

    def time_for(timezone: str | None) -> tuple[ZoneInfo, datetime]:
        zone = zone_of(timezone, policy.default_timezone)
        due = planned_send_time(
            now=now,
            zone=zone,
            send_at=campaign.send_at,
            local_date=campaign.local_date,
            local_time=campaign.local_time,
        )
        if not campaign.transactional:
            due = release_time(due, zone, policy.quiet_hours)
        return zone, due

    # Without past sends, only a zero cap can refuse: checked once, not per recipient.
    blocks_all = any(rule.limit == 0 and rule.channel is None for rule in policy.caps)
    blocked = {rule.channel for rule in policy.caps if rule.limit == 0}
    outcomes = report.outcomes
    marketing = not campaign.transactional
    control_bp = global_control_bp if marketing else 0
    for chunk in _chunks(session, campaign.audience):
        report.audience += len(chunk)
        history = recent_sends_between(session, chunk[0][0], chunk[-1][0], now=now)
        # Recipients sharing a channel, arm and send time: one statement each.
        groups: dict[tuple[str, str, bool, datetime], list[int]] = defaultdict(list)
        for customer_id, timezone, preferred, consents in chunk:
            if control_bp and in_global_control(
                customer_id, control_bp, epoch=global_control_epoch
            ):
                outcomes["global_control"] += 1
                continue
            arm = arm_of_bucket[bucket(split.key, customer_id)]
            wanted = wanted_of[arm]
            memo = (wanted, preferred, consents)
            if memo in channels:
                channel = channels[memo]
            else:
                channel = channels[memo] = channel_for(wanted, preferred, consents)
            if channel is None:
                outcomes["no_consent"] += 1
                continue
            if timezone in timing:
                zone, deliver_at = timing[timezone]
            else:
                zone, deliver_at = timing[timezone] = time_for(timezone)
            if marketing:
                past: list[PastSend] | None = history.get(customer_id)
                if past:
                    allowed = check_caps(
                        policy.caps, past, channel=channel, at=deliver_at, zone=zone
                    ).allowed
                else:
                    allowed = not blocks_all and channel not in blocked
                if not allowed:
                    outcomes["capped"] += 1
                    continue
            groups[(channel, arm, arm == HOLDOUT, deliver_at)].append(customer_id)
        for (channel, arm, held_out, _), members in groups.items():
            outcomes["held_out" if held_out else "queued"] += len(members)
            report.variants[arm] += len(members)
            report.channels[channel] += len(members)
        for (channel, arm, held_out, deliver_at), customer_ids in groups.items():
            variant = variants.get(arm) or campaign.variants[0]
            group = Group(
                channel,
                arm,
                held_out,
                deliver_at,
                variant.template,
                variant.content,
                {"offer": variant.offer} if variant.offer else {},
            )
            expires_at = deliver_at + campaign.expires_after if campaign.expires_after else None
            for start in range(0, len(customer_ids), ENQUEUE_BATCH):
                enqueue_group(
                    session,
                    group,
                    customer_ids[start : start + ENQUEUE_BATCH],
                    campaign_id=campaign.id,
                    now=now,
                    expires_at=expires_at,
                    transactional=campaign.transactional,
                )
    return report
