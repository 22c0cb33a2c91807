"""Erasing a person from the pages, GraphQL and the admin (R-ENG-4): the owner only; a GET never erases;
another owner's client is not found and nothing changes; bad input gets a clear answer."""

import json

import pytest
from django.test import Client as Browser
from django.urls import reverse
from graphql_relay import to_global_id

from backend.mailings import services
from backend.mailings.models import Client, Delivery, Suppression
from tests.api.helpers import data_of, error_codes, gql
from tests.engagement import gdpr_world
from tests.engagement.gdpr_world import ADDRESS, NEEDLE
from tests.factories import ClientFactory, UserFactory, make_manager
from tests.pages_helpers import assert_refused_page

pytestmark = pytest.mark.django_db

ERASE = (
    "mutation Erase($id: ID!) { eraseClient(id: $id) { erasedId deliveries errors { field message code } } }"
)
CREATE = """
mutation Create($input: ClientInput!) {
  createClient(input: $input) { client { id email } errors { field message code } }
}
"""


@pytest.fixture
def world():
    return gdpr_world.build()


def browser_for(user) -> Browser:
    browser = Browser()
    browser.force_login(user)
    return browser


def untouched(world) -> None:
    assert Client.objects.filter(pk=world.client.pk).exists()
    assert Delivery.objects.count() == 5
    assert not Suppression.objects.exists()


# --- the page ---------------------------------------------------------------------------------------------


def test_the_erase_page_shows_what_goes_and_a_get_never_erases_R_ENG_4(world):
    browser = browser_for(world.owner)
    edit = browser.get(reverse("clients:edit", args=[world.client.pk])).content.decode()
    url = reverse("clients:erase", args=[world.client.pk])
    assert url in edit
    page = browser.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-testid="erase-confirmation"' in html and 'method="post"' in html
    counts = html.split('data-testid="erase-counts"')[1].split("</ul>")[0]
    assert "3 deliveries" in counts and "2 sending attempts" in counts and "1 opens and 1 clicks" in counts
    assert "3 bounces and complaints" in counts and "1 consent record" in counts
    assert "unsubscribed" in counts
    untouched(world)


def test_the_owner_erases_with_a_post_R_ENG_4(world):
    browser = browser_for(world.owner)
    response = browser.post(reverse("clients:erase", args=[world.client.pk]), follow=True)
    assert response.redirect_chain[-1][0] == reverse("clients:list")
    html = response.content.decode()
    assert "erased" in html and NEEDLE not in html.lower()
    assert not Client.objects.filter(pk=world.client.pk).exists()
    assert Suppression.objects.filter(owner=world.owner).count() == 1
    # Done twice (a double click, a stale tab): not found, nothing more changes.
    assert browser.post(reverse("clients:erase", args=[world.client.pk])).status_code == 404
    assert Suppression.objects.count() == 1


def test_the_erase_page_is_not_found_for_another_owner_and_refused_to_others_R_ENG_4(world):
    url = reverse("clients:erase", args=[world.client.pk])
    stranger = browser_for(world.stranger)
    assert stranger.get(url).status_code == 404
    assert stranger.post(url).status_code == 404
    anonymous = Browser().post(url)
    assert anonymous.status_code == 302 and "/login" in anonymous["Location"]
    manager = browser_for(make_manager())
    assert_refused_page(manager.post(url))
    assert browser_for(world.owner).post(reverse("clients:erase", args=[999_999])).status_code == 404
    untouched(world)


def test_the_client_form_refuses_an_erased_address_until_the_box_is_ticked_R_ENG_4():
    owner = UserFactory()
    services.client_erase(actor=owner, client=ClientFactory(owner=owner, email=ADDRESS))
    browser = browser_for(owner)
    new = browser.get(reverse("clients:new")).content.decode()
    assert 'type="checkbox" name="readd"' not in new  # offered only when it matters
    refused = browser.post(reverse("clients:new"), {"email": NEEDLE, "full_name": "Ann"})
    assert refused.status_code == 200
    html = refused.content.decode()
    assert "erased from your list at the person" in html
    assert 'type="checkbox" name="readd"' in html
    assert not Client.objects.filter(owner=owner).exists()
    added = browser.post(reverse("clients:new"), {"email": NEEDLE, "full_name": "Ann", "readd": "on"})
    assert added.status_code == 302
    assert Client.objects.filter(owner=owner, email=NEEDLE).exists()
    assert not Suppression.objects.exists()


# --- GraphQL ----------------------------------------------------------------------------------------------


def test_erase_client_through_graphql_R_ENG_4(world):
    the_id = to_global_id("Client", world.client.pk)
    data = data_of(ERASE, {"id": the_id}, user=world.owner)
    assert data["eraseClient"] == {"erasedId": the_id, "deliveries": 3, "errors": []}
    assert not Client.objects.filter(pk=world.client.pk).exists()
    _status, again = gql(ERASE, {"id": the_id}, user=world.owner)
    assert error_codes(again) == ["NOT_FOUND"]


@pytest.mark.parametrize("who", ["another owner", "a manager", "anonymous", "garbage id", "a tag's id"])
def test_erase_client_through_graphql_is_refused_and_changes_nothing_R_ENG_4(world, who):
    the_id = to_global_id("Client", world.client.pk)
    user = {"another owner": world.stranger, "a manager": make_manager(), "anonymous": None}.get(
        who, world.owner
    )
    if who == "garbage id":
        the_id = "%%%"
    elif who == "a tag's id":
        the_id = to_global_id("Tag", world.client.pk)
    _status, body = gql(ERASE, {"id": the_id}, user=user)
    expected = {"anonymous": "UNAUTHENTICATED", "a manager": "NOT_FOUND"}.get(who, "NOT_FOUND")
    assert error_codes(body) == [expected]
    assert (body.get("data") or {}).get("eraseClient") is None
    untouched(world)


def test_create_client_through_graphql_refuses_an_erased_address_unless_readd_R_ENG_4():
    owner = UserFactory()
    services.client_erase(actor=owner, client=ClientFactory(owner=owner, email=ADDRESS))
    data = data_of(CREATE, {"input": {"email": NEEDLE, "fullName": "Ann"}}, user=owner)
    assert data["createClient"]["client"] is None
    assert [(e["field"], e["code"]) for e in data["createClient"]["errors"]] == [("email", "erased")]
    assert not Client.objects.filter(owner=owner).exists()
    data = data_of(CREATE, {"input": {"email": NEEDLE, "fullName": "Ann", "readd": True}}, user=owner)
    assert data["createClient"]["errors"] == [] and data["createClient"]["client"]["email"] == NEEDLE
    assert not Suppression.objects.exists()


# --- the admin --------------------------------------------------------------------------------------------


def test_the_admin_action_erases_through_the_service_R_ENG_4(world):
    admin = UserFactory(is_superuser=True, is_staff=True)
    browser = browser_for(admin)
    response = browser.post(
        reverse("admin:mailings_client_changelist"),
        {"action": "erase", "_selected_action": [world.client.pk]},
        follow=True,
    )
    assert response.status_code == 200
    assert "1 client erased" in response.content.decode()
    assert not Client.objects.filter(pk=world.client.pk).exists()
    assert Suppression.objects.filter(owner=world.owner).count() == 1
    assert (
        json.dumps(list(Delivery.objects.values_list("email", flat=True))).lower().count(NEEDLE) == 1
    )  # theirs
