"""GraphiQL in a real browser with every host but this one blocked (R-API-1)."""

import json
from urllib.parse import urlsplit

import pytest

from tests.factories import DEFAULT_PASSWORD, UserFactory

from .waiting import wait_until

pytestmark = [pytest.mark.django_db(transaction=True, serialized_rollback=True), pytest.mark.slow]

LOCAL_HOSTS = {"127.0.0.1", "localhost"}
QUERY = "{ me { email } }"


@pytest.fixture
def offline_page(page):
    """The page with every request to a host other than this machine aborted and recorded; data: and blob:
    URLs (GraphiQL's fonts are data: URLs in its CSS) never leave the browser."""
    page.aborted = []

    def only_local(route):
        url = route.request.url
        parts = urlsplit(url)
        if parts.scheme in {"data", "blob"} or parts.hostname in LOCAL_HOSTS:
            route.continue_()
        else:
            page.aborted.append(url)
            route.abort()

    page.context.route("**/*", only_local)
    return page


def record_errors(page):
    """Console errors, uncaught exceptions and failed requests from now on."""
    errors = []
    page.on("console", lambda msg: msg.type == "error" and errors.append(msg.text))
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("requestfailed", lambda req: errors.append(f"{req.url}: {req.failure}"))
    return errors


def test_graphiql_runs_me_query_from_local_static_files_only(live_server, offline_page):
    """R-API-1: a verified user who logged in through the login page opens GraphiQL at /graphql/ with the
    network cut off from everything but 127.0.0.1, runs `{ me { email } }` and reads their own address."""
    page = offline_page
    user = UserFactory(email="graphiql.dev@example.com")
    page.goto(live_server.url + "/accounts/login/")
    page.fill("#id_username", user.email)
    page.fill("#id_password", DEFAULT_PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(lambda url: "/accounts/login/" not in url)
    page.wait_for_load_state("networkidle")

    errors = record_errors(page)
    response = page.goto(live_server.url + "/graphql/")
    assert response.status == 200
    assert response.request.headers["accept"].startswith("text/html")
    assert page.title() == "Mailer GraphQL"
    page.wait_for_selector(".graphiql-query-editor .CodeMirror")

    # CodeMirror closes brackets as they are typed; setting the document is what a paste does.
    page.evaluate(
        "query => document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror.setValue(query)",
        QUERY,
    )
    page.click(".graphiql-execute-button")
    result_js = "document.querySelector('.graphiql-response .CodeMirror').CodeMirror.getValue()"
    wait_until(page, f"{result_js}.includes('graphiql.dev@example.com')")

    assert json.loads(page.evaluate(result_js)) == {"data": {"me": {"email": "graphiql.dev@example.com"}}}

    # The explorer plugin works too: it reads the schema by introspection over the same session.
    page.click(".graphiql-sidebar button[aria-label='Show GraphiQL Explorer']")
    explorer = page.locator(".graphiql-explorer-root")
    explorer.get_by_text("emailVerified").wait_for()
    assert "me" in explorer.inner_text().split()
    assert page.aborted == []
    assert errors == []
