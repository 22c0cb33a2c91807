"""The manager's side of mailings through GraphQL (R-AUTH-5, R-UI-8, R-SEND-8): every
mailing with its owner, read-only; disable and enable; no edits, no sends, no client lists or message text."""

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from graphql_relay import to_global_id

from backend.mailings.models import Delivery, Mailing, Occurrence
from tests.api.helpers import data_of, error_codes, gql, token_for
from tests.api.test_mailings import DELETE, MAILING, SEND_NOW, UPDATE, mailing_input
from tests.factories import ClientFactory, MailingFactory, UserFactory, make_manager

pytestmark = pytest.mark.django_db

ALL = """
query All($first: Int, $status: MailingStatus, $active: Boolean, $ownerSearch: String) {
  allMailings(first: $first, status: $status, active: $active, ownerSearch: $ownerSearch) {
    totalCount
    edges { node { id owner { id email fullName isBlocked } } }
  }
}
"""
PAGE = """
query Page($first: Int) {
  allMailings(first: $first) {
    edges {
      node {
        message { subject } clients { totalCount } clientCount lastOccurrence { sent failed } owner { email }
      }
    }
  }
}
"""
OWN = "query { mailings { totalCount } }"
DISABLE = """
mutation Disable($id: ID!) {
  disableMailing(id: $id) { mailing { id isActive disabledAt } errors { field message code } }
}
"""
ENABLE = """
mutation Enable($id: ID!) {
  enableMailing(id: $id) { mailing { id isActive disabledAt } errors { field message code } }
}
"""


def gid(obj) -> str:
    return to_global_id(type(obj).__name__, obj.pk)


def ids(data: dict) -> set[str]:
    return {edge["node"]["id"] for edge in data["allMailings"]["edges"]}


@pytest.fixture
def manager():
    return make_manager()


@pytest.fixture
def owner():
    return UserFactory(email="ann@shop.example", first_name="Ann", last_name="Shop")


@pytest.fixture
def mailing(owner):
    return MailingFactory(owner=owner, clients=[ClientFactory(owner=owner) for _ in range(3)])


# --- reading --------------------------------------------------------------------------------------------


def test_manager_sees_every_mailing_with_its_owner_R_AUTH_5(manager, owner, mailing):
    other = MailingFactory(
        owner=UserFactory(email="bob@else.example", first_name="Bob", last_name="Else"), is_active=False
    )
    data = data_of(ALL, user=manager)
    assert data["allMailings"]["totalCount"] == 2
    assert ids(data) == {gid(mailing), gid(other)}
    owners = {edge["node"]["id"]: edge["node"]["owner"] for edge in data["allMailings"]["edges"]}
    assert owners[gid(mailing)] == {
        "id": to_global_id("ManagedUser", owner.pk),
        "email": "ann@shop.example",
        "fullName": "Ann Shop",
        "isBlocked": False,
    }
    assert ids(data_of(ALL, {"ownerSearch": "SHOP"}, user=manager)) == {gid(mailing)}
    assert ids(data_of(ALL, {"ownerSearch": "ann"}, user=manager)) == {gid(mailing)}
    assert ids(data_of(ALL, {"active": False}, user=manager)) == {gid(other)}
    assert ids(data_of(ALL, {"status": "COMPLETED"}, user=manager)) == set()
    # `mailings` is the caller's own list, for a manager too.
    assert data_of(OWN, user=manager) == {"mailings": {"totalCount": 0}}


def test_an_owner_calling_allMailings_gets_only_their_own(owner, mailing):
    """Not an error: the same selector answers, and for an owner it holds their own mailings only."""
    MailingFactory()
    assert ids(data_of(ALL, user=owner)) == {gid(mailing)}


def test_a_superuser_sees_every_mailing(mailing):
    MailingFactory()
    superuser = UserFactory(is_superuser=True, is_staff=True)
    assert data_of(ALL, user=superuser)["allMailings"]["totalCount"] == 2


def test_manager_reads_a_mailing_but_not_its_clients_or_message_text_R_AUTH_5(manager, mailing):
    data = data_of(MAILING, {"id": gid(mailing), "first": 10}, user=manager)["mailing"]
    assert data["message"]["subject"] == mailing.message.subject
    assert data["clientCount"] == 3
    assert data["clients"] == {
        "totalCount": 0,
        "pageInfo": {"hasNextPage": False, "endCursor": None},
        "edges": [],
    }
    message_node = "query($id: ID!) { node(id: $id) { ... on Message { body } } }"
    assert data_of(message_node, {"id": data["message"]["id"]}, user=manager) == {"node": None}
    assert data_of("query($id: ID!) { node(id: $id) { id } }", {"id": gid(mailing)}, user=manager) == {
        "node": {"id": gid(mailing)}
    }


def test_anonymous_and_blocked_managers_get_nothing(manager, mailing):
    status, body = gql(ALL)
    assert status == 401 and error_codes(body) == ["UNAUTHENTICATED"]
    token = token_for(manager)
    manager.is_blocked = True
    manager.save(update_fields=["is_blocked"])
    status, body = gql(ALL, token=token)
    assert status == 401 and error_codes(body) == ["UNAUTHENTICATED"]


