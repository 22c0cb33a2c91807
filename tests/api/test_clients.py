"""Clients through GraphQL (R-DATA-1, R-AUTH-4, R-AUTH-5): the list, create, update,
delete and import, each for the owner, another owner holding the first one's IDs, a manager and an anonymous
caller."""

import io
import json

import pytest
from django.test import Client
from graphql_relay import to_global_id
from graphql_relay.utils import base64

from backend.mailings import csv_io, services
from backend.mailings.models import Client as MailingClient
from backend.mailings.services import imports
from tests.api.helpers import data_of, error_codes, gql, token_for
from tests.factories import ClientFactory, UserFactory, make_manager

pytestmark = pytest.mark.django_db

CLIENTS = """
query Clients($search: String, $orderBy: ClientOrder, $first: Int, $after: String) {
  clients(search: $search, orderBy: $orderBy, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node { id email fullName comment isSubscribed } }
  }
}
"""
NODE = "query Node($id: ID!) { node(id: $id) { id ... on Client { email } } }"
CREATE = """
mutation Create($input: ClientInput!) {
  createClient(input: $input) { client { id email fullName comment } errors { field message code } }
}
"""
UPDATE = """
mutation Update($id: ID!, $input: ClientInput!) {
  updateClient(id: $id, input: $input) { client { id email fullName } errors { field message code } }
}
"""
DELETE = "mutation Delete($id: ID!) { deleteClient(id: $id) { deletedId errors { field message code } } }"
IMPORT = """
mutation Import($file: Upload, $rows: [ClientRowInput!]) {
  importClients(file: $file, rows: $rows) {
    added updated skipped
    rows { line email result reason code }
    errors { field message code }
  }
}
"""


def gid(client: MailingClient) -> str:
    return to_global_id("Client", client.pk)


def emails(data: dict) -> list[str]:
    return [edge["node"]["email"] for edge in data["clients"]["edges"]]


@pytest.fixture
def owner():
    return UserFactory()


@pytest.fixture
def stranger():
    return UserFactory()


# --- the list -------------------------------------------------------------------------------------------


def test_owner_lists_only_their_clients_with_total_count_R_AUTH_4(owner, stranger):
    mine = [ClientFactory(owner=owner, full_name=name) for name in ("Bea", "Al", "Cy")]
    ClientFactory(owner=stranger, full_name="Zed")
    data = data_of(CLIENTS, {"first": 2}, user=owner)
    assert data["clients"]["totalCount"] == 3
    assert [edge["node"]["id"] for edge in data["clients"]["edges"]] == [gid(mine[1]), gid(mine[0])]
    assert data["clients"]["pageInfo"]["hasNextPage"] is True
    after = data["clients"]["pageInfo"]["endCursor"]
    rest = data_of(CLIENTS, {"first": 2, "after": after}, user=owner)
    assert emails(rest) == [mine[2].email]
    assert rest["clients"]["pageInfo"]["hasNextPage"] is False


def test_search_and_order(owner):
    ClientFactory(owner=owner, email="anna@shop.example", full_name="Anna")
    ClientFactory(owner=owner, email="bob@other.example", full_name="Bob Shopper")
    ClientFactory(owner=owner, email="carl@other.example", full_name="Carl")
    data = data_of(CLIENTS, {"search": "SHOP", "orderBy": "EMAIL_DESC"}, user=owner)
    assert emails(data) == ["bob@other.example", "anna@shop.example"]
    assert data["clients"]["totalCount"] == 2


def test_unknown_order_and_wrong_types_are_graphql_errors_not_500(owner):
    status, body = gql(CLIENTS, {"orderBy": "PASSWORD"}, user=owner)
    assert status == 400 and error_codes(body) == ["BAD_REQUEST"]
    status, body = gql(CLIENTS, {"first": "ten"}, user=owner)
    assert status == 400 and error_codes(body) == ["BAD_REQUEST"]
    _status, body = gql(CLIENTS, {"first": 101}, user=owner)
    assert error_codes(body) == ["BAD_REQUEST"] and body["data"] == {"clients": None}


