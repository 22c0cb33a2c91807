"""The base page and its offline static assets (item 6)."""

import re
from pathlib import Path

import pytest
from django.contrib.staticfiles import finders
from django.urls import reverse

pytestmark = pytest.mark.django_db

ASSETS = [
    "vendor/bootstrap/css/bootstrap.min.css",
    "vendor/bootstrap/js/bootstrap.bundle.min.js",
    "vendor/bootstrap-icons/bootstrap-icons.min.css",
    "vendor/bootstrap-icons/fonts/bootstrap-icons.woff2",
    "css/mailer.css",
]


def test_home_renders_with_navbar_and_local_assets(client):
    response = client.get(reverse("web:home"))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'class="navbar' in html
    assert "Log in" in html
    linked = re.findall(r'(?:href|src)="(/static/[^"]+)"', html)
    assert {f"/static/{a}" for a in ASSETS if not a.endswith("woff2")} <= set(linked)
    assert "cdn" not in html.lower()


@pytest.mark.parametrize("asset", ASSETS)
def test_static_assets_are_served(client, asset):
    path = finders.find(asset)
    assert path, asset
    response = client.get(f"/static/{asset}")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == Path(path).read_bytes()


def test_russian_interface(client):
    response = client.get(reverse("web:home"), headers={"accept-language": "ru"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "Прогревающие рассылки" in html
    assert "Войти" in html


def test_unknown_page_is_a_404_not_a_500(client):
    assert client.get("/no/such/page/").status_code == 404


def test_unknown_page_has_a_friendly_404_in_production(client, settings):
    settings.DEBUG = False
    response = client.get("/no/such/page/")
    assert response.status_code == 404
    html = response.content.decode()
    assert "Page not found" in html
    assert 'class="navbar' in html


def test_server_error_page_renders_standalone(rf):
    from django.views.defaults import server_error

    response = server_error(rf.get("/"))
    assert response.status_code == 500
    assert "Something went wrong on our side" in response.content.decode()


def test_favicon_ico_leads_to_a_real_icon_and_every_page_links_one(client):
    """/favicon.ico was a 404 on every page (browsers ask for it where they cannot use the
    SVG icon, and on pages without an icon link). It leads to a small ICO drawn for Mailer."""
    from PIL import Image

    response = client.get("/favicon.ico")
    assert response.status_code == 302
    assert response["Location"] == "/static/favicon.ico"
    icon = client.get(response["Location"])
    assert icon.status_code == 200
    path = finders.find("favicon.ico")
    with Image.open(path) as image:
        assert image.format == "ICO"
        assert {(16, 16), (32, 32)} <= image.info["sizes"]
    html = client.get(reverse("web:home")).content.decode()
    assert 'rel="icon" href="/static/favicon.ico"' in html
    assert 'rel="icon" href="/static/favicon.svg"' in html


def test_a_content_editor_signed_in_on_the_site_finds_the_cms_in_the_navbar_R_AUTH_6(client):
    """R-AUTH-6: an editor who signs in on the site gets a "Blog editor" link to /cms/ (roles.may_use_cms),
    which lets them in; an owner gets no such link. (A page test: the link is server-rendered; a live-server
    test could start from a database whose role groups an earlier test flushed.)"""
    from tests.factories import UserFactory
    from tests.pages_helpers import make_content_editor

    client.force_login(make_content_editor())
    html = client.get("/dashboard/", follow=True).content.decode()
    assert 'href="/cms/" data-testid="nav-cms"' in html
    assert client.get("/cms/").status_code == 200
    client.force_login(UserFactory())
    assert 'data-testid="nav-cms"' not in client.get("/dashboard/").content.decode()
