"""Mailings through GraphQL for their owner (R-DATA-3, R-SEND-1, R-AUTH-4): the list
and one mailing, create, update, delete and send now; another owner holding the first one's IDs, an
anonymous caller, bad input; and a page of mailings costing the same queries for 5 and 100 mailings.
Audiences (R-AUD-1): everyone, tags (any/all), chosen clients as a list or as changes, and their sizes."""

import datetime as dt
import zoneinfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from graphql_relay import to_global_id
from graphql_relay.utils import base64

from backend.mailings import selectors
from backend.mailings.models import Client, Delivery, Mailing, Message, Occurrence, Unsubscription
from tests.api.helpers import data_of, error_codes, gql
from tests.factories import (
    ClientFactory,
    MailingFactory,
    MessageFactory,
    TagFactory,
    UserFactory,
    make_manager,
)

pytestmark = pytest.mark.django_db

MAILINGS = """
query Mailings($first: Int, $status: MailingStatus, $periodicity: MailingPeriodicity, $active: Boolean,
               $orderBy: MailingOrder) {
  mailings(first: $first, status: $status, periodicity: $periodicity, active: $active, orderBy: $orderBy) {
    totalCount
    edges { node { id periodicity status isActive } }
  }
}
"""
PAGE = """
query Page($first: Int) {
  mailings(first: $first) {
    edges { node { message { subject } clients { totalCount } lastOccurrence { sent failed } } }
  }
}
"""
MAILING = """
query Mailing($id: ID!, $first: Int, $after: String) {
  mailing(id: $id) {
    id startAt endAt timeZone periodicity status isActive disabledAt nextRunAt
    message { id subject }
    clientCount
    clients(first: $first, after: $after) {
      totalCount
      pageInfo { hasNextPage endCursor }
      edges { node { email } }
    }
    upcoming(limit: 3)
    lastOccurrence { id scheduledFor isManual total sent failed pending retrying skipped }
    owner { email }
  }
}
"""
CREATE = """
mutation Create($input: MailingInput!) {
  createMailing(input: $input) {
    mailing { id startAt endAt periodicity status message { subject } clients { totalCount } }
    errors { field message code }
  }
}
"""
UPDATE = """
mutation Update($id: ID!, $input: MailingInput!) {
  updateMailing(id: $id, input: $input) { mailing { id periodicity } errors { field message code } }
}
"""
DELETE = "mutation Delete($id: ID!) { deleteMailing(id: $id) { deletedId errors { field message code } } }"
SEND_NOW = """
mutation Send($id: ID!) {
  sendMailingNow(id: $id) { mailing { status } occurrenceId queued errors { field message code } }
}
"""


def gid(obj) -> str:
    return to_global_id(type(obj).__name__, obj.pk)


def iso(moment: dt.datetime) -> str:
    return moment.isoformat()


@pytest.fixture
def owner():
    return UserFactory(time_zone="Europe/Berlin")


@pytest.fixture
def stranger():
    return UserFactory()


@pytest.fixture
def mailing(owner):
    return MailingFactory(owner=owner, clients=[ClientFactory(owner=owner) for _ in range(3)])


def mailing_input(owner, **changes) -> dict:
    start = (timezone.now() + dt.timedelta(days=1)).replace(microsecond=0)
    values = {
        "messageId": gid(MessageFactory(owner=owner)),
        "clientIds": [gid(ClientFactory(owner=owner)), gid(ClientFactory(owner=owner))],
        "startAt": iso(start),
        "endAt": iso(start + dt.timedelta(days=30)),
        "periodicity": "WEEKLY",
    }
    return {**values, **changes}


def field_codes(payload: dict) -> list[tuple]:
    return sorted((error["field"], error["code"]) for error in payload["errors"])


# --- reading --------------------------------------------------------------------------------------------


