"""Messages through GraphQL (R-DATA-2, R-AUTH-4, R-AUTH-5): the list, create, update,
delete (refused while in use) and preview, for the owner, another owner, a manager and an anonymous caller."""

import pytest
from graphql_relay import to_global_id

from backend.mailings.models import Message
from tests.api.helpers import data_of, error_codes, gql
from tests.factories import ClientFactory, MailingFactory, MessageFactory, UserFactory, make_manager

pytestmark = pytest.mark.django_db

MESSAGES = """
query Messages($search: String, $orderBy: MessageOrder, $first: Int) {
  messages(search: $search, orderBy: $orderBy, first: $first) {
    totalCount
    edges { node { id subject body htmlBody } }
  }
}
"""
NODE = "query Node($id: ID!) { node(id: $id) { id ... on Message { subject body } } }"
CREATE = """
mutation Create($input: MessageInput!) {
  createMessage(input: $input) { message { id subject body htmlBody } errors { field message code } }
}
"""
UPDATE = """
mutation Update($id: ID!, $input: MessageInput!) {
  updateMessage(id: $id, input: $input) { message { id subject } errors { field message code } }
}
"""
DELETE = "mutation Delete($id: ID!) { deleteMessage(id: $id) { deletedId errors { field message code } } }"
PREVIEW = """
mutation Preview($message: ID!, $client: ID!) {
  previewMessage(message: $message, client: $client) {
    preview { subject text html to fromEmail headers { name value } }
    errors { field message code }
  }
}
"""
INPUT = {"subject": "Hello {full_name}", "body": "Dear {full_name}, news.", "htmlBody": ""}


def gid(obj) -> str:
    return to_global_id(type(obj).__name__, obj.pk)


@pytest.fixture
def owner():
    return UserFactory()


@pytest.fixture
def stranger():
    return UserFactory()


def test_owner_lists_only_their_messages_R_AUTH_4(owner, stranger):
    MessageFactory(owner=owner, subject="Spring sale")
    MessageFactory(owner=owner, subject="Autumn news")
    MessageFactory(owner=stranger, subject="Spring secret")
    data = data_of(MESSAGES, {"search": "spring"}, user=owner)
    assert data["messages"]["totalCount"] == 1
    assert [edge["node"]["subject"] for edge in data["messages"]["edges"]] == ["Spring sale"]
    data = data_of(MESSAGES, {"orderBy": "SUBJECT"}, user=owner)
    assert [edge["node"]["subject"] for edge in data["messages"]["edges"]] == ["Autumn news", "Spring sale"]


def test_manager_reads_no_message_text_R_AUTH_5(owner):
    message = MessageFactory(owner=owner)
    manager = make_manager()
    assert data_of(MESSAGES, user=manager)["messages"] == {"totalCount": 0, "edges": []}
    assert data_of(NODE, {"id": gid(message)}, user=manager) == {"node": None}


def test_another_owners_message_is_no_node(owner, stranger):
    message = MessageFactory(owner=owner)
    assert data_of(NODE, {"id": gid(message)}, user=owner)["node"]["body"] == message.body
    assert data_of(NODE, {"id": gid(message)}, user=stranger) == {"node": None}


def test_anonymous_gets_unauthenticated():
    for query, variables in ((MESSAGES, {}), (CREATE, {"input": INPUT})):
        status, body = gql(query, variables)
        assert status == 401 and error_codes(body) == ["UNAUTHENTICATED"]
    assert not Message.objects.exists()


def test_create_message_R_DATA_2(owner):
    payload = data_of(CREATE, {"input": INPUT}, user=owner)["createMessage"]
    assert payload["errors"] == []
    message = Message.objects.get(owner=owner)
    assert payload["message"] == {"id": gid(message), **INPUT}


def test_create_message_refuses_unknown_placeholders_and_a_multiline_subject(owner):
    bad = {"subject": "Hi\nthere", "body": "Hello {password}", "htmlBody": ""}
    payload = data_of(CREATE, {"input": bad}, user=owner)["createMessage"]
    assert payload["message"] is None
    assert sorted((e["field"], e["code"]) for e in payload["errors"]) == [
        ("body", "unknown_placeholder"),
        ("subject", "multiline_subject"),
    ]
    assert not Message.objects.exists()


def test_create_message_wrong_types_are_graphql_errors(owner):
    status, body = gql(CREATE, {"input": {"subject": 1, "body": ["x"]}}, user=owner)
    assert status == 400 and set(error_codes(body)) == {"BAD_REQUEST"}
    assert not Message.objects.exists()


def test_update_message(owner):
    message = MessageFactory(owner=owner)
    payload = data_of(UPDATE, {"id": gid(message), "input": INPUT}, user=owner)["updateMessage"]
    assert payload["errors"] == []
    message.refresh_from_db()
    assert message.subject == INPUT["subject"]


def test_another_owner_cannot_update_or_delete_a_message_R_AUTH_4(owner, stranger):
    message = MessageFactory(owner=owner, subject="Mine", body="Mine")
    missing = to_global_id("Message", message.pk + 1000)
    for query, variables in ((UPDATE, {"input": INPUT}), (DELETE, {})):
        _status, foreign = gql(query, {"id": gid(message), **variables}, user=stranger)
        _status, absent = gql(query, {"id": missing, **variables}, user=stranger)
        assert error_codes(foreign) == ["NOT_FOUND"]
        assert foreign == absent
    message.refresh_from_db()
    assert (message.subject, message.body) == ("Mine", "Mine")


