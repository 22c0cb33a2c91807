"""The endpoint's own rules (R-API-1, R-API-2): authentication at the door, limits on
what a request may cost, errors that never carry a traceback or SQL, and the schema file kept current."""

import io
import json
import logging
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import Client

from tests.api.helpers import error_codes, gql
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

ME = "query { me { email } }"


def post(body, *, content_type="application/json", client=None, **headers):
    payload = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return (client or Client()).post("/graphql/", payload, content_type=content_type, **headers)


def test_anonymous_gets_401_with_a_clear_code_R_API_2():
    status, body = gql(ME)
    assert status == 401
    assert error_codes(body) == ["UNAUTHENTICATED"]
    assert "data" not in body


def test_anonymous_may_introspect_and_ask_for_a_token_but_nothing_else():
    status, body = gql("{ __schema { queryType { name } } }")
    assert status == 200 and body["data"]["__schema"]["queryType"]["name"] == "Query"
    status, body = gql("{ __typename me { email } }")
    assert status == 401


def test_a_fragment_at_the_root_does_not_hide_a_private_field():
    status, body = gql("query { ...F } fragment F on Query { me { email } }")
    assert status == 401 and error_codes(body) == ["UNAUTHENTICATED"]


def test_a_garbage_token_is_refused_with_its_reason_not_ignored():
    status, body = gql(ME, token="not-a-token")
    assert status == 401 and error_codes(body) == ["UNAUTHENTICATED"]
    # A wrong scheme is explained, not treated as a session.
    user = UserFactory()
    client = Client()
    client.force_login(user)
    response = post({"query": ME}, client=client, HTTP_AUTHORIZATION="Bearer abc")
    assert response.status_code == 401
    assert "JWT" in response.json()["errors"][0]["message"]


def test_session_post_needs_the_csrf_token_and_jwt_does_not():
    user = UserFactory()
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    refused = post({"query": ME}, client=client)
    assert refused.status_code == 403
    assert refused.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    client.get("/graphql/", HTTP_ACCEPT="text/html")  # GraphiQL's page sets the CSRF cookie
    token = client.cookies["csrftoken"].value
    accepted = post({"query": ME}, client=client, HTTP_X_CSRFTOKEN=token)
    assert accepted.json() == {"data": {"me": {"email": user.email}}}
    status, body = gql(ME, user=user, client=Client(enforce_csrf_checks=True))
    assert status == 200 and body["data"]["me"]["email"] == user.email


def test_without_a_session_cookie_the_answer_is_sign_in_first_not_csrf():
    """curl without a token: nothing for CSRF to protect, so the caller hears what is really missing."""
    response = post({"query": ME}, client=Client(enforce_csrf_checks=True))
    assert response.status_code == 401
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


def test_get_runs_queries_but_never_mutations():
    user = UserFactory()
    client = Client()
    client.force_login(user)
    response = client.get("/graphql/", {"query": ME})
    assert response.json()["data"]["me"]["email"] == user.email
    response = client.get("/graphql/", {"query": 'mutation { revokeToken(refreshToken: "x") { revoked } }'})
    assert response.status_code == 405
    assert "POST" in response.json()["errors"][0]["message"]


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        ("{not json", "application/json", 400),
        (b"\xff\xfe\x00garbage", "application/json", 400),
        ('"just a string"', "application/json", 400),
        ("{}", "application/json", 400),
        ('{"query": 5}', "application/json", 400),
        ('{"query": "{ me { email } }", "variables": [1]}', "application/json", 400),
        ('{"query": "{ me { email } }", "variables": "{bad"}', "application/json", 400),
        ('{"query": "{ me { email } }", "operationName": 7}', "application/json", 400),
        ("query=x", "text/plain", 415),
        ("[]", "application/json", 400),
    ],
)
def test_malformed_requests_get_a_json_error_never_a_500(body, content_type, status):
    user = UserFactory()
    response = post(body, content_type=content_type, HTTP_AUTHORIZATION=f"JWT {_token(user)}")
    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    assert response.json()["errors"][0]["message"]


def _token(user):
    from tests.api.helpers import token_for

    return token_for(user)


def test_node_with_any_id_it_cannot_show_answers_null_R_AUTH_4():
    user, other = UserFactory(), UserFactory()
    from graphql_relay import to_global_id

    for global_id in [
        "x",
        to_global_id("User", other.pk),
        to_global_id("Nope", 1),
        to_global_id("User", "a"),
    ]:
        status, body = gql("query ($id: ID!) { node(id: $id) { id } }", {"id": global_id}, user=user)
        assert (status, body) == (200, {"data": {"node": None}})
    status, body = gql(
        "query ($id: ID!) { node(id: $id) { ... on User { email } } }",
        {"id": to_global_id("User", user.pk)},
        user=user,
    )
    assert body == {"data": {"node": {"email": user.email}}}


@pytest.mark.urls("tests.api.internal_schema")
def test_depth_50_is_refused_by_the_depth_limit(settings):
    user = UserFactory()

    def nested(depth: int) -> str:
        return "query { nested { " + "child { " * (depth - 2) + "value" + " }" * (depth - 2) + " } }"

    status, body = gql(nested(settings.GRAPHQL_MAX_DEPTH), user=user)
    assert status == 200 and "errors" not in body
    for depth in (settings.GRAPHQL_MAX_DEPTH + 2, 50):
        status, body = gql(nested(depth), user=user)
        assert status == 400
        assert "depth" in body["errors"][0]["message"]