def test_owner_lists_own_mailings_with_filters_R_AUTH_4(owner, stranger):
    weekly = MailingFactory(owner=owner, periodicity="weekly")
    done = MailingFactory(owner=owner, status="completed")
    off = MailingFactory(owner=owner, is_active=False)
    MailingFactory(owner=stranger)
    data = data_of(MAILINGS, user=owner)["mailings"]
    assert data["totalCount"] == 3
    assert {edge["node"]["id"] for edge in data["edges"]} == {gid(weekly), gid(done), gid(off)}

    def ids(**variables):
        return [edge["node"]["id"] for edge in data_of(MAILINGS, variables, user=owner)["mailings"]["edges"]]

    assert ids(periodicity="WEEKLY") == [gid(weekly)]
    assert ids(status="COMPLETED") == [gid(done)]
    assert ids(active=False) == [gid(off)]
    assert ids(orderBy="CREATED") == [gid(weekly), gid(done), gid(off)]


def test_an_unknown_enum_value_is_a_graphql_error(owner):
    status, body = gql(MAILINGS, {"status": "PAUSED"}, user=owner)
    assert status == 400 and error_codes(body) == ["BAD_REQUEST"]


def test_one_mailing_with_everything_a_page_shows(owner, mailing):
    occurrence = Occurrence.objects.create(mailing=mailing, scheduled_for=timezone.now())
    for client, status in zip(mailing.clients.all(), ["sent", "sent", "failed"], strict=True):
        Delivery.objects.create(
            mailing=mailing, occurrence=occurrence, client=client, email=client.email, status=status
        )
    data = data_of(MAILING, {"id": gid(mailing), "first": 2}, user=owner)["mailing"]
    assert data["message"] == {"id": gid(mailing.message), "subject": mailing.message.subject}
    assert data["clientCount"] == 3
    assert data["clients"]["totalCount"] == 3 and len(data["clients"]["edges"]) == 2
    assert data["clients"]["pageInfo"]["hasNextPage"] is True
    rest = data_of(
        MAILING,
        {"id": gid(mailing), "first": 2, "after": data["clients"]["pageInfo"]["endCursor"]},
        user=owner,
    )["mailing"]["clients"]
    shown = {edge["node"]["email"] for edge in data["clients"]["edges"] + rest["edges"]}
    assert shown == set(mailing.clients.values_list("email", flat=True))
    assert data["lastOccurrence"] == {
        "id": gid(occurrence),
        "scheduledFor": occurrence.scheduled_for.isoformat(),
        "isManual": False,
        "total": 3,
        "sent": 2,
        "failed": 1,
        "pending": 0,
        "retrying": 0,
        "skipped": 0,
    }
    assert data["upcoming"] == [iso(mailing.start_at)]
    assert data["owner"] == {"email": owner.email}
    assert (data["status"], data["periodicity"], data["isActive"]) == ("CREATED", "ONCE", True)
    assert data["timeZone"] == "Europe/Berlin"


def test_the_latest_send_reads_only_the_counts_asked_for_and_they_agree(owner, mailing):
    """`lastOccurrence` loads the counts its selection names (through aliases and fragments); each alias
    gets the same figures as a query asking for everything."""
    occurrence = Occurrence.objects.create(mailing=mailing, scheduled_for=timezone.now())
    for client, status in zip(mailing.clients.all(), ["sent", "retrying", "failed"], strict=True):
        Delivery.objects.create(
            mailing=mailing, occurrence=occurrence, client=client, email=client.email, status=status
        )
    query = """query($id: ID!) { mailing(id: $id) {
      a: lastOccurrence { sent }
      b: lastOccurrence { ...Waiting firstAttemptAt }
      c: lastOccurrence { total failed sent waiting retrying pending skipped lastAttemptAt }
    } }
    fragment Waiting on Occurrence { waiting failed }"""
    data = data_of(query, {"id": gid(mailing)}, user=owner)["mailing"]
    assert data["a"] == {"sent": 1}
    assert data["b"] == {"waiting": 1, "failed": 1, "firstAttemptAt": None}
    assert data["c"] == {
        "total": 3,
        "failed": 1,
        "sent": 1,
        "waiting": 1,
        "retrying": 1,
        "pending": 0,
        "skipped": 0,
        "lastAttemptAt": None,
    }


def test_a_forged_cursor_on_a_mailings_clients_is_refused(owner, mailing):
    for cursor in ("garbage", base64("arrayconnection:-5")):
        _status, body = gql(MAILING, {"id": gid(mailing), "after": cursor}, user=owner)
        assert error_codes(body) == ["BAD_REQUEST"] and body["data"] == {"mailing": None}


