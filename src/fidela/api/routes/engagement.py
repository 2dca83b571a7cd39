"""Engagement delivery: brand kit and templates, preview and test send, messages, counts,
suppression, the member's inbox, and the public tracking endpoints (open pixel, signed click
redirect, RFC 8058 one-click unsubscribe) and provider notifications (bounces, complaints)."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse

from fidela.access.rules import Principal
from fidela.api.deps import DatabaseDep, NowDep, scoped
from fidela.api.errors import PROBLEM_RESPONSES
from fidela.engagement import inbox, messages, preview, templates, tracking
from fidela.engagement.config import EngagementSettings, get_engagement_settings
from fidela.engagement.messages import Content
from fidela.engagement.rules import (
    BrandKitNotFound,
    Channel,
    InvalidWebhook,
    SuppressionReason,
    invalid,
    verify_message_token,
    verify_webhook,
)
from fidela.engagement.schemas import (
    BrandKit,
    BrandKitIn,
    ContentIn,
    Inbox,
    InboxItem,
    Message,
    MessageIn,
    Preview,
    PreviewIn,
    ProviderNotificationIn,
    ProviderNotificationResult,
    Stats,
    StatsRow,
    Suppression,
    SuppressionIn,
    Template,
    TemplateIn,
    TestSendIn,
)

router = APIRouter(tags=["Engagement"], responses=PROBLEM_RESPONSES)
public = APIRouter(tags=["Engagement tracking"])
Read = Annotated[Principal, Depends(scoped("engagement:read"))]
Write = Annotated[Principal, Depends(scoped("engagement:write"))]
PREFIX = "/v1/engagement"

# A transparent 1x1 GIF.
PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")


async def engagement_settings(request: Request) -> EngagementSettings:
    """The app's engagement settings (tests set ``app.state.engagement``)."""
    configured = getattr(request.app.state, "engagement", None)
    return configured if isinstance(configured, EngagementSettings) else get_engagement_settings()


SettingsDep = Annotated[EngagementSettings, Depends(engagement_settings)]


def _links(request: Request, settings: EngagementSettings) -> tracking.Links:
    base = settings.tracking_base_url or request.app.state.settings.public_url
    return tracking.Links(base, settings.signing_secret)


def _content(content: ContentIn | None) -> Content | None:
    return Content(content.subject, content.body, content.text_body) if content else None


# ---------------------------------------------------------------------------- brand kit


@router.get(f"{PREFIX}/brand-kit", response_model=BrandKit, summary="The brand kit")
def get_brand_kit(_: Read, database: DatabaseDep) -> BrandKit:
    with database.read() as session:
        row = templates.find_brand_kit(session)
        if row is None:
            raise BrandKitNotFound("no brand kit yet: PUT one first")
        return BrandKit.model_validate(row)


@router.put(
    f"{PREFIX}/brand-kit",
    response_model=BrandKit,
    summary="Create or replace the brand kit applied to every channel's messages",
)
def put_brand_kit(body: BrandKitIn, _: Write, database: DatabaseDep, now: NowDep) -> BrandKit:
    values = templates.BrandKitInput(**body.model_dump(exclude={"expected_version"}))
    with database.write() as session:
        row = templates.save_brand_kit(
            session, values=values, now=now, expected_version=body.expected_version
        )
        return BrandKit.model_validate(row)


# ---------------------------------------------------------------------------- templates


@router.get(f"{PREFIX}/templates", response_model=list[Template], summary="List templates")
def list_templates(_: Read, database: DatabaseDep, code: str | None = None) -> list[Template]:
    with database.read() as session:
        return [Template.model_validate(t) for t in templates.list_templates(session, code=code)]


@router.post(
    f"{PREFIX}/templates",
    response_model=Template,
    status_code=201,
    summary="Create or update the template for (code, channel, language)",
    description="The template is checked by the Jinja2 sandbox first: a template that does "
    "not parse or reaches for Python internals is refused (422).",
)
def save_template(body: TemplateIn, _: Write, database: DatabaseDep, now: NowDep) -> Template:
    with database.write() as session:
        row = templates.save_template(
            session,
            code=body.code,
            channel=body.channel,
            language=body.language,
            subject=body.subject,
            body=body.body,
            text_body=body.text_body,
            brand_kit=body.brand_kit,
            now=now,
            expected_version=body.expected_version,
        )
        return Template.model_validate(row)


@router.get(f"{PREFIX}/templates/{{template_id}}", response_model=Template, summary="A template")
def get_template(template_id: int, _: Read, database: DatabaseDep) -> Template:
    with database.read() as session:
        return Template.model_validate(templates.get_template(session, template_id))


@router.delete(f"{PREFIX}/templates/{{template_id}}", status_code=204, summary="Delete a template")
def delete_template(template_id: int, _: Write, database: DatabaseDep) -> Response:
    with database.write() as session:
        templates.delete_template(session, template_id)
    return Response(status_code=204)


