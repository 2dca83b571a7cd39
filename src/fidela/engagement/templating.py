"""Rendering: Jinja2 in an immutable sandbox, the brand kit around every channel's content,
MJML to HTML for email, a plain-text part, and tracked links.

Templates are written by marketers, so they are untrusted code: the sandbox refuses
attribute access to Python internals (``''.__class__.__mro__``) and mutation of the context;
a template is also checked when saved (syntax, and no ``_``-prefixed attribute or item at
all), so a refused template never reaches the worker.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import mjml
from jinja2 import ChainableUndefined, Template, TemplateSyntaxError, Undefined, meta, nodes
from jinja2.exceptions import SecurityError, UndefinedError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from fidela.engagement.rules import Channel, TemplateRefused, invalid


class _Sandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox, failing loudly on unsafe access.

    Missing variables are chainable (``{{ tier.name }}`` renders empty while no context
    provides ``tier`` yet, so templates can be written before every variable family exists),
    but an unsafe attribute must not blank out silently the same way: it raises."""

    def unsafe_undefined(self, obj: Any, attribute: str) -> Undefined:
        raise SecurityError(
            f"access to attribute {attribute!r} of {type(obj).__name__!r} is not allowed"
        )


_environment = _Sandbox(autoescape=False, undefined=ChainableUndefined)
_html_environment = _Sandbox(autoescape=True, undefined=ChainableUndefined)


@lru_cache(maxsize=1024)
def names_used(source: str) -> frozenset[str]:
    """The top-level variables a template reads (``points`` for ``{{ points.balance }}``), so
    a batch only gathers the personalisation families its templates use. A source that does
    not parse reads nothing here; rendering reports its error."""
    try:
        return frozenset(meta.find_undeclared_variables(_environment.parse(source)))
    except TemplateSyntaxError:
        return frozenset()


@dataclass(frozen=True)
class Brand:
    """The brand kit as templates see it (``brand.name``, ``brand.colours.primary``...)."""

    name: str = "Fidela"
    logo_url: str | None = None
    colours: Mapping[str, str] = field(default_factory=dict)
    fonts: Mapping[str, str] = field(default_factory=dict)
    tone: str = ""
    signature: str = ""
    legal_footer: str = ""
    sender_name: str = ""
    sender_email: str = ""

    @property
    def primary(self) -> str:
        return self.colours.get("primary", "#1f3a93")

    @property
    def text_colour(self) -> str:
        return self.colours.get("text", "#222222")

    @property
    def background(self) -> str:
        return self.colours.get("background", "#ffffff")

    @property
    def font(self) -> str:
        return self.fonts.get("body", "Helvetica, Arial, sans-serif")

    def as_context(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "logo_url": self.logo_url,
            "colours": dict(self.colours),
            "fonts": dict(self.fonts),
            "tone": self.tone,
            "signature": self.signature,
            "legal_footer": self.legal_footer,
        }


@dataclass(frozen=True)
class Source:
    """What a message is rendered from: a stored template or inline content."""

    subject: str
    body: str
    text_body: str = ""


@dataclass(frozen=True)
class Rendered:
    """A message ready for its channel. ``html`` only for email."""

    subject: str
    text: str
    html: str | None = None


LinkRewriter = Callable[[str], str]


# ---------------------------------------------------------------------------- checking


def _unsafe_names(tree: nodes.Template) -> list[str]:
    found: list[str] = []
    for node in tree.find_all((nodes.Getattr, nodes.Getitem, nodes.Name)):
        name: object = ""
        if isinstance(node, nodes.Getattr):
            name = node.attr
        elif isinstance(node, nodes.Getitem):
            name = node.arg.value if isinstance(node.arg, nodes.Const) else ""
        elif isinstance(node, nodes.Name):
            name = node.name
        if isinstance(name, str) and name.startswith("_"):
            found.append(name)
    return found