def test_upcoming_limit_is_bounded(owner, mailing):
    query = "query($id: ID!) { mailing(id: $id) { upcoming(limit: 1000) } }"
    _status, body = gql(query, {"id": gid(mailing)}, user=owner)
    assert error_codes(body) == ["BAD_REQUEST"]


def test_another_owners_mailing_looks_missing_R_AUTH_4(owner, stranger, mailing):
    _status, foreign = gql(MAILING, {"id": gid(mailing)}, user=stranger)
    _status, absent = gql(MAILING, {"id": to_global_id("Mailing", mailing.pk + 1000)}, user=stranger)
    assert error_codes(foreign) == ["NOT_FOUND"]
    assert foreign == absent
    assert foreign["data"] == {"mailing": None}
    node = "query($id: ID!) { node(id: $id) { id } }"
    assert data_of(node, {"id": gid(mailing)}, user=stranger) == {"node": None}
    assert data_of(MAILINGS, user=stranger)["mailings"]["totalCount"] == 0


def test_anonymous_gets_unauthenticated(mailing):
    for query, variables in ((MAILINGS, {}), (MAILING, {"id": gid(mailing)}), (DELETE, {"id": gid(mailing)})):
        status, body = gql(query, variables)
        assert status == 401 and error_codes(body) == ["UNAUTHENTICATED"]
    assert Mailing.objects.filter(pk=mailing.pk).exists()


# --- N+1 ----------------------------------------------------------------------------------


def seed_mailings(owner, count: int) -> None:
    """`count` mailings with two clients each and one occurrence with two deliveries."""
    now = timezone.now()
    message = MessageFactory(owner=owner)
    for _ in range(count):
        mailing = MailingFactory(owner=owner, message=message)
        clients = Client.objects.bulk_create(
            [Client(owner=owner, email=f"c{mailing.pk}-{i}@example.com", full_name="C") for i in range(2)]
        )
        mailing.clients.set(clients)
        occurrence = Occurrence.objects.create(mailing=mailing, scheduled_for=now)
        Delivery.objects.bulk_create(
            [
                Delivery(
                    mailing=mailing, occurrence=occurrence, client=client, email=client.email, status=status
                )
                for client, status in zip(clients, ["sent", "failed"], strict=True)
            ]
        )


def queries_for(query: str, first: int, user) -> tuple[int, dict]:
    with CaptureQueriesContext(connection) as captured:
        data = data_of(query, {"first": first}, user=user)
    return len(captured.captured_queries), data


def test_a_page_of_mailings_costs_the_same_queries_for_5_and_100(owner):
    seed_mailings(owner, 100)
    small, data5 = queries_for(PAGE, 5, owner)
    large, data100 = queries_for(PAGE, 100, owner)
    assert len(data5["mailings"]["edges"]) == 5 and len(data100["mailings"]["edges"]) == 100
    node = data100["mailings"]["edges"][-1]["node"]
    assert node["clients"] == {"totalCount": 2}
    assert node["lastOccurrence"] == {"sent": 1, "failed": 1}
    assert small == large
    # The token's user, then the page carrying its client counts and latest sends: no permission query
    # (one's own list asks nothing of one's roles) and no COUNT (no totalCount or pageInfo asked for).
    assert large == 2


def test_fields_not_asked_for_cost_nothing(owner):
    seed_mailings(owner, 5)
    bare = sql_of("query($first: Int) { mailings(first: $first) { edges { node { id } } } }", owner)
    full = sql_of(PAGE, owner)
    assert len(bare) == len(full) == 2
    assert "mailings_mailing_clients" not in bare[-1] and "mailings_occurrence" not in bare[-1]
    assert "mailings_mailing_clients" in full[-1] and "mailings_occurrence" in full[-1]


