"""R-ENG-2 in a real browser: a mailing to a tag is sent by the engine to a real SMTP server, its HTML is
opened in Chromium (which loads the open pixel from the live server) and a link in it clicked (through the
redirect to the page it names); the owner's report then shows one open and one click on that link."""

import datetime as dt

import pytest
from django.urls import reverse

from backend.mailings.models import Delivery, Mailing, TrackedLink
from backend.mailings.sending import send_due
from backend.mailings.tracking import buffer
from backend.web import tracking
from tests.factories import ClientFactory, MessageFactory, TagFactory, UserFactory
from tests.sending_helpers import due_mailing

from .waiting import wait_until

pytestmark = [pytest.mark.django_db(transaction=True, serialized_rollback=True), pytest.mark.slow]
PASSWORD = "plum-Orchard-47-lantern"


def test_r_eng_2_a_mailing_to_a_tag_is_opened_and_clicked_in_a_browser_and_reported(
    live_server, page, smtp, settings
):
    settings.SITE_URL = live_server.url  # the links and the pixel point at the live server
    tracking._links.clear()  # link ids start again in every test's database
    owner = UserFactory(email="owner@example.com", password=PASSWORD)
    tag = TagFactory(owner=owner, name="readers")
    reader = ClientFactory(owner=owner, email="reader@example.org", full_name="Rea Der")
    reader.tags.add(tag)
    ClientFactory(owner=owner, email="untagged@example.org")  # not in the audience
    target = f"{live_server.url}/healthz"
    message = MessageFactory(
        owner=owner,
        subject="News",
        body=f"Read it: {target}",
        html_body=f'<h1>News for {{first_name}}</h1><p><a id="read" href="{target}">Read it</a></p>',
    )
    mailing = due_mailing(owner=owner, message=message, clients=0, audience=Mailing.Audience.TAGS)
    mailing.tags.set([tag])
    assert send_due().sent == 1
    (received,) = smtp.received
    assert received.rcpt_tos == ["reader@example.org"]
    html = next(
        part.get_payload(decode=True).decode()
        for part in received.message.walk()
        if part.get_content_type() == "text/html"
    )
    assert f"{live_server.url}/t/c/" in html and f"{live_server.url}/t/o/" in html
    # Read a minute after it arrived: an open within seconds of the send counts as a machine's.
    Delivery.objects.update(sent_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1))

    # Headless Chromium says "HeadlessChrome", which security scanners say too (a machine's open): this
    # browser reads as the desktop Chromium a person would use.
    agent = page.evaluate("navigator.userAgent").replace("HeadlessChrome", "Chrome")
    page.set_extra_http_headers({"User-Agent": agent})
    with page.expect_response(lambda response: "/t/o/" in response.url) as pixel:
        page.set_content(html)
    assert pixel.value.status == 200
    page.click("#read")
    page.wait_for_url(target)
    assert '"status"' in page.content()
    buffer.drain()

    page.goto(live_server.url + "/accounts/login/")
    page.fill("#id_username", owner.email)
    page.fill("#id_password", PASSWORD)
    page.click("main button[type=submit]")
    page.goto(live_server.url + reverse("mailings:report", args=[mailing.pk]))
    assert page.inner_text("[data-testid=opened]").startswith("1 ")
    assert page.inner_text("[data-testid=machine-opened]").strip() == "0"
    assert page.inner_text("[data-testid=clicks]").strip() == "1"
    row = page.locator("[data-testid=links] tbody tr")
    assert row.count() == 1
    assert target in row.inner_text() and row.locator("[data-count=clicks]").inner_text() == "1"
    assert TrackedLink.objects.get(mailing=mailing).url == target
    wait_until(page, "document.querySelector('[data-engagement-chart]').dataset.state === 'ready'")
    figure = page.locator("[data-engagement-chart]")
    assert figure.get_attribute("data-opens") == "1" and figure.get_attribute("data-clicks") == "1"
