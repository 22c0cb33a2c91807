"""GraphiQL's page is served from our static files only (R-API-1); the browser test that runs a
query in it is tests/e2e/test_graphiql.py."""

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders
from django.contrib.staticfiles.storage import ManifestStaticFilesStorage
from django.core.files.storage import FileSystemStorage

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

# Any absolute or protocol-relative URL: the page may only name paths on this site.
EXTERNAL_URL = re.compile(r"(?:https?:)?//[^\s\"'<>]*", re.IGNORECASE)
ASSET_URL = re.compile(r"""<(?:script|link)\b[^>]*?\b(?:src|href)="([^"]+)\"""", re.IGNORECASE)
VENDOR = Path(settings.BASE_DIR) / "static" / "vendor" / "graphiql"


def graphiql_html(client) -> str:
    response = client.get("/graphql/", HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    return response.content.decode()


@pytest.mark.parametrize("signed_in", [False, True], ids=["anonymous", "signed-in"])
def test_r_api_1_graphiql_page_names_no_url_outside_the_site(client, signed_in):
    if signed_in:
        client.force_login(UserFactory())
    html = graphiql_html(client)

    assert "<title>Mailer GraphQL</title>" in html
    assert EXTERNAL_URL.findall(html) == []
    assets = ASSET_URL.findall(html)
    # favicon, the page's stylesheet and GraphiQL's 2, 5 libraries, the settings module (no inline script:
    # the Content-Security-Policy runs none) and graphene-django's start-up script
    assert len(assets) == 11
    for url in assets:
        assert url.startswith(settings.STATIC_URL), url
        assert finders.find(url.removeprefix(settings.STATIC_URL)), f"{url} is not in any static folder"


def test_vendored_graphiql_files_pass_the_manifest_storage(tmp_path):
    """`collectstatic` in production (whitenoise's manifest storage) rewrites the references inside CSS and
    JS files and fails on one it cannot find, such as a source map that is not shipped."""
    names = sorted(str(path.relative_to(VENDOR)) for path in VENDOR.rglob("*") if path.is_file())
    assert "graphiql/graphiql.min.js" in names
    source = FileSystemStorage(location=VENDOR)
    target = ManifestStaticFilesStorage(location=tmp_path, base_url="/static/")
    for name in names:
        with source.open(name) as handle:
            target.save(name, handle)

    results = list(target.post_process({name: (source, name) for name in names}))

    failures = [(name, error) for name, _hashed, error in results if isinstance(error, Exception)]
    assert failures == []
    hashed = {name: hashed_name for name, hashed_name, _processed in results}
    assert re.fullmatch(r"graphiql/graphiql\.min\.[0-9a-f]{12}\.js", hashed["graphiql/graphiql.min.js"])