def test_a_forged_cursor_is_refused_not_read_as_the_start(owner):
    ClientFactory(owner=owner)
    for cursor in ("garbage", base64("arrayconnection:-5")):
        _status, body = gql(CLIENTS, {"after": cursor}, user=owner)
        assert error_codes(body) == ["BAD_REQUEST"] and body["data"] == {"clients": None}
    beyond = data_of(CLIENTS, {"after": base64("arrayconnection:99")}, user=owner)["clients"]
    assert beyond["edges"] == [] and beyond["totalCount"] == 1


def test_manager_sees_no_client_list_R_AUTH_5(owner):
    """A manager keeps no list of their own and may read no one else's: `clients` is empty (the selector
    the pages use), and another owner's client is not a node they can fetch."""
    client = ClientFactory(owner=owner)
    manager = make_manager()
    data = data_of(CLIENTS, user=manager)
    assert data["clients"] == {
        "totalCount": 0,
        "pageInfo": {"hasNextPage": False, "endCursor": None},
        "edges": [],
    }
    assert data_of(NODE, {"id": gid(client)}, user=manager) == {"node": None}


def test_another_owners_client_is_no_node_R_AUTH_4(owner, stranger):
    client = ClientFactory(owner=owner)
    assert data_of(NODE, {"id": gid(client)}, user=owner)["node"]["email"] == client.email
    assert data_of(NODE, {"id": gid(client)}, user=stranger) == {"node": None}


def test_anonymous_gets_unauthenticated():
    status, body = gql(CLIENTS)
    assert status == 401 and error_codes(body) == ["UNAUTHENTICATED"]
    status, body = gql(CREATE, {"input": {"email": "a@example.com", "fullName": "A"}})
    assert status == 401 and error_codes(body) == ["UNAUTHENTICATED"]
    assert not MailingClient.objects.exists()


def test_session_caller_lists_their_clients(owner):
    ClientFactory(owner=owner, email="s@example.com")
    session = Client(enforce_csrf_checks=False)
    session.force_login(owner)
    assert emails(data_of(CLIENTS, client=session)) == ["s@example.com"]


# --- create, update, delete -----------------------------------------------------------------------------


def test_create_client_R_DATA_1(owner):
    data = data_of(CREATE, {"input": {"email": "New@Example.COM", "fullName": "New One"}}, user=owner)
    payload = data["createClient"]
    assert payload["errors"] == []
    client = MailingClient.objects.get(owner=owner)
    assert payload["client"] == {
        "id": gid(client),
        "email": client.email,
        "fullName": "New One",
        "comment": "",
    }


def test_create_client_errors_come_back_per_field(owner):
    ClientFactory(owner=owner, email="taken@example.com")
    data = data_of(CREATE, {"input": {"email": "TAKEN@example.com", "fullName": "X"}}, user=owner)
    assert data["createClient"]["client"] is None
    assert [(e["field"], e["code"]) for e in data["createClient"]["errors"]] == [("email", "duplicate_email")]
    data = data_of(CREATE, {"input": {"email": "not an address", "fullName": "y" * 256}}, user=owner)
    assert sorted((e["field"], e["code"]) for e in data["createClient"]["errors"]) == [
        ("email", "invalid"),
        ("fullName", "max_length"),
    ]
    assert MailingClient.objects.filter(owner=owner).count() == 1


def test_create_client_missing_field_is_a_graphql_error(owner):
    status, body = gql(CREATE, {"input": {"fullName": "A"}}, user=owner)
    assert status == 400 and error_codes(body) == ["BAD_REQUEST"]


def test_a_client_without_a_name_is_named_from_the_address_as_an_import_does_R_DATA_1(owner):
    """R-DATA-1: the full name is optional in the API as in a file; without one, the part of the address
    before the @ (forms.name_from_email, the import's rule too)."""
    data = data_of(CREATE, {"input": {"email": "Anna.K@example.com"}}, user=owner)
    assert data["createClient"]["errors"] == []
    assert data["createClient"]["client"]["fullName"] == "Anna.K"
    data = data_of(CREATE, {"input": {"email": "boris@example.com", "fullName": "  "}}, user=owner)
    assert data["createClient"]["client"]["fullName"] == "boris"
    report = services.clients_import(actor=owner, rows=[csv_io.ClientRow(line=1, email="vera@example.com")])
    assert report.added == 1
    assert MailingClient.objects.get(owner=owner, email="vera@example.com").full_name == "vera"


