"""Preview a template with a chosen customer's real personalisation, and test sends."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from fidela.customer import service as customers
from fidela.engagement.config import EngagementSettings
from fidela.engagement.messages import Content, enqueue_message
from fidela.engagement.models import Message
from fidela.engagement.personalisation import context_builder
from fidela.engagement.rules import Channel, invalid
from fidela.engagement.templates import TemplateCatalogue
from fidela.engagement.templating import (
    Rendered,
    Source,
    render_email,
    render_text_channel,
    sample_context,
)
from fidela.engagement.tracking import Links


def preview(
    session: Session,
    *,
    channel: Channel,
    now: datetime,
    settings: EngagementSettings,
    links: Links,
    template: str | None = None,
    content: Content | None = None,
    customer_id: int | None = None,
    language: str | None = None,
    context: dict[str, Any] | None = None,
) -> tuple[Rendered, str | None]:
    """What the customer would receive now (sample values without a customer); links point
    to their targets, not to tracking. Returns the rendering and the language used."""
    if (template is None) == (content is None):
        raise invalid("/template", "give exactly one of a template code or content")
    if customer_id is not None:
        customer = customers.get_customer(session, customer_id=customer_id)
        variables = context_builder(settings.default_programme).build(session, [customer.id], now)[
            customer.id
        ]
        language = language or customer.language
    else:
        variables = sample_context()
    variables = {**variables, **(context or {})}
    catalogue = TemplateCatalogue(session, settings.default_language)
    chosen: str | None
    if template is not None:
        source, chosen, brand = catalogue.resolve(template, channel, language)
    else:
        assert content is not None  # noqa: S101 - checked above
        source = Source(content.subject, content.body, content.text_body)
        chosen, brand = language, catalogue.brand()
    if channel is Channel.EMAIL:
        return (
            render_email(source, variables, brand, unsubscribe_url=links.unsubscribe(0)),
            chosen,
        )
    return render_text_channel(channel, source, variables, brand), chosen


def send_test(
    session: Session,
    *,
    channel: Channel,
    address: str | None,
    now: datetime,
    template: str | None = None,
    content: Content | None = None,
    customer_id: int | None = None,
    context: dict[str, Any] | None = None,
) -> Message:
    """Queue one real message to ``address`` (a marketer's own inbox), personalised with
    ``customer_id``'s data when given; transactional, so it ignores the customer's consent."""
    return enqueue_message(
        session,
        customer_id=customer_id,
        channel=channel,
        key=f"test-send:{secrets.token_hex(8)}",
        now=now,
        template=template,
        content=content,
        context={**(context or {}), "test_send": True},
        transactional=True,
        address=address,
    )
