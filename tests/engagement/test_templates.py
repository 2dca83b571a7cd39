"""Templates in the Jinja2 sandbox, the brand kit on every channel, preview and test send."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from fidela.engagement.rules import Channel, TemplateRefused
from fidela.engagement.templates import save_template
from fidela.engagement.templating import Brand, Source, render_email, render_text_channel
from fidela.platform.db import Database
from tests.api.keys import issue
from tests.conftest import Clock
from tests.engagement.conftest import PUBLIC_URL, install_brand, make_member

BRAND = Brand(
    name="Café Lumière",
    signature="L'équipe",
    legal_footer="Café Lumière SAS",
    logo_url="https://cdn.example/logo.png",
)


@pytest.fixture
def api(make_client: Callable[..., TestClient]) -> TestClient:
    return make_client(public_url=PUBLIC_URL)


@pytest.fixture
def headers(database: Database, clock: Clock) -> dict[str, str]:
    return issue(database, clock, "engagement:write")


@pytest.mark.parametrize(
    "body",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ customer.__class__ }}",
        "{{ customer['__class__'] }}",
        "{% for c in ''.__class__.__mro__[1].__subclasses__() %}{{ c }}{% endfor %}",
        "{{ cycler.__init__.__globals__ }}",
    ],
)
def test_template_reaching_python_internals_is_refused_when_saved(
    database: Database, clock: Clock, body: str
) -> None:
    with database.write() as session, pytest.raises(TemplateRefused) as refused:
        save_template(
            session,
            code="evil",
            channel=Channel.EMAIL,
            language="en",
            subject="Hi",
            body=body,
            text_body="",
            now=clock(),
        )
    assert "Python internals" in refused.value.detail
    assert refused.value.problems[0].pointer == "/body"


def test_sandbox_refuses_internals_at_render_time_too() -> None:
    # Inline content skips the save-time check; the sandbox still stops it.
    with pytest.raises(TemplateRefused) as refused:
        render_text_channel(Channel.SMS, Source("", "{{ ''.__class__.__mro__ }}"), {}, BRAND)
    assert "sandbox" in refused.value.detail


def test_api_refuses_an_unsafe_template_with_a_problem_pointing_at_the_field(
    api: TestClient, headers: dict[str, str]
) -> None:
    response = api.post(
        "/v1/engagement/templates",
        headers=headers,
        json={
            "code": "evil",
            "channel": "email",
            "language": "en",
            "subject": "{{ ''.__class__ }}",
            "body": "<p>hi</p>",
        },
    )
    assert response.status_code == 422
    problem = response.json()
    assert problem["code"] == "template_refused"
    assert problem["errors"][0]["pointer"] == "/subject"


def test_brand_kit_frames_sms_push_in_app_and_postal() -> None:
    source = Source("Offre", "Bonjour {{ customer.first_name }}")
    context = {"customer": {"first_name": "Léa"}}
    sms = render_text_channel(Channel.SMS, source, context, BRAND)
    push = render_text_channel(Channel.PUSH, Source("", "Votre offre"), context, BRAND)
    letter = render_text_channel(Channel.POSTAL, source, context, BRAND)
    assert sms.text == "Café Lumière: Bonjour Léa"
    assert push.subject == "Café Lumière"
    assert letter.text.endswith("L'équipe\n\nCafé Lumière SAS")


def test_email_html_escapes_personal_values() -> None:
    rendered = render_email(
        Source("Hi", "<p>{{ customer.first_name }}</p>"),
        {"customer": {"first_name": "<script>x</script>"}},
        BRAND,
        unsubscribe_url=None,
    )
    assert rendered.html is not None
    assert "<script>x" not in rendered.html
    assert "&lt;script&gt;" in rendered.html


def test_missing_personalisation_renders_empty_instead_of_failing() -> None:
    rendered = render_text_channel(
        Channel.SMS,
        Source("", "Palier {{ tier.name }}, {{ affordable_rewards|length }}"),
        {},
        BRAND,
    )
    assert rendered.text == "Café Lumière: Palier , 0"


def test_preview_personalises_with_the_chosen_customer_in_their_language(
    api: TestClient, headers: dict[str, str], database: Database, clock: Clock
) -> None:
    with database.write() as session:
        install_brand(session, clock())
        member = make_member(session, clock(), "zoe", language="fr")
    for language, body in (("fr", "Bonjour {{ customer.first_name }}"), ("en", "Hello")):
        created = api.post(
            "/v1/engagement/templates",
            headers=headers,
            json={
                "code": "hello",
                "channel": "sms",
                "language": language,
                "body": body + " ({{ points.balance }} pts)",
            },
        )
        assert created.status_code == 201, created.text

    response = api.post(
        "/v1/engagement/preview",
        headers=headers,
        json={"channel": "sms", "template": "hello", "customer_id": member.id},
    )

    assert response.status_code == 200, response.text
    assert response.json()["text"] == "Café Lumière: Bonjour Zoe (0 pts)"
    assert response.json()["language"] == "fr"


def test_template_crud_and_versions(api: TestClient, headers: dict[str, str]) -> None:
    body = {"code": "bday", "channel": "push", "language": "en", "body": "Happy birthday"}
    first = api.post("/v1/engagement/templates", headers=headers, json=body).json()
    second = api.post(
        "/v1/engagement/templates",
        headers=headers,
        json={**body, "body": "Happy birthday!", "expected_version": 1},
    )
    stale = api.post(
        "/v1/engagement/templates",
        headers=headers,
        json={**body, "body": "late edit", "expected_version": 1},
    )
    assert second.json()["version"] == 2
    assert second.json()["id"] == first["id"]
    assert stale.status_code == 409
    listed = api.get("/v1/engagement/templates", headers=headers, params={"code": "bday"})
    assert [t["body"] for t in listed.json()] == ["Happy birthday!"]
    assert api.delete(f"/v1/engagement/templates/{first['id']}", headers=headers).status_code == 204
    assert api.get(f"/v1/engagement/templates/{first['id']}", headers=headers).status_code == 404


def test_brand_kit_put_and_get(api: TestClient, headers: dict[str, str]) -> None:
    missing = api.get("/v1/engagement/brand-kit", headers=headers)
    saved = api.put(
        "/v1/engagement/brand-kit",
        headers=headers,
        json={"name": "Lumière", "colours": {"primary": "#123456"}, "legal_footer": "SAS"},
    )
    bad = api.put(
        "/v1/engagement/brand-kit",
        headers=headers,
        json={"name": "Lumière", "colours": {"primary": "blue"}},
    )
    assert missing.status_code == 404
    assert saved.status_code == 200
    assert saved.json()["version"] == 1
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["pointer"] == "/colours/primary"
