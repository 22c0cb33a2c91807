"""An owner's audience work in a real browser (browser test; R-AUD-1, R-AUD-2): import a CSV with a tags
column, send a daily mailing to a tag, put a new client on the tag and see them get the next day's
occurrence, then send to everyone subscribed — through a real SMTP server on loopback."""

import datetime as dt

import pytest
from django.utils import timezone

from backend.mailings.models import Client, Mailing, Message, Tag
from backend.mailings.sending import send_due
from tests.factories import DEFAULT_PASSWORD, UserFactory

from .test_owner_flow import record_errors

pytestmark = [pytest.mark.django_db(transaction=True, serialized_rollback=True), pytest.mark.slow]
CLIENTS_CSV = (
    "email;full name;comment;tags\n"
    "anna@example.org;Anna Petrova;;VIP, news\n"
    "boris@example.org;Boris Ivanov;;news\n"
    "vera@example.org;Vera Smirnova;;\n"
)


def sent_to(smtp) -> list[str]:
    recipients = sorted(r for item in smtp.received for r in item.rcpt_tos)
    smtp.received.clear()
    return recipients


def new_mailing(
    page, live_server, owner, message, *, periodicity: str, audience: str, tag: Tag | None = None
):
    page.goto(live_server.url + "/mailings/new/")
    page.select_option("#id_message", str(message.pk))
    now = timezone.localtime(timezone.now(), owner.tz)
    page.fill("#id_start_at", (now - dt.timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M"))
    page.fill("#id_end_at", (now + dt.timedelta(days=10)).strftime("%Y-%m-%dT%H:%M"))
    page.select_option("#id_periodicity", periodicity)
    page.check(f"#audience-{audience}")
    if tag is not None:
        page.check(f"#tag-{tag.pk}")
    page.click("[data-testid=mailing-form] button[type=submit]")
    page.wait_for_url(lambda url: "/new/" not in url)
    return Mailing.objects.filter(owner=owner).latest("pk")


def test_import_with_tags_send_to_a_tag_tag_a_newcomer_then_send_to_everyone(
    live_server, page, smtp, tmp_path
):
    errors = record_errors(page)
    owner = UserFactory(email="shop@example.com")
    message = Message.objects.create(owner=owner, subject="News for {first_name}", body="Hello {full_name}")
    page.goto(live_server.url + "/accounts/login/")
    page.fill("#id_username", owner.email)
    page.fill("#id_password", DEFAULT_PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(lambda url: "/accounts/login/" not in url)

    # Import: the tags column creates VIP and news and puts them on their clients.
    page.goto(live_server.url + "/clients/import/")
    csv_file = tmp_path / "clients.csv"
    csv_file.write_text(CLIENTS_CSV, encoding="utf-8")
    page.set_input_files("#id_file", str(csv_file))
    page.click("main button[type=submit]")
    assert "3 added" in page.inner_text("main")
    vip = Tag.objects.get(owner=owner, name="VIP")
    page.goto(live_server.url + "/tags/")
    assert "VIP" in page.inner_text("main") and "news" in page.inner_text("main")

    # A daily mailing to the VIP tag: the first occurrence goes to Anna only.
    mailing = new_mailing(page, live_server, owner, message, periodicity="daily", audience="tags", tag=vip)
    assert mailing.audience == Mailing.Audience.TAGS
    assert (
        page.inner_text("[data-testid=audience-size]").split()[0] == "1"
    )  # Anna: Boris and Vera are not VIP
    now = timezone.now()
    send_due(now=now)
    assert sent_to(smtp) == ["anna@example.org"]

    # A newcomer, added by hand and put on the tag from the client list's bulk form.
    page.goto(live_server.url + "/clients/new/")
    page.fill("#id_email", "gleb@example.org")
    page.fill("#id_full_name", "Gleb Kuznetsov")
    page.click("main button[type=submit]")
    gleb = Client.objects.get(owner=owner, email="gleb@example.org")
    page.goto(live_server.url + "/clients/?q=gleb")
    page.check(f"input[name=clients][value='{gleb.pk}']")
    page.select_option("#id_bulk_action", "add")
    page.select_option("#id_bulk_tag", str(vip.pk))
    page.click("[data-testid=bulk-tags] button[type=submit]")
    assert gleb.tags.filter(pk=vip.pk).exists()

    # The next day's occurrence reads the audience again: Anna and the newcomer.
    send_due(now=now + dt.timedelta(days=1))
    assert sent_to(smtp) == ["anna@example.org", "gleb@example.org"]

    # And a one-off to everyone subscribed.
    new_mailing(page, live_server, owner, message, periodicity="once", audience="everyone")
    send_due(now=timezone.now())
    assert sent_to(smtp) == ["anna@example.org", "boris@example.org", "gleb@example.org", "vera@example.org"]
    assert errors == []
