"""What one HTTP request to /graphql/ may cost, whoever sends it (R-API-1): validation bounded before it
starts, one password check per request, a batch sharing one budget, and a clear 4xx answer in GraphQL's
shape for every malformed request."""

import hashlib
import json
import logging

import pytest
from django.contrib.auth.hashers import MD5PasswordHasher
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from graphql_jwt.refresh_token.models import RefreshToken

from backend.api.core.views import _prepared
from backend.api.schema import schema
from tests.api.helpers import data_of, error_codes, gql, token_for
from tests.factories import DEFAULT_PASSWORD, MailingFactory, MessageFactory, UserFactory

pytestmark = pytest.mark.django_db


class CountingHasher(MD5PasswordHasher):
    """The test hasher, counting every hash it computes (a check and a set both encode once)."""

    algorithm = "counting_md5"
    calls = 0

    def encode(self, password, salt):
        type(self).calls += 1
        return super().encode(password, salt)


@pytest.fixture
def hashes(settings):
    settings.PASSWORD_HASHERS = ["tests.api.test_request_limits.CountingHasher"]
    user = UserFactory(email="ann@example.com")  # its password hashed with the counting hasher
    CountingHasher.calls = 0
    return user


def fragment_bomb(depth: int) -> str:
    """Fragments that each spread the next one twice: ~40 bytes a level, 2**depth fields expanded."""
    fragments = " ".join(f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}" for i in range(depth))
    return f"query {{ ...F0 }} {fragments} fragment F{depth} on Query {{ __typename }}"


def post(body, client: Client | None = None, **extra):
    return (client or Client()).post(
        "/graphql/", body if isinstance(body, str | bytes) else json.dumps(body), **extra
    )


def post_json(body, client: Client | None = None, **extra):
    return post(body, client, content_type="application/json", **extra)


# --- validation is bounded before it starts ----------------------------------------------------------------


def test_a_fragment_bomb_is_refused_before_validation_with_a_clear_error():
    """30 levels expand to a billion fields; the standard rules and the depth and item counts would walk each
    one (20 levels took 8 s). Anonymous GETs are enough, so it is refused before any rule runs."""
    response = Client().get("/graphql/", {"query": fragment_bomb(30), "raw": ""})
    assert response.status_code == 400
    body = response.json()
    assert error_codes(body) == ["BAD_REQUEST"]
    assert "with its fragments expanded, has more than 2000 selections" in body["errors"][0]["message"]


def test_a_document_just_under_the_cap_still_validates_and_runs(settings):
    settings.GRAPHQL_MAX_FIELD_REPEATS = 2_000  # the bomb's fields are all `__typename`, at one level
    # 191 selections in the operation, and each fragment definition's own expansion (367): 558 in all.
    data = data_of(fragment_bomb(6), user=UserFactory())
    assert data == {"__typename": "Query"}
    settings.GRAPHQL_MAX_SELECTIONS = 557
    status, body = gql(fragment_bomb(6) + " ", user=UserFactory())
    assert status == 400 and "more than 557 selections" in body["errors"][0]["message"]


@pytest.mark.parametrize(
    ("document", "field"),
    [
        ("{ me { " + "email " * 1990 + "} }", "email"),  # 12 KB: 1.7 s of the overlap rule before
        ("{ " + " ".join("a: me { email }" for _ in range(600)) + " }", "a"),  # 3.8 s before
        (
            "{ ...A ...B } fragment A on Query { " + "x: __typename " * 11 + "} "
            "fragment B on Query { " + "x: __typename " * 11 + "}",
            "x",
        ),  # through fragments, counted together
        (
            # Five `m`s, each with 5 `email`s: 25 once merged, as the overlap rule merges them.
            "{ " + " ".join("m: me { " + "email " * 5 + "}" for _ in range(5)) + " }",
            "email",
        ),
    ],
    ids=["wide", "aliased", "fragments", "merged"],
)
def test_a_name_repeated_in_one_selection_is_refused_before_the_overlap_rule_compares_every_pair(
    document, field
):
    response = Client().get("/graphql/", {"query": document, "raw": ""})
    assert response.status_code == 400
    message = response.json()["errors"][0]["message"]
    assert message == f"The document asks for {field} more than 20 times in one selection."