def check_template(text: str, pointer: str) -> None:
    """Refuse a template that does not parse or that names anything starting with ``_``
    (the way into Python internals); the sandbox enforces the same at render time."""
    try:
        tree = _environment.parse(text)
    except TemplateSyntaxError as exc:
        raise invalid(
            pointer, f"template syntax error line {exc.lineno}: {exc.message}", TemplateRefused
        ) from None
    unsafe = _unsafe_names(tree)
    if unsafe:
        raise invalid(
            pointer,
            f"the template reaches Python internals ({', '.join(sorted(set(unsafe)))}); "
            "only personalisation variables are allowed",
            TemplateRefused,
        )


@lru_cache(maxsize=512)
def _compiled(text: str, escape: bool) -> Template:
    # Compiling costs far more than rendering; a campaign renders one template many times.
    return (_html_environment if escape else _environment).from_string(text)


def _render(text: str, context: Mapping[str, Any], pointer: str, *, escape: bool) -> str:
    try:
        return _compiled(text, escape).render(context)
    except SecurityError as exc:
        raise invalid(pointer, f"refused by the template sandbox: {exc}", TemplateRefused) from None
    except TemplateSyntaxError as exc:
        raise invalid(
            pointer, f"template syntax error line {exc.lineno}: {exc.message}", TemplateRefused
        ) from None
    except (UndefinedError, TypeError, ValueError, ArithmeticError) as exc:
        raise invalid(pointer, f"the template failed: {exc}", TemplateRefused) from None


# ---------------------------------------------------------------------------- email


def _email_layout(brand: Brand, content: str, unsubscribe_url: str | None) -> str:
    body = (
        content
        if "<mj-section" in content or "<mj-wrapper" in content
        else (f"<mj-section><mj-column><mj-text>{content}</mj-text></mj-column></mj-section>")
    )
    logo = (
        f'<mj-image src="{html.escape(brand.logo_url)}" alt="{html.escape(brand.name)}" '
        'width="160px" />'
        if brand.logo_url
        else f'<mj-text font-size="22px" font-weight="bold">{html.escape(brand.name)}</mj-text>'
    )
    unsubscribe = (
        f' · <a href="{html.escape(unsubscribe_url)}" style="color:{brand.primary}">Unsubscribe</a>'
        if unsubscribe_url
        else ""
    )
    signature = html.escape(brand.signature).replace("\n", "<br />")
    footer = html.escape(brand.legal_footer).replace("\n", "<br />")
    return f"""<mjml>
  <mj-head>
    <mj-title>{html.escape(brand.name)}</mj-title>
    <mj-attributes>
      <mj-all font-family="{html.escape(brand.font)}" />
      <mj-text color="{brand.text_colour}" line-height="1.5" />
      <mj-button background-color="{brand.primary}" color="#ffffff" />
    </mj-attributes>
  </mj-head>
  <mj-body background-color="{brand.background}">
    <mj-section><mj-column>{logo}</mj-column></mj-section>
    {body}
    <mj-section><mj-column>
      <mj-text>{signature}</mj-text>
      <mj-divider border-color="{brand.primary}" border-width="1px" />
      <mj-text font-size="11px" color="#777777">{footer}{unsubscribe}</mj-text>
    </mj-column></mj-section>
  </mj-body>
</mjml>"""


_TAG = re.compile(r"<[^>]+>")
_SPACES = re.compile(r"[ \t]+")
_BLANKS = re.compile(r"\n\s*\n+")
_HREF = re.compile(r"""href=(["'])(https?://[^"'<>]+)\1""")
_URL = re.compile(r"https?://[^\s<>\"']+")


def text_from_html(markup: str) -> str:
    """A readable plain-text version of an HTML fragment (links kept as ``text (url)``)."""
    with_links = re.sub(
        r"""<a [^>]*href=["']([^"']+)["'][^>]*>(.*?)</a>""", r"\2 (\1)", markup, flags=re.S | re.I
    )
    with_breaks = re.sub(r"<(br|/p|/div|/h\d|/li|/tr)[^>]*>", "\n", with_links, flags=re.I)
    text = html.unescape(_TAG.sub("", with_breaks))
    lines = [_SPACES.sub(" ", line).strip() for line in text.splitlines()]
    return _BLANKS.sub("\n\n", "\n".join(lines)).strip()


