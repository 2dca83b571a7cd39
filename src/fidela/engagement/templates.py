"""Brand kit and template use cases: save (checked by the sandbox first), find with language
fallback, and resolve what a message renders from."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from fidela.engagement.models import BrandKit, Template
from fidela.engagement.rules import (
    SUPPORTED_LANGUAGES,
    BrandKitConflict,
    Channel,
    TemplateConflict,
    TemplateNotFound,
    invalid,
    pick_language,
)
from fidela.engagement.templating import (
    Brand,
    Source,
    check_template,
    render_email,
    render_text_channel,
    sample_context,
)

DEFAULT_BRAND = "default"


@dataclass(frozen=True)
class BrandKitInput:
    name: str
    logo_url: str | None = None
    colours: dict[str, str] | None = None
    fonts: dict[str, str] | None = None
    tone: str = ""
    signature: str = ""
    legal_footer: str = ""
    sender_name: str = ""
    sender_email: str = ""


def brand_of(row: BrandKit | None) -> Brand:
    if row is None:
        return Brand()
    return Brand(
        name=row.name,
        logo_url=row.logo_url,
        colours=dict(row.colours),
        fonts=dict(row.fonts),
        tone=row.tone,
        signature=row.signature,
        legal_footer=row.legal_footer,
        sender_name=row.sender_name,
        sender_email=row.sender_email,
    )


def find_brand_kit(session: Session, code: str = DEFAULT_BRAND) -> BrandKit | None:
    return session.execute(select(BrandKit).where(BrandKit.code == code)).scalar_one_or_none()


def save_brand_kit(
    session: Session,
    *,
    values: BrandKitInput,
    now: datetime,
    code: str = DEFAULT_BRAND,
    expected_version: int | None = None,
) -> BrandKit:
    """Create or replace the brand kit ``code``; ``expected_version`` makes the update a
    compare-and-set (a stale editor gets a conflict instead of overwriting)."""
    if values.logo_url and not values.logo_url.startswith(("https://", "http://")):
        raise invalid("/logo_url", "the logo must be an http(s) URL")
    for name, colour in (values.colours or {}).items():
        if not (colour.startswith("#") and len(colour) in (4, 7)):
            raise invalid(f"/colours/{name}", f"{colour!r} is not a #rgb or #rrggbb colour")
    row = find_brand_kit(session, code)
    if row is not None and expected_version is not None and row.version != expected_version:
        raise BrandKitConflict(
            f"brand kit {code!r} is at version {row.version}, not {expected_version}"
        )
    if row is None:
        row = BrandKit(code=code, version=0)
        session.add(row)
    row.name = values.name
    row.logo_url = values.logo_url
    row.colours = dict(values.colours or {})
    row.fonts = dict(values.fonts or {})
    row.tone = values.tone
    row.signature = values.signature
    row.legal_footer = values.legal_footer
    row.sender_name = values.sender_name
    row.sender_email = values.sender_email
    row.version += 1
    row.updated_at = now
    session.flush()
    return row


def save_template(
    session: Session,
    *,
    code: str,
    channel: Channel,
    language: str,
    subject: str,
    body: str,
    text_body: str,
    now: datetime,
    brand_kit: str = DEFAULT_BRAND,
    expected_version: int | None = None,
) -> Template:
    """Create or update the template (code, channel, language) after the sandbox checks:
    a template that does not parse or reaches for Python internals is refused here."""
    if language not in SUPPORTED_LANGUAGES:
        raise invalid("/language", f"language must be one of {', '.join(SUPPORTED_LANGUAGES)}")
    if not body.strip():
        raise invalid("/body", "the body is empty")
    for pointer, text in (("/subject", subject), ("/body", body), ("/text_body", text_body)):
        check_template(text, pointer)
    # A trial render with sample values catches what the static check cannot (a filter
    # applied to the wrong type, a sandbox refusal through a call).
    source = Source(subject, body, text_body)
    if channel is Channel.EMAIL:
        render_email(source, sample_context(), brand_of(None), unsubscribe_url=None)
    else:
        render_text_channel(channel, source, sample_context(), brand_of(None))
    row = session.execute(
        select(Template).where(
            Template.code == code, Template.channel == channel.value, Template.language == language
        )
    ).scalar_one_or_none()
    if row is not None and expected_version is not None and row.version != expected_version:
        raise TemplateConflict(
            f"template {code!r} ({channel.value}, {language}) is at version {row.version}, "
            f"not {expected_version}"
        )
    if row is None:
        row = Template(
            code=code, channel=channel.value, language=language, version=0, created_at=now
        )
        session.add(row)
    row.subject, row.body, row.text_body, row.brand_kit = subject, body, text_body, brand_kit
    row.version += 1
    row.updated_at = now
    session.flush()
    return row


def list_templates(session: Session, *, code: str | None = None) -> list[Template]:
    query = select(Template).order_by(Template.code, Template.channel, Template.language)
    if code is not None:
        query = query.where(Template.code == code)
    return list(session.execute(query).scalars())


def get_template(session: Session, template_id: int) -> Template:
    row = session.get(Template, template_id)
    if row is None:
        raise TemplateNotFound(f"template {template_id} does not exist")
    return row


def delete_template(session: Session, template_id: int) -> None:
    session.delete(get_template(session, template_id))
    session.flush()


class TemplateCatalogue:
    """Templates and brand kits loaded once for a batch of messages (the worker renders
    hundreds of messages from a handful of templates)."""

    def __init__(self, session: Session, default_language: str) -> None:
        self._session = session
        self._default = default_language
        self._templates: dict[tuple[str, str], dict[str, Template]] = {}
        self._brands: dict[str, Brand] = {}

    def brand(self, code: str = DEFAULT_BRAND) -> Brand:
        if code not in self._brands:
            self._brands[code] = brand_of(
                find_brand_kit(self._session, code) or find_brand_kit(self._session)
            )
        return self._brands[code]

    def resolve(
        self, code: str, channel: Channel, language: str | None
    ) -> tuple[Source, str, Brand]:
        """The source in the best language (the customer's, the default, any) for the
        channel; raises ``TemplateNotFound`` if the code has no template for it."""
        key = (code, channel.value)
        if key not in self._templates:
            rows = self._session.execute(
                select(Template).where(Template.code == code, Template.channel == channel.value)
            ).scalars()
            self._templates[key] = {row.language: row for row in rows}
        by_language = self._templates[key]
        chosen = pick_language(language, by_language, self._default)
        if chosen is None:
            raise TemplateNotFound(f"no {channel.value} template {code!r}")
        row = by_language[chosen]
        return Source(row.subject, row.body, row.text_body), chosen, self.brand(row.brand_kit)
