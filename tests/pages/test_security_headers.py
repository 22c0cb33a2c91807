"""The browser security policies (Hardening: a strict Content-Security-Policy and a Permissions-Policy on
every answer; GraphiQL and Wagtail's admin with their own exceptions), and templates that need no inline
script, handler or style to work under them."""

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

from tests.blog_helpers import blog, publish_article
from tests.factories import MessageFactory, UserFactory, make_manager
from tests.sending_helpers import due_mailing

pytestmark = pytest.mark.django_db
TEMPLATES = Path(settings.BASE_DIR) / "templates"
STRICT = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "object-src": "'none'",
    "frame-ancestors": "'none'",
    "base-uri": "'none'",
    "form-action": "'self'",
}


def directives(response) -> dict[str, str]:
    header = response["Content-Security-Policy"]
    return {name: " ".join(values) for name, *values in (part.split() for part in header.split(";"))}


def assert_strict(response) -> None:
    assert directives(response).items() >= STRICT.items(), response["Content-Security-Policy"]
    permissions = response["Permissions-Policy"]
    for feature in ("camera", "microphone", "geolocation", "payment", "usb"):
        assert f"{feature}=()" in permissions


def test_public_and_account_pages_answer_with_the_strict_policy(client):
    """Home, blog index and article, the account pages, the 404 page and the health probe."""
    article = publish_article("Headers everywhere")
    blog()
    paths = [
        reverse("web:home"),
        "/blog/",
        article.url,
        reverse("accounts:login"),
        reverse("accounts:signup"),
        reverse("accounts:password_reset"),
        "/no/such/page/",
        "/healthz",
        "/static/css/mailer.css",
    ]
    for path in paths:
        response = client.get(path)
        assert response.status_code in {200, 404}, path
        assert_strict(response)


def test_owner_and_manager_pages_answer_with_the_strict_policy(client):
    owner = UserFactory()
    mailing = due_mailing(owner=owner, clients=1)
    client.force_login(owner)
    for path in [
        reverse("web:dashboard"),
        reverse("accounts:profile"),
        reverse("clients:list"),
        reverse("clients:new"),
        reverse("messages:list"),
        reverse("mailings:list"),
        reverse("mailings:detail", args=[mailing.pk]),
        reverse("mailings:report", args=[mailing.pk]),
        reverse("reports"),
    ]:
        response = client.get(path)
        assert response.status_code == 200, path
        assert_strict(response)
    client.force_login(make_manager())
    response = client.get(reverse("web:manager"))
    assert response.status_code == 200
    assert_strict(response)


def test_the_message_preview_lets_in_only_what_its_mail_frame_shows(client):
    """The previewed HTML sits in a srcdoc frame, which is held to the page's policy too: the page lets in
    inline styles, https/data: images and the frame's <base> for it, and nothing else changes."""
    owner = UserFactory()
    message = MessageFactory(owner=owner, html_body='<p style="color: red">Hi</p>')
    due_mailing(owner=owner, message=message, clients=1)
    client.force_login(owner)
    response = client.get(reverse("messages:preview", args=[message.pk]))
    policy = directives(response)
    assert policy["style-src"] == "'self' 'unsafe-inline'"
    assert policy["img-src"] == "'self' https: data:"
    assert policy["base-uri"] == "http://preview.invalid/"  # the frame's own <base>, nothing else
    assert policy["script-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'"
    text_only = MessageFactory(owner=owner, html_body="")
    assert_strict(client.get(reverse("messages:preview", args=[text_only.pk])))


def test_graphiql_adds_only_data_fonts(client):
    """GraphiQL's page: scripts and styles from this site only, like every page; its CSS's data: fonts."""
    client.force_login(UserFactory())
    response = client.get("/graphql/", headers={"accept": "text/html"})
    assert response.status_code == 200
    assert "graphiql.min.js" in response.content.decode()
    assert_strict(response)
    assert directives(response)["font-src"] == "'self' data:"


def test_django_admin_login_has_the_strict_policy_and_wagtail_its_own(client):
    """Django's admin runs under the strict policy; Wagtail's needs inline scripts and styles and frames
    its own previews, and keeps the rest."""
    assert_strict(client.get("/admin/login/"))
    response = client.get("/cms/login/")
    assert response.status_code == 200
    policy = directives(response)
    assert policy["script-src"] == "'self' 'unsafe-inline'"
    assert policy["style-src"] == "'self' 'unsafe-inline'"
    assert policy["frame-ancestors"] == "'self'"
    assert policy["object-src"] == "'none'"
    assert policy["base-uri"] == "'none'"
    assert policy["form-action"] == "'self'"
    assert "camera=()" in response["Permissions-Policy"]


def test_report_uri_and_report_only_are_configurable(client, settings):
    settings.CSP_REPORT_URI = "https://reports.example.com/csp"
    response = client.get("/healthz")
    assert response["Content-Security-Policy"].endswith("; report-uri https://reports.example.com/csp")
    settings.CSP_REPORT_ONLY = True
    response = client.get("/healthz")
    assert "Content-Security-Policy" not in response
    assert "script-src 'self'" in response["Content-Security-Policy-Report-Only"]


INLINE_HANDLER = re.compile(r"<[^>]*\son[a-z]+\s*=", re.IGNORECASE)
INLINE_SCRIPT = re.compile(r"<script\b(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
INLINE_STYLE = re.compile(r"<style\b|<[^>]*\sstyle\s*=", re.IGNORECASE)


def page_templates() -> list[Path]:
    """Every template a browser renders (the email templates go to mail programs, not under the CSP)."""
    return [path for path in TEMPLATES.rglob("*.html") if "email" not in path.relative_to(TEMPLATES).parts]


def test_no_template_has_an_inline_handler_script_or_style():
    """The policy refuses inline code: a handler attribute (onchange=…), a <script> without src or an
    inline style in a template would be dead in the browser."""
    found = []
    for path in page_templates():
        text, name = path.read_text(encoding="utf-8"), path.relative_to(TEMPLATES)
        for pattern in (INLINE_HANDLER, INLINE_SCRIPT, INLINE_STYLE):
            found += [f"{name}: {match.group(0)[:80]}" for match in pattern.finditer(text)]
    assert found == []
    assert len(page_templates()) > 40  # the scan sees the templates


@pytest.mark.parametrize(
    "snippet",
    [
        '<select name="x" onchange="this.form.submit()">',
        "<script>window.x = 1;</script>",
        '<script type="module">import "./a.js";</script>',
        '<pre style="white-space: pre-wrap">',
        "<style>body { margin: 0 }</style>",
    ],
)
def test_the_template_scan_finds_what_it_forbids(snippet):
    assert any(pattern.search(snippet) for pattern in (INLINE_HANDLER, INLINE_SCRIPT, INLINE_STYLE))


def test_the_template_scan_lets_external_scripts_and_data_attributes_through():
    for snippet in (
        '<script type="module" src="/static/js/auto-submit.js"></script>',
        '<select data-auto-submit aria-label="Language">',
        "{% blocktranslate with zone=time_zone %}",
    ):
        assert not any(pattern.search(snippet) for pattern in (INLINE_HANDLER, INLINE_SCRIPT, INLINE_STYLE))
