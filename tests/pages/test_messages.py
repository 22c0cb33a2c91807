"""The message pages: list, write, edit, delete, preview, test send (R-AUTH-4)."""

import re
from html import unescape

import pytest
from django.urls import reverse

from backend.mailings import services
from backend.mailings.models import Message
from tests.factories import ClientFactory, MailingFactory, MessageFactory, UserFactory
from tests.pages_helpers import assert_refused_page, queries_for, refused_accounts

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner(client):
    user = UserFactory()
    client.force_login(user)
    return user


def _id_urls(pk: int) -> list[str]:
    return [
        reverse("messages:edit", args=[pk]),
        reverse("messages:delete", args=[pk]),
        reverse("messages:preview", args=[pk]),
    ]


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
    """The same SQL count for 5 and for 100 messages (the mailing counts are one annotation)."""
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


def test_a_message_in_use_lists_its_mailings_instead_of_a_delete_button(client, owner):
    """The page knew "2 mailings use this message" and still offered Delete. It lists
    the mailings (links to them) with what to do, and has no Delete button; the service still refuses a
    POST (code message_in_use), and the page then says so."""
    message = MessageFactory(owner=owner)
    daily = MailingFactory(owner=owner, message=message, periodicity="daily")
    once = MailingFactory(owner=owner, message=message)
    MailingFactory(owner=owner)  # another message's mailing is not listed
    html = client.get(reverse("messages:delete", args=[message.pk])).content.decode()
    assert "2 mailings send this message, so it cannot be deleted yet." in html
    blockers = html.split('data-testid="delete-blockers"')[1].split("</ul>")[0]
    assert re.findall(r'<a href="([^"]+)">([^<]+)</a>', blockers) == [
        (reverse("mailings:detail", args=[once.pk]), f"Mailing #{once.pk} (once, created)"),
        (reverse("mailings:detail", args=[daily.pk]), f"Mailing #{daily.pk} (daily, created)"),
    ]
    assert 'type="submit" class="btn btn-danger"' not in html
    response = client.post(reverse("messages:delete", args=[message.pk]))
    assert response.status_code == 409
    html = response.content.decode()
    assert "This message is used by 2 mailings; delete or change them first." in html
    assert 'class="alert alert-danger' in html
    assert 'type="submit" class="btn btn-danger"' not in html
    assert Message.objects.filter(pk=message.pk).exists()


def test_an_unused_message_offers_delete_and_says_no_mailing_uses_it(client, owner):
    message = MessageFactory(owner=owner)
    html = client.get(reverse("messages:delete", args=[message.pk])).content.decode()
    assert "No mailing uses this message." in html
    assert 'type="submit" class="btn btn-danger"' in html
    assert 'data-testid="delete-blockers"' not in html


# --- who may -------------------------------------------------------------------------------------------


def test_another_owners_message_is_a_404_like_a_missing_one_R_AUTH_4(client, owner):
    theirs = MessageFactory(subject="Theirs", body="Their body")
    missing = theirs.pk + 1000
    for url in _id_urls(theirs.pk):
        assert client.get(url).status_code == 404, url
    for url in _id_urls(theirs.pk)[:2]:  # edit and delete take a POST; the preview is read-only
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


# --- preview --------------------------------------------------------------------------------------------


@pytest.fixture
def letter(owner):
    return MessageFactory(
        owner=owner,
        subject="News for {first_name}",
        body="Dear {full_name}, this goes to {email}.",
        html_body='<p onclick="x()">Dear {full_name}</p><script>alert(1)</script>',
    )


