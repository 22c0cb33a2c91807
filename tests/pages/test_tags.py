"""The owner pages of audiences (R-AUD-1, R-AUD-2, R-AUD-3): the tags pages, the client list's tag filter,
tags column and bulk tagging, the mailing form's audience (everyone, tags, chosen clients as changes) and
the audience shown on the mailing pages — owner-scoped (R-AUTH-4)."""

import re

import pytest
from django.urls import reverse

from backend.mailings.models import Client, ClientTag, Mailing, Tag
from tests.factories import ClientFactory, MailingFactory, MessageFactory, TagFactory, UserFactory
from tests.pages_helpers import assert_refused_page, queries_for, refused_accounts

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner(client):
    user = UserFactory()
    client.force_login(user)
    return user


def tag(owner, name, clients=()) -> Tag:
    made = TagFactory(owner=owner, name=name)
    ClientTag.objects.bulk_create([ClientTag(client=c, tag=made) for c in clients])
    return made


# --- the tags pages --------------------------------------------------------------------------------------


def test_the_tags_list_shows_the_owners_tags_with_their_sizes_R_AUD_2(client, owner):
    tag(owner, "Customers", [ClientFactory(owner=owner) for _ in range(3)])
    tag(owner, "Empty")
    TagFactory(name="Theirs")
    response = client.get(reverse("tags:list"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Customers" in html and "Empty" in html and "Theirs" not in html
    sizes = {row["cells"][0][1]: row["cells"][1][1] for row in response.context["table"]["rows"]}
    assert sizes == {"Customers": 3, "Empty": 0}
    assert f'href="{reverse("tags:list")}"' in client.get(reverse("clients:list")).content.decode()  # navbar


def test_create_rename_and_delete_a_tag(client, owner):
    response = client.post(reverse("tags:new"), {"name": "  News  letter "})
    assert response.status_code == 302
    made = Tag.objects.get(owner=owner)
    assert made.name == "News letter"
    response = client.post(reverse("tags:new"), {"name": "NEWS LETTER"})
    assert response.status_code == 200
    assert "You already have a tag with this name." in response.content.decode()
    response = client.post(reverse("tags:edit", args=[made.pk]), {"name": "Readers"})
    assert response.status_code == 302
    made.refresh_from_db()
    assert made.name == "Readers"
    carrier = ClientFactory(owner=owner)
    ClientTag.objects.create(client=carrier, tag=made)
    page = client.get(reverse("tags:delete", args=[made.pk])).content.decode()
    assert "taken off 1 client" in page
    response = client.post(reverse("tags:delete", args=[made.pk]))
    assert response.status_code == 302
    assert not Tag.objects.exists()
    assert Client.objects.filter(pk=carrier.pk).exists()


def test_a_tag_a_mailing_sends_to_cannot_be_deleted_and_the_page_says_why(client, owner):
    used = tag(owner, "Used")
    mailing = MailingFactory(owner=owner, audience="tags", tags=[used], status="started")
    page = client.get(reverse("tags:delete", args=[used.pk])).content.decode()
    assert "sends to this tag. Change its audience first." in page
    assert reverse("mailings:edit", args=[mailing.pk]) in page
    response = client.post(reverse("tags:delete", args=[used.pk]))
    assert response.status_code == 409
    assert "change their audience first" in response.content.decode()
    assert Tag.objects.filter(pk=used.pk).exists()


def test_another_owners_tag_is_a_404_and_stays_R_AUTH_4(client, owner):
    theirs = TagFactory(name="Theirs")
    for name in ("tags:edit", "tags:delete"):
        assert client.get(reverse(name, args=[theirs.pk])).status_code == 404
        assert client.post(reverse(name, args=[theirs.pk]), {"name": "Mine now"}).status_code == 404
    theirs.refresh_from_db()
    assert theirs.name == "Theirs"


def test_managers_and_content_editors_get_a_403_on_the_tags_pages(client):
    for account in refused_accounts().values():
        client.force_login(account)
        assert_refused_page(client.get(reverse("tags:list")))
        assert_refused_page(client.post(reverse("clients:bulk"), {}))


# --- the client list: filter, column, bulk tagging ------------------------------------------------------


def test_the_client_list_filters_by_tag_and_shows_each_clients_tags_without_a_query_per_row(client, owner):
    anna = ClientFactory(owner=owner, email="anna@example.org")
    boris = ClientFactory(owner=owner, email="boris@example.org")
    vip = tag(owner, "VIP", [anna])
    tag(owner, "Moscow", [anna, boris])
    html = client.get(reverse("clients:list") + f"?tag={vip.pk}").content.decode()
    assert "anna@example.org" in html and "boris@example.org" not in html
    assert re.search(rf'<option value="{vip.pk}" selected>VIP</option>', html)
    html = client.get(reverse("clients:list")).content.decode()
    assert ">Moscow</span>" in html and ">VIP</span>" in html
    few = queries_for(client, reverse("clients:list"))
    for n in range(20):
        tag(owner, f"T{n}", [ClientFactory(owner=owner)])
    assert queries_for(client, reverse("clients:list")) == few


def test_bulk_tag_and_untag_the_ticked_rows_R_AUD_2(client, owner):
    clients = [ClientFactory(owner=owner) for _ in range(3)]
    label = tag(owner, "Picked")
    data = {"action": "add", "tag": label.pk, "scope": "ticked", "clients": [clients[0].pk, clients[1].pk]}
    response = client.post(reverse("clients:bulk"), {**data, "back": "sort=-created&q=x"}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("clients:list") + "?sort=-created&q=x"
    assert "Tag “Picked” added to 2 clients." in response.content.decode()
    assert set(label.clients.all()) == set(clients[:2])
    response = client.post(reverse("clients:bulk"), {**data, "action": "remove"}, follow=True)
    assert "Tag “Picked” removed from 2 clients." in response.content.decode()
    assert not label.clients.exists()


def test_bulk_tag_every_client_matching_the_search_and_filter(client, owner):
    for n in range(30):  # more than a page
        ClientFactory(owner=owner, email=f"fan{n}@example.org")
    ClientFactory(owner=owner, email="other@example.org")
    ClientFactory(email="fan-elsewhere@example.org")
    label = tag(owner, "Fans")
    data = {"action": "add", "tag": label.pk, "scope": "matching", "q": "fan"}
    response = client.post(reverse("clients:bulk"), data, follow=True)
    assert "added to 30 clients" in response.content.decode()
    assert label.clients.count() == 30
    assert not label.clients.filter(email="fan-elsewhere@example.org").exists()
    # Narrowed by a tag filter too: untag those carrying both.
    both = tag(
        owner, "Both", Client.objects.filter(owner=owner, email__in=["fan1@example.org", "fan2@example.org"])
    )
    data = {"action": "remove", "tag": label.pk, "scope": "matching", "q": "fan", "tag_filter": both.pk}
    response = client.post(reverse("clients:bulk"), data, follow=True)
    assert "removed from 2 clients" in response.content.decode()
    assert label.clients.count() == 28


def test_bulk_tagging_refuses_another_owners_clients_or_tags_and_changes_nothing_R_AUTH_4(client, owner):
    mine = ClientFactory(owner=owner)
    theirs = ClientFactory()
    label = tag(owner, "Mine")
    their_tag = TagFactory(owner=theirs.owner)
    data = {"action": "add", "tag": label.pk, "scope": "ticked", "clients": [mine.pk, theirs.pk]}
    response = client.post(reverse("clients:bulk"), data, follow=True)
    assert "Select a valid choice" in response.content.decode()
    data = {"action": "add", "tag": their_tag.pk, "scope": "matching", "q": ""}
    response = client.post(reverse("clients:bulk"), data, follow=True)
    assert "Select a valid choice" in response.content.decode()
    assert not ClientTag.objects.exists()
    response = client.post(reverse("clients:bulk"), {"action": "add", "tag": label.pk, "scope": "ticked"})
    assert response.status_code == 302
    assert not ClientTag.objects.exists()


def test_the_bulk_form_is_a_post_with_csrf_and_the_rows_tick_into_it(client, owner):
    ClientFactory(owner=owner)
    tag(owner, "Any")
    html = client.get(reverse("clients:list")).content.decode()
    form = re.search(r'<form method="post" action="/clients/bulk/" id="bulk-tags".*?</form>', html, re.S)
    assert form and 'name="csrfmiddlewaretoken"' in form.group(0)
    assert 'form="bulk-tags" name="clients"' in html
    assert client.get(reverse("clients:bulk")).status_code == 405


# --- the mailing form's audience ----------------------------------------------------------------------------


def mailing_data(message, **changes) -> dict:
    data = {
        "message": message.pk,
        "start_at": "2031-03-01T09:00",
        "end_at": "2031-06-01T09:00",
        "periodicity": "weekly",
    }
    data.update(changes)
    return data


def test_a_new_mailing_starts_at_everyone_and_saves_each_audience_R_AUD_1(client, owner):
    message = MessageFactory(owner=owner)
    html = client.get(reverse("mailings:new")).content.decode()
    assert re.search(r'name="audience" value="everyone" id="audience-everyone" checked', html)
    response = client.post(reverse("mailings:new"), mailing_data(message, audience="everyone"))
    assert response.status_code == 302
    assert Mailing.objects.get().audience == "everyone"

    news, fans = tag(owner, "News"), tag(owner, "Fans")
    data = mailing_data(message, audience="tags", tags=[news.pk, fans.pk], tag_match="all")
    response = client.post(reverse("mailings:new"), data)
    assert response.status_code == 302
    mailing = Mailing.objects.latest("pk")
    assert (mailing.audience, mailing.tag_match, set(mailing.tags.all())) == ("tags", "all", {news, fans})

    chosen = [ClientFactory(owner=owner, email=f"pick{n}@example.org") for n in range(2)]
    ClientFactory(owner=owner, email="matched@example.org")
    data = mailing_data(
        message, audience="clients", clients_added=[c.pk for c in chosen], clients_matching="match"
    )
    response = client.post(reverse("mailings:new"), data)
    assert response.status_code == 302
    mailing = Mailing.objects.latest("pk")
    emails = set(mailing.clients.values_list("email", flat=True))
    assert emails == {"pick0@example.org", "pick1@example.org", "matched@example.org"}


def test_the_audiences_errors_show_on_their_parts(client, owner):
    message = MessageFactory(owner=owner)
    tag(owner, "News")
    response = client.post(reverse("mailings:new"), mailing_data(message, audience="tags"))
    assert "Choose at least one tag." in response.content.decode()
    response = client.post(reverse("mailings:new"), mailing_data(message, audience="clients"))
    assert "Choose at least one client." in response.content.decode()
    theirs = TagFactory()
    response = client.post(reverse("mailings:new"), mailing_data(message, audience="tags", tags=[theirs.pk]))
    assert response.context["form"].errors["tags"]
    assert not Mailing.objects.exists()


def test_the_tags_part_lists_the_owners_tags_only(client, owner):
    tag(owner, "Mine")
    TagFactory(name="Not mine")
    html = client.get(reverse("mailings:new")).content.decode()
    assert ">Mine</label>" in html and "Not mine" not in html


def test_editing_a_mailing_of_3000_chosen_clients_shows_one_page_and_saves_only_the_changes_R_AUD_3(
    client, owner
):
    clients = Client.objects.bulk_create(
        Client(owner=owner, email=f"r{n:04}@example.org", full_name=f"Reader {n:04}") for n in range(3001)
    )
    extra = clients.pop()
    mailing = MailingFactory(owner=owner, audience="clients")
    through = Mailing.clients.through
    through.objects.bulk_create([through(mailing=mailing, client=c) for c in clients])
    url = reverse("mailings:edit", args=[mailing.pk])
    html = client.get(url).content.decode()
    assert html.count("data-chip ") == 20
    assert html.count('name="clients_removed"') == 20
    assert 'data-testid="picked-count">3000<' in html
    assert "and 2980 more" in html
    assert len(html) < 60_000
    assert "r2999@example.org" not in html

    data = mailing_data(
        mailing.message, audience="clients", clients_added=[extra.pk], clients_removed=[clients[0].pk]
    )
    response = client.post(url, data)
    assert response.status_code == 302
    chosen = set(mailing.clients.values_list("pk", flat=True))
    assert len(chosen) == 3000 and extra.pk in chosen and clients[0].pk not in chosen


def test_a_refused_edit_keeps_the_picked_changes(client, owner):
    kept, dropped, added = (ClientFactory(owner=owner, full_name=f"{n} person") for n in "abc")
    mailing = MailingFactory(owner=owner, audience="clients", clients=[kept, dropped])
    data = mailing_data(
        mailing.message,
        audience="clients",
        clients_added=[added.pk],
        clients_removed=[dropped.pk],
        end_at="2020-01-01T00:00",
    )
    html = client.post(reverse("mailings:edit", args=[mailing.pk]), data).content.decode()
    assert f'name="clients_removed" value="{dropped.pk}" data-chip-remove checked' in html
    assert f'name="clients_added" value="{added.pk}"' in html
    assert 'data-testid="picked-count">2<' in html
    assert set(mailing.clients.all()) == {kept, dropped}


def test_a_refused_edit_keeps_removals_beyond_the_shown_page_and_counts_each_client_once(client, owner):
    """A client removed after "Show more" loaded it is not among the re-shown chips: it goes back as a
    hidden input, or a second submit would keep it. Adding one already chosen does not count it twice."""
    people = [ClientFactory(owner=owner, full_name=f"Person {n:02d}") for n in range(25)]
    mailing = MailingFactory(owner=owner, audience="clients", clients=people)
    last, first = people[-1], people[0]
    data = mailing_data(
        mailing.message,
        audience="clients",
        clients_removed=[last.pk],
        clients_added=[first.pk],
        end_at="2020-01-01T00:00",
    )
    html = client.post(reverse("mailings:edit", args=[mailing.pk]), data).content.decode()
    assert f'<input type="hidden" name="clients_removed" value="{last.pk}">' in html
    assert 'data-testid="picked-count">24<' in html
    data["end_at"] = "2031-06-01T09:00"
    client.post(reverse("mailings:edit", args=[mailing.pk]), data)
    assert mailing.clients.count() == 24 and not mailing.clients.filter(pk=last.pk).exists()


def test_an_edit_cannot_add_or_remove_another_owners_clients_R_AUTH_4(client, owner):
    mine = ClientFactory(owner=owner)
    theirs = ClientFactory()
    mailing = MailingFactory(owner=owner, audience="clients", clients=[mine])
    url = reverse("mailings:edit", args=[mailing.pk])
    response = client.post(url, mailing_data(mailing.message, audience="clients", clients_added=[theirs.pk]))
    assert response.context["form"].errors["clients_added"]
    assert list(mailing.clients.all()) == [mine]


# --- the audience on the mailing pages ---------------------------------------------------------------------


def test_the_list_and_the_detail_show_the_audience_and_its_size_R_AUD_1(client, owner):
    subscribed = [ClientFactory(owner=owner) for _ in range(3)]
    news = tag(owner, "News", subscribed[:2])
    everyone = MailingFactory(owner=owner, audience="everyone")
    tagged = MailingFactory(owner=owner, audience="tags", tags=[news])
    chosen = MailingFactory(owner=owner, audience="clients", clients=subscribed[:1])
    response = client.get(reverse("mailings:list"))
    rows = {
        row["url"]: dict((c.key, v) for c, v in row["cells"]) for row in response.context["table"]["rows"]
    }
    assert rows[reverse("mailings:detail", args=[everyone.pk])]["size"] == 3
    assert rows[reverse("mailings:detail", args=[tagged.pk])]["size"] == 2
    assert rows[reverse("mailings:detail", args=[chosen.pk])]["size"] == 1
    assert "News</span>" in str(rows[reverse("mailings:detail", args=[tagged.pk])]["audience"])
    html = client.get(reverse("mailings:detail", args=[tagged.pk])).content.decode()
    assert re.search(r'data-testid="audience-size">2<', html)
    assert "News</span>" in html


def test_the_mailings_list_costs_the_same_queries_for_more_mailings_of_every_audience(client, owner):
    news = tag(owner, "News", [ClientFactory(owner=owner)])
    MailingFactory(owner=owner, audience="everyone")
    MailingFactory(owner=owner, audience="clients", clients=[ClientFactory(owner=owner)])
    few = queries_for(client, reverse("mailings:list"))
    for _ in range(5):
        MailingFactory(owner=owner, audience="everyone")
        MailingFactory(owner=owner, audience="clients", clients=[ClientFactory(owner=owner)])
    assert queries_for(client, reverse("mailings:list")) == few
    # A tags audience reads its tags' ids (a handful) once per mailing on the page.
    MailingFactory(owner=owner, audience="tags", tags=[news])
    assert queries_for(client, reverse("mailings:list")) <= few + 1


@pytest.mark.parametrize(
    "changes",
    [
        {"tag_filter": "abc", "scope": "matching"},
        {"q": "x" * 500, "scope": "matching"},
        {"q": "nul\x00", "scope": "matching"},
        {"clients": ["abc"]},
        {"clients": [str(2**70)]},
        {"action": "explode"},
        {"tag": "not a number"},
        {"scope": "everything"},
    ],
)
def test_bad_bulk_input_is_a_clear_error_never_a_500(client, owner, changes):
    mine = ClientFactory(owner=owner)
    label = tag(owner, "Mine")
    data = {"action": "add", "tag": label.pk, "scope": "ticked", "clients": [mine.pk], **changes}
    response = client.post(reverse("clients:bulk"), data, follow=True)
    assert response.status_code == 200
    assert (
        'class="alert alert-danger' in response.content.decode()
        or "alert-danger" in response.content.decode()
    )
    assert not ClientTag.objects.exists()


@pytest.mark.parametrize(
    "changes",
    [
        {"clients_added": ["abc"]},
        {"clients_removed": [str(2**70)]},
        {"clients_matching": "x" * 500},
        {"audience": "nobody"},
        {"tag_match": "some"},
        {"tags": ["abc"], "audience": "tags"},
    ],
)
def test_bad_audience_input_is_a_form_error_never_a_500(client, owner, changes):
    message = MessageFactory(owner=owner)
    data = mailing_data(message, audience="clients", clients_added=[ClientFactory(owner=owner).pk])
    data.update(changes)
    response = client.post(reverse("mailings:new"), data)
    assert response.status_code == 200
    assert response.context["form"].errors
    assert not Mailing.objects.exists()