@router.post(
    f"{PREFIX}/preview",
    response_model=Preview,
    summary="Render a template or content for a chosen customer (or sample values)",
)
def preview_message(
    body: PreviewIn,
    _: Read,
    request: Request,
    database: DatabaseDep,
    now: NowDep,
    settings: SettingsDep,
) -> Preview:
    with database.read() as session:
        rendered, language = preview.preview(
            session,
            channel=body.channel,
            now=now,
            settings=settings,
            links=_links(request, settings),
            template=body.template,
            content=_content(body.content),
            customer_id=body.customer_id,
            language=body.language,
            context=body.context,
        )
    return Preview(
        subject=rendered.subject, text=rendered.text, html=rendered.html, language=language
    )


@router.post(
    f"{PREFIX}/test-sends",
    response_model=Message,
    status_code=202,
    summary="Send one real message to a given address (queued; the worker sends it)",
)
def send_test_message(body: TestSendIn, _: Write, database: DatabaseDep, now: NowDep) -> Message:
    with database.write() as session:
        message = preview.send_test(
            session,
            channel=body.channel,
            address=body.address,
            now=now,
            template=body.template,
            content=_content(body.content),
            customer_id=body.customer_id,
            context=body.context,
        )
        return Message.model_validate(message)


# ---------------------------------------------------------------------------- messages


@router.post(
    f"{PREFIX}/messages",
    response_model=Message,
    status_code=202,
    summary="Queue one message (transactional or marketing); the same key queues it once",
)
def send_message(body: MessageIn, _: Write, database: DatabaseDep, now: NowDep) -> Message:
    with database.write() as session:
        message = messages.enqueue_message(
            session,
            customer_id=body.customer_id,
            channel=body.channel,
            key=body.key,
            now=now,
            template=body.template,
            content=_content(body.content),
            context=body.context,
            deliver_at=body.deliver_at,
            expires_at=body.expires_at,
            transactional=body.transactional,
        )
        return Message.model_validate(message)


@router.get(f"{PREFIX}/messages/{{message_id}}", response_model=Message, summary="A message")
def get_message(message_id: int, _: Read, database: DatabaseDep) -> Message:
    with database.read() as session:
        return Message.model_validate(messages.get_message(session, message_id))


@router.get(
    f"{PREFIX}/stats",
    response_model=Stats,
    summary="Sent, delivered, opened, clicked, unsubscribed, converted... per group",
)
def stats(
    _: Read,
    database: DatabaseDep,
    now: NowDep,
    settings: SettingsDep,
    campaign_id: int | None = None,
    journey_id: int | None = None,
    group_by: Annotated[
        str, Query(description="Comma-separated: campaign_id, journey_id, step, variant, channel")
    ] = "channel",
    conversion_window_days: Annotated[int | None, Query(ge=1, le=90)] = None,
) -> Stats:
    window = conversion_window_days or settings.conversion_window_days
    with database.read() as session:
        rows = tracking.message_stats(
            session,
            now=now,
            conversion_window=timedelta(days=window),
            campaign_id=campaign_id,
            journey_id=journey_id,
            group_by=[g.strip() for g in group_by.split(",") if g.strip()],
        )
    return Stats(
        conversion_window_days=window,
        rows=[StatsRow(group=r.group, counts=r.counts) for r in rows],
    )


# ---------------------------------------------------------------------------- suppression


