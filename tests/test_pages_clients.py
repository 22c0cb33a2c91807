"""The client pages (issue 11 §2): list, add, edit, delete, import, export — owner-scoped (R-AUTH-4)."""

import pytest
from django.urls import reverse

from backend.mailings.models import Client
from tests.factories import ClientFactory, MailingFactory, UserFactory
from tests.pages_helpers import assert_refused_page, queries_for, refused_accounts

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner(client):
    user = UserFactory()
    client.force_login(user)
    return user


# --- list -----------------------------------------------------------------------------------------------


def test_list_shows_only_the_owners_clients_R_AUTH_4(client, owner):
    ClientFactory(owner=owner, email="mine@example.org", full_name="Mine Person")
    ClientFactory(email="theirs@example.org")
    response = client.get(reverse("clients:list"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "mine@example.org" in html
    assert "theirs@example.org" not in html
    assert reverse("clients:new") in html


def test_empty_list_says_what_to_do_next(client, owner):
    html = client.get(reverse("clients:list")).content.decode()
    assert 'data-testid="empty-state"' in html
    assert "Add your first client" in html


def test_search_by_email_and_by_name(client, owner):
    ClientFactory(owner=owner, email="anna@example.org", full_name="Anna Karenina")
    ClientFactory(owner=owner, email="boris@example.org", full_name="Boris Godunov")
    by_email = client.get(reverse("clients:list"), {"q": "ANNA@"}).content.decode()
    assert "anna@example.org" in by_email and "boris@example.org" not in by_email
    by_name = client.get(reverse("clients:list"), {"q": "godun"}).content.decode()
    assert "boris@example.org" in by_name and "anna@example.org" not in by_name
    nothing = client.get(reverse("clients:list"), {"q": "zzz"}).content.decode()
    assert 'data-testid="no-match"' in nothing


def test_sorting_by_a_whitelisted_column_and_ignoring_others(client, owner):
    ClientFactory(owner=owner, email="b@example.org", full_name="Alpha")
    ClientFactory(owner=owner, email="a@example.org", full_name="Beta")
    by_email = client.get(reverse("clients:list"), {"sort": "email"}).content.decode()
    assert by_email.index("a@example.org") < by_email.index("b@example.org")
    by_email_desc = client.get(reverse("clients:list"), {"sort": "-email"}).content.decode()
    assert by_email_desc.index("b@example.org") < by_email_desc.index("a@example.org")
    # A field that is not a column (here one that would sort by a secret) falls back to the default sort.
    sneaky = client.get(reverse("clients:list"), {"sort": "owner__password"})
    assert sneaky.status_code == 200
    html = sneaky.content.decode()
    assert html.index("b@example.org") < html.index("a@example.org")  # by name: Alpha, Beta


def test_pagination_25_per_page_keeps_search_and_sort(client, owner):
    for n in range(30):
        ClientFactory(owner=owner, email=f"c{n:02d}@example.org", full_name=f"Client {n:02d}")
    first = client.get(reverse("clients:list"), {"sort": "email", "q": "example"})
    assert len(first.context["table"]["rows"]) == 25
    assert "page=2" in first.context["table"]["next_url"]
    assert "q=example" in first.context["table"]["next_url"]
    assert "sort=email" in first.context["table"]["next_url"]
    second = client.get(reverse("clients:list"), {"sort": "email", "q": "example", "page": 2})
    html = second.content.decode()
    assert len(second.context["table"]["rows"]) == 5
    assert "c29@example.org" in html and "c00@example.org" not in html
    assert client.get(reverse("clients:list"), {"page": "abc"}).status_code == 200
    assert client.get(reverse("clients:list"), {"page": 999}).status_code == 200


def test_list_query_count_does_not_grow_with_rows(client, owner):
    """Issue 11: the SQL count of a list page is the same for 5 and for 100 clients."""
    ClientFactory.create_batch(5, owner=owner)
    few = queries_for(client, reverse("clients:list"))
    ClientFactory.create_batch(95, owner=owner)
    many = queries_for(client, reverse("clients:list"))
    assert few == many


# --- create / edit / delete -----------------------------------------------------------------------------


def test_add_a_client_through_the_form(client, owner):
    page = client.get(reverse("clients:new"))
    assert page.status_code == 200
    assert 'name="email"' in page.content.decode()
    response = client.post(
        reverse("clients:new"),
        {"email": "New@Example.org", "full_name": "New Person", "comment": "met at the fair"},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == reverse("clients:list")
    created = Client.objects.get(owner=owner)
    assert (created.email, created.full_name, created.comment) == (
        "New@example.org",
        "New Person",
        "met at the fair",
    )
    assert "Client New@example.org added." in response.content.decode()


def test_an_invalid_form_keeps_what_was_typed_and_saves_nothing(client, owner):
    ClientFactory(owner=owner, email="taken@example.org")
    response = client.post(
        reverse("clients:new"), {"email": "TAKEN@example.org", "full_name": "Typed Name", "comment": "kept"}
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "You already have a client with this email." in html
    assert 'value="TAKEN@example.org"' in html
    assert 'value="Typed Name"' in html
    assert "kept</textarea>" in html
    assert 'class="form-control is-invalid"' in html
    assert Client.objects.filter(owner=owner).count() == 1


def test_edit_a_client(client, owner):
    mine = ClientFactory(owner=owner, email="old@example.org", full_name="Old Name")
    page = client.get(reverse("clients:edit", args=[mine.pk]))
    assert page.status_code == 200
    assert 'value="old@example.org"' in page.content.decode()
    response = client.post(
        reverse("clients:edit", args=[mine.pk]),
        {"email": "new@example.org", "full_name": "New Name", "comment": ""},
    )
    assert response.status_code == 302
    mine.refresh_from_db()
    assert (mine.email, mine.full_name) == ("new@example.org", "New Name")


def test_edit_with_invalid_data_shows_errors_and_changes_nothing(client, owner):
    mine = ClientFactory(owner=owner, email="keep@example.org", full_name="Keep")
    response = client.post(
        reverse("clients:edit", args=[mine.pk]), {"email": "not-an-email", "full_name": "", "comment": ""}
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert 'value="not-an-email"' in html
    assert "Edit client keep@example.org" in html
    mine.refresh_from_db()
    assert (mine.email, mine.full_name) == ("keep@example.org", "Keep")


def test_delete_asks_then_deletes(client, owner):
    mine = ClientFactory(owner=owner)
    MailingFactory(owner=owner, clients=[mine])
    page = client.get(reverse("clients:delete", args=[mine.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-testid="delete-confirmation"' in html
    assert "taken out of 1 mailing" in html
    assert Client.objects.filter(pk=mine.pk).exists()
    response = client.post(reverse("clients:delete", args=[mine.pk]), follow=True)
    assert response.redirect_chain[-1][0] == reverse("clients:list")
    assert not Client.objects.filter(pk=mine.pk).exists()
    assert "deleted" in response.content.decode()


# --- who may -------------------------------------------------------------------------------------------


def _id_urls(pk: int) -> list[str]:
    return [reverse("clients:edit", args=[pk]), reverse("clients:delete", args=[pk])]


def test_another_owners_client_is_a_404_like_a_missing_one_R_AUTH_4(client, owner):
    theirs = ClientFactory(email="theirs@example.org", full_name="Theirs")
    missing = Client.objects.order_by("-pk").first().pk + 1000
    for url in _id_urls(theirs.pk):
        assert client.get(url).status_code == 404, url
        assert client.post(url, {"email": "hijack@example.org", "full_name": "X"}).status_code == 404, url
    for url in _id_urls(missing):
        assert client.get(url).status_code == 404, url
    theirs.refresh_from_db()
    assert (theirs.email, theirs.full_name) == ("theirs@example.org", "Theirs")


def test_anonymous_visitors_go_to_the_login_page(client):
    mine = ClientFactory()
    for url in [reverse("clients:list"), reverse("clients:new"), *_id_urls(mine.pk)]:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response.url.startswith(reverse("accounts:login") + "?next=")
    assert client.post(reverse("clients:delete", args=[mine.pk])).status_code == 302
    assert Client.objects.filter(pk=mine.pk).exists()


def test_managers_and_content_editors_get_a_403_page_R_AUTH_5(client):
    someone = ClientFactory(email="someone@example.org")
    for role, user in refused_accounts().items():
        client.force_login(user)
        for url in [reverse("clients:list"), reverse("clients:new"), *_id_urls(someone.pk)]:
            response = client.get(url)
            assert_refused_page(response)
            assert "someone@example.org" not in response.content.decode(), (role, url)
        response = client.post(reverse("clients:new"), {"email": "x@example.org", "full_name": "X"})
        assert response.status_code == 403
        assert client.post(reverse("clients:delete", args=[someone.pk])).status_code == 403
    assert list(Client.objects.values_list("email", flat=True)) == ["someone@example.org"]


def test_a_blocked_owner_is_signed_out_and_sent_to_login(client, owner):
    owner.is_blocked = True
    owner.save()
    response = client.get(reverse("clients:list"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("accounts:login"))


def test_navbar_offers_the_owner_pages_to_owners_only(client, owner):
    html = client.get(reverse("web:home")).content.decode()
    assert f'href="{reverse("clients:list")}"' in html
    assert f'href="{reverse("messages:list")}"' in html
    client.force_login(refused_accounts()["manager"])
    html = client.get(reverse("web:home")).content.decode()
    assert f'href="{reverse("clients:list")}"' not in html