def test_the_expanded_size_counts_every_operation_and_inline_fragments(settings):
    settings.GRAPHQL_MAX_SELECTIONS = 10
    fields = " ".join(f"f{i}: __typename" for i in range(6))
    two = f"query A {{ ... on Query {{ {fields} }} }} query B {{ {fields} }}"
    prepared = _prepared(schema.graphql_schema, two)
    assert "more than 10 selections" in prepared.errors[0].message


@pytest.mark.parametrize(
    "document",
    [
        # A fragment nobody spreads: the overlap rule still compares its fields pairwise (1.2 s).
        "{ __typename } fragment Z on Query { " + "me { __typename } " * 700 + "}",
        # A chain of spreads and no fields, spread by 400 operations: the depth rule re-walked it for each.
        " ".join(f"query Q{i} {{ ...F0 }}" for i in range(400))
        + " "
        + " ".join(f"fragment F{i} on Query {{ ...F{i + 1} }}" for i in range(150))
        + " fragment F150 on Query { __typename }",
        # Many aliases each re-walking a long chain.
        "{ "
        + " ".join(f"a{i}: me {{ ...C0 }}" for i in range(250))
        + " } "
        + " ".join(f"fragment C{i} on User {{ ...C{i + 1} }}" for i in range(300))
        + " fragment C300 on User { email }",
    ],
    ids=["unused-fragment", "spread-chain", "aliases-on-a-chain"],
)
def test_unused_fragments_and_chains_of_spreads_count_toward_the_cap(document):
    response = post_json({"query": document})
    assert response.status_code == 400
    message = response.json()["errors"][0]["message"]
    assert "more than 2000 selections" in message or "more than 20 times in one selection" in message


def test_a_fragment_cycle_and_a_long_fragment_chain_get_the_standard_answers():
    cycle = "query { ...A } fragment A on Query { ...B } fragment B on Query { ...A }"
    response = Client().get("/graphql/", {"query": cycle, "raw": ""})
    assert response.status_code == 400 and "Cannot spread fragment" in response.json()["errors"][0]["message"]
    chain = " ".join(f"fragment F{i} on Query {{ ...F{i + 1} }}" for i in range(600))
    document = f"query {{ ...F0 }} {chain} fragment F600 on Query {{ __typename }}"
    status, body = gql(document, user=UserFactory())
    assert status in (200, 400) and "INTERNAL" not in error_codes(body)


# --- one password check per request ------------------------------------------------------------------------

TOKEN_AUTH = 'tokenAuth(email: "ann@example.com", password: "guess") { token }'


@pytest.mark.parametrize(
    "document",
    [
        "mutation { " + " ".join(f"a{i}: {TOKEN_AUTH}" for i in range(30)) + " }",
        f"mutation {{ ...T ...T }} fragment T on Mutation {{ {TOKEN_AUTH} }}",
        f'mutation {{ {TOKEN_AUTH} refreshToken(refreshToken: "x") {{ token }} }}',
        'mutation { a: refreshToken(refreshToken: "x") { token } '
        'b: refreshToken(refreshToken: "y") { token } }',
    ],
    ids=["30-aliases", "spread-twice", "with-refresh", "two-refreshes"],
)
def test_token_auth_and_refresh_token_run_once_per_request_and_a_refusal_hashes_nothing(hashes, document):
    status, body = gql(document)
    assert status == 400 and error_codes(body) == ["BAD_REQUEST"]
    assert "alone" in body["errors"][0]["message"]
    assert CountingHasher.calls == 0
    assert not RefreshToken.objects.exists()


def test_a_batch_with_a_token_auth_is_refused_whole_and_hashes_nothing(hashes):
    batch = [{"query": f"mutation {{ {TOKEN_AUTH} }}"} for _ in range(10)]
    response = post_json(batch)
    assert response.status_code == 400 and error_codes(response.json()) == ["BAD_REQUEST"]
    assert CountingHasher.calls == 0
    one = [{"query": f"mutation {{ {TOKEN_AUTH} }}"}, {"query": "{ __typename }"}]
    assert post_json(one).status_code == 400
    assert CountingHasher.calls == 0


