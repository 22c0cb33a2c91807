"""Tags through GraphQL (R-AUD-2, R-AUTH-4, R-AUTH-5): the list with sizes, create, rename, delete (refused
while a mailing sends to the tag), tagging and untagging clients by ID or by every client matching a search,
a client's tags and the clients list filtered by tag. Another owner's tag or client is NOT_FOUND or not
matched; a manager has no tags and cannot tag."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from graphql_relay import to_global_id

from backend.mailings.models import Client, ClientTag, Mailing, Tag
from tests.api.helpers import data_of, error_codes, gql
from tests.factories import ClientFactory, MailingFactory, TagFactory, UserFactory, make_manager

pytestmark = pytest.mark.django_db

TAGS = """
query Tags($search: String, $orderBy: TagOrder, $first: Int, $after: String) {
  tags(search: $search, orderBy: $orderBy, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node { id name size createdAt } }
  }
}
"""
CLIENTS = """
query Clients($tag: ID, $search: String, $first: Int) {
  clients(tag: $tag, search: $search, first: $first) {
    totalCount
    edges { node { email tags { id name size } } }
  }
}
"""
CREATE = """
mutation Create($name: String!) {
  createTag(input: {name: $name}) { tag { id name size } errors { field message code } }
}
"""
UPDATE = """
mutation Update($id: ID!, $name: String!) {
  updateTag(id: $id, input: {name: $name}) { tag { id name } errors { field message code } }
}
"""
DELETE = "mutation Delete($id: ID!) { deleteTag(id: $id) { deletedId errors { field message code } } }"
TAG = """
mutation Tag($id: ID!, $clientIds: [ID!], $matching: ClientMatchInput) {
  tagClients(id: $id, clientIds: $clientIds, matching: $matching) {
    changed tag { size } errors { field message code }
  }
}
"""
UNTAG = """
mutation Untag($id: ID!, $clientIds: [ID!], $matching: ClientMatchInput) {
  untagClients(id: $id, clientIds: $clientIds, matching: $matching) {
    changed tag { size } errors { field message code }
  }
}
"""


def gid(obj) -> str:
    return to_global_id(type(obj).__name__, obj.pk)


@pytest.fixture
def owner():
    return UserFactory()


@pytest.fixture
def stranger():
    return UserFactory()


def tagged(tag: Tag) -> set[str]:
    return set(Client.objects.filter(tags=tag).values_list("email", flat=True))


# --- reading --------------------------------------------------------------------------------------------


def test_tags_lists_own_tags_with_sizes_searched_and_sorted_R_AUD_2(owner, stranger):
    news, vip, _empty = (TagFactory(owner=owner, name=name) for name in ("News", "VIP", "Zebra"))
    TagFactory(owner=stranger, name="News of theirs")
    for n in range(3):
        ClientFactory(owner=owner).tags.add(news, *([vip] if n == 0 else []))
    data = data_of(TAGS, {}, user=owner)["tags"]
    assert data["totalCount"] == 3
    assert [(e["node"]["name"], e["node"]["size"]) for e in data["edges"]] == [
        ("News", 3),
        ("VIP", 1),
        ("Zebra", 0),
    ]
    found = data_of(TAGS, {"search": "new"}, user=owner)["tags"]
    assert [e["node"]["name"] for e in found["edges"]] == ["News"]
    by_size = data_of(TAGS, {"orderBy": "SIZE_DESC"}, user=owner)["tags"]
    assert [e["node"]["name"] for e in by_size["edges"]] == ["News", "VIP", "Zebra"]
    page = data_of(TAGS, {"first": 2}, user=owner)["tags"]
    rest = data_of(TAGS, {"first": 2, "after": page["pageInfo"]["endCursor"]}, user=owner)["tags"]
    assert [e["node"]["name"] for e in rest["edges"]] == ["Zebra"]


def test_another_owners_tag_is_not_found_by_node_and_a_manager_has_none_R_AUTH_4(owner, stranger):
    tag = TagFactory(owner=owner, name="News")
    query = "query($id: ID!) { node(id: $id) { ... on Tag { name } } }"
    assert data_of(query, {"id": gid(tag)}, user=owner)["node"] == {"name": "News"}
    assert data_of(query, {"id": gid(tag)}, user=stranger)["node"] is None
    manager = make_manager()
    assert data_of(query, {"id": gid(tag)}, user=manager)["node"] is None
    assert data_of(TAGS, {}, user=manager)["tags"]["totalCount"] == 0


def test_clients_filtered_by_tag_with_their_tags_R_AUD_2(owner, stranger):
    news, vip = TagFactory(owner=owner, name="News"), TagFactory(owner=owner, name="VIP")
    ClientFactory(owner=owner, email="a@example.org", full_name="A").tags.add(news, vip)
    ClientFactory(owner=owner, email="b@example.org", full_name="B").tags.add(news)
    ClientFactory(owner=owner, email="c@example.org", full_name="C")
    data = data_of(CLIENTS, {"tag": gid(news)}, user=owner)["clients"]
    assert data["totalCount"] == 2
    first = data["edges"][0]["node"]
    assert first["email"] == "a@example.org"
    assert [(t["name"], t["size"]) for t in first["tags"]] == [("News", 2), ("VIP", 1)]
    assert data_of(CLIENTS, {"tag": gid(vip), "search": "a@"}, user=owner)["clients"]["totalCount"] == 1
    everyone = data_of(CLIENTS, {}, user=owner)["clients"]
    assert sorted((e["node"]["email"], len(e["node"]["tags"])) for e in everyone["edges"]) == [
        ("a@example.org", 2),
        ("b@example.org", 1),
        ("c@example.org", 0),
    ]
    # Another owner's tag matches none of the caller's clients; a malformed ID is NOT_FOUND.
    theirs = TagFactory(owner=stranger)
    ClientFactory(owner=stranger).tags.add(theirs)
    assert data_of(CLIENTS, {"tag": gid(news)}, user=stranger)["clients"]["totalCount"] == 0
    status, body = gql(CLIENTS, {"tag": "nonsense"}, user=owner)
    assert error_codes(body) == ["NOT_FOUND"] and status < 500


def test_a_page_of_clients_with_tags_costs_the_same_queries_for_5_and_50(owner):
    tags = [TagFactory(owner=owner) for _ in range(3)]
    for _ in range(50):
        ClientFactory(owner=owner).tags.add(*tags)
    counts = {}
    for first in (5, 50):
        with CaptureQueriesContext(connection) as captured:
            data = data_of(CLIENTS, {"first": first}, user=owner)["clients"]
        assert all(len(e["node"]["tags"]) == 3 for e in data["edges"])
        assert all(t["size"] == 50 for e in data["edges"] for t in e["node"]["tags"])
        counts[first] = len(captured)
    assert counts[5] == counts[50], counts


# --- create, rename, delete -----------------------------------------------------------------------------


def test_create_rename_delete_a_tag_R_AUD_2(owner):
    created = data_of(CREATE, {"name": "  Weekly   news "}, user=owner)["createTag"]
    assert created["errors"] == [] and created["tag"]["name"] == "Weekly news"
    assert created["tag"]["size"] == 0
    tag = Tag.objects.get(owner=owner)
    renamed = data_of(UPDATE, {"id": gid(tag), "name": "Monthly"}, user=owner)["updateTag"]
    assert renamed == {"tag": {"id": gid(tag), "name": "Monthly"}, "errors": []}
    client = ClientFactory(owner=owner)
    client.tags.add(tag)
    assert data_of(DELETE, {"id": gid(tag)}, user=owner)["deleteTag"] == {"deletedId": gid(tag), "errors": []}
    assert not Tag.objects.exists() and Client.objects.filter(pk=client.pk).exists()


def test_tag_names_are_checked_per_field(owner):
    TagFactory(owner=owner, name="News")
    for name, code in (
        ("news", "duplicate_tag"),
        ("a,b", "invalid"),
        ("   ", "required"),
        ("x" * 101, "max_length"),
    ):
        payload = data_of(CREATE, {"name": name}, user=owner)["createTag"]
        assert payload["tag"] is None
        assert [(e["field"], e["code"]) for e in payload["errors"]] == [("name", code)], name
    other = TagFactory(owner=owner, name="Other")
    payload = data_of(UPDATE, {"id": gid(other), "name": "NEWS"}, user=owner)["updateTag"]
    assert [e["code"] for e in payload["errors"]] == ["duplicate_tag"]
    assert Tag.objects.filter(owner=owner).count() == 2


def test_a_tag_a_pending_mailing_sends_to_cannot_be_deleted(owner):
    tag = TagFactory(owner=owner)
    mailing = MailingFactory(owner=owner, audience=Mailing.Audience.TAGS, tags=[tag])
    payload = data_of(DELETE, {"id": gid(tag)}, user=owner)["deleteTag"]
    assert payload["deletedId"] is None
    assert [e["code"] for e in payload["errors"]] == ["tag_in_use"]
    assert Tag.objects.filter(pk=tag.pk).exists()
    Mailing.objects.filter(pk=mailing.pk).update(status=Mailing.Status.COMPLETED)
    assert data_of(DELETE, {"id": gid(tag)}, user=owner)["deleteTag"]["errors"] == []


def test_another_owners_tag_cannot_be_renamed_deleted_or_used_R_AUTH_4(owner, stranger):
    tag = TagFactory(owner=owner, name="News")
    mine = ClientFactory(owner=stranger)
    for query, variables in (
        (UPDATE, {"id": gid(tag), "name": "Mine"}),
        (DELETE, {"id": gid(tag)}),
        (TAG, {"id": gid(tag), "clientIds": [gid(mine)]}),
        (UNTAG, {"id": gid(tag), "matching": {}}),
        (DELETE, {"id": "not-an-id"}),
        (DELETE, {"id": gid(mine)}),
    ):
        _status, body = gql(query, variables, user=stranger)
        assert error_codes(body) == ["NOT_FOUND"], (query, body)
        assert next(iter(body["data"].values())) is None
    tag.refresh_from_db()
    assert tag.name == "News" and not ClientTag.objects.exists()


def test_a_manager_has_no_tags_and_cannot_create_or_tag_R_AUTH_5(owner):
    manager = make_manager()
    tag = TagFactory(owner=owner)
    client = ClientFactory(owner=owner)
    _status, body = gql(CREATE, {"name": "Oversight"}, user=manager)
    assert error_codes(body) == ["FORBIDDEN"]
    for query, variables in (
        (TAG, {"id": gid(tag), "clientIds": [gid(client)]}),
        (TAG, {"id": gid(tag), "matching": {}}),
        (UPDATE, {"id": gid(tag), "name": "x"}),
        (DELETE, {"id": gid(tag)}),
    ):
        _status, body = gql(query, variables, user=manager)
        assert error_codes(body) == ["NOT_FOUND"], query
    assert list(Tag.objects.values_list("owner", flat=True)) == [owner.pk]
    assert not ClientTag.objects.exists()


def test_anonymous_callers_are_refused():
    for query, variables in ((TAGS, {}), (CREATE, {"name": "x"})):
        _status, body = gql(query, variables)
        assert error_codes(body) == ["UNAUTHENTICATED"]


# --- tagging --------------------------------------------------------------------------------------------


def test_tag_and_untag_clients_by_id_counting_only_changes_R_AUD_2(owner, stranger):
    tag = TagFactory(owner=owner)
    a, b, c = (ClientFactory(owner=owner, email=f"{n}@example.org") for n in "abc")
    theirs = ClientFactory(owner=stranger, email="theirs@example.org")
    a.tags.add(tag)
    # Another owner's client, a malformed ID, one beyond 64 bits: the call is NOT_FOUND, nothing tagged.
    huge = to_global_id("Client", 2**70)
    for stray in (gid(theirs), "not-an-id", huge):
        _status, body = gql(TAG, {"id": gid(tag), "clientIds": [gid(b), stray]}, user=owner)
        assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND", stray
        assert tagged(tag) == {"a@example.org"}
    payload = data_of(TAG, {"id": gid(tag), "clientIds": [gid(a), gid(b), gid(b)]}, user=owner)["tagClients"]
    assert payload == {"changed": 1, "tag": {"size": 2}, "errors": []}
    assert tagged(tag) == {"a@example.org", "b@example.org"}
    payload = data_of(UNTAG, {"id": gid(tag), "clientIds": [gid(b), gid(c)]}, user=owner)["untagClients"]
    assert payload == {"changed": 1, "tag": {"size": 1}, "errors": []}
    assert tagged(tag) == {"a@example.org"}


def test_tag_clients_by_search_tags_exactly_the_owners_matching_clients_R_AUD_2(owner, stranger):
    tag = TagFactory(owner=owner)
    vip = TagFactory(owner=owner, name="VIP")
    for email in ("ann@shop.example", "bob@shop.example", "carl@other.example"):
        ClientFactory(owner=owner, email=email)
    ClientFactory(owner=stranger, email="eve@shop.example")
    payload = data_of(TAG, {"id": gid(tag), "matching": {"search": "shop"}}, user=owner)["tagClients"]
    assert payload == {"changed": 2, "tag": {"size": 2}, "errors": []}
    assert tagged(tag) == {"ann@shop.example", "bob@shop.example"}
    # The clients list's tag filter too: every client carrying VIP gets the tag.
    Client.objects.get(email="carl@other.example").tags.add(vip)
    matching = {"tag": gid(vip)}
    assert data_of(TAG, {"id": gid(tag), "matching": matching}, user=owner)["tagClients"]["changed"] == 1
    assert len(tagged(tag)) == 3
    # Every client (an empty match), then untag the searched ones.
    untagged = data_of(UNTAG, {"id": gid(tag), "matching": {"search": "bob"}}, user=owner)["untagClients"]
    assert untagged["changed"] == 1
    assert tagged(tag) == {"ann@shop.example", "carl@other.example"}
    assert data_of(TAG, {"id": gid(tag), "matching": {}}, user=owner)["tagClients"]["changed"] == 1
    assert not Client.objects.filter(owner=stranger, tags__isnull=False).exists()


def test_tag_clients_takes_either_ids_or_a_match(owner):
    tag = TagFactory(owner=owner)
    client = ClientFactory(owner=owner)
    for variables in ({}, {"clientIds": [gid(client)], "matching": {"search": "x"}}):
        payload = data_of(TAG, {"id": gid(tag), **variables}, user=owner)["tagClients"]
        assert payload["changed"] is None and [e["code"] for e in payload["errors"]] == ["invalid"]
    too_many = [gid(client)] * 1001
    payload = data_of(TAG, {"id": gid(tag), "clientIds": too_many}, user=owner)["tagClients"]
    assert [e["code"] for e in payload["errors"]] == ["invalid"]
    status, body = gql(TAG, {"id": gid(tag), "matching": {"search": "a\x00b"}}, user=owner)
    assert error_codes(body) == ["BAD_REQUEST"] and status < 500
    status, body = gql(TAG, {"id": gid(tag), "matching": {"tag": "nonsense"}}, user=owner)
    assert error_codes(body) == ["NOT_FOUND"]
    assert not ClientTag.objects.exists()