def test_a_list_whose_latest_send_shows_more_than_counts_loads_it(owner):
    """Counts ride on the list's own query; the send's date makes the latest sends a query of their own,
    still one for the whole page (R-API-2), and both ways give the same counts."""
    seed_mailings(owner, 5)
    query = "query($first: Int) { mailings(first: $first) { edges { node { lastOccurrence { %s } } } } }"
    lean = data_of(query % "sent failed", {"first": 5}, user=owner)["mailings"]["edges"]
    dated = sql_of(query % "sent failed scheduledFor", owner)
    # The user, the page, then the latest sends (through `occurrences_for`, which reads the permissions).
    assert len(dated) == 4 and "mailings_occurrence" in dated[-1]
    full = data_of(query % "sent failed scheduledFor", {"first": 5}, user=owner)["mailings"]["edges"]
    assert [edge["node"]["lastOccurrence"]["sent"] for edge in full] == [1] * 5
    assert [
        {k: v for k, v in edge["node"]["lastOccurrence"].items() if k != "scheduledFor"} for edge in full
    ] == [edge["node"]["lastOccurrence"] for edge in lean]


def sql_of(query: str, user, first: int = 5) -> list[str]:
    with CaptureQueriesContext(connection) as captured:
        data_of(query, {"first": first}, user=user)
    return [entry["sql"] for entry in captured.captured_queries]


# --- create ---------------------------------------------------------------------------------------------


def test_create_mailing_R_DATA_3(owner):
    variables = {"input": mailing_input(owner)}
    payload = data_of(CREATE, variables, user=owner)["createMailing"]
    assert payload["errors"] == []
    mailing = Mailing.objects.get(owner=owner)
    assert payload["mailing"]["id"] == gid(mailing)
    assert payload["mailing"]["clients"] == {"totalCount": 2}
    assert payload["mailing"]["periodicity"] == "WEEKLY" and payload["mailing"]["status"] == "CREATED"
    assert mailing.start_at == dt.datetime.fromisoformat(variables["input"]["startAt"])
    assert mailing.time_zone == "Europe/Berlin"
    assert mailing.next_run_at == mailing.start_at


def test_a_time_with_an_offset_is_that_instant_and_one_without_is_the_owners_wall_clock(owner):
    berlin = zoneinfo.ZoneInfo("Europe/Berlin")
    start = (timezone.now() + dt.timedelta(days=2)).astimezone(berlin).replace(microsecond=0)
    end = start + dt.timedelta(days=1)
    naive = {"startAt": start.replace(tzinfo=None).isoformat(), "endAt": end.replace(tzinfo=None).isoformat()}
    tokyo = start.astimezone(zoneinfo.ZoneInfo("Asia/Tokyo"))
    aware = {"startAt": tokyo.isoformat(), "endAt": (tokyo + dt.timedelta(days=1)).isoformat()}
    for times in (naive, aware):
        payload = data_of(CREATE, {"input": mailing_input(owner, **times)}, user=owner)["createMailing"]
        assert payload["errors"] == []
    assert list(Mailing.objects.values_list("start_at", flat=True)) == [start, start]


def test_create_mailing_errors_per_field(owner):
    start = timezone.now() + dt.timedelta(days=1)
    cases = [
        (
            {"endAt": iso(start - dt.timedelta(hours=1)), "startAt": iso(start)},
            [("endAt", "end_before_start")],
        ),
        (
            {
                "endAt": iso(timezone.now() - dt.timedelta(days=1)),
                "startAt": iso(start - dt.timedelta(days=3)),
            },
            [("endAt", "end_in_past")],
        ),
        ({"clientIds": []}, [("clientIds", "required")]),
        ({"clientIds": ["not-an-id"]}, [("clientIds", "invalid_choice")]),
        ({"messageId": "not-an-id"}, [("messageId", "invalid_choice")]),
    ]
    for changes, expected in cases:
        payload = data_of(CREATE, {"input": mailing_input(owner, **changes)}, user=owner)["createMailing"]
        assert payload["mailing"] is None
        assert field_codes(payload) == expected, changes
    assert not Mailing.objects.exists()


def test_bad_input_types_are_graphql_errors_not_500(owner):
    for changes in ({"periodicity": "HOURLY"}, {"startAt": "tomorrow"}, {"clientIds": [["x"]]}, {"endAt": 5}):
        status, body = gql(CREATE, {"input": mailing_input(owner, **changes)}, user=owner)
        assert status == 400 and set(error_codes(body)) == {"BAD_REQUEST"}, changes
    status, body = gql(CREATE, {"input": mailing_input(owner, startAt="x" * (5 * 1024 * 1024))}, user=owner)
    assert 400 <= status < 500 and error_codes(body) == ["BAD_REQUEST"]
    assert not Mailing.objects.exists()


