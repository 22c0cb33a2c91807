"""Schema-driven fuzzing (hypothesis-graphql): every query and mutation the schema allows, with arbitrary
arguments (nulls, NUL characters, huge numbers, unknown IDs), answers a 2xx or 4xx in GraphQL's shape and
never an INTERNAL error (R-API-1). A small, fixed-seed run, so the suite stays fast and repeatable; raise
FUZZ_EXAMPLES to search longer."""

import json
import os

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st
from hypothesis_graphql import mutations, nodes, queries

from backend.api.schema import schema
from tests.api.helpers import token_for
from tests.factories import ClientFactory, MailingFactory, MessageFactory, UserFactory

pytestmark = pytest.mark.django_db

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "60"))
SCALARS = {
    "DateTime": st.sampled_from(["2026-12-07T10:00:00+00:00", "2026-13-40T99:99", "", "now"]).map(
        nodes.String
    ),
    "Date": st.sampled_from(["2026-12-07", "2026-02-30", "x"]).map(nodes.String),
    "Upload": st.just(nodes.Null),
    "GenericScalar": st.sampled_from([nodes.String("a"), nodes.Int(1), nodes.Null]),
}
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture
def caller():
    """An owner with a little of everything, calling with their JWT."""
    owner = UserFactory()
    clients = [ClientFactory(owner=owner) for _ in range(3)]
    MailingFactory(owner=owner, message=MessageFactory(owner=owner), clients=clients)
    client = Client()
    return lambda document: client.post(
        "/graphql/",
        json.dumps({"query": document}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"JWT {token_for(owner)}",
    )


def assert_handled(response) -> None:
    assert response.status_code < 500, response.content[:500]
    body = response.json()
    codes = [error.get("extensions", {}).get("code") for error in body.get("errors", [])]
    assert "INTERNAL" not in codes, body


@seed(20261207)
@FUZZ
@given(document=queries(schema.graphql_schema, custom_scalars=SCALARS))
def test_any_query_the_schema_allows_is_answered_without_an_internal_error(caller, document):
    assert_handled(caller(document))


@seed(20261207)
@FUZZ
@given(document=mutations(schema.graphql_schema, custom_scalars=SCALARS))
def test_any_mutation_the_schema_allows_is_answered_without_an_internal_error(caller, document):
    assert_handled(caller(document))