def test_all_mailings_with_owners_costs_the_same_queries_for_5_and_100(manager):
    now = timezone.now()
    for index in range(100):
        owner = UserFactory()
        mailing = MailingFactory(owner=owner, clients=[ClientFactory(owner=owner)])
        occurrence = Occurrence.objects.create(mailing=mailing, scheduled_for=now)
        client = mailing.clients.get()
        Delivery.objects.create(
            mailing=mailing,
            occurrence=occurrence,
            client=client,
            email=client.email,
            status="sent" if index % 2 else "failed",
        )
    counts = []
    for first in (5, 100):
        with CaptureQueriesContext(connection) as captured:
            data = data_of(PAGE, {"first": first}, user=manager)
        assert len(data["allMailings"]["edges"]) == first
        counts.append(len(captured.captured_queries))
    node = data["allMailings"]["edges"][0]["node"]
    assert node["clients"] == {"totalCount": 0} and node["clientCount"] == 1
    assert sum(node["lastOccurrence"].values()) == 1 and node["owner"]["email"]
    assert counts[0] == counts[1] <= 7


# --- writing --------------------------------------------------------------------------------------------


def test_manager_disables_and_enables_a_mailing_R_AUTH_5_R_SEND_8(manager, mailing):
    occurrence = Occurrence.objects.create(mailing=mailing, scheduled_for=timezone.now())
    client = mailing.clients.first()
    Delivery.objects.create(mailing=mailing, occurrence=occurrence, client=client, email=client.email)
    payload = data_of(DISABLE, {"id": gid(mailing)}, user=manager)["disableMailing"]
    assert payload["errors"] == [] and payload["mailing"]["isActive"] is False
    assert payload["mailing"]["disabledAt"] is not None
    mailing.refresh_from_db()
    assert not mailing.is_active and mailing.disabled_by == manager
    assert Delivery.objects.get().status == Delivery.Status.SKIPPED
    payload = data_of(ENABLE, {"id": gid(mailing)}, user=manager)["enableMailing"]
    assert payload["mailing"] == {"id": gid(mailing), "isActive": True, "disabledAt": None}
    mailing.refresh_from_db()
    assert mailing.is_active


def test_an_owner_cannot_disable_or_enable_R_AUTH_5(owner, mailing):
    for query in (DISABLE, ENABLE):
        _status, body = gql(query, {"id": gid(mailing)}, user=owner)
        assert error_codes(body) == ["FORBIDDEN"]
    _status, body = gql(DISABLE, {"id": gid(mailing)}, user=UserFactory())
    assert error_codes(body) == ["NOT_FOUND"]
    mailing.refresh_from_db()
    assert mailing.is_active


def test_viewing_everything_is_not_enough_to_disable(mailing):
    viewer = UserFactory()
    viewer.user_permissions.set(Permission.objects.filter(codename="view_all_mailings"))
    _status, body = gql(DISABLE, {"id": gid(mailing)}, user=viewer)
    assert error_codes(body) == ["FORBIDDEN"]
    assert Mailing.objects.get(pk=mailing.pk).is_active


def test_manager_cannot_edit_delete_or_send_a_mailing_R_AUTH_5(manager, owner, mailing):
    before = (mailing.periodicity, mailing.start_at, set(mailing.clients.values_list("pk", flat=True)))
    for query, variables in (
        (UPDATE, {"input": mailing_input(owner, periodicity="DAILY")}),
        (DELETE, {}),
        (SEND_NOW, {}),
    ):
        _status, body = gql(query, {"id": gid(mailing), **variables}, user=manager)
        assert error_codes(body) == ["FORBIDDEN"], query
        assert "Managers" in body["errors"][0]["message"]
    mailing.refresh_from_db()
    assert (
        mailing.periodicity,
        mailing.start_at,
        set(mailing.clients.values_list("pk", flat=True)),
    ) == before
    assert not Occurrence.objects.exists()


def test_manager_cannot_create_a_mailing_R_AUTH_5(manager, owner):
    _status, body = gql(
        "mutation($input: MailingInput!) { createMailing(input: $input) { errors { code } } }",
        {"input": mailing_input(owner)},
        user=manager,
    )
    assert error_codes(body) == ["FORBIDDEN"]
    assert not Mailing.objects.exists()


def test_a_managers_list_shows_the_clients_of_their_own_mailings_only():
    """On `allMailings` the client count a row carries is everyone's (clientCount), the clients one may
    list (clients.totalCount) only one's own mailing's (R-AUTH-5), as on a single mailing."""
    manager, owner = make_manager(), UserFactory()
    theirs = MailingFactory(owner=owner, clients=ClientFactory.create_batch(2, owner=owner))
    mine = MailingFactory(owner=manager, clients=ClientFactory.create_batch(3, owner=manager))
    rows = {
        edge["node"]["id"]: edge["node"]
        for edge in data_of(
            "query { allMailings(first: 10) { edges { node { id clientCount clients { totalCount } } } } }",
            user=manager,
        )["allMailings"]["edges"]
    }
    assert rows[to_global_id("Mailing", theirs.pk)] == {
        "id": to_global_id("Mailing", theirs.pk),
        "clientCount": 2,
        "clients": {"totalCount": 0},
    }
    assert rows[to_global_id("Mailing", mine.pk)]["clients"] == {"totalCount": 3}
    single = "query($id: ID!) { mailing(id: $id) { clientCount clients { totalCount } } }"
    for mailing, visible in ((theirs, 0), (mine, 3)):
        found = data_of(single, {"id": to_global_id("Mailing", mailing.pk)}, user=manager)["mailing"]
        assert found["clients"]["totalCount"] == visible