def test_another_owners_clients_and_message_cannot_go_into_a_mailing_R_AUTH_4(owner, stranger):
    """The form offers only the caller's own message and clients: another owner's IDs are refused per field
    ("Select a valid choice") and no mailing is made."""
    theirs = [ClientFactory(owner=owner), ClientFactory(owner=owner)]
    their_message = MessageFactory(owner=owner)
    mine = gid(ClientFactory(owner=stranger))
    cases = [
        ({"clientIds": [mine, gid(theirs[0])]}, [("clientIds", "invalid_choice")]),
        ({"messageId": gid(their_message)}, [("messageId", "invalid_choice")]),
    ]
    for changes, expected in cases:
        payload = data_of(CREATE, {"input": mailing_input(stranger, **changes)}, user=stranger)[
            "createMailing"
        ]
        assert field_codes(payload) == expected
        assert "Select a valid choice" in payload["errors"][0]["message"]
    assert not Mailing.objects.exists()
    assert all(client.mailings.count() == 0 for client in theirs)


# --- update, delete -------------------------------------------------------------------------------------


def test_update_mailing(owner, mailing):
    variables = {"id": gid(mailing), "input": mailing_input(owner, periodicity="DAILY")}
    payload = data_of(UPDATE, variables, user=owner)["updateMailing"]
    assert payload == {"mailing": {"id": gid(mailing), "periodicity": "DAILY"}, "errors": []}
    mailing.refresh_from_db()
    assert mailing.periodicity == "daily" and mailing.clients.count() == 2


def test_update_mailing_errors_leave_it_unchanged(owner, mailing):
    start = timezone.now() + dt.timedelta(days=3)
    changes = {"startAt": iso(start), "endAt": iso(start - dt.timedelta(days=1)), "periodicity": "DAILY"}
    payload = data_of(UPDATE, {"id": gid(mailing), "input": mailing_input(owner, **changes)}, user=owner)
    assert field_codes(payload["updateMailing"]) == [("endAt", "end_before_start")]
    mailing.refresh_from_db()
    assert mailing.periodicity == "once" and mailing.clients.count() == 3


def test_another_owner_cannot_update_delete_or_send_a_mailing_R_AUTH_4(owner, stranger, mailing):
    before = (mailing.periodicity, mailing.start_at, set(mailing.clients.values_list("pk", flat=True)))
    missing = to_global_id("Mailing", mailing.pk + 1000)
    for query, variables in (
        (UPDATE, {"input": mailing_input(stranger, periodicity="DAILY")}),
        (DELETE, {}),
        (SEND_NOW, {}),
    ):
        _status, foreign = gql(query, {"id": gid(mailing), **variables}, user=stranger)
        _status, absent = gql(query, {"id": missing, **variables}, user=stranger)
        assert error_codes(foreign) == ["NOT_FOUND"]
        assert foreign == absent
    mailing.refresh_from_db()
    assert (
        mailing.periodicity,
        mailing.start_at,
        set(mailing.clients.values_list("pk", flat=True)),
    ) == before
    assert not Occurrence.objects.exists()


def test_delete_mailing(owner, mailing):
    payload = data_of(DELETE, {"id": gid(mailing)}, user=owner)["deleteMailing"]
    assert payload == {"deletedId": gid(mailing), "errors": []}
    assert not Mailing.objects.exists()
    assert Message.objects.filter(pk=mailing.message_id).exists()


# --- send now -------------------------------------------------------------------------------------------


def test_send_now_queues_one_delivery_per_client_R_SEND_6(owner, mailing):
    payload = data_of(SEND_NOW, {"id": gid(mailing)}, user=owner)["sendMailingNow"]
    occurrence = Occurrence.objects.get(mailing=mailing)
    assert payload == {
        "mailing": {"status": "STARTED"},
        "occurrenceId": gid(occurrence),
        "queued": 3,
        "errors": [],
    }
    assert occurrence.is_manual and occurrence.deliveries.count() == 3
    again = data_of(SEND_NOW, {"id": gid(mailing)}, user=owner)["sendMailingNow"]
    assert field_codes(again) == [(None, "send_in_progress")]
    assert again["occurrenceId"] is None
    assert Occurrence.objects.count() == 1