def test_preview_fills_the_placeholders_for_the_chosen_client_and_escapes_html(client, owner, letter):
    """Exactly what would be sent (the domain's compose), every part escaped on the page."""
    ClientFactory(owner=owner, email="aaron@example.org", full_name="Aaron First")
    chosen = ClientFactory(owner=owner, email="zoe@example.org", full_name="Zoe <b>Bold</b>")
    response = client.get(reverse("messages:preview", args=[letter.pk]), {"client": chosen.pk})
    assert response.status_code == 200
    html = response.content.decode()
    assert response.context["preview"].subject == "News for Zoe"
    assert 'data-testid="preview-subject">News for Zoe<' in html
    assert "Dear Zoe &lt;b&gt;Bold&lt;/b&gt;, this goes to zoe@example.org." in html
    assert "<b>Bold</b>" not in html
    # The HTML part only ever appears escaped: in the sandboxed frame's srcdoc and as source text.
    assert "<script>alert(1)</script>" not in html
    assert '<p onclick="x()">' not in html
    assert re.search(
        r'<iframe sandbox="" srcdoc="&lt;meta [^"]*&lt;p onclick=&quot;x\(\)&quot;&gt;Dear Zoe', html
    )
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert f'value="{chosen.pk}" selected' in html


def test_the_previewed_html_frame_carries_a_policy_that_fetches_nothing_from_this_site(client, owner, letter):
    """`<img src=x>` in the previewed HTML made the browser ask this site for
    /messages/<id>/preview/x. The frame's document starts with a Content-Security-Policy (https and data:
    images, inline styles, nothing else) and a base on a host that cannot exist, over http, which that
    policy refuses; the browser test checks that no request reaches the site."""
    ClientFactory(owner=owner)
    html = client.get(reverse("messages:preview", args=[letter.pk])).content.decode()
    srcdoc = unescape(re.search(r'<iframe sandbox="" srcdoc="([^"]*)"', html).group(1))
    head = (
        '<meta http-equiv="Content-Security-Policy" '
        "content=\"default-src 'none'; img-src https: data:; style-src 'unsafe-inline'\">"
        '<base href="http://preview.invalid/">'
    )
    assert srcdoc.startswith(head + '<p onclick="x()">Dear ')
    # The source shown below the frame is the message's own HTML, without the page's additions.
    source = unescape(html.split('data-testid="preview-html-source">')[1].split("</pre>")[0])
    assert source.startswith('<p onclick="x()">')


def test_preview_without_a_choice_shows_the_first_client(client, owner, letter):
    ClientFactory(owner=owner, email="b@example.org", full_name="Bob")
    ClientFactory(owner=owner, email="a@example.org", full_name="Ann")
    response = client.get(reverse("messages:preview", args=[letter.pk]))
    assert response.context["preview"].subject == "News for Ann"


def test_preview_client_search_narrows_the_choices(client, owner, letter):
    ClientFactory(owner=owner, email="ann@example.org", full_name="Ann")
    ClientFactory(owner=owner, email="bob@example.org", full_name="Bob")
    response = client.get(reverse("messages:preview", args=[letter.pk]), {"q": "bob"})
    assert [c.full_name for c in response.context["choices"]] == ["Bob"]
    assert response.context["preview"].subject == "News for Bob"


def test_a_nul_character_in_the_preview_search_is_a_form_error_not_a_500(client, owner, letter):
    """The preview's client search is the client list's FilterSet: the same refusal as the list and the
    API, and every client stays to choose from."""
    ClientFactory(owner=owner, email="ann@example.org", full_name="Ann")
    ClientFactory(owner=owner, email="bob@example.org", full_name="Bob")
    response = client.get(reverse("messages:preview", args=[letter.pk]), {"q": "bob\x00"})
    assert response.status_code == 200
    assert "Must not contain null characters." in response.content.decode()
    assert [c.full_name for c in response.context["choices"]] == ["Ann", "Bob"]
    assert response.context["query"] == ""


