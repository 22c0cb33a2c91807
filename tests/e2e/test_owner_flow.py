"""The whole job an owner comes for, in a real browser (browser test): sign up, confirm by the link
in the mail, import clients, write and preview a message, create a mailing that starts now, watch the live
progress bar while the scheduler's pass sends it to a real SMTP server on loopback that refuses one address
with 550, read the report and its chart, retry the failed delivery and see its second attempt in the log.
"""

import datetime as dt
import re
import threading

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.utils import timezone

from backend.mailings.models import Delivery, Mailing, Message
from backend.mailings.sending import send_due
from backend.web.moments import moment_text
from tests.factories import DEFAULT_PASSWORD, UserFactory
from tests.helpers import deliver_account_mail
from tests.sending_helpers import due_mailing

from .waiting import wait_until

# serialized_rollback: the migrations' data (Wagtail tree, blog, roles) survive the flushes between tests.
pytestmark = [pytest.mark.django_db(transaction=True, serialized_rollback=True), pytest.mark.slow]
PASSWORD = "plum-Orchard-47-lantern"
EMAIL = "owner.flow@example.com"
REFUSED = "nobody@example.net"
CLIENTS_CSV = (
    "email;full name;comment\n"
    "anna@example.org;Anna Petrova;met at the fair\n"
    "boris@example.org;Boris Ivanov;\n"
    f"{REFUSED};Nobody Home;bounces\n"
)


def record_errors(page) -> list[str]:
    """Uncaught exceptions in the page's scripts from now on."""
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return errors


def scheduler_pass_in_background() -> threading.Thread:
    """What `runapscheduler` does every few seconds: one `send_due()` pass, in its own thread and database
    connection, while the browser keeps polling the live server."""

    def run():
        try:
            send_due()
        finally:
            connection.close()

    thread = threading.Thread(target=run, name="scheduler-pass")
    thread.start()
    return thread


def path_of(url: str) -> str:
    return "/" + url.split("://", 1)[1].split("/", 1)[1]