def render_email(
    source: Source,
    context: Mapping[str, Any],
    brand: Brand,
    *,
    unsubscribe_url: str | None,
    rewrite_link: LinkRewriter | None = None,
    open_pixel_url: str | None = None,
) -> Rendered:
    """Subject, HTML (the brand layout around the MJML body, links tracked, an open pixel)
    and the plain-text part (the template's own, or derived from the HTML body), both closing
    with the brand's signature, legal footer and the unsubscribe link."""
    variables = {**context, "brand": brand.as_context()}
    subject = _render(source.subject, variables, "/subject", escape=False).strip()
    body = _render(source.body, variables, "/body", escape=True)
    markup = mjml.mjml2html(_email_layout(brand, body, unsubscribe_url))
    if source.text_body:
        text = _render(source.text_body, variables, "/text_body", escape=False).strip()
    else:
        text = text_from_html(body)
    closing = [part for part in (brand.signature, brand.legal_footer) if part]
    if unsubscribe_url:
        closing.append(f"Unsubscribe: {unsubscribe_url}")
    text = "\n\n".join([text, *closing])
    if rewrite_link is not None:
        markup = _HREF.sub(
            lambda m: (
                f'href="{html.escape(rewrite_link(html.unescape(m.group(2))))}"'
                if html.unescape(m.group(2)) != unsubscribe_url
                else m.group(0)
            ),
            markup,
        )
        text = _URL.sub(
            lambda m: m.group(0) if m.group(0) == unsubscribe_url else rewrite_link(m.group(0)),
            text,
        )
    if open_pixel_url:
        pixel = (
            f'<img src="{html.escape(open_pixel_url)}" width="1" height="1" alt="" '
            'style="display:block;border:0" />'
        )
        markup = markup.replace("</body>", f"{pixel}</body>", 1)
    return Rendered(subject=subject or brand.name, text=text, html=markup)


# ---------------------------------------------------------------------------- other channels


def render_text_channel(
    channel: Channel,
    source: Source,
    context: Mapping[str, Any],
    brand: Brand,
    *,
    rewrite_link: LinkRewriter | None = None,
) -> Rendered:
    """SMS, push, in-app, postal and audience messages: the brand's name opens an SMS (the
    sender is often a short code) and titles a push; postal letters and in-app messages
    close with the signature and legal footer."""
    variables = {**context, "brand": brand.as_context()}
    subject = _render(source.subject, variables, "/subject", escape=False).strip()
    text = _render(source.text_body or source.body, variables, "/body", escape=False).strip()
    if rewrite_link is not None:
        text = _URL.sub(lambda m: rewrite_link(m.group(0)), text)
    if channel is Channel.SMS:
        prefix = f"{brand.name}: "
        text = text if text.startswith(prefix) else prefix + text
    elif channel is Channel.PUSH:
        subject = subject or brand.name
    elif channel in (Channel.POSTAL, Channel.IN_APP):
        closing = [part for part in (brand.signature, brand.legal_footer) if part]
        text = "\n\n".join([text, *closing])
    return Rendered(subject=subject, text=text)


def sample_context() -> dict[str, Any]:
    """Values for a trial render when a template is saved (and for previews with no
    customer)."""
    return {
        "customer": {
            "id": 0,
            "first_name": "Alex",
            "last_name": "Martin",
            "language": "en",
            "birthday": "1990-05-17",
            "city": "Lyon",
        },
        "points": {"balance": 1250, "pending": 0, "expiring": 200, "expiring_within_days": 30},
        "tier": {"name": "Silver", "next": "Gold", "progress": 0.6, "missing": 400},
        "recommended_products": [{"sku": "SKU-1", "name": "Espresso cups", "url": ""}],
        "affordable_rewards": [{"code": "COFFEE", "name": "Free coffee", "cost": 500}],
        "vouchers": [{"code": "WELCOME10", "expires_at": "2026-12-31"}],
        "voucher_code": "WELCOME10",
    }