def test_send_now_refusals_come_back_with_their_codes(owner):
    nobody = MailingFactory(owner=owner)
    off = MailingFactory(owner=owner, is_active=False, clients=[ClientFactory(owner=owner)])
    for target, code in ((nobody, "no_recipients"), (off, "mailing_disabled")):
        payload = data_of(SEND_NOW, {"id": gid(target)}, user=owner)["sendMailingNow"]
        assert field_codes(payload) == [(None, code)]
    assert not Occurrence.objects.exists()


# --- audiences (R-AUD-1) --------------------------------------------------------------------------------

AUDIENCE = """
query Audience($id: ID!) {
  mailing(id: $id) {
    audience tagMatch audienceSize clientCount tags { id name }
    clients { totalCount edges { node { email } } }
  }
}
"""
CREATE_AUDIENCE = """
mutation Create($input: MailingInput!) {
  createMailing(input: $input) {
    mailing { id audience tagMatch audienceSize tags { name } clientCount }
    errors { field message code }
  }
}
"""
UPDATE_AUDIENCE = """
mutation Update($id: ID!, $input: MailingInput!) {
  updateMailing(id: $id, input: $input) {
    mailing { audience tagMatch audienceSize tags { name } clientCount }
    errors { field message code }
  }
}
"""
AUDIENCE_PAGE = """
query Page($first: Int) {
  mailings(first: $first) { edges { node { audience tagMatch audienceSize tags { name } } } }
}
"""


def audience_world(owner, stranger) -> dict:
    """An owner's list with tags: a, b carry news; b, c carry vip; d carries nothing; e unsubscribed (news);
    f's address unsubscribed before (news); plus a stranger's client carrying the stranger's own tag."""
    news, vip = TagFactory(owner=owner, name="News"), TagFactory(owner=owner, name="VIP")
    clients = {name: ClientFactory(owner=owner, email=f"{name}@example.org") for name in "abcdef"}
    clients["a"].tags.add(news)
    clients["b"].tags.add(news, vip)
    clients["c"].tags.add(vip)
    clients["e"].tags.add(news)
    clients["f"].tags.add(news)
    Client.objects.filter(pk=clients["e"].pk).update(unsubscribed_at=timezone.now())
    Unsubscription.objects.create(owner=owner, email="f@example.org")
    theirs = TagFactory(owner=stranger, name="News")
    ClientFactory(owner=stranger).tags.add(theirs)
    return {"news": news, "vip": vip, "theirs": theirs, **clients}


def test_an_api_call_with_only_client_ids_still_makes_a_chosen_clients_mailing_R_AUD_1(owner):
    payload = data_of(CREATE_AUDIENCE, {"input": mailing_input(owner)}, user=owner)["createMailing"]
    assert payload["errors"] == []
    assert payload["mailing"]["audience"] == "CLIENTS" and payload["mailing"]["tagMatch"] == "ANY"
    assert payload["mailing"]["audienceSize"] == 2 and payload["mailing"]["clientCount"] == 2
    assert Mailing.objects.get(owner=owner).audience == Mailing.Audience.CLIENTS


def test_create_mailings_to_everyone_and_to_tags_with_their_sizes_R_AUD_1(owner, stranger):
    base = mailing_input(owner, clientIds=None)
    Client.objects.all().delete()  # the input's own clients: only the world's count
    world = audience_world(owner, stranger)
    cases = [
        ({"audience": "EVERYONE"}, 4, []),  # a b c d (e unsubscribed, f's address left)
        ({"audience": "TAGS", "tagIds": [gid(world["news"])]}, 2, ["News"]),
        ({"audience": "TAGS", "tagIds": [gid(world["news"]), gid(world["vip"])]}, 3, ["News", "VIP"]),
        (
            {"audience": "TAGS", "tagMatch": "ALL", "tagIds": [gid(world["news"]), gid(world["vip"])]},
            1,
            ["News", "VIP"],
        ),
    ]
    for changes, size, tags in cases:
        payload = data_of(CREATE_AUDIENCE, {"input": {**base, **changes}}, user=owner)
        mailing = payload["createMailing"]["mailing"]
        assert payload["createMailing"]["errors"] == [], changes
        assert mailing["audience"] == changes["audience"]
        assert mailing["audienceSize"] == size, changes
        assert [tag["name"] for tag in mailing["tags"]] == tags
        assert mailing["clientCount"] == 0
    for mailing in Mailing.objects.filter(owner=owner):
        assert selectors.audience_size(mailing) == selectors.audience_sizes([mailing])[mailing.pk]


