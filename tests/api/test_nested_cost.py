"""Nested lists multiply: their cost is counted before anything runs (aliases, variables, defaults,
fragments), and every operation the pages send stays within the limits."""

from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from backend.api.core.views import _prepared
from backend.api.schema import schema
from tests.api.helpers import data_of, error_codes, gql
from tests.factories import ClientFactory, MailingFactory, UserFactory

pytestmark = pytest.mark.django_db

OPERATIONS = Path(__file__).resolve().parents[2] / "graphql" / "operations"


# --- nested lists multiply -----------------------------------------------------------------

CLIENT_PAGES = "mailings(first: 100) { edges { node { clients(first: 100) { edges { node { email } } } } } }"


def test_thirty_aliases_of_nested_pages_are_refused_before_running():
    """Each cap held (30 aliases, pages of 100, depth 7), yet the document asked for 300,000 clients: 9 s,
    3,000 queries and 16 MB for 100 mailings of 100 clients on SQLite."""
    owner = UserFactory()
    query = "{ " + " ".join(f"a{n}: {CLIENT_PAGES}" for n in range(30)) + " }"
    with CaptureQueriesContext(connection) as captured:
        status, body = gql(query, user=owner)
    assert status == 400 and error_codes(body) == ["BAD_REQUEST"]
    assert "303000 items, more than 20000" in body["errors"][0]["message"]
    assert not any("mailings_mailing" in q["sql"] for q in captured.captured_queries)


@pytest.mark.parametrize(
    "query",
    [
        # Sizes from variables or left to the default count as full pages: 2 x (100 + 100 x 100).
        "query($n: Int) { a: mailings(first: $n) { edges { node { clients { totalCount } } } }"
        " b: mailings { edges { node { clients(first: $n) { totalCount } } } } }",
        # Through fragments too.
        "query { a: mailings { ...M } b: allMailings { ...M } } "
        "fragment M on MailingConnection { edges { node { clients { edges { node { email } } } } } }",
    ],
)
def test_variables_defaults_and_fragments_count_as_full_pages(query):
    _status, body = gql(query, user=UserFactory())
    assert error_codes(body) == ["BAD_REQUEST"]
    assert "20200 items" in body["errors"][0]["message"]


def test_one_page_of_mailings_with_a_page_of_clients_each_still_runs():
    owner = UserFactory()
    MailingFactory(owner=owner, clients=[ClientFactory(owner=owner)])
    data = data_of("{ " + CLIENT_PAGES + " }", user=owner)
    assert len(data["mailings"]["edges"][0]["node"]["clients"]["edges"]) == 1


def test_every_operation_the_pages_send_is_within_the_cost_limits():
    for operation in sorted(OPERATIONS.glob("*.graphql")):
        prepared = _prepared(schema.graphql_schema, operation.read_text())
        assert prepared.errors == (), (operation.name, prepared.errors)
