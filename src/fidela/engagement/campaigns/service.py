"""Campaign use cases: create, schedule, cancel, plan (the set-based send) and read the
results of its experiment (variants against the holdout or the first variant)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from fidela.commerce.models import SalesOrder
from fidela.engagement.campaigns.models import Campaign
from fidela.engagement.campaigns.planning import CampaignPlan, PlanReport, plan
from fidela.engagement.campaigns.rules import (
    CampaignNotFound,
    CampaignStateConflict,
    CampaignStatus,
    InvalidCampaign,
    check_audience,
    check_code,
    check_schedule,
    parse_variants,
    plan_time,
)
from fidela.engagement.config import get_engagement_settings
from fidela.engagement.models import Message, Template
from fidela.engagement.policy.config import get_send_settings
from fidela.engagement.rules import TemplateRefused
from fidela.engagement.templating import check_template
from fidela.experiment.rules.assignment import HOLDOUT
from fidela.experiment.rules.results import ArmData, Results, WinnerPolicy, compare
from fidela.experiment.rules.statistics import Moments
from fidela.kernel.errors import FieldProblem


@dataclass(frozen=True)
class CampaignSpec:
    code: str
    name: str
    audience: Mapping[str, Any]
    channel: str | None = None
    template: str | None = None
    content: Mapping[str, str] | None = None
    variants: Sequence[Mapping[str, Any]] = ()
    holdout_bp: int = 0
    send_at: datetime | None = None
    local_date: date | None = None
    local_time: time | None = None
    expires_after_hours: int | None = None
    transactional: bool = False


def create_campaign(session: Session, *, spec: CampaignSpec, now: datetime) -> Campaign:
    check_code(spec.code)
    audience = check_audience(dict(spec.audience))
    check_schedule(spec.send_at, spec.local_date, spec.local_time)
    variants = parse_variants(list(spec.variants), template=spec.template, content=spec.content)
    if not 0 <= spec.holdout_bp < 10_000:
        raise InvalidCampaign(
            "the holdout is 0 to 9999 basis points", [FieldProblem("/holdout_bp", "0 to 9999")]
        )
    if spec.transactional and (spec.holdout_bp or len(variants) > 1):
        raise InvalidCampaign(
            "a transactional send has no experiment",
            [FieldProblem("/transactional", "no variants or holdout with it")],
        )
    if session.execute(select(Campaign.id).where(Campaign.code == spec.code)).first():
        raise CampaignStateConflict(
            f"a campaign {spec.code!r} already exists", [FieldProblem("/code", "already used")]
        )
    campaign = Campaign(
        code=spec.code,
        name=spec.name,
        status=CampaignStatus.DRAFT.value,
        channel=spec.channel,
        audience=audience,
        variants=[
            {
                "name": v.name,
                "weight": v.weight,
                "template": v.template,
                "content": dict(v.content) if v.content else None,
                "channel": v.channel,
                "offer": v.offer,
            }
            for v in variants
        ],
        holdout_bp=spec.holdout_bp,
        send_at=spec.send_at,
        local_date=spec.local_date.isoformat() if spec.local_date else None,
        local_time=spec.local_time.strftime("%H:%M") if spec.local_time else None,
        expires_after_hours=spec.expires_after_hours,
        transactional=spec.transactional,
        winner=None,
        stats={},
        version=1,
        created_at=now,
        updated_at=now,
        planned_at=None,
    )
    session.add(campaign)
    session.flush()
    return campaign


def get_campaign(session: Session, code: str) -> Campaign:
    campaign = session.execute(select(Campaign).where(Campaign.code == code)).scalar_one_or_none()
    if campaign is None:
        raise CampaignNotFound(f"campaign {code!r} does not exist")
    return campaign


def list_campaigns(session: Session, *, limit: int = 100) -> Sequence[Campaign]:
    return (
        session.execute(select(Campaign).order_by(Campaign.id.desc()).limit(limit)).scalars().all()
    )


def _move(
    session: Session,
    campaign: Campaign,
    allowed: set[CampaignStatus],
    to: CampaignStatus,
    now: datetime,
) -> Campaign:
    """Change status by compare-and-set, so two planners never both plan a campaign."""
    if campaign.status not in {s.value for s in allowed}:
        raise CampaignStateConflict(f"campaign {campaign.code!r} is {campaign.status}")
    changed = session.execute(
        update(Campaign)
        .where(Campaign.id == campaign.id, Campaign.version == campaign.version)
        .values(status=to.value, version=campaign.version + 1, updated_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    if changed != 1:
        raise CampaignStateConflict(f"campaign {campaign.code!r} changed concurrently")
    session.refresh(campaign)
    return campaign


def schedule_campaign(session: Session, *, code: str, now: datetime) -> Campaign:
    campaign = get_campaign(session, code)
    if campaign.send_at is None and campaign.local_date is None:
        raise InvalidCampaign(
            "a scheduled campaign needs send_at or a local date and time",
            [FieldProblem("/send_at", "required to schedule")],
        )
    return _move(session, campaign, {CampaignStatus.DRAFT}, CampaignStatus.SCHEDULED, now)


def cancel_campaign(session: Session, *, code: str, now: datetime) -> Campaign:
    campaign = get_campaign(session, code)
    return _move(
        session,
        campaign,
        {CampaignStatus.DRAFT, CampaignStatus.SCHEDULED},
        CampaignStatus.CANCELLED,
        now,
    )


def check_content(session: Session, campaign: Campaign) -> None:
    """Before a million messages are queued: every inline content passes the template
    sandbox's checks, every template code exists."""
    problems: list[FieldProblem] = []
    for n, variant in enumerate(campaign.variants):
        content = variant.get("content")
        if content:
            for part in ("subject", "body", "text_body"):
                if content.get(part):
                    try:
                        check_template(content[part], f"/variants/{n}/content/{part}")
                    except TemplateRefused as error:
                        problems.extend(error.problems)
        elif (
            variant.get("template")
            and not session.execute(
                select(Template.id).where(Template.code == variant["template"]).limit(1)
            ).first()
        ):
            problems.append(
                FieldProblem(f"/variants/{n}/template", f"no template {variant['template']!r}")
            )
    if problems:
        raise InvalidCampaign("the campaign's content cannot be sent", problems)