def test_ten_thousand_aliases_are_refused_before_running():
    user = UserFactory()
    query = "{ " + " ".join(f"a{i}: me {{ email }}" for i in range(10_000)) + " }"
    status, body = gql(query, user=user)
    assert status == 400
    assert error_codes(body) == ["BAD_REQUEST"]
    assert "bytes" in body["errors"][0]["message"]


def test_the_alias_cap_holds_within_the_size_limit(settings):
    user = UserFactory()
    query = "{ " + " ".join(f"a{i}: me {{ email }}" for i in range(settings.GRAPHQL_MAX_ALIASES + 1)) + " }"
    status, body = gql(query, user=user)
    assert status == 400 and "aliases" in body["errors"][0]["message"]
    query = "{ " + " ".join(f"a{i}: me {{ email }}" for i in range(settings.GRAPHQL_MAX_ALIASES)) + " }"
    status, body = gql(query, user=user)
    assert status == 200 and len(body["data"]) == settings.GRAPHQL_MAX_ALIASES


def test_the_token_cap_stops_a_document_of_many_small_tokens(settings):
    settings.GRAPHQL_MAX_DOCUMENT_BYTES = 1_000_000
    user = UserFactory()
    query = "{ me { " + "email " * (settings.GRAPHQL_MAX_TOKENS + 10) + "} }"
    status, body = gql(query, user=user)
    assert status == 400 and "token" in body["errors"][0]["message"].lower()


def test_a_batch_runs_each_operation_and_is_capped(settings):
    user = UserFactory()
    headers = {"HTTP_AUTHORIZATION": f"JWT {_token(user)}"}
    response = post([{"query": ME}] * settings.GRAPHQL_MAX_BATCH, **headers)
    assert response.status_code == 200
    assert [item["data"]["me"]["email"] for item in response.json()] == [
        user.email
    ] * settings.GRAPHQL_MAX_BATCH
    response = post([{"query": ME}] * (settings.GRAPHQL_MAX_BATCH + 1), **headers)
    assert response.status_code == 400
    assert str(settings.GRAPHQL_MAX_BATCH) in response.json()["errors"][0]["message"]


def test_a_five_megabyte_variable_is_refused_cleanly():
    user = UserFactory()
    response = post(
        {"query": "query ($x: String) { me { email } }", "variables": {"x": "a" * 5_000_000}},
        HTTP_AUTHORIZATION=f"JWT {_token(user)}",
    )
    assert response.status_code == 413
    assert response.json()["errors"][0]["message"]


def test_a_malformed_multipart_request_is_explained():
    user = UserFactory()
    response = Client().post(
        "/graphql/",
        {"operations": "{bad", "map": "{}"},
        HTTP_AUTHORIZATION=f"JWT {_token(user)}",
    )
    assert response.status_code == 400
    assert "multipart" in response.json()["errors"][0]["message"]
    response = Client().post(
        "/graphql/",
        {"operations": json.dumps({"query": ME}), "map": json.dumps({"0": ["variables.file"]})},
        HTTP_AUTHORIZATION=f"JWT {_token(user)}",
    )
    assert response.status_code == 400


def test_a_well_formed_multipart_request_runs():
    user = UserFactory()
    upload = io.BytesIO(b"a@example.com\n")
    upload.name = "clients.csv"
    response = Client().post(
        "/graphql/",
        {
            "operations": json.dumps({"query": ME, "variables": {"file": None}}),
            "map": json.dumps({"0": ["variables.file"]}),
            "0": upload,
        },
        HTTP_AUTHORIZATION=f"JWT {_token(user)}",
    )
    assert response.status_code == 200, response.content
    assert response.json()["data"]["me"]["email"] == user.email


@pytest.mark.urls("tests.api.internal_schema")
def test_an_unexpected_error_is_masked_with_an_id_that_is_in_the_log(caplog):
    user = UserFactory()
    with caplog.at_level(logging.ERROR, logger="backend.api"):
        _status, body = gql("{ broken }", user=user)
    error = body["errors"][0]
    assert error["extensions"]["code"] == "INTERNAL"
    assert "no_such_table" not in json.dumps(body) and "SELECT" not in json.dumps(body)
    assert "Traceback" not in json.dumps(body)
    error_id = error["extensions"]["errorId"]
    assert error_id in error["message"]
    assert any(error_id in record.getMessage() and record.exc_info for record in caplog.records)


def test_schema_file_is_what_graphql_schema_prints(tmp_path):
    """Graphql/schema.graphql is the SDL the command prints; regenerate it with
    `python manage.py graphql_schema` when the schema changes."""
    out = tmp_path / "schema.graphql"
    call_command("graphql_schema", out=str(out), stdout=io.StringIO())
    committed = Path(__file__).resolve().parents[2] / "graphql" / "schema.graphql"
    assert committed.read_text() == out.read_text(), (
        "graphql/schema.graphql is stale: run manage.py graphql_schema"
    )


def test_graphql_folder_holds_no_python():
    folder = Path(__file__).resolve().parents[2] / "graphql"
    assert not list(folder.rglob("*.py")), "Python in graphql/ would shadow the graphql library"
