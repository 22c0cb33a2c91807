"""Sign-up forms through GraphQL (R-ENG-1, R-AUTH-4): list, create, update, delete with the same form as the
pages; another owner's form is NOT_FOUND, another owner's tag or sender an `invalid_choice` in the payload."""

import pytest
from graphql_relay import to_global_id

from backend.mailings.models import SignupForm
from tests.api.helpers import data_of, error_codes, gql
from tests.factories import TagFactory, UserFactory
from tests.senders_helpers import confirmed_identity

from .signup_helpers import make_form

pytestmark = pytest.mark.django_db

FORMS = (
    "{ signupForms(first: 10) { totalCount edges { node { id name hostedUrl snippet tagIds isActive } } } }"
)
CREATE = """mutation($input: SignupFormInput!) { createSignupForm(input: $input) {
  signupForm { id name publicId tagIds sender { fromEmail } } errors { field code } } }"""
UPDATE = """mutation($id: ID!, $input: SignupFormInput!) { updateSignupForm(id: $id, input: $input) {
  signupForm { name isActive } errors { field code } } }"""
DELETE = "mutation($id: ID!) { deleteSignupForm(id: $id) { deletedId errors { code } } }"


def form_input(**changes) -> dict:
    data = {
        "name": "Footer",
        "title": "News",
        "consentText": "I agree.",
        "thankYouText": "Thanks!",
    }
    data.update(changes)
    return data


def test_an_owner_creates_lists_updates_and_deletes_a_form_R_ENG_1(settings):
    settings.SITE_URL = "https://mailer.example.com"
    owner = UserFactory()
    news = TagFactory(owner=owner, name="news")
    identity = confirmed_identity(owner)
    tag_id, sender_id = to_global_id("Tag", news.pk), to_global_id("SenderIdentity", identity.pk)
    created = data_of(CREATE, {"input": form_input(tagIds=[tag_id], senderId=sender_id)}, user=owner)
    payload = created["createSignupForm"]
    assert payload["errors"] == []
    assert payload["signupForm"]["tagIds"] == [tag_id]
    assert payload["signupForm"]["sender"] == {"fromEmail": identity.from_email}
    form_id = payload["signupForm"]["id"]
    listed = data_of(FORMS, user=owner)["signupForms"]
    assert listed["totalCount"] == 1
    node = listed["edges"][0]["node"]
    hosted = f"https://mailer.example.com/subscribe/{payload['signupForm']['publicId']}/"
    assert node["hostedUrl"] == hosted and f'action="{hosted}"' in node["snippet"]
    updated = data_of(
        UPDATE, {"id": form_id, "input": form_input(name="Renamed", isActive=False)}, user=owner
    )
    assert updated["updateSignupForm"] == {"signupForm": {"name": "Renamed", "isActive": False}, "errors": []}
    assert data_of(DELETE, {"id": form_id}, user=owner)["deleteSignupForm"]["deletedId"] == form_id
    assert not SignupForm.objects.exists()


def test_another_owners_form_is_not_found_and_unchanged_R_AUTH_4():
    theirs = make_form(name="Theirs")
    stranger = UserFactory()
    form_id = to_global_id("SignupForm", theirs.pk)
    assert data_of(FORMS, user=stranger)["signupForms"]["totalCount"] == 0
    query = "query($id: ID!) { node(id: $id) { ... on SignupForm { name } } }"
    assert data_of(query, {"id": form_id}, user=stranger)["node"] is None
    for operation, variables in ((UPDATE, {"id": form_id, "input": form_input()}), (DELETE, {"id": form_id})):
        status, body = gql(operation, variables, user=stranger)
        assert error_codes(body) == ["NOT_FOUND"] and status < 500
    theirs.refresh_from_db()
    assert theirs.name == "Theirs"


def test_another_owners_tag_or_sender_and_bad_input_come_back_per_field_R_ENG_1():
    owner, stranger = UserFactory(), UserFactory()
    tag_id = to_global_id("Tag", TagFactory(owner=stranger).pk)
    sender_id = to_global_id("SenderIdentity", confirmed_identity(stranger).pk)
    cases = [
        (form_input(tagIds=[tag_id]), ("tags", "invalid_choice")),
        (form_input(senderId=sender_id), ("sender", "invalid_choice")),
        (form_input(consentText=" "), ("consentText", "required")),
        (form_input(thankYouText="x" * 2001), ("thankYouText", "invalid")),
    ]
    for data, (field, code) in cases:
        payload = data_of(CREATE, {"input": data}, user=owner)["createSignupForm"]
        assert payload["signupForm"] is None
        assert {"field": field, "code": code} in payload["errors"], payload
    assert not SignupForm.objects.exists()


def test_a_tag_is_made_public_through_the_api_and_a_rename_without_it_keeps_it_R_ENG_3():
    owner = UserFactory()
    create = (
        """mutation($input: TagInput!) { createTag(input: $input) { tag { id isPublic } errors { code } } }"""
    )
    update = """mutation($id: ID!, $input: TagInput!) { updateTag(id: $id, input: $input) {
      tag { name isPublic } errors { code } } }"""
    tag = data_of(create, {"input": {"name": "News", "isPublic": True}}, user=owner)["createTag"]["tag"]
    assert tag["isPublic"] is True
    renamed = data_of(update, {"id": tag["id"], "input": {"name": "Newsletter"}}, user=owner)["updateTag"]
    assert renamed["tag"] == {"name": "Newsletter", "isPublic": True}
    hidden = data_of(
        update, {"id": tag["id"], "input": {"name": "Newsletter", "isPublic": False}}, user=owner
    )
    assert hidden["updateTag"]["tag"]["isPublic"] is False
    status, body = gql(
        update, {"id": tag["id"], "input": {"name": "X", "isPublic": True}}, user=UserFactory()
    )
    assert error_codes(body) == ["NOT_FOUND"] and status < 500
