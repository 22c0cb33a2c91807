"""Paging a connection (R-API-2): a page whose `totalCount` and `pageInfo` nobody asked for is read without
counting the list, and gives exactly the edges (nodes and cursors) the counted page gives, for every way of
asking for a page."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from graphql_relay import offset_to_cursor, to_global_id

from tests.api.helpers import data_of, gql
from tests.factories import MailingFactory, UserFactory

pytestmark = pytest.mark.django_db

EDGES = "edges { cursor node { id } }"
QUERY = """query Page($first: Int, $last: Int, $after: String, $before: String, $offset: Int) {
  mailings(first: $first, last: $last, after: $after, before: $before, offset: $offset) { %s }
}"""

PAGES = [
    {"first": 3},
    {"first": 3, "after": offset_to_cursor(1)},
    {"first": 3, "offset": 2},
    {"first": 2, "offset": 2, "after": offset_to_cursor(0)},
    {"first": 10, "before": offset_to_cursor(5)},
    {"first": 2, "after": offset_to_cursor(1), "before": offset_to_cursor(3)},
    {"first": 3, "after": offset_to_cursor(40)},
    {"first": 0},
    {},
    {"last": 2},
    {"last": 2, "before": offset_to_cursor(4)},
]


def _counts(captured) -> int:
    return sum("COUNT(*)" in query["sql"] for query in captured.captured_queries)


@pytest.mark.parametrize("page", PAGES, ids=lambda page: ",".join(f"{k}={v}" for k, v in page.items()))
def test_a_page_without_its_count_has_the_same_edges(page):
    owner = UserFactory()
    MailingFactory.create_batch(7, owner=owner)
    with CaptureQueriesContext(connection) as counted:
        full = data_of(QUERY % f"totalCount {EDGES}", page, user=owner)["mailings"]
    with CaptureQueriesContext(connection) as lean:
        edges = data_of(QUERY % EDGES, page, user=owner)["mailings"]
    assert full["totalCount"] == 7
    assert edges["edges"] == full["edges"]
    assert _counts(counted) == 1
    # `last` counts from the list's end, so it needs the length whatever is selected.
    assert _counts(lean) == (1 if "last" in page else 0)


def test_page_info_still_counts_and_says_whether_more_follow():
    owner = UserFactory()
    MailingFactory.create_batch(4, owner=owner)
    query = QUERY % "pageInfo { hasNextPage endCursor } edges { cursor }"
    with CaptureQueriesContext(connection) as captured:
        first = data_of(query, {"first": 3}, user=owner)["mailings"]
    assert first["pageInfo"] == {"hasNextPage": True, "endCursor": offset_to_cursor(2)}
    assert _counts(captured) == 1
    rest = data_of(query, {"first": 3, "after": first["pageInfo"]["endCursor"]}, user=owner)["mailings"]
    assert rest["pageInfo"]["hasNextPage"] is False and len(rest["edges"]) == 1


def test_a_fragment_asking_for_the_count_is_followed():
    owner = UserFactory()
    MailingFactory.create_batch(2, owner=owner)
    query = """query { mailings(first: 1) { ...Counted edges { node { id } } } }
    fragment Counted on MailingConnection { totalCount }"""
    assert data_of(query, user=owner)["mailings"]["totalCount"] == 2


def test_another_owners_mailings_are_not_on_an_uncounted_page():
    owner, other = UserFactory(), UserFactory()
    MailingFactory.create_batch(2, owner=other)
    mine = MailingFactory(owner=owner)
    edges = data_of(QUERY % EDGES, {"first": 10}, user=owner)["mailings"]["edges"]
    assert [edge["node"]["id"] for edge in edges] == [to_global_id("Mailing", mine.pk)]


def test_a_scoped_field_whose_resolver_returns_nothing_lists_nothing(monkeypatch):
    """graphene-django would page every mailing of every owner for a resolver returning None; a field
    scoped by its resolver refuses that instead."""
    from backend.api.mailings import schema

    owner, other = UserFactory(), UserFactory()
    MailingFactory(owner=other)
    monkeypatch.setattr(schema, "_mailings", lambda *args, **kwargs: None)
    status, body = gql(QUERY % EDGES, {"first": 10}, user=owner)
    assert (status, body["data"]) == (200, {"mailings": None})
    assert [error["extensions"]["code"] for error in body["errors"]] == ["INTERNAL"]
