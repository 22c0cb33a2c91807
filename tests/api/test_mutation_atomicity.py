"""A mutation document answers only with what it kept: a field reported done stays done, a field whose
payload fails after writing leaves nothing behind (R-AUTH-4)."""

import graphene
import pytest
from django.urls import path
from graphql_relay import to_global_id

from backend.api.core.mutations import BaseMutation
from backend.api.core.views import MailerGraphQLView
from backend.api.mailings.types import ClientType
from backend.mailings import services
from backend.mailings.models import Client
from tests.api.helpers import data_of, error_codes, gql
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


# --- a mutation document answers only with what it kept (never half a write) ----------------


class AddClientThenFail(BaseMutation):
    """Writes a client, then its payload fails: the write must not survive."""

    class Arguments:
        email = graphene.String(required=True)

    client = graphene.Field(ClientType)
    broken = graphene.String()

    @classmethod
    def perform(cls, info, user, email):
        data = {"email": email, "full_name": "Half", "comment": ""}
        return cls(client=services.client_create(actor=user, data=data), errors=[])

    @staticmethod
    def resolve_broken(root, info):
        raise RuntimeError("the payload failed after the write")


class Mutation(graphene.ObjectType):
    add_client_then_fail = AddClientThenFail.Field()


class Query(graphene.ObjectType):
    ping = graphene.String()


urlpatterns = [
    path("graphql/", MailerGraphQLView.as_view(schema=graphene.Schema(query=Query, mutation=Mutation)))
]

TWO_FIELDS = """
mutation Two($id: ID!) {
  a: createClient(input: {email: "kept@example.org", fullName: "Kept"}) {
    client { id email } errors { code }
  }
  b: deleteClient(id: $id) { deletedId errors { code } }
}
"""


def test_a_field_reported_done_stays_done_when_a_later_field_fails_R_AUTH_4():
    """`a` succeeded and its client id is in the answer; `b` (another owner's client: NOT_FOUND) must not
    undo `a`. Before the fix the whole document was rolled back and the answer named a client that did not
    exist."""
    owner, other = UserFactory(), UserFactory()
    foreign = Client.objects.create(owner=other, email="theirs@example.org", full_name="Theirs")
    _status, body = gql(TWO_FIELDS, {"id": to_global_id("Client", foreign.pk)}, user=owner)
    assert error_codes(body) == ["NOT_FOUND"]
    created = body["data"]["a"]["client"]
    assert body["data"]["a"]["errors"] == [] and body["data"]["b"] is None
    kept = Client.objects.get(owner=owner)
    assert created["id"] == to_global_id("Client", kept.pk) and kept.email == "kept@example.org"
    assert Client.objects.filter(pk=foreign.pk).exists()


@pytest.mark.urls(__name__)
def test_a_field_whose_payload_fails_after_writing_leaves_nothing_behind():
    owner = UserFactory()
    query = """mutation {
      addClientThenFail(email: "half@example.org") { client { email } broken errors { code } }
    }"""
    _status, body = gql(query, user=owner)
    assert error_codes(body) == ["INTERNAL"]
    assert not Client.objects.filter(owner=owner).exists()


def test_a_successful_document_is_kept():
    owner = UserFactory()
    data = data_of(
        'mutation { createClient(input: {email: "one@example.org", fullName: "One"}) { errors { code } } }',
        user=owner,
    )
    assert data["createClient"]["errors"] == []
    assert Client.objects.filter(owner=owner, email="one@example.org").exists()
