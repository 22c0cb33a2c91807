"""Regressions found by the review of the GraphQL API: each test failed before its fix."""

import datetime as dt
import re
from pathlib import Path

import graphene
import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import path
from django.utils import timezone
from graphql_relay import to_global_id

from backend.api.core.ids import pk_from_global_id
from backend.api.core.mutations import BaseMutation
from backend.api.core.views import MailerGraphQLView, _prepared
from backend.api.mailings.types import ClientType
from backend.api.schema import schema
from backend.mailings import services
from backend.mailings.forms import MailingForm
from backend.mailings.models import Client, Delivery, DeliveryAttempt, Mailing, Message, Occurrence
from tests.api.helpers import data_of, error_codes, gql
from tests.factories import ClientFactory, MailingFactory, UserFactory, make_manager

pytestmark = pytest.mark.django_db

OPERATIONS = Path(__file__).resolve().parents[2] / "graphql" / "operations"


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


# --- dates a schedule cannot compute with (R-DATA-3: bad input is never an internal error) ----

CREATE_MAILING = """
mutation Create($input: MailingInput!) {
  createMailing(input: $input) { mailing { id upcoming(limit: 5) } errors { field code } }
}
"""


def mailing_input(owner, start: str, end: str, periodicity: str = "DAILY") -> dict:
    client = Client.objects.create(owner=owner, email=f"c{owner.pk}@example.org", full_name="C")
    message = Message.objects.create(owner=owner, subject="S", body="B")
    return {
        "messageId": to_global_id("Message", message.pk),
        "clientIds": [to_global_id("Client", client.pk)],
        "startAt": start,
        "endAt": end,
        "periodicity": periodicity,
    }


@pytest.mark.parametrize(
    "time_zone,start,end,periodicity,fields",
    [
        # Moved to UTC, a late evening of 31 December 9999 in New York is in the year 10000.
        ("America/New_York", "9999-12-31T20:00:00", "9999-12-31T22:00:00", "ONCE", ["startAt", "endAt"]),
        # Valid instants whose next daily, weekly or monthly occurrence is past the year 9999.
        ("UTC", "9999-12-31T20:00:00", "9999-12-31T23:00:00", "DAILY", ["startAt", "endAt"]),
        ("UTC", "9999-12-20T20:00:00", "9999-12-31T23:00:00", "WEEKLY", ["startAt", "endAt"]),
        ("UTC", "2030-01-01T00:00:00", "9999-12-31T23:00:00", "MONTHLY", ["endAt"]),
        # Moved to UTC, midnight of 1 January of the year 1 in Tokyo is in the year 0.
        ("Asia/Tokyo", "0001-01-01T00:00:00", "2030-01-01T05:00:00", "DAILY", ["startAt"]),
        ("UTC", "0001-01-01T00:00:00+05:00", "2030-01-01T05:00:00", "MONTHLY", ["startAt"]),
    ],
)
def test_dates_out_of_a_schedules_range_are_a_field_error_not_an_internal_error_R_DATA_3(
    time_zone, start, end, periodicity, fields
):
    owner = UserFactory(time_zone=time_zone)
    status, body = gql(CREATE_MAILING, {"input": mailing_input(owner, start, end, periodicity)}, user=owner)
    assert status == 200 and "errors" not in body, body
    payload = body["data"]["createMailing"]
    assert payload["mailing"] is None
    assert payload["errors"] == [{"field": name, "code": "date_out_of_range"} for name in fields]
    assert not Mailing.objects.exists()


def test_the_pages_mailing_form_refuses_the_same_dates():
    """Pages and API share MailingForm: a naive 9999-12-31 20:00 in New York no longer fails on save."""
    owner = UserFactory(time_zone="America/New_York")
    message = Message.objects.create(owner=owner, subject="S", body="B")
    client = Client.objects.create(owner=owner, email="c@example.org", full_name="C")
    data = {
        "message": message.pk,
        "clients": [client.pk],
        "start_at": "9999-12-31T20:00",
        "end_at": "9999-12-31T22:00",
        "periodicity": "once",
    }
    form = MailingForm(data=data, owner=owner)
    assert not form.is_valid()
    assert {name: [e.code for e in errors] for name, errors in form.errors.as_data().items()} == {
        "start_at": ["date_out_of_range"],
        "end_at": ["date_out_of_range"],
    }


def test_dates_near_the_bounds_still_work():
    owner = UserFactory()
    data = data_of(
        CREATE_MAILING,
        {"input": mailing_input(owner, "1970-01-01T00:00:00+00:00", "2999-12-31T23:59:00+00:00", "MONTHLY")},
        user=owner,
    )
    assert data["createMailing"]["errors"] == [] and len(data["createMailing"]["mailing"]["upcoming"]) == 5