def test_a_new_search_shows_its_first_match_not_the_client_chosen_before(client, owner, letter):
    """Typing a name in "Find a client" still showed the client chosen before. The
    chosen client is kept while the search finds it; otherwise the search's first match is shown."""
    ann = ClientFactory(owner=owner, email="ann@example.org", full_name="Ann")
    bob = ClientFactory(owner=owner, email="bob@example.org", full_name="Bob")
    url = reverse("messages:preview", args=[letter.pk])
    response = client.get(url, {"q": "bob", "client": ann.pk})
    assert response.context["client"] == bob
    assert response.context["preview"].subject == "News for Bob"
    assert [c.full_name for c in response.context["choices"]] == ["Bob"]
    response = client.get(url, {"q": "example", "client": bob.pk})
    assert response.context["client"] == bob
    html = response.content.decode()
    # Two forms: "Find" sends the search alone; the list sends its choice with the search kept.
    find = html.split('data-testid="find-client"')[1].split("</form>")[0]
    assert 'name="client"' not in find and 'name="q"' in find
    choose = html.split('data-testid="choose-client"')[1].split("</form>")[0]
    assert '<input type="hidden" name="q" value="example">' in choose


@pytest.mark.parametrize("chosen", ["abc", "", "-1", "1.5", "99999999999999999999999"])
def test_a_choice_that_cannot_be_an_id_is_ignored(client, owner, letter, chosen):
    """`?client=abc` was a 404; it shows the first client, like no choice."""
    ClientFactory(owner=owner, email="ann@example.org", full_name="Ann")
    response = client.get(reverse("messages:preview", args=[letter.pk]), {"client": chosen})
    assert response.status_code == 200
    assert response.context["preview"].subject == "News for Ann"


def test_a_long_list_says_how_many_clients_it_leaves_out(client, owner, letter):
    for n in range(52):
        ClientFactory(owner=owner, email=f"c{n}@example.org", full_name=f"Client {n:02}")
    html = client.get(reverse("messages:preview", args=[letter.pk])).content.decode()
    assert "The list shows 50 of 52 clients; find by email or name to narrow it." in html
    html = client.get(reverse("messages:preview", args=[letter.pk]), {"q": "Client 0"}).content.decode()
    assert 'data-testid="more-matches"' not in html