def test_manager_cannot_create_a_client_R_AUTH_5():
    _status, body = gql(CREATE, {"input": {"email": "m@example.com", "fullName": "M"}}, user=make_manager())
    assert error_codes(body) == ["FORBIDDEN"]
    assert body["data"] == {"createClient": None}
    assert not MailingClient.objects.exists()


def test_update_client(owner):
    client = ClientFactory(owner=owner)
    data = data_of(
        UPDATE, {"id": gid(client), "input": {"email": "x@example.com", "fullName": "X"}}, user=owner
    )
    assert data["updateClient"]["errors"] == []
    client.refresh_from_db()
    assert (client.email, client.full_name) == ("x@example.com", "X")


def test_another_owner_cannot_read_update_or_delete_a_client_R_AUTH_4(owner, stranger):
    """Another owner's ID behaves exactly like one that does not exist, and nothing changes."""
    client = ClientFactory(owner=owner, email="keep@example.com", full_name="Keep")
    missing = to_global_id("Client", client.pk + 1000)
    answers = []
    for target in (gid(client), missing):
        _status, body = gql(
            UPDATE, {"id": target, "input": {"email": "y@example.com", "fullName": "Y"}}, user=stranger
        )
        answers.append(body)
        _status, body = gql(DELETE, {"id": target}, user=stranger)
        answers.append(body)
    for body in answers:
        assert error_codes(body) == ["NOT_FOUND"]
        assert body["errors"][0]["message"] == "Not found."
    assert answers[0] == answers[2] and answers[1] == answers[3]
    client.refresh_from_db()
    assert (client.email, client.full_name) == ("keep@example.com", "Keep")
    assert not MailingClient.objects.filter(owner=stranger).exists()


def test_a_malformed_or_wrong_type_id_is_not_found(owner):
    client = ClientFactory(owner=owner)
    for bad in ("garbage", to_global_id("Message", client.pk), to_global_id("Client", "x")):
        _status, body = gql(DELETE, {"id": bad}, user=owner)
        assert error_codes(body) == ["NOT_FOUND"]
    assert MailingClient.objects.filter(pk=client.pk).exists()


def test_delete_client(owner):
    client = ClientFactory(owner=owner)
    data = data_of(DELETE, {"id": gid(client)}, user=owner)
    assert data["deleteClient"] == {"deletedId": gid(client), "errors": []}
    assert not MailingClient.objects.filter(pk=client.pk).exists()


def test_a_5_mb_string_is_a_clean_4xx(owner):
    status, body = gql(
        CREATE, {"input": {"email": "a@example.com", "fullName": "x" * (5 * 1024 * 1024)}}, user=owner
    )
    assert 400 <= status < 500
    assert error_codes(body) == ["BAD_REQUEST"]
    assert not MailingClient.objects.exists()


# --- import ---------------------------------------------------------------------------------------------


def multipart(user, variables: dict, files: dict[str, tuple[str, bytes]]):
    """A GraphQL multipart request (operations, map, files) as a browser or Apollo client sends it."""
    mapping = {str(index): [f"variables.{name}"] for index, name in enumerate(files)}
    parts = {}
    for index, (_name, (filename, content)) in enumerate(files.items()):
        upload = io.BytesIO(content)
        upload.name = filename
        parts[str(index)] = upload
    return Client().post(
        "/graphql/",
        {
            "operations": json.dumps({"query": IMPORT, "variables": {**variables, **dict.fromkeys(files)}}),
            "map": json.dumps(mapping),
            **parts,
        },
        HTTP_AUTHORIZATION=f"JWT {token_for(user)}",
    )


def test_import_a_csv_file_through_a_multipart_request(owner):
    ClientFactory(owner=owner, email="old@example.com", full_name="Old")
    content = (
        b"email,full name,comment\n"
        b"new@example.com,New Person,hi\n"
        b"OLD@example.com,Old Renamed,\n"
        b"broken-address,Nobody,\n"
        b"new@example.com,Again,\n"
    )
    response = multipart(owner, {}, {"file": ("clients.csv", content)})
    assert response.status_code == 200, response.content
    payload = response.json()["data"]["importClients"]
    assert payload["errors"] == []
    assert (payload["added"], payload["updated"], payload["skipped"]) == (1, 1, 2)
    assert [(row["line"], row["result"], row["code"]) for row in payload["rows"]] == [
        (2, "ADDED", ""),
        (3, "UPDATED", ""),
        (4, "SKIPPED", "invalid"),
        (5, "SKIPPED", "duplicate_in_file"),
    ]
    assert dict(MailingClient.objects.filter(owner=owner).values_list("email", "full_name")) == {
        "new@example.com": "New Person",
        "old@example.com": "Old Renamed",
    }