# --- a client id beyond 64 bits -------------------------------------------------------


def test_a_client_id_beyond_64_bits_is_refused_like_another_owners_R_AUTH_4():
    """Was an internal error on SQLite (OverflowError from `pk IN (...)`); now the per-field refusal that
    a foreign or deleted client gets, and nothing is created."""
    owner = UserFactory()
    data = mailing_input(owner, "2030-01-01T10:00:00", "2030-01-02T10:00:00", "ONCE")
    data["clientIds"].append(to_global_id("Client", 2**64))
    status, body = gql(CREATE_MAILING, {"input": data}, user=owner)
    assert status == 200 and "errors" not in body, body
    assert body["data"]["createMailing"]["errors"] == [{"field": "clientIds", "code": "invalid_choice"}]
    assert not Mailing.objects.exists()


def test_the_pages_form_refuses_a_client_key_beyond_64_bits():
    owner = UserFactory()
    message = Message.objects.create(owner=owner, subject="S", body="B")
    data = {
        "message": message.pk,
        "clients": [str(2**64)],
        "start_at": "2030-01-01T10:00",
        "end_at": "2030-01-02T10:00",
        "periodicity": "once",
    }
    form = MailingForm(data=data, owner=owner)
    assert not form.is_valid()
    assert [error.code for error in form.errors.as_data()["clients"]] == ["invalid_choice"]


# --- NUL in a search: PostgreSQL refuses it; the caller got an internal error ---------------


def managers_group_member():
    user = UserFactory()
    user.groups.add(Group.objects.get(name="Managers"))
    return type(user).objects.get(pk=user.pk)


@pytest.mark.parametrize(
    "query,who",
    [
        ('{ clients(search: "a\\u0000") { totalCount } }', "owner"),
        ('{ messages(search: "a\\u0000") { totalCount } }', "owner"),
        ('{ allMailings(ownerSearch: "a\\u0000") { totalCount } }', "manager"),
        ('{ users(search: "a\\u0000") { totalCount } }', "manager"),
    ],
)
def test_a_null_character_in_a_search_is_a_bad_request_on_every_database(query, who):
    user = UserFactory() if who == "owner" else managers_group_member()
    status, body = gql(query, user=user)
    assert error_codes(body) == ["BAD_REQUEST"], body
    assert "null characters" in body["errors"][0]["message"]
    # The argument is named as the caller wrote it (the FilterSet's field in camelCase).
    argument = re.search(r"\((\w+):", query).group(1)
    assert body["errors"][0]["extensions"]["field"] == argument
    assert body["errors"][0]["message"].startswith(f"{argument}: ")
    assert status == 200


def test_a_search_without_null_characters_still_filters():
    owner = UserFactory()
    Client.objects.create(owner=owner, email="ann@example.org", full_name="Ann")
    Client.objects.create(owner=owner, email="bob@example.org", full_name="Bob")
    assert data_of('{ clients(search: "ann") { totalCount } }', user=owner)["clients"]["totalCount"] == 1


@pytest.mark.parametrize(
    "query,who,code",
    [
        ('mutation { refreshToken(refreshToken: "a\\u0000") { token } }', None, "UNAUTHENTICATED"),
        ('mutation { revokeToken(refreshToken: "a\\u0000") { revoked } }', "owner", "NOT_FOUND"),
    ],
)
def test_a_refresh_token_with_a_null_character_is_unknown_not_an_internal_error(query, who, code):
    _status, body = gql(query, user=UserFactory() if who else None)
    assert error_codes(body) == [code], body


# --- a mailing under a list costs no query per row ------------------------------------------


def seed_log(owner, count: int):
    """`count` mailings, each with one occurrence and one failed delivery with one attempt."""
    now = timezone.now()
    for index in range(count):
        client = Client.objects.create(owner=owner, email=f"r{index}@example.org", full_name=f"R {index}")
        mailing = MailingFactory(owner=owner, clients=[client])
        occurrence = Occurrence.objects.create(mailing=mailing, scheduled_for=now)
        delivery = Delivery.objects.create(
            mailing=mailing, occurrence=occurrence, client=client, email=client.email, status="failed"
        )
        DeliveryAttempt.objects.create(
            delivery=delivery, attempted_at=now, outcome="permanent", smtp_code=550
        )
    return owner


