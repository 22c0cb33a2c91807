"""The client's preferences page (R-ENG-3), linked from every message beside unsubscribe: the address and the
owner's public tags, changed by the client; "unsubscribe from everything". A GET never changes anything."""

import pytest
from django.core import signing
from django.test import Client as HttpClient

from backend.mailings.models import ClientTag, Unsubscription
from backend.mailings.unsubscribe import preferences_url
from tests.factories import ClientFactory, TagFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup(settings):
    settings.SITE_URL = "http://testserver"
    person = ClientFactory(email="reader@example.org")
    owner = person.owner
    news = TagFactory(owner=owner, name="News", is_public=True)
    offers = TagFactory(owner=owner, name="Offers", is_public=True)
    vip = TagFactory(owner=owner, name="VIP (private)")
    theirs = TagFactory(name="Another owner's", is_public=True)
    ClientTag.objects.bulk_create([ClientTag(client=person, tag=news), ClientTag(client=person, tag=vip)])
    url = preferences_url(person.unsubscribe_token).removeprefix("http://testserver")
    return person, url, news, offers, vip, theirs


def tags_of(person) -> set[str]:
    return set(person.tags.values_list("name", flat=True))


def test_the_page_shows_the_address_and_only_the_owners_public_tags_and_a_get_changes_nothing_R_ENG_3(
    client, setup
):
    person, url, news, offers, _vip, _theirs = setup
    for _ in range(2):
        response = client.get(url)
        assert response.status_code == 200
    html = response.content.decode()
    assert "reader@example.org" in html
    assert f'id="tag-{news.pk}" checked' in html
    assert f'id="tag-{offers.pk}">' in html
    assert "VIP (private)" not in html and "Another owner" not in html
    assert 'id="unsubscribe-all"' in html
    person.refresh_from_db()
    assert person.unsubscribed_at is None and tags_of(person) == {"News", "VIP (private)"}


def test_saving_changes_only_the_public_tags_R_ENG_3(setup):
    person, url, _news, offers, _vip, _theirs = setup
    browser = HttpClient(enforce_csrf_checks=True)  # no session, no CSRF cookie: the signed link is enough
    response = browser.post(url, {"action": "save", "tags": [str(offers.pk)]})
    assert response.status_code == 200
    assert 'data-testid="preferences-saved"' in response.content.decode()
    assert tags_of(person) == {"Offers", "VIP (private)"}
    browser.post(url, {"action": "save"})
    assert tags_of(person) == {"VIP (private)"}
    person.refresh_from_db()
    assert person.unsubscribed_at is None


@pytest.mark.parametrize("choice", ["vip", "theirs", "not-a-number", "99999999999999999999"])
def test_a_choice_that_is_not_offered_is_refused_and_changes_nothing_R_ENG_3(client, setup, choice):
    person, url, _news, offers, vip, theirs = setup
    value = {"vip": str(vip.pk), "theirs": str(theirs.pk)}.get(choice, choice)
    response = client.post(url, {"action": "save", "tags": [str(offers.pk), value]})
    assert response.status_code == 400
    assert "not offered" in response.content.decode()
    assert tags_of(person) == {"News", "VIP (private)"}


def test_unsubscribe_from_everything_R_ENG_3(client, setup):
    person, url, *_ = setup
    response = client.post(url, {"action": "unsubscribe"})
    assert response.status_code == 200
    assert 'data-testid="preferences-unsubscribed"' in response.content.decode()
    person.refresh_from_db()
    assert person.unsubscribed_at is not None
    assert Unsubscription.objects.filter(owner=person.owner, email="reader@example.org").exists()


def test_a_post_from_another_site_or_without_an_action_changes_nothing_R_ENG_3(client, setup):
    person, url, _news, offers, *_ = setup
    foreign = client.post(url, {"action": "unsubscribe"}, HTTP_ORIGIN="https://evil.example")
    assert foreign.status_code == 403
    assert client.post(url, {"tags": [str(offers.pk)]}).status_code == 400
    same_site = client.post(
        url, {"action": "save", "tags": [str(offers.pk)]}, HTTP_ORIGIN="http://testserver"
    )
    assert same_site.status_code == 200
    person.refresh_from_db()
    assert person.unsubscribed_at is None and tags_of(person) == {"Offers", "VIP (private)"}


def test_forged_or_foreign_links_get_a_clear_404_and_change_nothing_R_ENG_3(client, setup):
    person, url, *_ = setup
    signed = url.rstrip("/").rsplit("/", 1)[1]
    token, signature = signed.rsplit(":", 1)
    other = signing.Signer(salt="mailer.other").sign(token)
    for bad in (f"{token}:{signature[:-2]}xx", token, other, "x" * 500):
        for method in (client.get, client.post):
            response = method(
                f"/preferences/{bad}/", {"action": "unsubscribe"} if method == client.post else None
            )
            assert response.status_code == 404
            assert 'data-testid="preferences-invalid"' in response.content.decode()
    person.refresh_from_db()
    assert person.unsubscribed_at is None


def test_the_page_takes_a_fixed_number_of_queries_R_ENG_3(client, setup, django_assert_num_queries):
    person, url, *_ = setup
    for n in range(5):
        TagFactory(owner=person.owner, name=f"Public {n}", is_public=True)
    with django_assert_num_queries(3):  # the client, the public tags, the client's ones among them
        assert client.get(url).status_code == 200