def test_manager_cannot_edit_messages_R_AUTH_5(owner):
    """Another owner's message is not even found; a message the manager still owns (from before they became
    a manager) is refused by the service."""
    theirs = MessageFactory(owner=owner, subject="Theirs")
    manager = make_manager()
    own = MessageFactory(owner=manager, subject="Old")
    _status, body = gql(UPDATE, {"id": gid(theirs), "input": INPUT}, user=manager)
    assert error_codes(body) == ["NOT_FOUND"]
    for query, variables in ((UPDATE, {"input": INPUT}), (DELETE, {})):
        _status, body = gql(query, {"id": gid(own), **variables}, user=manager)
        assert error_codes(body) == ["FORBIDDEN"]
    assert set(Message.objects.values_list("subject", flat=True)) == {"Theirs", "Old"}


def test_delete_message(owner):
    message = MessageFactory(owner=owner)
    assert data_of(DELETE, {"id": gid(message)}, user=owner)["deleteMessage"] == {
        "deletedId": gid(message),
        "errors": [],
    }
    assert not Message.objects.exists()


def test_a_message_in_use_is_not_deleted(owner):
    mailing = MailingFactory(owner=owner)
    payload = data_of(DELETE, {"id": gid(mailing.message)}, user=owner)["deleteMessage"]
    assert payload["deletedId"] is None
    assert [(e["field"], e["code"]) for e in payload["errors"]] == [(None, "message_in_use")]
    assert "1 mailing" in payload["errors"][0]["message"]
    assert Message.objects.filter(pk=mailing.message_id).exists()


# --- preview --------------------------------------------------------------------------------------------


def test_preview_is_the_email_the_client_would_get_R_SEND_9(owner, settings):
    settings.SITE_URL = "https://mailer.example.com"
    message = MessageFactory(owner=owner, subject="Hi {full_name}", body="Dear {full_name}.")
    client = ClientFactory(owner=owner, full_name="Ann Lee", email="ann@example.com")
    payload = data_of(PREVIEW, {"message": gid(message), "client": gid(client)}, user=owner)["previewMessage"]
    assert payload["errors"] == []
    preview = payload["preview"]
    assert preview["subject"] == "Hi Ann Lee"
    assert preview["text"].startswith("Dear Ann Lee.")
    assert "ann@example.com" in preview["to"]
    assert "List-Unsubscribe" in {header["name"] for header in preview["headers"]}
    assert client.unsubscribe_token in preview["text"]


def test_preview_with_another_owners_message_or_client_is_not_found_R_AUTH_4(owner, stranger):
    message = MessageFactory(owner=owner)
    client = ClientFactory(owner=owner)
    own_message = MessageFactory(owner=stranger)
    own_client = ClientFactory(owner=stranger)
    for variables in (
        {"message": gid(message), "client": gid(own_client)},
        {"message": gid(own_message), "client": gid(client)},
        {"message": gid(message), "client": gid(client)},
    ):
        _status, body = gql(PREVIEW, variables, user=stranger)
        assert error_codes(body) == ["NOT_FOUND"]
        assert body["data"] == {"previewMessage": None}
    _status, body = gql(PREVIEW, {"message": gid(message), "client": gid(client)}, user=make_manager())
    assert error_codes(body) == ["NOT_FOUND"]
    status, body = gql(PREVIEW, {"message": gid(message), "client": gid(client)})
    assert status == 401 and error_codes(body) == ["UNAUTHENTICATED"]


PREVIEW_FROM = """
mutation Preview($message: ID!, $client: ID!, $sender: ID) {
  previewMessage(message: $message, client: $client, sender: $sender) {
    preview { fromEmail headers { name value } }
    errors { code }
  }
}
"""


def test_preview_from_a_chosen_sender_and_never_from_a_foreign_or_revoked_one_R_DLV_1(owner, stranger):
    from django.utils import timezone

    from tests.senders_helpers import confirmed_identity

    message = MessageFactory(owner=owner)
    client = ClientFactory(owner=owner)
    shop = confirmed_identity(owner, "news@shop.example")
    revoked = confirmed_identity(owner, "old@shop.example", revoked_at=timezone.now())
    foreign = confirmed_identity(stranger, "news@other.example")
    base = {"message": gid(message), "client": gid(client)}

    payload = data_of(PREVIEW_FROM, {**base, "sender": gid(shop)}, user=owner)["previewMessage"]
    assert payload["preview"]["fromEmail"] == "Shop News <news@shop.example>"
    payload = data_of(PREVIEW_FROM, {**base, "sender": gid(revoked)}, user=owner)["previewMessage"]
    assert payload["preview"]["fromEmail"].endswith("<noreply@localhost>")  # what the engine would send
    for refused in (gid(foreign), to_global_id("SenderIdentity", 2**70), "garbage"):
        _status, body = gql(PREVIEW_FROM, {**base, "sender": refused}, user=owner)
        assert error_codes(body) == ["NOT_FOUND"] or error_codes(body) == ["BAD_REQUEST"], body
        assert body["data"] == {"previewMessage": None}