@pytest.mark.parametrize(
    ("content", "code"),
    [
        (b'email,name\n"unclosed@example.com,Bad\n', "csv_malformed"),
        (b"\x00\x01\x02binary", "csv_binary"),
        (b"", "csv_empty"),
        (b"a@example.com," + b"x" * 131_073 + b"\n", "csv_malformed"),
        (b"email\na@example.com\nb@example.com," + b"x" * 131_073 + b"\n", "csv_malformed"),
        (b"a@example.com,A\nb@example.com,B\x00\n", "csv_binary"),
    ],
    ids=["unclosed-quote", "binary", "empty", "first-cell-over-limit", "later-cell-over-limit", "nul-byte"],
)
def test_a_malformed_csv_upload_is_refused_whole(owner, content, code):
    """Issue item: a file the csv module cannot read (a cell over its 131,072-character field limit on the
    first line or a later one, a NUL byte) is a payload error, never "Internal error"; nothing is added."""
    response = multipart(owner, {}, {"file": ("clients.csv", content)})
    assert response.status_code == 200, response.content
    payload = response.json()["data"]["importClients"]
    assert [error["code"] for error in payload["errors"]] == [code]
    assert payload["added"] is None and payload["rows"] is None
    assert not MailingClient.objects.filter(owner=owner).exists()


def test_an_upload_cannot_be_written_inline_or_sent_as_a_string(owner):
    status, body = gql(
        IMPORT.replace("$file: Upload,", "").replace("file: $file", 'file: "x"'), {}, user=owner
    )
    assert status == 400 and error_codes(body) == ["BAD_REQUEST"]
    status, body = gql(IMPORT, {"file": "a@example.com"}, user=owner)
    assert status == 400 and error_codes(body) == ["BAD_REQUEST"]


def test_import_rows_with_bad_rows(owner):
    rows = [
        {"email": "one@example.com", "fullName": "One"},
        {"email": "two@example.com"},
        {"email": "nope", "fullName": "Bad"},
        {"email": "x" * 300 + "@example.com", "fullName": "Long"},
    ]
    payload = data_of(IMPORT, {"rows": rows}, user=owner)["importClients"]
    assert payload["errors"] == []
    assert (payload["added"], payload["updated"], payload["skipped"]) == (2, 0, 2)
    assert [(row["line"], row["result"], row["code"]) for row in payload["rows"]][:2] == [
        (1, "ADDED", ""),
        (2, "ADDED", "name_from_email"),
    ]
    assert all(row["reason"] for row in payload["rows"][2:])
    assert set(MailingClient.objects.filter(owner=owner).values_list("full_name", flat=True)) == {
        "One",
        "two",
    }


def test_import_needs_exactly_one_source(owner):
    payload = data_of(IMPORT, {}, user=owner)["importClients"]
    assert [(e["field"], e["code"]) for e in payload["errors"]] == [(None, "invalid")]
    response = multipart(
        owner, {"rows": [{"email": "a@example.com"}]}, {"file": ("c.csv", b"b@example.com\n")}
    )
    assert [e["code"] for e in response.json()["data"]["importClients"]["errors"]] == ["invalid"]
    assert not MailingClient.objects.exists()


def test_import_goes_into_the_callers_own_list_only_R_AUTH_4(owner, stranger):
    """An import by another owner with the first owner's addresses adds to the importer's list and
    leaves the first owner's clients untouched."""
    ClientFactory(owner=owner, email="shared@example.com", full_name="Owner's name", comment="mine")
    payload = data_of(
        IMPORT,
        {"rows": [{"email": "shared@example.com", "fullName": "Stolen", "comment": "x"}]},
        user=stranger,
    )["importClients"]
    assert (payload["added"], payload["updated"]) == (1, 0)
    original = MailingClient.objects.get(owner=owner)
    assert (original.full_name, original.comment) == ("Owner's name", "mine")


