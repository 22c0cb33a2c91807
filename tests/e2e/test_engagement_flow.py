"""Issue's "done when" for R-ENG-1..4 in a real browser: a sign-up form's snippet pasted into a static page
on another origin subscribes an address; the confirmation mail comes; the confirmed client appears with
the form's tags; a mailing to that tag, sent by the engine to a real SMTP server, is opened and a link in it
clicked in the browser, and the report shows one open and one click on that link; the client's data is
exported and the client erased."""

import datetime as dt
import functools
import http.server
import json
import re
import threading
from pathlib import Path

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from backend.mailings.models import Client, Consent, Delivery, EngagementEvent, Mailing, Suppression
from backend.mailings.sending import send_due
from backend.mailings.tracking import buffer
from backend.web import tracking
from tests.factories import MessageFactory, TagFactory, UserFactory

from .test_owner_pages_polish import log_in
from .waiting import wait_until

pytestmark = [pytest.mark.django_db(transaction=True, serialized_rollback=True), pytest.mark.slow]


@pytest.fixture
def other_origin(tmp_path):
    """A static web server on another origin (127.0.0.1 and its own port; the live server is localhost)."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield tmp_path, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_subscribe_from_another_site_open_click_export_and_erase_R_ENG_1_to_4(
    live_server, browser, page, smtp, settings, other_origin
):
    settings.SITE_URL = live_server.url
    tracking._links.clear()
    site_dir, site_url = other_origin
    owner = UserFactory(time_zone="UTC")
    TagFactory(owner=owner, name="Newsletter")

    # The owner makes a sign-up form that tags subscribers "Newsletter".
    log_in(page, live_server, owner)
    page.goto(live_server.url + "/signup-forms/new/")
    page.fill("#id_name", "Shop footer")
    page.fill("#id_title", "Our newsletter")
    page.fill("#id_consent_text", "I agree to get the shop's newsletter.")
    page.fill("#id_thank_you_text", "Thank you, you are subscribed!")
    page.get_by_label("Newsletter").check()
    page.click("main form button[type=submit]")
    snippet = page.locator("#signup-snippet").input_value()
    assert f'action="{live_server.url}/subscribe/' in snippet

    # A visitor on the owner's own site (another origin) subscribes through the pasted snippet.
    (site_dir / "index.html").write_text(f"<!doctype html><title>Shop</title><body>{snippet}</body>")
    visitor = browser.new_context().new_page()
    visitor.goto(site_url + "/index.html")
    visitor.fill("input[name=email]", "reader@example.org")
    visitor.fill("input[name=full_name]", "Rea Der")
    visitor.click("button[type=submit]")
    expect(visitor.locator("[data-testid=signup-sent]")).to_be_visible()
    assert not Client.objects.filter(email="reader@example.org").exists()  # nothing before confirmation
    # EMAIL_HOST points at the test's SMTP server: the confirmation went through it.
    (confirmation,) = smtp.received
    smtp.received.clear()
    assert confirmation.rcpt_tos == ["reader@example.org"]
    text = confirmation.message.get_payload(decode=True).decode()
    link = re.search(r"https?://\S+/subscribe/\S+/confirm/\S+/", text).group(0)
    visitor.goto(link)
    visitor.click("[data-testid=confirm-button]")
    expect(visitor.locator("[data-testid=confirmed]")).to_contain_text("Thank you, you are subscribed!")
    reader = Client.objects.get(owner=owner, email="reader@example.org")
    consent = Consent.objects.get(client=reader)
    assert consent.text == "I agree to get the shop's newsletter." and consent.form.name == "Shop footer"

    page.goto(live_server.url + "/clients/")
    row = page.locator("main table tbody tr", has_text="reader@example.org")
    expect(row).to_contain_text("Newsletter")

    # A mailing to the tag, sent by the engine; the reader opens it and clicks its link.
    target = f"{site_url}/index.html"
    message = MessageFactory(
        owner=owner,
        subject="News",
        body=f"Read it: {target}",
        html_body=f'<p>Hello {{first_name}}</p><p><a id="read" href="{target}">Our shop</a></p>',
    )
    now = dt.datetime.now(dt.UTC)
    mailing = Mailing.objects.create(
        owner=owner,
        message=message,
        audience=Mailing.Audience.TAGS,
        start_at=now - dt.timedelta(minutes=1),
        end_at=now + dt.timedelta(days=1),
        next_run_at=now - dt.timedelta(minutes=1),
        time_zone="UTC",
    )
    mailing.tags.set(owner.tags.filter(name="Newsletter"))
    assert send_due().sent == 1
    (received,) = smtp.received
    html = next(
        part.get_payload(decode=True).decode()
        for part in received.message.walk()
        if part.get_content_type() == "text/html"
    )
    Delivery.objects.update(sent_at=now - dt.timedelta(minutes=5))  # read a while after it arrived
    reader_page = browser.new_context().new_page()
    agent = reader_page.evaluate("navigator.userAgent").replace("HeadlessChrome", "Chrome")
    reader_page.set_extra_http_headers({"User-Agent": agent})
    with reader_page.expect_response(lambda response: "/t/o/" in response.url):
        reader_page.set_content(html)
    reader_page.click("#read")
    reader_page.wait_for_url(target)
    buffer.drain()
    page.goto(live_server.url + reverse("mailings:report", args=[mailing.pk]))
    assert page.inner_text("[data-testid=opened]").startswith("1 ")
    assert page.inner_text("[data-testid=clicks]").strip() == "1"
    links = page.locator("[data-testid=links] tbody tr")
    expect(links).to_have_count(1)
    assert target in links.inner_text() and links.locator("[data-count=clicks]").inner_text() == "1"
    wait_until(page, "document.querySelector('[data-engagement-chart]').dataset.state === 'ready'")

    # The person asks for their data, then to be forgotten.
    page.goto(live_server.url + f"/clients/{reader.pk}/edit/")
    with page.expect_download() as download:
        page.click("[data-testid=data-export]")
    exported = json.loads(Path(download.value.path()).read_text(encoding="utf-8"))
    assert exported["client"]["email"] == "reader@example.org"
    assert exported["tags"] == ["Newsletter"]
    assert exported["consents"][0]["text_shown"] == "I agree to get the shop's newsletter."
    (delivery,) = exported["deliveries"]
    assert len(delivery["opens"]) == 1
    assert [click["url"] for click in delivery["clicks"]] == [target]
    page.click("[data-testid=erase]")
    page.click("[data-testid=erase-submit]")
    expect(page.locator("main")).to_contain_text("only a hash of the address is kept")
    assert not Client.objects.filter(email__iexact="reader@example.org").exists()
    assert not Delivery.objects.exists() and not EngagementEvent.objects.exists()
    assert not Consent.objects.exists()
    assert Suppression.objects.filter(owner=owner).count() == 1