def plan_campaign(session: Session, *, code: str, now: datetime) -> PlanReport:
    """Queue the campaign's messages now (a draft, or a scheduled campaign whose time has
    come); each recipient's message waits for its own send time."""
    campaign = get_campaign(session, code)
    check_content(session, campaign)
    _move(
        session,
        campaign,
        {CampaignStatus.DRAFT, CampaignStatus.SCHEDULED},
        CampaignStatus.PLANNED,
        now,
    )
    send = get_send_settings()
    report = plan(
        session,
        CampaignPlan.of(campaign),
        policy=send.policy(),
        now=now,
        global_control_bp=send.global_control_bp,
        global_control_epoch=send.global_control_epoch,
    )
    campaign.stats = report.as_dict()
    campaign.planned_at = now
    session.flush()
    return report


def due_campaigns(session: Session, *, now: datetime) -> list[str]:
    """Scheduled campaigns whose planning time has come."""
    due: list[str] = []
    for campaign in session.execute(
        select(Campaign).where(Campaign.status == CampaignStatus.SCHEDULED.value)
    ).scalars():
        at = plan_time(
            send_at=campaign.send_at,
            local_date=date.fromisoformat(campaign.local_date) if campaign.local_date else None,
            local_time=time.fromisoformat(campaign.local_time) if campaign.local_time else None,
        )
        if at is not None and at <= now:
            due.append(campaign.code)
    return due


def arm_data(session: Session, campaign: Campaign, *, window: timedelta) -> list[ArmData]:
    """Per arm: recipients (messages, held out or not), converters (an order within
    ``window`` of the message's send time) and revenue per recipient.

    SQL narrows the orders to the campaign's customers and to the campaign's overall time
    span; the per-message window (a date sum, which the two databases spell differently) is
    applied here."""
    recipients: dict[str, int] = defaultdict(int)
    bounds = session.execute(
        select(func.min(Message.deliver_at), func.max(Message.deliver_at)).where(
            Message.campaign_id == campaign.id
        )
    ).one()
    for variant, count in session.execute(
        select(Message.variant, func.count())
        .where(Message.campaign_id == campaign.id)
        .group_by(Message.variant)
    ):
        recipients[str(variant)] += int(count)
    revenue: dict[int, tuple[str, int]] = {}
    if bounds[0] is not None:
        rows = session.execute(
            select(
                Message.id,
                Message.variant,
                Message.deliver_at,
                SalesOrder.ordered_at,
                SalesOrder.total_minor,
            )
            .join(SalesOrder, SalesOrder.customer_id == Message.customer_id)
            .where(
                Message.campaign_id == campaign.id,
                SalesOrder.ordered_at >= bounds[0],
                SalesOrder.ordered_at < bounds[1] + window,
            )
        )
        for message_id, variant, deliver_at, ordered_at, total in rows:
            if deliver_at <= ordered_at < deliver_at + window:
                before = revenue.get(message_id, (str(variant), 0))[1]
                revenue[message_id] = (str(variant), before + int(total))
    per_arm: dict[str, list[int]] = defaultdict(list)
    for variant, amount in revenue.values():
        per_arm[variant].append(amount)
    weights = {v["name"]: v["weight"] for v in campaign.variants}
    room = 10_000 - campaign.holdout_bp
    total_weight = sum(weights.values())
    shares: dict[str, float] = {name: room * w / total_weight for name, w in weights.items()}
    if campaign.holdout_bp:
        shares = {HOLDOUT: float(campaign.holdout_bp), **shares}
    data: list[ArmData] = []
    for name, share in shares.items():
        amounts = per_arm.get(name, [])
        n = recipients.get(name, 0)
        moments = Moments(n, float(sum(amounts)), float(sum(a * a for a in amounts)))
        data.append(ArmData(name, share, n, len(amounts), moments))
    return data


def campaign_results(
    session: Session,
    *,
    code: str,
    declare_winner: bool = False,
    confidence: float = 0.95,
    winner_policy: WinnerPolicy | None = None,
) -> Results:
    """Conversion and revenue per recipient of each arm against the control (the holdout,
    else the first variant), with the split's health; with ``declare_winner``, a clear
    winner is recorded on the campaign."""
    campaign = get_campaign(session, code)
    window = timedelta(days=get_engagement_settings().conversion_window_days)
    data = arm_data(session, campaign, window=window)
    control = HOLDOUT if campaign.holdout_bp else campaign.variants[0]["name"]
    results = compare(
        data,
        control=control,
        confidence=confidence,
        winner_policy=(winner_policy or WinnerPolicy()) if declare_winner else None,
    )
    if declare_winner and results.winner and results.winner != HOLDOUT:
        campaign.winner = results.winner
        session.flush()
    return results
