"""The message pages (issue 11 §3): list, write, edit, delete, preview, test send (R-AUTH-4)."""

import pytest
from django.urls import reverse

from backend.mailings.models import Message
from tests.factories import MailingFactory, MessageFactory, UserFactory
from tests.pages_helpers import assert_refused_page, queries_for, refused_accounts

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner(client):
    user = UserFactory()
    client.force_login(user)
    return user


def _id_urls(pk: int) -> list[str]:
    return [reverse("messages:edit", args=[pk]), reverse("messages:delete", args=[pk])]


# --- list -----------------------------------------------------------------------------------------------


def test_list_shows_only_the_owners_messages_with_their_mailing_counts_R_AUTH_4(client, owner):
    mine = MessageFactory(owner=owner, subject="My spring news")
    MailingFactory(owner=owner, message=mine)
    MailingFactory(owner=owner, message=mine)
    MessageFactory(subject="Their autumn news")
    response = client.get(reverse("messages:list"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "My spring news" in html
    assert "Their autumn news" not in html
    [row] = response.context["table"]["rows"]
    assert dict((column.key, value) for column, value in row["cells"])["mailings"] == 2


def test_empty_list_says_what_to_do_next(client, owner):
    html = client.get(reverse("messages:list")).content.decode()
    assert 'data-testid="empty-state"' in html
    assert "Write the first one" in html


def test_search_and_sort(client, owner):
    MessageFactory(owner=owner, subject="Apples", body="red fruit")
    MessageFactory(owner=owner, subject="Bananas", body="yellow fruit")
    html = client.get(reverse("messages:list"), {"q": "yellow"}).content.decode()
    assert "Bananas" in html and "Apples" not in html
    html = client.get(reverse("messages:list"), {"sort": "-subject"}).content.decode()
    assert html.index("Bananas") < html.index("Apples")
    html = client.get(reverse("messages:list"), {"sort": "subject"}).content.decode()
    assert html.index("Apples") < html.index("Bananas")


def test_list_query_count_does_not_grow_with_rows(client, owner):
    """Issue 11: the same SQL count for 5 and for 100 messages (the mailing counts are one annotation)."""
    for message in MessageFactory.create_batch(5, owner=owner):
        MailingFactory(owner=owner, message=message)
    few = queries_for(client, reverse("messages:list"))
    for message in MessageFactory.create_batch(95, owner=owner):
        MailingFactory(owner=owner, message=message)
    many = queries_for(client, reverse("messages:list"))
    assert few == many


# --- write / edit / delete -----------------------------------------------------------------------------


def test_write_a_message_through_the_form(client, owner):
    assert client.get(reverse("messages:new")).status_code == 200
    response = client.post(
        reverse("messages:new"),
        {"subject": "Hello {first_name}", "body": "Dear {full_name}, news.", "html_body": "<p>News</p>"},
        follow=True,
    )
    assert response.status_code == 200
    message = Message.objects.get(owner=owner)
    assert (message.subject, message.body, message.html_body) == (
        "Hello {first_name}",
        "Dear {full_name}, news.",
        "<p>News</p>",
    )
    assert "saved" in response.content.decode()


def test_an_unknown_placeholder_keeps_what_was_typed_and_saves_nothing(client, owner):
    response = client.post(
        reverse("messages:new"), {"subject": "Hi {nme}", "body": "Typed body", "html_body": ""}
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "Unknown placeholder: {nme}" in html
    assert 'value="Hi {nme}"' in html
    assert "Typed body</textarea>" in html
    assert not Message.objects.exists()


def test_edit_a_message(client, owner):
    message = MessageFactory(owner=owner, subject="Old subject")
    assert 'value="Old subject"' in client.get(reverse("messages:edit", args=[message.pk])).content.decode()
    response = client.post(
        reverse("messages:edit", args=[message.pk]),
        {"subject": "New subject", "body": "New body", "html_body": ""},
    )
    assert response.status_code == 302
    message.refresh_from_db()
    assert (message.subject, message.body) == ("New subject", "New body")


def test_delete_an_unused_message(client, owner):
    message = MessageFactory(owner=owner)
    page = client.get(reverse("messages:delete", args=[message.pk]))
    assert 'data-testid="delete-confirmation"' in page.content.decode()
    response = client.post(reverse("messages:delete", args=[message.pk]))
    assert response.status_code == 302
    assert not Message.objects.filter(pk=message.pk).exists()


def test_a_message_in_use_is_not_deleted_and_the_page_says_why(client, owner):
    """The service refuses (code message_in_use); the page shows its message and keeps the message."""
    message = MessageFactory(owner=owner)
    MailingFactory(owner=owner, message=message)
    assert (
        "1 mailing uses this message"
        in client.get(reverse("messages:delete", args=[message.pk])).content.decode()
    )
    response = client.post(reverse("messages:delete", args=[message.pk]))
    assert response.status_code == 409
    html = response.content.decode()
    assert "This message is used by 1 mailing; delete or change it first." in html
    assert 'class="alert alert-danger' in html
    assert Message.objects.filter(pk=message.pk).exists()


# --- who may -------------------------------------------------------------------------------------------


def test_another_owners_message_is_a_404_like_a_missing_one_R_AUTH_4(client, owner):
    theirs = MessageFactory(subject="Theirs", body="Their body")
    missing = theirs.pk + 1000
    for url in _id_urls(theirs.pk):
        assert client.get(url).status_code == 404, url
        assert client.post(url, {"subject": "Hijacked", "body": "x"}).status_code == 404, url
    for url in _id_urls(missing):
        assert client.get(url).status_code == 404, url
    theirs.refresh_from_db()
    assert (theirs.subject, theirs.body) == ("Theirs", "Their body")


def test_anonymous_visitors_go_to_the_login_page(client):
    message = MessageFactory()
    for url in [reverse("messages:list"), reverse("messages:new"), *_id_urls(message.pk)]:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response.url.startswith(reverse("accounts:login") + "?next=")
    client.post(reverse("messages:delete", args=[message.pk]))
    assert Message.objects.filter(pk=message.pk).exists()


def test_managers_and_content_editors_get_a_403_page_R_AUTH_5(client):
    someone = MessageFactory(subject="Someone's secret plan")
    for role, user in refused_accounts().items():
        client.force_login(user)
        for url in [reverse("messages:list"), reverse("messages:new"), *_id_urls(someone.pk)]:
            response = client.get(url)
            assert_refused_page(response)
            assert "secret plan" not in response.content.decode(), (role, url)
        assert client.post(reverse("messages:new"), {"subject": "S", "body": "B"}).status_code == 403
        assert client.post(reverse("messages:delete", args=[someone.pk])).status_code == 403
    assert list(Message.objects.values_list("subject", flat=True)) == ["Someone's secret plan"]
