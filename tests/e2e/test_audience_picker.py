"""The mailing form's clients picker in a real browser (R-AUD-3): search-as-you-type through /graphql/,
picked clients as removable chips with a count, and only the changes saved — on create and on edit."""

import datetime as dt

import pytest
from django.utils import timezone

from backend.mailings.models import Client, Mailing
from tests.factories import DEFAULT_PASSWORD, ClientFactory, MailingFactory, MessageFactory, UserFactory

from .waiting import wait_until

pytestmark = [pytest.mark.django_db(transaction=True, serialized_rollback=True), pytest.mark.slow]

RESULTS = "document.querySelectorAll('[data-picker-results] [data-result]').length"


def log_in(page, live_server, user) -> None:
    page.goto(live_server.url + "/accounts/login/")
    page.fill("#id_username", user.email)
    page.fill("#id_password", DEFAULT_PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(lambda url: "/accounts/login/" not in url)


def search(page, text: str, count: int) -> None:
    page.fill("[data-picker-search]", text)
    wait_until(
        page,
        f"{RESULTS} === {count} && document.querySelector('[data-picker-results]').textContent"
        f".toLowerCase().includes({text!r})",
    )


def chip(page, email: str):
    return page.locator("[data-chip]:visible", has_text=email)


def test_pick_two_clients_remove_one_save_then_edit_by_changes(live_server, page):
    owner = UserFactory()
    message = MessageFactory(owner=owner, subject="Picked news")
    Client.objects.bulk_create(
        Client(owner=owner, email=f"reader{n:03}@example.org", full_name=f"Reader {n:03}") for n in range(60)
    )
    anna = ClientFactory(owner=owner, email="anna@example.org", full_name="Anna Alpha")
    boris = ClientFactory(owner=owner, email="boris@example.org", full_name="Boris Beta")
    carl = ClientFactory(owner=owner, email="carl@example.org", full_name="Carl Gamma")
    ClientFactory(email="anna.elsewhere@example.org", full_name="Anna Elsewhere")  # another owner's
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    log_in(page, live_server, owner)

    page.goto(live_server.url + "/mailings/new/")
    # The form starts at everyone: the picker is hidden until "chosen clients" is picked.
    assert page.locator("[data-testid=client-picker]").is_hidden()
    page.select_option("#id_message", str(message.pk))
    start = timezone.localtime(timezone.now(), owner.tz) + dt.timedelta(days=1)
    page.fill("#id_start_at", start.strftime("%Y-%m-%dT%H:%M"))
    page.fill("#id_end_at", (start + dt.timedelta(days=30)).strftime("%Y-%m-%dT%H:%M"))
    page.select_option("#id_periodicity", "weekly")
    page.check("#audience-clients")
    # One page of results, never the whole list, with a way to the next.
    wait_until(page, f"{RESULTS} === 20")
    assert page.is_visible("[data-picker-more]")
    assert "63 clients match." in page.inner_text("[data-picker-total]")

    search(page, "anna", 1)
    page.click("[data-picker-results] [data-result] button")
    search(page, "boris", 1)
    page.click("[data-picker-results] [data-result] button")
    assert page.inner_text("[data-picker-count]") == "2"
    assert chip(page, "anna@example.org").count() == 1
    chip(page, "anna@example.org").locator("button").click()
    assert chip(page, "anna@example.org").count() == 0
    assert page.inner_text("[data-picker-count]") == "1"
    page.click("[data-testid=mailing-form] button[type=submit]")
    page.wait_for_url(lambda url: "/edit" not in url and "/new" not in url)
    mailing = Mailing.objects.get(owner=owner)
    assert mailing.audience == "clients"
    assert list(mailing.clients.all()) == [boris]

    # Edit: the mailing's own chip is removed, another client added; only the changes are sent.
    page.goto(f"{live_server.url}/mailings/{mailing.pk}/edit/")
    assert page.inner_text("[data-picker-count]") == "1"
    chip(page, "boris@example.org").locator("button").click()
    search(page, "carl", 1)
    page.click("[data-picker-results] [data-result] button")
    assert page.inner_text("[data-picker-count]") == "1"
    posted = []
    page.on("request", lambda r: r.method == "POST" and "/edit/" in r.url and posted.append(r.post_data))
    page.click("[data-testid=mailing-form] button[type=submit]")
    page.wait_for_url(lambda url: "/edit" not in url)
    assert list(mailing.clients.all()) == [carl]
    assert f"clients_removed={boris.pk}" in posted[0] and f"clients_added={carl.pk}" in posted[0]
    assert "clients_matching=&" not in posted[0]  # the search is not sent unless asked for
    assert anna.mailings.count() == 0
    assert errors == []


def test_the_edit_page_shows_more_of_a_mailings_chosen_clients_on_demand_and_removes_one(live_server, page):
    owner = UserFactory()
    clients = Client.objects.bulk_create(
        Client(owner=owner, email=f"reader{n:03}@example.org", full_name=f"Reader {n:03}") for n in range(45)
    )
    mailing = MailingFactory(owner=owner, audience="clients", clients=clients)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    log_in(page, live_server, owner)
    page.goto(f"{live_server.url}/mailings/{mailing.pk}/edit/")
    assert page.locator("[data-chip]:visible").count() == 20
    assert page.inner_text("[data-picker-count]") == "45"
    page.click("[data-picker-chosen-more]")
    wait_until(page, "document.querySelectorAll('[data-chip]').length === 45")
    assert page.is_hidden("[data-picker-chosen-more]")
    chip(page, "reader040@example.org").locator("button").click()
    assert page.inner_text("[data-picker-count]") == "44"
    page.click("[data-testid=mailing-form] button[type=submit]")
    page.wait_for_url(lambda url: "/edit" not in url)
    assert mailing.clients.count() == 44
    assert not mailing.clients.filter(email="reader040@example.org").exists()
    assert errors == []
