"""Input a schedule or the database cannot hold (dates out of range, ids beyond 64 bits, NUL characters) is
a clear error in the API and on the pages, never an internal error (R-DATA-3, R-AUTH-4)."""

import re

import pytest
from django.contrib.auth.models import Group
from graphql_relay import to_global_id

from backend.mailings.forms import MailingForm
from backend.mailings.models import Client, Mailing, Message
from tests.api.helpers import data_of, error_codes, gql
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


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