def test_owner_signs_up_imports_sends_watches_progress_reads_the_report_and_retries(
    live_server, page, smtp, tmp_path
):
    """R-AUTH-2, R-DATA-1..4, R-UI-1/3/9, R-SEND-1/4/5, R-API-1 (the page's live parts run on /graphql/)."""
    errors = record_errors(page)
    smtp.set(reject={REFUSED})

    # Sign up and confirm by the link in the received mail.
    page.goto(live_server.url + "/accounts/signup/")
    page.fill("#id_email", EMAIL)
    page.fill("#id_full_name", "Olga Owner")
    page.fill("#id_password1", PASSWORD)
    page.click("main button[type=submit]")
    assert "Check your email" in page.inner_text("h1")
    # The scheduler's pass sends it, here over SMTP to the fake server (EMAIL_HOST is set).
    deliver_account_mail()
    body = smtp.received.pop().message.get_payload(decode=True).decode()
    assert smtp.received == []  # the checks below count the mailing's messages only
    link = re.search(r"https?://\S+/accounts/verify/\S+/", body).group(0)
    page.goto(live_server.url + path_of(link))
    # The browser that signed up confirms with a button and is signed in (the password typed once).
    page.click("[data-testid=confirm-email]")
    assert f"{EMAIL} is confirmed" in page.inner_text("main")
    owner = get_user_model().objects.get(email=EMAIL)

    # Import three clients from a CSV file.
    page.click("nav >> text=Clients")
    page.click("main >> text=Import CSV")
    csv_file = tmp_path / "clients.csv"
    csv_file.write_text(CLIENTS_CSV, encoding="utf-8")
    page.set_input_files("#id_file", str(csv_file))
    page.click("main button[type=submit]")
    assert "3 added" in page.inner_text("main")

    # Write a message, then preview it for a client.
    page.goto(live_server.url + "/messages/new/")
    page.fill("#id_subject", "Autumn news for {first_name}")
    page.fill("#id_body", "Dear {full_name},\n\nthe orchard is open again.")
    page.click("main button[type=submit]")
    message = Message.objects.get(owner=owner)
    page.goto(f"{live_server.url}/messages/{message.pk}/preview/")
    assert re.match(r"Autumn news for \w+", page.inner_text("[data-testid=preview-subject]"))
    assert "the orchard is open again." in page.inner_text("[data-testid=preview-text]")

    # Create a mailing that starts now, choosing every client with the picker: "add every client matching"
    # a search, then one more client found by another search (R-AUD-3).
    page.click("nav >> text=Mailings")
    page.click("main >> text=New mailing")
    page.select_option("#id_message", str(message.pk))
    now = timezone.localtime(timezone.now(), owner.tz)
    page.fill("#id_start_at", (now - dt.timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M"))
    page.fill("#id_end_at", (now + dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M"))
    page.select_option("#id_periodicity", "once")
    page.check("#audience-clients")
    page.fill("[data-picker-search]", "example.org")
    wait_until(page, "document.querySelectorAll('[data-picker-results] [data-result]').length === 2")
    page.click("[data-picker-add-matching]")
    assert "example.org" in page.inner_text("[data-picker-matching-note]")
    page.fill("[data-picker-search]", "nobody")
    wait_until(page, "document.querySelectorAll('[data-picker-results] [data-result]').length === 1")
    page.click("[data-picker-results] [data-result] button")
    assert page.inner_text("[data-picker-count]") == "1"
    page.click("[data-testid=mailing-form] button[type=submit]")
    mailing = Mailing.objects.get(owner=owner)
    assert mailing.clients.count() == 3
    progress = page.locator("[data-testid=progress]")
    assert progress.get_attribute("data-state") == "waiting"
    assert smtp.received == []  # nothing is sent inside a request

    # The scheduler's pass runs while the page is open; the bar follows it to the end through /graphql/.
    graphql_posts: list[str] = []
    page.on(
        "request",
        lambda r: r.method == "POST" and r.url.endswith("/graphql/") and graphql_posts.append(r.url),
    )
    scheduler = scheduler_pass_in_background()
    page.wait_for_selector("[data-testid=progress][data-state=done]", timeout=30_000)
    scheduler.join(timeout=30)
    assert not scheduler.is_alive()
    assert graphql_posts
    assert page.inner_text("[data-progress-count=sent]") == "2"
    assert page.inner_text("[data-progress-count=failed]") == "1"
    assert page.inner_text("[data-progress-count=waiting]") == "0"
    assert page.locator("[data-progress-part=sent]").get_attribute("aria-valuenow") == "67"
    assert page.is_hidden("[data-progress-error]")
    # The script writes the send's time as the server writes every moment (QA: one date presentation).
    with timezone.override(owner.tz):
        scheduled = moment_text(mailing.occurrences.get().scheduled_for)
    assert page.inner_text("[data-progress-when]") == scheduled
    # The header follows the same poll (QA): the once-only mailing is completed and no longer offers a send.
    page.wait_for_selector("[data-mailing-status] [data-status=completed]", state="visible")
    assert page.is_hidden("[data-mailing-status] [data-status=started]")
    assert page.is_hidden("[data-testid=send-now]")
    assert sorted(r for item in smtp.received for r in item.rcpt_tos) == [
        "anna@example.org",
        "boris@example.org",
    ]

    # The report: 2 sent and 1 failed, and a chart drawn from /graphql/ with that data.
    page.click("main >> text=Report")
    row = page.locator("[data-testid=occurrences] tbody tr").first
    assert row.locator("[data-count=sent]").inner_text() == "2"
    assert row.locator("[data-count=failed]").inner_text() == "1"
    page.wait_for_selector("[data-testid=chart][data-state=ready]")
    assert page.is_hidden("[data-chart-error]") and page.is_hidden("[data-chart-loading]")
    datasets = page.evaluate(
        "() => Chart.getChart(document.querySelector('[data-testid=chart] canvas'))"
        ".data.datasets.map(d => [d.label, d.data])"
    )
    assert ["Sent", [2]] in datasets and ["Failed", [1]] in datasets
    labels = page.evaluate(
        "() => Chart.getChart(document.querySelector('[data-testid=chart] canvas')).data.labels"
    )
    assert [", ".join(label) for label in labels] == [scheduled]
    assert scheduled in row.inner_text()
    assert page.evaluate(
        """() => {
            const canvas = document.querySelector('[data-testid=chart] canvas');
            const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
            return canvas.width > 0 && pixels.some((value, index) => index % 4 === 3 && value > 0);
        }"""
    )
    refused_row = page.locator(f"[data-delivery='{REFUSED}']")
    assert "550" in refused_row.inner_text()
    # What the server's answer means; its own words (which name relays) are for superusers.
    assert "the recipient's address was refused" in refused_row.inner_text()
    assert "User unknown" not in refused_row.inner_text()

    # Retry failed once the server accepts the address; the next pass sends it; the log shows both attempts.
    smtp.set(reject=set())
    page.click("[data-testid=retry]")
    assert "queued again" in page.inner_text("main")
    assert Delivery.objects.get(email=REFUSED).status == "pending"
    scheduler = scheduler_pass_in_background()
    scheduler.join(timeout=30)
    page.reload()
    attempts = page.locator(f"[data-delivery='{REFUSED}'] [data-outcome]")
    assert attempts.count() == 2
    assert attempts.nth(0).get_attribute("data-outcome") == "permanent"
    assert attempts.nth(1).get_attribute("data-outcome") == "sent"
    assert "250" in attempts.nth(1).inner_text()
    assert REFUSED in [r for item in smtp.received for r in item.rcpt_tos]
    assert errors == []


def test_live_parts_show_a_retry_message_when_graphql_fails_and_recover(live_server, page, smtp):
    """A failed /graphql/ request shows the page's own retry message, never a blank; the
    progress bar tries again by itself and the chart has a "Try again" button."""
    owner = UserFactory()
    mailing = due_mailing(owner=owner, clients=2)
    errors = record_errors(page)
    page.goto(live_server.url + "/accounts/login/")
    page.fill("#id_username", owner.email)
    page.fill("#id_password", DEFAULT_PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(lambda url: "/accounts/login/" not in url)

    def refuse(route):
        route.fulfill(status=502, body="Bad gateway", content_type="text/plain")

    page.route("**/graphql/", refuse)
    page.goto(f"{live_server.url}/mailings/{mailing.pk}/")
    page.wait_for_selector("[data-progress-error]", state="visible")
    assert "could not be refreshed" in page.inner_text("[data-progress-error]")
    assert page.get_attribute("[data-testid=progress]", "data-state") == "waiting"

    page.unroute("**/graphql/", refuse)
    scheduler = scheduler_pass_in_background()
    scheduler.join(timeout=30)
    page.wait_for_selector("[data-testid=progress][data-state=done]", timeout=30_000)
    assert page.is_hidden("[data-progress-error]")
    assert page.inner_text("[data-progress-count=sent]") == "2"

    page.route("**/graphql/", refuse)
    page.goto(f"{live_server.url}/mailings/{mailing.pk}/report/")
    page.wait_for_selector("[data-testid=chart][data-state=error]")
    assert page.is_visible("[data-chart-error]") and page.is_visible("[data-chart-retry]")
    page.unroute("**/graphql/", refuse)
    page.click("[data-chart-retry]")
    page.wait_for_selector("[data-testid=chart][data-state=ready]")
    assert page.is_hidden("[data-chart-error]")
    assert errors == []