def test_preview_without_clients_says_what_to_do(client, owner, letter):
    response = client.get(reverse("messages:preview", args=[letter.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Add a client to see this message as they would get it." in html
    assert reverse("clients:new") in html


def test_preview_for_an_address_that_cannot_be_sent_shows_the_reason(client, owner, letter):
    bad = ClientFactory(owner=owner, email="иван@example.org", full_name="Ivan")
    response = client.get(reverse("messages:preview", args=[letter.pk]), {"client": bad.pk})
    assert response.status_code == 200
    assert "Nothing can be sent to иван@example.org" in response.content.decode()


def test_preview_with_another_owners_message_or_client_is_a_404_R_AUTH_4(client, owner, letter):
    theirs = MessageFactory(subject="Their secret")
    their_client = ClientFactory(email="their-client@example.org")
    assert client.get(reverse("messages:preview", args=[theirs.pk])).status_code == 404
    assert client.get(reverse("messages:preview", args=[theirs.pk + 1000])).status_code == 404
    response = client.get(reverse("messages:preview", args=[letter.pk]), {"client": their_client.pk})
    assert response.status_code == 404


# --- send a test ----------------------------------------------------------------------------------------


def test_send_a_test_shows_the_mail_servers_answer(client, owner, letter, smtp):
    recipient = ClientFactory(owner=owner)
    response = client.post(
        reverse("messages:send_test", args=[letter.pk]), {"client": recipient.pk}, follow=True
    )
    assert response.redirect_chain[-1][0] == (
        reverse("messages:preview", args=[letter.pk]) + f"?client={recipient.pk}"
    )
    html = response.content.decode()
    assert f"The mail server accepted the test message for {owner.email}." in html
    assert "queued" not in html  # the relay's own answer is for superusers
    assert smtp.recipients() == [owner.email]


def test_a_superuser_sending_a_test_reads_the_mail_servers_own_answer(client, smtp):
    root = UserFactory(is_superuser=True, is_staff=True)
    client.force_login(root)
    letter = MessageFactory(owner=root)
    response = client.post(reverse("messages:send_test", args=[letter.pk]), follow=True)
    html = response.content.decode()
    assert f"The mail server accepted the test message for {root.email}: 250" in html
    assert "queued" in html


def test_send_a_test_refused_by_the_server_shows_the_refusal(client, owner, letter, smtp):
    smtp.set(reject={owner.email})
    response = client.post(reverse("messages:send_test", args=[letter.pk]), follow=True)
    html = response.content.decode()
    assert response.status_code == 200
    assert (
        f"The test message to {owner.email} was not accepted: 550 the recipient&#x27;s address was refused"
        in html
    )
    assert "Recipient address rejected" not in html
    assert 'class="alert alert-danger' in html


def test_send_a_test_with_the_mail_server_down_is_an_error_message_not_a_500(client, owner, letter, smtp):
    smtp.stop()
    response = client.post(reverse("messages:send_test", args=[letter.pk]), follow=True)
    assert response.status_code == 200
    html = response.content.decode()
    assert f"The test message to {owner.email} was not accepted: could not connect to the mail server" in html
    assert 'class="alert alert-danger' in html


def test_too_many_test_sends_are_refused_with_a_message(client, owner, letter, smtp):
    for _ in range(services.TEST_SENDS_PER_HOUR):
        client.post(reverse("messages:send_test", args=[letter.pk]))
    response = client.post(reverse("messages:send_test", args=[letter.pk]), follow=True)
    assert "Too many test messages; try again in" in response.content.decode()
    assert len(smtp.received) == services.TEST_SENDS_PER_HOUR


def test_send_a_test_is_post_only_and_owner_scoped_R_AUTH_4(client, owner, letter, smtp):
    theirs = MessageFactory()
    assert client.get(reverse("messages:send_test", args=[letter.pk])).status_code == 405
    assert client.post(reverse("messages:send_test", args=[theirs.pk])).status_code == 404
    assert client.post(reverse("messages:send_test", args=[theirs.pk + 1000])).status_code == 404
    assert not smtp.received


def test_preview_and_test_send_are_refused_to_anonymous_and_managers(client, letter, smtp):
    recipient = ClientFactory(owner=letter.owner)
    preview = reverse("messages:preview", args=[letter.pk])
    send = reverse("messages:send_test", args=[letter.pk])
    client.logout()
    assert client.get(preview).status_code == 302
    assert client.post(send).status_code == 302
    for user in refused_accounts().values():
        client.force_login(user)
        response = client.get(preview, {"client": recipient.pk})
        assert_refused_page(response)
        assert "News for" not in response.content.decode()
        assert client.post(send).status_code == 403
    assert not smtp.received


def test_preview_and_test_send_from_a_chosen_sender_R_DLV_1(client, owner, letter, smtp):
    """The preview and the test send show the message from one of the owner's usable senders, as the engine
    would send it; a foreign or revoked identity is never used (the service's address instead)."""
    from django.utils import timezone

    from tests.senders_helpers import confirmed_identity

    recipient = ClientFactory(owner=owner)
    shop = confirmed_identity(owner, "news@shop.example")
    revoked = confirmed_identity(owner, "old@shop.example", revoked_at=timezone.now())
    foreign = confirmed_identity(UserFactory(), "news@other.example")
    url = reverse("messages:preview", args=[letter.pk])

    html = unescape(client.get(url, {"client": recipient.pk, "sender": shop.pk}).content.decode())
    assert "Shop News <news@shop.example></dd>" in html  # the preview's From
    assert f'name="sender" value="{shop.pk}"' in html  # the test send carries the choice
    for refused in (revoked.pk, foreign.pk, "9" * 30, "x"):
        page = client.get(url, {"client": recipient.pk, "sender": refused})
        assert page.status_code == 200
        page_html = unescape(page.content.decode())
        assert "news@other.example" not in page_html and "<noreply@localhost></dd>" in page_html

    response = client.post(
        reverse("messages:send_test", args=[letter.pk]),
        {"client": recipient.pk, "sender": shop.pk},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == url + f"?client={recipient.pk}&sender={shop.pk}"
    assert smtp.received[-1].message["From"].endswith("<news@shop.example>")
    client.post(reverse("messages:send_test", args=[letter.pk]), {"sender": foreign.pk})
    assert "noreply@localhost" in smtp.received[-1].message["From"]