def test_a_sign_in_checks_one_password_and_a_locked_out_one_none(hashes, settings):
    settings.AXES_FAILURE_LIMIT = 3
    document = 'mutation($p: String!) { tokenAuth(email: "ann@example.com", password: $p) { token } }'
    for _ in range(2):
        assert error_codes(gql(document, {"p": "guess"})[1]) == ["UNAUTHENTICATED"]
    assert error_codes(gql(document, {"p": "guess"})[1]) == ["TOO_MANY_REQUESTS"]  # the third one locks
    assert CountingHasher.calls == 3
    CountingHasher.calls = 0
    # Locked out: refused before any password is checked, the right one included, and no equal-timing hash.
    for password in ("guess", DEFAULT_PASSWORD):
        assert error_codes(gql(document, {"p": password})[1]) == ["TOO_MANY_REQUESTS"]
    assert CountingHasher.calls == 0


def test_the_login_page_hashes_nothing_once_locked_out(hashes, settings):
    settings.AXES_FAILURE_LIMIT = 2
    client = Client()
    for _ in range(2):
        client.post("/accounts/login/", {"username": "ann@example.com", "password": "guess"})
    CountingHasher.calls = 0
    response = client.post("/accounts/login/", {"username": "ann@example.com", "password": "guess"})
    assert response.status_code == 429 and CountingHasher.calls == 0


# --- a batch shares one budget; the answer is bounded ------------------------------------------------------

MAILING_PAGES = " ".join(
    f"a{i}: mailings(first: 100) {{ edges {{ node {{ id clients(first: 5) {{ totalCount }} }} }} }}"
    for i in range(30)
)


def test_each_document_of_the_batch_fits_but_together_they_are_refused_before_any_runs():
    """10 documents of 30 aliases of `mailings(first: 100)`: 18,000 items each, under the 20,000 cap, and
    6.7 s and 9.3 MB together. Refused as a whole, before anything runs."""
    owner = UserFactory()
    single = gql("{ " + MAILING_PAGES + " }", user=owner)
    assert single[0] == 200, single[1]
    with CaptureQueriesContext(connection) as queries:
        response = post_json(
            [{"query": "{ " + MAILING_PAGES + " }"}] * 10, HTTP_AUTHORIZATION=f"JWT {token_for(owner)}"
        )
    assert response.status_code == 400
    message = response.json()["errors"][0]["message"]
    assert "The documents of this request use more than 30 aliases together" in message
    mailing_reads = [q for q in queries.captured_queries if "mailings_mailing" in q["sql"]]
    assert mailing_reads == []


def test_a_batch_of_unaliased_pages_shares_the_item_budget(settings):
    settings.GRAPHQL_MAX_NODES = 1_000
    owner = UserFactory()
    page = "{ mailings(first: 100) { edges { node { clients(first: 4) { totalCount } } } } }"  # 500 items
    response = post_json([{"query": page}] * 2, HTTP_AUTHORIZATION=f"JWT {token_for(owner)}")
    assert response.status_code == 200
    response = post_json([{"query": page}] * 3, HTTP_AUTHORIZATION=f"JWT {token_for(owner)}")
    assert response.status_code == 400
    assert "may return up to 1500 items together, more than 1000" in response.json()["errors"][0]["message"]


def test_an_answer_over_the_text_budget_is_refused_and_a_batch_shares_it(settings):
    settings.GRAPHQL_MAX_RESPONSE_CHARS = 5_000
    owner = UserFactory()
    MessageFactory(owner=owner, body="x" * 3_000)
    query = "{ messages(first: 10) { edges { node { body } } } }"
    assert data_of(query, user=owner)["messages"]["edges"][0]["node"]["body"] == "x" * 3_000
    response = post_json([{"query": query}] * 2, HTTP_AUTHORIZATION=f"JWT {token_for(owner)}")
    first, second = response.json()
    assert first["data"]["messages"]["edges"][0]["node"]["body"] == "x" * 3_000
    assert error_codes(second) == ["BAD_REQUEST"]
    assert "more than 5000 characters" in second["errors"][0]["message"]
    MessageFactory(owner=owner, body="y" * 3_000)
    status, body = gql(query, user=owner)
    assert status == 400 and body == {"errors": body["errors"]}  # no half answer


# --- malformed requests: a 4xx in GraphQL's shape, never a 500 or a traceback ------------------------------


