"""Bulk actions on the client list (R-OWN-3): ticked rows or every client matching the search and filters —
unsubscribe, re-subscribe, delete (asked first) and export — in a fixed number of statements, only ever on
the owner's own clients."""

import csv
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from backend.mailings.models import Client, Unsubscription
from backend.mailings.services import client_unsubscribe
from tests.factories import ClientFactory, TagFactory, UserFactory, make_manager
from tests.pages_helpers import assert_refused_page

pytestmark = pytest.mark.django_db
BULK = "/clients/bulk/"


@pytest.fixture
def owner(client):
    user = UserFactory()
    client.force_login(user)
    return user


def imported(owner, count: int, domain: str = "wrong-file.example") -> list[Client]:
    return [ClientFactory(owner=owner, email=f"row{n}@{domain}") for n in range(count)]


def test_a_wrong_import_is_undone_in_one_action_after_a_confirmation_R_OWN_3(client, owner):
    imported(owner, 40)
    keep = ClientFactory(owner=owner, email="keep@shop.example")
    theirs = ClientFactory(email="row1@wrong-file.example")  # another owner's, matching the same search
    data = {"action": "delete", "scope": "matching", "q": "wrong-file", "back": "q=wrong-file"}
    asked = client.post(BULK, data)
    assert asked.status_code == 200
    assert "Delete 40 clients?" in asked.content.decode()
    assert Client.objects.filter(owner=owner).count() == 41  # nothing deleted before the confirmation
    with CaptureQueriesContext(connection) as few:
        done = client.post(BULK, {**data, "confirmed": "True"})
    assert done.status_code == 302 and done["Location"] == "/clients/?q=wrong-file"
    assert "40 clients deleted." in client.get(done["Location"]).content.decode()
    assert list(Client.objects.filter(owner=owner)) == [keep]
    assert Client.objects.filter(pk=theirs.pk).exists()
    big = imported(owner, 200, domain="second.example")
    with CaptureQueriesContext(connection) as many:
        client.post(BULK, {**data, "q": "second.example", "confirmed": "True"})
    assert not Client.objects.filter(pk__in=[c.pk for c in big]).exists()
    assert len(many.captured_queries) == len(few.captured_queries)


def test_unsubscribe_then_resubscribe_keeps_who_unsubscribed_themselves_R_OWN_3(client, owner):
    mine = imported(owner, 3)
    client_unsubscribe(client=mine[0])  # the person's own choice, through the link
    ticked = {"action": "unsubscribe", "scope": "ticked", "clients": [c.pk for c in mine]}
    response = client.post(BULK, ticked, follow=True)
    assert "2 clients unsubscribed" in response.content.decode()
    assert not Client.objects.filter(owner=owner, unsubscribed_at__isnull=True).exists()
    assert Unsubscription.objects.filter(owner=owner).count() == 1  # the owner's stop is no person's choice
    response = client.post(BULK, {**ticked, "action": "resubscribe"}, follow=True)
    html = response.content.decode()
    assert "2 clients subscribed again." in html and "1 stays unsubscribed" in html
    assert set(Client.objects.filter(owner=owner, unsubscribed_at__isnull=False)) == {mine[0]}


def test_another_owners_ticked_client_refuses_the_whole_action_R_OWN_3(client, owner):
    mine = imported(owner, 2)
    theirs = ClientFactory()
    data = {"action": "unsubscribe", "scope": "ticked", "clients": [mine[0].pk, theirs.pk]}
    client.post(BULK, data)
    assert not Client.objects.filter(unsubscribed_at__isnull=False).exists()
    client.post(BULK, {**data, "action": "delete", "confirmed": "True"})
    assert Client.objects.count() == 3


def test_tag_actions_need_a_tag_and_others_do_not(client, owner):
    mine = imported(owner, 1)
    response = client.post(BULK, {"action": "add", "scope": "ticked", "clients": [mine[0].pk]}, follow=True)
    assert "Choose a tag." in response.content.decode()
    tag = TagFactory(owner=owner, name="VIP")
    client.post(BULK, {"action": "add", "tag": tag.pk, "scope": "ticked", "clients": [mine[0].pk]})
    assert list(mine[0].tags.all()) == [tag]


def rows(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_export_follows_the_search_and_filters_and_the_ticked_rows_R_OWN_3(client, owner):
    imported(owner, 3)
    ClientFactory(owner=owner, email="other@shop.example")
    ClientFactory(email="row0@wrong-file.example")  # another owner's
    everyone = rows(client.get(reverse("clients:export")))
    assert len(everyone) == 1 + 4
    searched = rows(client.get(reverse("clients:export") + "?q=wrong-file&sort=-created"))
    assert sorted(row[0] for row in searched[1:]) == [f"row{n}@wrong-file.example" for n in range(3)]
    one = Client.objects.get(owner=owner, email="other@shop.example")
    ticked = rows(client.post(BULK, {"action": "export", "scope": "ticked", "clients": [one.pk]}))
    assert [row[0] for row in ticked[1:]] == ["other@shop.example"]
    page = client.get(reverse("clients:list") + "?q=wrong-file").content.decode()
    assert 'href="/clients/export/?q=wrong-file"' in page


def test_a_manager_has_no_bulk_actions(client):
    victim = ClientFactory()
    client.force_login(make_manager())
    assert_refused_page(client.post(BULK, {"action": "delete", "scope": "matching", "confirmed": "True"}))
    assert Client.objects.filter(pk=victim.pk).exists()


def test_deleting_every_client_with_a_tag_follows_every_relation_R_OWN_3(client, owner, smtp):
    """The selection depends on the tag rows deleted on the way: the same clients go, and what points at
    them behaves as a single delete does (reports keep the address, chosen-client places and tags go)."""
    from backend.mailings.models import ClientTag, Delivery, Mailing
    from backend.mailings.sending import send_due
    from tests.sending_helpers import due_mailing

    mailing = due_mailing(owner=owner, clients=3)
    send_due()
    wrong = TagFactory(owner=owner, name="wrong import")
    tagged = list(mailing.clients.all()[:2])
    for person in tagged:
        ClientTag.objects.create(client=person, tag=wrong)
    data = {"action": "delete", "scope": "matching", "tag_filter": wrong.pk, "confirmed": "True"}
    client.post(BULK, data)
    assert not Client.objects.filter(pk__in=[c.pk for c in tagged]).exists()
    assert Client.objects.filter(owner=owner).count() == 1
    assert not ClientTag.objects.exists()
    assert Mailing.objects.get(pk=mailing.pk).clients.count() == 1
    kept = Delivery.objects.filter(mailing=mailing, client__isnull=True)
    assert sorted(kept.values_list("email", flat=True)) == sorted(c.email for c in tagged)