MAILING_FIELDS = "id message { subject } owner { email } clientCount lastOccurrence { sent failed }"
ROW = "edges { node { %s } }"
NESTED_MAILING_QUERIES = {
    "deliveries.mailing": "{ deliveries(first: 100) { %s } }"
    % (ROW % f"email mailing {{ {MAILING_FIELDS} }}"),
    "deliveries.occurrence.mailing": "{ deliveries(first: 100) { %s } }"
    % (ROW % f"occurrence {{ mailing {{ {MAILING_FIELDS} }} }}"),
    "mailings.lastOccurrence.mailing": "{ mailings(first: 100) { %s } }"
    % (ROW % "lastOccurrence { mailing { message { subject } } }"),
}


def nodes(connection_data: dict) -> list[dict]:
    return [edge["node"] for edge in connection_data["edges"]]


def queries_for(query: str, variables: dict, user) -> tuple[int, dict]:
    with CaptureQueriesContext(connection) as captured:
        data = data_of(query, variables, user=user)
    return len(captured), data


@pytest.mark.parametrize("name", list(NESTED_MAILING_QUERIES))
def test_a_mailing_under_a_list_costs_the_same_queries_for_5_and_20_rows(name):
    query = NESTED_MAILING_QUERIES[name]
    small, big = seed_log(UserFactory(), 5), seed_log(UserFactory(), 20)
    few, _small_data = queries_for(query, {}, small)
    many, big_data = queries_for(query, {}, big)
    assert few == many
    root = next(iter(big_data.values()))
    assert len(root["edges"]) == 20


def test_an_occurrences_mailing_costs_the_same_queries_for_5_and_20_occurrences():
    query = f"""query($m: ID!) {{
      occurrences(mailing: $m, first: 100) {{ edges {{ node {{ sent mailing {{ {MAILING_FIELDS} }} }} }} }}
    }}"""
    counts = []
    for count in (5, 20):
        owner = UserFactory()
        mailing = MailingFactory(owner=owner, clients=[ClientFactory(owner=owner)])
        for _ in range(count):
            Occurrence.objects.create(mailing=mailing, scheduled_for=timezone.now())
        queries, data = queries_for(query, {"m": to_global_id("Mailing", mailing.pk)}, owner)
        assert len(data["occurrences"]["edges"]) == count
        assert {edge["node"]["mailing"]["id"] for edge in data["occurrences"]["edges"]} == {
            to_global_id("Mailing", mailing.pk)
        }
        counts.append(queries)
    assert counts[0] == counts[1]


def test_the_mailings_under_a_log_are_shared_and_hide_their_clients_from_a_superusers_view_R_AUTH_5():
    """The mailings under a log come from one batch load; seen by a superuser (managers read no delivery
    log), each still reports its client count."""
    seed_log(UserFactory(), 2)
    query = "{ deliveries(first: 10) { edges { node { mailing { clientCount } } } } }"
    data = data_of(query, user=UserFactory(is_superuser=True))
    assert [edge["node"]["mailing"] for edge in data["deliveries"]["edges"]] == [{"clientCount": 1}] * 2
    assert data_of(query, user=make_manager())["deliveries"]["edges"] == []


# --- a page of occurrences reads the log of its own occurrences only ----------------------


def test_an_occurrences_page_and_its_total_do_not_aggregate_the_whole_log():
    """Paged and counted with their stats, every page (and totalCount) grouped the mailing's whole delivery
    log: 190 ms a page for 300 daily sends of 1,000 recipients on PostgreSQL. Now the count and the page read
    occurrences only, and one query counts the deliveries of the page's own occurrences."""
    owner = UserFactory()
    clients = [ClientFactory(owner=owner) for _ in range(3)]
    mailing = MailingFactory(owner=owner, clients=clients, periodicity="daily")
    for day in range(6):
        occurrence = Occurrence.objects.create(
            mailing=mailing, scheduled_for=timezone.now() - dt.timedelta(days=day)
        )
        for client in clients:
            Delivery.objects.create(
                mailing=mailing, occurrence=occurrence, client=client, email=client.email, status="sent"
            )
    query = """query($m: ID!) {
      occurrences(mailing: $m, first: 2) { totalCount edges { node { id sent total } } }
    }"""
    with CaptureQueriesContext(connection) as captured:
        data = data_of(query, {"m": to_global_id("Mailing", mailing.pk)}, user=owner)
    assert data["occurrences"]["totalCount"] == 6
    assert [(node["sent"], node["total"]) for node in nodes(data["occurrences"])] == [(3, 3)] * 2
    reading_the_log = [q["sql"] for q in captured.captured_queries if "mailings_delivery" in q["sql"]]
    assert len(reading_the_log) == 1, reading_the_log
    page_ids = sorted(pk_from_global_id(node["id"], "Occurrence") for node in nodes(data["occurrences"]))
    assert f'"mailings_occurrence"."id" IN ({page_ids[0]}, {page_ids[1]})' in reading_the_log[0]


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