@pytest.mark.parametrize("opening", ['{"a":', "["])
def test_deeply_nested_json_is_a_clear_400(opening, caplog):
    with caplog.at_level(logging.ERROR):
        response = post_json(opening * 100_000)
    assert response.status_code == 400
    assert response.json()["errors"][0]["message"] == "The request body is nested too deeply."
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_deeply_nested_variables_in_a_get_are_a_clear_400():
    response = Client().get("/graphql/", {"query": "{ __typename }", "variables": "[" * 100_000, "raw": ""})
    assert response.status_code == 400 and error_codes(response.json()) == ["BAD_REQUEST"]


def test_a_json_null_body_is_a_bad_request_not_a_csrf_failure():
    user = UserFactory()
    client = Client()
    client.force_login(user)
    response = post_json("null", client)
    assert response.status_code in (400, 403)
    assert "None" not in response.json()["errors"][0]["message"]
    no_session = post_json("null")
    assert no_session.status_code == 400
    assert no_session.json()["errors"][0]["message"] == "Each operation must be a JSON object."


def test_multipart_without_a_boundary_or_with_too_many_files_answers_json():
    user = UserFactory()
    auth = {"HTTP_AUTHORIZATION": f"JWT {token_for(user)}"}
    response = post(b"garbage", content_type="multipart/form-data", **auth)
    assert response.status_code == 400 and response["Content-Type"] == "application/json"
    assert error_codes(response.json()) == ["BAD_REQUEST"]

    boundary = "b0undary"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="f{i}"; filename="f{i}.csv"\r\n'
        f"Content-Type: text/csv\r\n\r\nemail\r\n"
        for i in range(150)
    ]
    body = "".join(parts) + f"--{boundary}--\r\n"
    response = post(body, content_type=f"multipart/form-data; boundary={boundary}", **auth)
    assert response.status_code == 413 and response["Content-Type"] == "application/json"
    assert error_codes(response.json()) == ["BAD_REQUEST"]


def test_an_explicit_null_on_a_defaulted_argument_is_a_bad_request_not_an_internal_error():
    owner = UserFactory()
    MailingFactory(owner=owner)
    for query in (
        "{ mailings { edges { node { upcoming(limit: null) } } } }",
        "{ dashboard { clients } mailings { edges { node { upcoming(limit: null) } } } }",
        "{ clients(orderBy: null) { totalCount } }",
        "query($n: Int) { mailings { edges { node { upcoming(limit: $n) } } } }",
    ):
        status, body = gql(query, {"n": None}, user=owner)
        assert status in (200, 400) and error_codes(body) == ["BAD_REQUEST"], (query, body)
    edges = data_of("{ mailings { edges { node { upcoming } } } }", user=owner)["mailings"]["edges"]
    assert isinstance(edges[0]["node"]["upcoming"], list)


def test_refresh_tokens_are_stored_as_digests_only():
    user = UserFactory()
    result = data_of(
        "mutation($e: String!, $p: String!) { tokenAuth(email: $e, password: $p) { refreshToken } }",
        {"e": user.email, "p": DEFAULT_PASSWORD},
    )["tokenAuth"]
    stored = RefreshToken.objects.get(user=user).token
    assert stored != result["refreshToken"]
    assert stored == hashlib.sha256(result["refreshToken"].encode()).hexdigest()


def test_a_mutations_answer_over_the_text_budget_is_refused_and_undoes_every_write(settings):
    """Thirty aliased writes each answering a long text once made answers of 100 MB; the budget covers
    mutations too. The fields after it never start, and the answer carries no data, so nothing stands behind
    it: the whole document is undone."""
    settings.GRAPHQL_MAX_RESPONSE_CHARS = 5_000
    owner = UserFactory()
    create = (
        'c{i}: createClient(input: {{email: "c{i}@example.org", fullName: "C", comment: "{text}"}}) '
        "{{ client {{ comment }} errors {{ code }} }}"
    )
    fields = " ".join(create.format(i=i, text="z" * 3_000) for i in range(3))
    status, body = gql(f"mutation {{ {fields} }}", user=owner)
    assert status == 400 and body == {"errors": body["errors"]}
    assert "nothing of the mutation was carried out" in body["errors"][0]["message"]
    assert not owner.clients.exists()
