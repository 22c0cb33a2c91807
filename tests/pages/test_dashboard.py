"""The owner's dashboard: counts, next sends in the owner's time zone, recent failures, empty
states, and where login lands."""

import datetime as dt

import pytest
from django.urls import NoReverseMatch, reverse

from backend.mailings.sending import send_due
from tests.factories import DEFAULT_PASSWORD, ClientFactory, MailingFactory, MessageFactory, UserFactory
from tests.pages_helpers import assert_refused_page, queries_for, refused_accounts
from tests.sending_helpers import due_mailing

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner(client):
    user = UserFactory(time_zone="Asia/Tokyo")
    client.force_login(user)
    return user


def test_a_new_owner_sees_what_to_do_next(client, owner):
    response = client.get(reverse("web:dashboard"))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-testid="next-steps"' in html
    assert "Add your first client" in html and reverse("clients:new") in html
    assert "Import a CSV" in html and reverse("clients:import") in html
    assert "Write your first message" in html and reverse("messages:new") in html
    assert 'data-testid="no-next-sends"' in html
    assert 'data-testid="no-failures"' in html
    assert "Times in your time zone, Asia/Tokyo" in html


def test_counts_are_the_owners_own(client, owner):
    ClientFactory.create_batch(3, owner=owner)
    ClientFactory(owner=owner, unsubscribed_at=dt.datetime(2030, 1, 1, tzinfo=dt.UTC))
    message = MessageFactory(owner=owner)
    MailingFactory(owner=owner, message=message)
    MailingFactory(owner=owner, message=message, status="started")
    MailingFactory(owner=owner, message=message, status="completed")
    ClientFactory.create_batch(2)  # another owner's
    MailingFactory()
    response = client.get(reverse("web:dashboard"))
    board = response.context["dashboard"]
    assert (board.clients, board.subscribed_clients, board.messages) == (4, 3, 1)
    assert (board.mailings_created, board.mailings_started, board.mailings_completed) == (1, 1, 1)
    html = response.content.decode()
    assert 'data-testid="clients">4<' in html
    assert 'data-testid="messages">1<' in html
    assert "3 subscribed" in html
    assert "1 created" in html and "1 started" in html and "1 completed" in html
    assert 'data-testid="next-steps"' not in html


def test_next_sends_are_shown_in_the_owners_time_zone(client, owner):
    """Stored in UTC, shown in the owner's zone (Asia/Tokyo is UTC+9)."""
    when = dt.datetime(2031, 3, 4, 12, 0, tzinfo=dt.UTC)
    MailingFactory(
        owner=owner,
        message=MessageFactory(owner=owner, subject="Spring sale"),
        start_at=when,
        end_at=when + dt.timedelta(days=1),
        next_run_at=when,
    )
    MailingFactory(next_run_at=when)  # another owner's
    html = client.get(reverse("web:dashboard")).content.decode()
    assert '<time datetime="2031-03-04T21:00:00+09:00">' in html
    assert "Spring sale" in html
    assert html.count("<time ") == 1


def test_recent_failures_show_the_servers_answer(client, owner, smtp):
    mailing = due_mailing(owner=owner, clients=2)
    refused = mailing.clients.order_by("pk").first()
    smtp.set(reject={refused.email})
    send_due()
    response = client.get(reverse("web:dashboard"))
    html = response.content.decode()
    [failure] = response.context["dashboard"].recent_failures
    assert failure.email == refused.email
    assert refused.email in html
    assert "the recipient&#x27;s address was refused" in html  # what the server said, classified
    assert "Recipient address rejected" not in html  # its own words are for superusers
    assert 'data-testid="sent">1<' in html and 'data-testid="failed">1<' in html
    try:
        report = reverse("mailings:report", args=[mailing.pk])
    except NoReverseMatch:  # the report page is optional for this check
        return
    assert f'href="{report}?status=failed&amp;occurrence={failure.occurrence_id}"' in html


def test_dashboard_query_count_does_not_grow_with_data(client, owner, smtp):
    def add(clients: int) -> None:
        mailing = due_mailing(owner=owner, clients=clients)
        smtp.set(reject={client.email for client in mailing.clients.all()})
        send_due()

    add(2)
    few = queries_for(client, reverse("web:dashboard"))
    add(20)
    ClientFactory.create_batch(50, owner=owner)
    many = queries_for(client, reverse("web:dashboard"))
    assert few == many


def test_anonymous_visitors_go_to_the_login_page(client):
    response = client.get(reverse("web:dashboard"))
    assert response.status_code == 302
    assert response.url == reverse("accounts:login") + "?next=" + reverse("web:dashboard")


def test_managers_and_content_editors_get_a_403_page_R_AUTH_5(client):
    ClientFactory(email="someone@example.org")
    for user in refused_accounts().values():
        client.force_login(user)
        response = client.get(reverse("web:dashboard"))
        assert_refused_page(response)
        html = response.content.decode()
        assert f'href="{reverse("web:dashboard")}"' not in html  # no owner links in their navbar


def test_the_navbar_links_to_the_dashboard(client, owner):
    html = client.get(reverse("clients:list")).content.decode()
    assert f'href="{reverse("web:dashboard")}"' in html


# --- where login lands ----------------------------------------------------------------------------------


def _log_in(client, email: str, next_url: str = ""):
    url = reverse("accounts:login") + (f"?next={next_url}" if next_url else "")
    return client.post(url, {"username": email, "password": DEFAULT_PASSWORD})


def test_an_owner_lands_on_the_dashboard_after_login(client):
    user = UserFactory()
    response = _log_in(client, user.email)
    assert response.status_code == 302
    assert response.url == reverse("web:dashboard")


def test_login_keeps_next(client):
    user = UserFactory()
    response = _log_in(client, user.email, reverse("messages:list"))
    assert response.url == reverse("messages:list")


def test_managers_land_on_their_dashboard_and_content_editors_on_the_home_page(client):
    """A manager's dashboard is /manager/; a content editor has neither dashboard."""
    landing = {"manager": reverse("web:manager"), "content editor": reverse("web:home")}
    for role, user in refused_accounts().items():
        client.logout()
        response = _log_in(client, user.email)
        assert response.status_code == 302
        assert response.url == landing[role], role
