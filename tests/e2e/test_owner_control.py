"""An owner's first hour in a real browser (R-OWN-1, R-OWN-2): a named one-off mailing made with only a send
time, paused and resumed from its page; the mailing page and the dashboard, opened before the send time,
follow the send when it starts, without a reload."""

import datetime as dt
import re
import time

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from backend.mailings.models import Mailing
from backend.mailings.sending import send_due
from tests.factories import ClientFactory, MessageFactory, UserFactory

from .test_owner_flow import record_errors
from .test_owner_pages_polish import log_in

pytestmark = [pytest.mark.django_db(transaction=True, serialized_rollback=True), pytest.mark.slow]


def test_a_named_one_off_is_paused_and_resumed_from_its_page_R_OWN_1_R_OWN_2(live_server, page, smtp):
    owner = UserFactory(time_zone="UTC")
    MessageFactory(owner=owner, subject="Harvest news")
    ClientFactory(owner=owner)
    ClientFactory(owner=owner)
    log_in(page, live_server, owner)
    page.goto(live_server.url + "/mailings/new/")
    page.fill("#id_name", "Harvest, first wave")
    page.select_option("#id_message", label="Harvest news")
    start = timezone.now() + dt.timedelta(hours=2)
    page.fill("#id_start_at", start.strftime("%Y-%m-%dT%H:%M"))
    page.select_option("#id_periodicity", "once")
    page.click("main form button[type=submit]")
    expect(page.locator("h1")).to_have_text("Harvest, first wave")
    mailing = Mailing.objects.get(owner=owner)
    assert mailing.end_at - mailing.start_at == dt.timedelta(days=1)

    page.click("[data-testid=pause]")
    expect(page.locator("[data-testid=paused]")).to_be_visible()
    expect(page.locator("[data-status-paused]")).to_be_visible()
    # Due now, but paused: the scheduler's pass sends nothing.
    Mailing.objects.filter(pk=mailing.pk).update(start_at=timezone.now() - dt.timedelta(minutes=1))
    Mailing.objects.filter(pk=mailing.pk).update(next_run_at=timezone.now() - dt.timedelta(minutes=1))
    assert send_due().sent == 0
    page.goto(live_server.url + "/mailings/")
    expect(page.get_by_role("link", name="Harvest, first wave")).to_be_visible()
    expect(page.locator("main table")).to_contain_text("paused")

    page.goto(live_server.url + f"/mailings/{mailing.pk}/")
    page.click("[data-testid=resume]")
    expect(page.locator("[data-testid=paused]")).to_have_count(0)
    assert send_due().sent == 2


def test_the_mailing_page_and_dashboard_follow_a_send_that_starts_after_they_opened(
    live_server, browser, page, smtp
):
    owner = UserFactory(time_zone="UTC")
    start = (timezone.now() + dt.timedelta(seconds=8)).replace(microsecond=0)
    mailing = Mailing.objects.create(
        owner=owner,
        message=MessageFactory(owner=owner, subject="Tea time"),
        audience=Mailing.Audience.EVERYONE,
        start_at=start,
        end_at=start + dt.timedelta(days=1),
        periodicity="once",
        next_run_at=start,
        time_zone="UTC",
    )
    ClientFactory(owner=owner)
    ClientFactory(owner=owner)
    log_in(page, live_server, owner)
    dashboard = page.context.new_page()
    dashboard.goto(live_server.url + "/dashboard/")
    expect(dashboard.locator("[data-testid=next-sends]")).to_contain_text("Tea time")
    errors = record_errors(page)
    page.goto(live_server.url + f"/mailings/{mailing.pk}/")
    section = page.locator("[data-testid=progress]")
    expect(section).to_have_attribute("data-state", "none")
    # No reload from here on: the page notices the send time and asks for progress.
    expect(section).to_have_attribute("data-state", "waiting", timeout=20_000)
    while timezone.now() < start:
        time.sleep(0.2)
    assert send_due().sent == 2
    expect(page.locator('[data-progress-count="sent"]')).to_have_text("2", timeout=15_000)
    expect(section).to_have_attribute("data-state", "done", timeout=15_000)
    # The dashboard swapped in its fresh sections: nothing is scheduled any more, two were sent.
    expect(dashboard.locator("[data-testid=no-next-sends]")).to_be_visible(timeout=20_000)
    expect(dashboard.locator("[data-testid=sent]")).to_have_text("2")
    assert errors == []


def test_sign_up_takes_the_browsers_time_zone_and_the_password_once(live_server, browser):
    """The first hour (R-OWN-3): the time zone comes from the browser (Intl), shown for the person to
    confirm; the password is typed once, checked with "Show"; the link confirms in the same browser."""
    from django.contrib.auth import get_user_model

    from tests.helpers import deliver_account_mail

    context = browser.new_context(timezone_id="Asia/Yekaterinburg")
    page = context.new_page()
    page.goto(live_server.url + "/accounts/signup/")
    expect(page.locator("#id_time_zone")).to_have_value("Asia/Yekaterinburg")
    page.fill("#id_email", "zoe@example.com")
    page.fill("#id_password1", "plum-Orchard-47-lantern")
    assert page.locator("#id_password2").count() == 0
    page.click("[data-password-show]")
    expect(page.locator("#id_password1")).to_have_attribute("type", "text")
    page.click("main button[type=submit]")
    expect(page.locator("h1")).to_contain_text("Check your email")
    user = get_user_model().objects.get(email="zoe@example.com")
    assert user.time_zone == "Asia/Yekaterinburg"
    body = deliver_account_mail()[-1].body
    link = re.search(r"https?://\S+(/accounts/verify/\S+/)", body).group(1)
    page.goto(live_server.url + link)
    page.click("[data-testid=confirm-email]")
    expect(page.locator("main")).to_contain_text("zoe@example.com is confirmed")
    expect(page).to_have_url(live_server.url + "/dashboard/")
    expect(page.locator("main")).to_contain_text("Asia/Yekaterinburg")
    context.close()


def test_a_wrong_import_is_undone_from_the_client_list_R_OWN_3(live_server, page):
    """Bulk actions in the browser: every client matching a search deleted after one confirmation, then the
    ticked ones unsubscribed."""
    from backend.mailings.models import Client

    owner = UserFactory()
    for n in range(30):
        ClientFactory(owner=owner, email=f"row{n}@wrong-file.example", full_name=f"Row {n}")
    keep = [
        ClientFactory(owner=owner, email=f"keep{n}@shop.example", full_name=f"Keep {n}") for n in range(2)
    ]
    log_in(page, live_server, owner)
    page.goto(live_server.url + "/clients/?q=wrong-file")
    page.select_option("#id_bulk_action", "delete")
    page.check("#bulk-scope-matching")
    page.click("[data-testid=bulk-apply]")
    expect(page.locator("h1")).to_have_text("Delete 30 clients?")
    assert Client.objects.filter(owner=owner).count() == 32
    page.click("[data-testid=bulk-delete-submit]")
    expect(page.locator("main")).to_contain_text("30 clients deleted.")
    assert set(Client.objects.filter(owner=owner)) == set(keep)

    page.goto(live_server.url + "/clients/")
    page.check(f"input[data-bulk-pick][value='{keep[0].pk}']")
    page.select_option("#id_bulk_action", "unsubscribe")
    page.click("[data-testid=bulk-apply]")
    expect(page.locator("main")).to_contain_text("1 client unsubscribed")
    assert Client.objects.get(pk=keep[0].pk).unsubscribed_at is not None
    assert Client.objects.get(pk=keep[1].pk).unsubscribed_at is None