@router.get(f"{PREFIX}/suppressions", response_model=list[Suppression], summary="Suppressions")
def list_suppressions(
    _: Read,
    database: DatabaseDep,
    channel: Channel | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[Suppression]:
    with database.read() as session:
        rows = tracking.list_suppressions(session, channel=channel, limit=limit)
        return [Suppression.model_validate(r) for r in rows]


@router.post(f"{PREFIX}/suppressions", status_code=204, summary="Never send to this address again")
def add_suppression(body: SuppressionIn, _: Write, database: DatabaseDep, now: NowDep) -> Response:
    with database.write() as session:
        tracking.suppress(
            session,
            channel=body.channel,
            address=body.address,
            reason=SuppressionReason.MANUAL,
            now=now,
            source="api",
        )
    return Response(status_code=204)


@router.delete(
    f"{PREFIX}/suppressions/{{channel}}/{{address}}",
    status_code=204,
    summary="Lift a suppression (e.g. a mailbox that works again)",
)
def remove_suppression(channel: Channel, address: str, _: Write, database: DatabaseDep) -> Response:
    with database.write() as session:
        if not tracking.unsuppress(session, channel=channel, address=address):
            raise invalid("/address", f"{address} is not suppressed on {channel.value}")
    return Response(status_code=204)


# ---------------------------------------------------------------------------- member inbox


@router.get(
    "/v1/members/{customer_id}/inbox",
    response_model=Inbox,
    summary="The member's in-app messages, newest first",
)
def member_inbox(
    customer_id: int,
    _: Read,
    database: DatabaseDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    before: int | None = None,
) -> Inbox:
    with database.read() as session:
        items, unread = inbox.list_inbox(
            session, customer_id=customer_id, limit=limit, before_id=before
        )
        return Inbox(items=[InboxItem.model_validate(i) for i in items], unread=unread)


@router.post(
    "/v1/members/{customer_id}/inbox/{item_id}/read",
    response_model=InboxItem,
    summary="Mark an in-app message read (counts as opened)",
)
def read_inbox_item(
    customer_id: int, item_id: int, _: Write, database: DatabaseDep, now: NowDep
) -> InboxItem:
    with database.write() as session:
        item = inbox.mark_read(session, customer_id=customer_id, item_id=item_id, now=now)
        return InboxItem.model_validate(item)


# ---------------------------------------------------------------------------- public tracking


@public.get(
    f"{tracking.TRACKING_PREFIX}/{{message_id}}/open.gif",
    summary="Open pixel (signed)",
    response_class=Response,
)
def open_pixel(
    message_id: int, s: str, database: DatabaseDep, now: NowDep, settings: SettingsDep
) -> Response:
    with database.write() as session:
        tracking.record_open(
            session, message_id=message_id, signature=s, secret=settings.signing_secret, now=now
        )
    return Response(PIXEL, media_type="image/gif", headers={"Cache-Control": "no-store, max-age=0"})


@public.get(
    f"{tracking.TRACKING_PREFIX}/{{message_id}}/click",
    summary="Signed click redirect: records the click, then redirects to the signed URL only",
    response_class=RedirectResponse,
    status_code=302,
    responses=PROBLEM_RESPONSES,
)
def click(
    message_id: int, u: str, s: str, database: DatabaseDep, now: NowDep, settings: SettingsDep
) -> RedirectResponse:
    with database.write() as session:
        target = tracking.record_click(
            session,
            message_id=message_id,
            url=u,
            signature=s,
            secret=settings.signing_secret,
            now=now,
        )
    return RedirectResponse(target, status_code=302, headers={"Cache-Control": "no-store"})


_CONFIRM_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>Unsubscribe</title>
</head><body><form method="post"><p>Stop receiving these messages?</p>
<input type="hidden" name="List-Unsubscribe" value="One-Click">
<button type="submit">Unsubscribe</button></form></body></html>"""

_DONE_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>Unsubscribed</title>
</head><body><p>You are unsubscribed. You will not receive these messages any more.</p>
</body></html>"""


@public.get(
    f"{tracking.TRACKING_PREFIX}/{{message_id}}/unsubscribe",
    response_class=HTMLResponse,
    summary="Unsubscribe page (a GET never unsubscribes: link scanners follow links)",
)
def unsubscribe_page(message_id: int, s: str, settings: SettingsDep) -> HTMLResponse:
    verify_message_token(settings.signing_secret, "unsubscribe", message_id, s)
    return HTMLResponse(_CONFIRM_PAGE)


@public.post(
    f"{tracking.TRACKING_PREFIX}/{{message_id}}/unsubscribe",
    response_class=HTMLResponse,
    summary="RFC 8058 one-click unsubscribe: withdraws marketing consent for the channel",
    responses=PROBLEM_RESPONSES,
)
def unsubscribe(
    message_id: int, s: str, database: DatabaseDep, now: NowDep, settings: SettingsDep
) -> HTMLResponse:
    with database.write() as session:
        tracking.unsubscribe(
            session,
            message_id=message_id,
            signature=s,
            secret=settings.signing_secret,
            now=now,
            source="engagement:one-click-unsubscribe",
        )
    return HTMLResponse(_DONE_PAGE)


@public.post(
    f"{PREFIX}/providers/{{channel}}/notifications",
    response_model=ProviderNotificationResult,
    summary="Provider webhook: delivered, bounce and complaint notices (HMAC-signed)",
    description="Signed like Fidela's outgoing webhooks: `X-Fidela-Timestamp` and "
    "`X-Fidela-Signature: sha256=<hex HMAC-SHA256 of 'timestamp.body'>`. Hard bounces and "
    "complaints put the address on the suppression list checked at send time.",
    responses=PROBLEM_RESPONSES,
)
async def provider_notifications(
    channel: Channel,
    request: Request,
    database: DatabaseDep,
    now: NowDep,
    settings: SettingsDep,
    x_fidela_timestamp: Annotated[str, Header()] = "",
    x_fidela_signature: Annotated[str, Header()] = "",
) -> ProviderNotificationResult:
    raw = await request.body()
    verify_webhook(
        settings.signing_secret,
        x_fidela_timestamp,
        raw,
        x_fidela_signature.removeprefix("sha256="),
    )
    try:
        body = ProviderNotificationIn.model_validate(json.loads(raw))
    except ValueError as exc:
        raise invalid("/events", f"not a valid notification: {exc}", InvalidWebhook) from None
    notices = [
        tracking.ProviderNotice(e.type, e.message_key, e.address, e.permanent) for e in body.events
    ]

    def apply() -> tracking.NoticeOutcome:
        with database.write() as session:
            return tracking.apply_provider_notices(
                session,
                channel=channel,
                notices=notices,
                now=now,
                source=f"provider:{channel.value}",
            )

    outcome = await run_in_threadpool(apply)
    return ProviderNotificationResult(
        processed=outcome.processed,
        suppressed=outcome.suppressed,
        unknown_message_keys=outcome.unknown,
    )