def test_audience_size_follows_the_recipient_rule_for_every_audience_R_AUD_1(owner, stranger):
    """The batched sizes equal `audience_size` (the one recipient rule) for each kind of audience, a
    chosen client of another owner and another owner's tag included."""
    world = audience_world(owner, stranger)
    outsider = ClientFactory(owner=stranger)
    mailings = [
        MailingFactory(owner=owner, audience=Mailing.Audience.EVERYONE),
        MailingFactory(owner=owner, audience=Mailing.Audience.TAGS, tags=[world["news"]]),
        MailingFactory(owner=owner, audience=Mailing.Audience.TAGS, tags=[world["news"], world["theirs"]]),
        MailingFactory(owner=owner, audience=Mailing.Audience.TAGS, tags=[world["vip"], world["news"]]),
        MailingFactory(
            owner=owner, audience=Mailing.Audience.TAGS, tag_match="all", tags=[world["vip"], world["news"]]
        ),
        MailingFactory(owner=owner, audience=Mailing.Audience.TAGS, tag_match="all", tags=[world["theirs"]]),
        MailingFactory(owner=owner, audience=Mailing.Audience.TAGS),
        MailingFactory(owner=owner, clients=[world["a"], world["d"], world["e"], world["f"], outsider]),
        MailingFactory(owner=stranger, audience=Mailing.Audience.EVERYONE),
    ]
    expected = [4, 2, 2, 3, 1, 0, 0, 2, 2]
    assert [selectors.audience_size(mailing) for mailing in mailings] == expected
    assert selectors.audience_sizes(mailings) == {m.pk: n for m, n in zip(mailings, expected, strict=True)}
    sizes = {
        edge["node"]["id"]: edge["node"]["audienceSize"]
        for edge in data_of("{ mailings(first: 20) { edges { node { id audienceSize } } } }", user=owner)[
            "mailings"
        ]["edges"]
    }
    assert sizes == {gid(m): n for m, n in zip(mailings[:-1], expected[:-1], strict=True)}


def test_a_mailing_to_another_owners_tag_is_refused_per_field_R_AUTH_4(owner, stranger):
    world = audience_world(owner, stranger)
    for tag_ids, code in (([gid(world["theirs"])], "invalid_choice"), (["not-an-id"], "invalid_choice")):
        changes = {"audience": "TAGS", "tagIds": tag_ids, "clientIds": None}
        payload = data_of(CREATE_AUDIENCE, {"input": mailing_input(owner, **changes)}, user=owner)
        assert field_codes(payload["createMailing"]) == [("tagIds", code)]
    for changes in ({"audience": "TAGS", "clientIds": None}, {"audience": "TAGS", "tagIds": []}):
        payload = data_of(CREATE_AUDIENCE, {"input": mailing_input(owner, **changes)}, user=owner)
        assert field_codes(payload["createMailing"]) == [("tagIds", "required")]
    payload = data_of(CREATE_AUDIENCE, {"input": mailing_input(owner, clientIds=None)}, user=owner)
    assert field_codes(payload["createMailing"]) == [("clientIds", "required")]
    assert not Mailing.objects.exists()


