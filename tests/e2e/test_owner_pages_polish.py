"""Owner pages after the QA pass, in a real browser: nothing scrolls sideways at phone
width, the mailing page's badge and "Send now" follow the live poll, the previewed HTML cannot reach our
own site, and every page has a favicon."""

import pytest

from backend.mailings.sending import send_due
from tests.factories import DEFAULT_PASSWORD, ClientFactory, MessageFactory, UserFactory
from tests.sending_helpers import due_mailing

from .test_owner_flow import record_errors

pytestmark = [pytest.mark.django_db(transaction=True, serialized_rollback=True), pytest.mark.slow]
PHONE = {"width": 390, "height": 844}


def log_in(page, live_server, user) -> None:
    page.goto(live_server.url + "/accounts/login/")
    page.fill("#id_username", user.email)
    page.fill("#id_password", DEFAULT_PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(lambda url: "/accounts/login/" not in url)


@pytest.fixture
def phone(browser):
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def test_no_owner_page_scrolls_sideways_at_phone_width(live_server, phone, smtp):
    """At 390 px no list or report page is wider than the screen (a visually-hidden label in
    a table's actions column escaped the table's scroll box and widened the whole page by ~42 px)."""
    owner = UserFactory()
    smtp.set(reject={"refused-with-a-rather-long-address@example.org"})
    mailing = due_mailing(owner=owner, clients=3)
    mailing.clients.add(ClientFactory(owner=owner, email="refused-with-a-rather-long-address@example.org"))
    # Long unbreakable cells make the tables wider than the screen, so they scroll inside their own box.
    ClientFactory(owner=owner, email="a.very.long.address.for.a.client@subdomain.example.org")
    MessageFactory(owner=owner, subject="A-subject-without-any-space-that-cannot-wrap-anywhere")
    send_due()
    errors = record_errors(phone)
    log_in(phone, live_server, owner)
    for path in (
        "/dashboard/",
        "/clients/",
        "/messages/",
        "/mailings/",
        "/reports/",
        f"/mailings/{mailing.pk}/",
        f"/mailings/{mailing.pk}/report/",
        f"/messages/{mailing.message_id}/preview/",
        f"/messages/{mailing.message_id}/delete/",
    ):
        phone.goto(live_server.url + path)
        width = phone.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], (path, width)
    # The attempt log's cells stack on a phone, so the server's answer is not squeezed to a letter a line.
    phone.goto(f"{live_server.url}/mailings/{mailing.pk}/report/")
    answers = phone.eval_on_selector_all(
        "[data-testid=attempt-answer]", "cells => cells.map(cell => cell.getBoundingClientRect().width)"
    )
    assert answers and min(answers) > 100, answers
    assert errors == []


def test_the_previewed_html_fetches_nothing_from_this_site(live_server, page):
    """Relative addresses in the previewed HTML (images, styles, frames, media) made the
    browser ask this site for them; the frame's policy and base leave the site alone."""
    owner = UserFactory()
    ClientFactory(owner=owner)
    message = MessageFactory(
        owner=owner,
        html_body=(
            '<p>Hi</p><img src="x1"><img src="/x2"><link rel="stylesheet" href="x3">'
            '<div style="background:url(x4)">b</div><iframe src="x5"></iframe><video src="x6"></video>'
        ),
    )
    log_in(page, live_server, owner)
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(f"{live_server.url}/messages/{message.pk}/preview/")
    page.wait_for_load_state("networkidle")
    assert page.frame_locator("[data-testid=preview-html]").locator("p").first.inner_text() == "Hi"
    preview_url = f"{live_server.url}/messages/{message.pk}/preview/"
    ours = [url for url in requested if url.startswith(live_server.url)]
    assert preview_url in ours
    assert [
        url for url in ours if url != preview_url and not url.startswith(f"{live_server.url}/static/")
    ] == []