def test_manager_and_anonymous_cannot_import_R_AUTH_5():
    _status, body = gql(IMPORT, {"rows": [{"email": "a@example.com"}]}, user=make_manager())
    assert error_codes(body) == ["FORBIDDEN"]
    status, body = gql(IMPORT, {"rows": [{"email": "a@example.com"}]})
    assert status == 401 and error_codes(body) == ["UNAUTHENTICATED"]
    assert not MailingClient.objects.exists()


# --- background imports (R-AUD-3) and tags (R-AUD-2) ----------------------------------------------------

IMPORT_JOB = """
mutation Import($file: Upload) {
  importClients(file: $file) {
    added rows { line }
    clientImport { id status rowsDone rowsTotal added updated skipped errors fileName }
    errors { field message code }
  }
}
"""
CLIENT_IMPORT = """
query Job($id: ID!) {
  clientImport(id: $id) {
    id status rowsDone rowsTotal added updated skipped errors error errorCode
    problems { line email result reason code }
  }
}
"""


@pytest.fixture
def background(settings, tmp_path, monkeypatch):
    """Uploads into a folder of the test's own; any file over 200 bytes goes to the background."""
    settings.MAILER_IMPORT_DIR = tmp_path / "imports"
    monkeypatch.setattr(imports, "MAX_IMPORT_BYTES", 200)


def _big(count: int) -> bytes:
    return (
        b"email;full name;comment;tags\n"
        + b"".join(b"c%d@example.org;Client %d;;news\n" % (n, n) for n in range(count))
        + b"broken;X;;\n"
    )


def multipart_query(user, query: str, content: bytes):
    upload = io.BytesIO(content)
    upload.name = "big.csv"
    return Client().post(
        "/graphql/",
        {
            "operations": json.dumps({"query": query, "variables": {"file": None}}),
            "map": json.dumps({"0": ["variables.file"]}),
            "0": upload,
        },
        HTTP_AUTHORIZATION=f"JWT {token_for(user)}",
    )


def test_a_large_file_becomes_a_background_import_with_its_status(owner, stranger, background):
    payload = multipart_query(owner, IMPORT_JOB, _big(20)).json()["data"]["importClients"]
    assert payload["errors"] == [] and payload["added"] is None and payload["rows"] is None
    job = payload["clientImport"]
    assert (job["status"], job["rowsDone"], job["rowsTotal"], job["fileName"]) == (
        "QUEUED",
        0,
        None,
        "big.csv",
    )

    services.client_imports_run()
    found = data_of(CLIENT_IMPORT, {"id": job["id"]}, user=owner)["clientImport"]
    assert (found["status"], found["rowsDone"], found["rowsTotal"]) == ("DONE", 21, 21)
    assert (found["added"], found["updated"], found["skipped"], found["errors"]) == (20, 0, 0, 1)
    assert [(p["line"], p["result"], p["code"]) for p in found["problems"]] == [(22, "SKIPPED", "invalid")]
    assert MailingClient.objects.filter(owner=owner, tags__name="news").count() == 20

    # Another owner's import is NOT_FOUND, like a missing one; so is a malformed ID.
    _status, body = gql(CLIENT_IMPORT, {"id": job["id"]}, user=stranger)
    assert error_codes(body) == ["NOT_FOUND"]
    _status, body = gql(CLIENT_IMPORT, {"id": to_global_id("ClientImport", 10**9)}, user=owner)
    assert error_codes(body) == ["NOT_FOUND"]


def test_the_same_file_while_it_is_imported_is_refused(owner, background):
    multipart_query(owner, IMPORT_JOB, _big(20))
    payload = multipart_query(owner, IMPORT_JOB, _big(20)).json()["data"]["importClients"]
    assert payload["clientImport"] is None
    assert [error["code"] for error in payload["errors"]] == ["import_running"]


def test_rows_carry_tags(owner):
    rows = [{"email": "t@example.com", "tags": ["News", " vip ", ""]}]
    payload = data_of(IMPORT, {"rows": rows}, user=owner)["importClients"]
    assert payload["added"] == 1
    client = MailingClient.objects.get(owner=owner, email="t@example.com")
    assert sorted(client.tags.values_list("name", flat=True)) == ["News", "vip"]