def test_update_changes_chosen_clients_without_sending_the_whole_list_R_AUD_1(owner, stranger):
    base = mailing_input(owner, clientIds=None)
    Client.objects.all().delete()  # the input's own clients: only the world's count
    world = audience_world(owner, stranger)
    mailing = MailingFactory(owner=owner, clients=[world["a"], world["b"]])

    def update(**changes):
        payload = data_of(UPDATE_AUDIENCE, {"id": gid(mailing), "input": {**base, **changes}}, user=owner)
        return payload["updateMailing"]

    assert update(addClientIds=[gid(world["c"])])["mailing"]["clientCount"] == 3
    assert update(removeClientIds=[gid(world["a"])])["mailing"]["clientCount"] == 2
    payload = update(addClientsMatching="example.org")
    assert payload["mailing"]["clientCount"] == 6 and payload["mailing"]["audienceSize"] == 4
    assert update(clientIds=[gid(world["d"])])["mailing"]["clientCount"] == 1
    # Another owner's client is refused, and the mailing keeps its clients.
    outsider = ClientFactory(owner=stranger)
    assert field_codes(update(addClientIds=[gid(outsider)])) == [("addClientIds", "invalid_choice")]
    assert field_codes(update(removeClientIds=["not-an-id"])) == [("removeClientIds", "invalid_choice")]
    assert field_codes(update(addClientsMatching="x" * 201)) == [("addClientsMatching", "max_length")]
    assert list(mailing.clients.all()) == [world["d"]]
    # To tags, then a schedule change that leaves the tags out keeps them.
    payload = update(audience="TAGS", tagIds=[gid(world["vip"])], tagMatch="ALL")
    assert payload["errors"] == []
    assert payload["mailing"] == {
        "audience": "TAGS",
        "tagMatch": "ALL",
        "audienceSize": 2,
        "tags": [{"name": "VIP"}],
        "clientCount": 1,
    }
    payload = update(periodicity="DAILY")
    assert payload["mailing"]["audience"] == "TAGS" and payload["mailing"]["tags"] == [{"name": "VIP"}]
    assert payload["mailing"]["tagMatch"] == "ALL"
    assert update(audience="EVERYONE")["mailing"]["audienceSize"] == 4


def test_a_manager_sees_the_audience_and_its_size_never_its_tags_or_clients_R_AUTH_5(owner, stranger):
    world = audience_world(owner, stranger)
    by_tags = MailingFactory(owner=owner, audience=Mailing.Audience.TAGS, tags=[world["news"]])
    chosen = MailingFactory(owner=owner, clients=[world["a"], world["b"], world["c"]])
    manager = make_manager()
    seen = data_of(AUDIENCE, {"id": gid(by_tags)}, user=manager)["mailing"]
    assert seen["audience"] == "TAGS" and seen["tagMatch"] == "ANY" and seen["audienceSize"] == 2
    assert seen["tags"] == [] and seen["clients"] == {"totalCount": 0, "edges": []}
    seen = data_of(AUDIENCE, {"id": gid(chosen)}, user=manager)["mailing"]
    assert seen["audience"] == "CLIENTS" and seen["audienceSize"] == 3 and seen["clientCount"] == 3
    assert seen["clients"] == {"totalCount": 0, "edges": []}
    own = data_of(AUDIENCE, {"id": gid(by_tags)}, user=owner)["mailing"]
    assert own["tags"] == [{"id": gid(world["news"]), "name": "News"}]
    # A manager cannot change the audience either.
    changes = {"audience": "EVERYONE", "messageId": gid(by_tags.message)}
    _status, body = gql(
        UPDATE_AUDIENCE, {"id": gid(by_tags), "input": mailing_input(owner, **changes)}, user=manager
    )
    assert error_codes(body) == ["FORBIDDEN"]
    assert Mailing.objects.get(pk=by_tags.pk).audience == Mailing.Audience.TAGS


def test_a_page_of_mailings_with_audiences_costs_the_same_queries_for_5_and_60(owner, stranger):
    world = audience_world(owner, stranger)
    kinds = [
        {"audience": Mailing.Audience.EVERYONE},
        {"audience": Mailing.Audience.TAGS, "tags": [world["news"], world["vip"]]},
        {"audience": Mailing.Audience.TAGS, "tag_match": "all", "tags": [world["news"], world["vip"]]},
        {"clients": [world["a"], world["b"]]},
    ]
    for n in range(60):
        MailingFactory(owner=owner, **kinds[n % 4])
    small, _data5 = queries_for(AUDIENCE_PAGE, 5, owner)
    large, data60 = queries_for(AUDIENCE_PAGE, 60, owner)
    sizes = sorted({edge["node"]["audienceSize"] for edge in data60["mailings"]["edges"]})
    assert sizes == [1, 2, 3, 4]
    assert small == large
