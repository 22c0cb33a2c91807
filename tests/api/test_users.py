"""The managers' user list and blocking through GraphQL (R-AUTH-5, R-UI-8): managers and
superusers see every user and block or unblock them through accounts' services; anyone else is refused;
a page of users costs the same SQL for 5 users as for 100."""

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext
from graphql_relay import to_global_id

from backend.accounts.models import User
from backend.api.schema import schema
from tests.api.helpers import data_of, error_codes, gql
from tests.factories import MailingFactory, UserFactory, make_manager

pytestmark = pytest.mark.django_db

USERS = """
query Users($search: String, $blocked: Boolean, $verified: Boolean, $first: Int, $after: String) {
  users(search: $search, blocked: $blocked, verified: $verified, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node {
      id email fullName dateJoined emailVerified isBlocked blockedAt blockedReason
      blockedBy { id email } mailingsCount isManager isSuperuser
    } }
  }
}
"""
BLOCK = """
mutation Block($id: ID!, $reason: String!) {
  blockUser(id: $id, reason: $reason) {
    user { email isBlocked blockedReason blockedBy { email } mailingsCount }
    errors { field message code }
  }
}
"""
UNBLOCK = """
mutation Unblock($id: ID!) {
  unblockUser(id: $id) { user { email isBlocked blockedBy { email } } errors { field code } }
}
"""
NODE = """
query Node($id: ID!) {
  node(id: $id) { __typename ... on ManagedUser { email mailingsCount isManager } ... on User { email } }
}
"""
ME = "query { me { email } }"


def manager(**kwargs) -> User:
    """A manager as the data migration's Managers group makes one (R-AUTH-5)."""
    user = UserFactory(**kwargs)
    user.groups.add(Group.objects.get(name="Managers"))
    return User.objects.get(pk=user.pk)


def gid(user: User) -> str:
    return to_global_id("ManagedUser", user.pk)


def nodes(result: dict) -> list[dict]:
    return [edge["node"] for edge in result["users"]["edges"]]


def emails(result: dict) -> list[str]:
    return [node["email"] for node in nodes(result)]


def refreshed(user: User) -> User:
    return User.objects.get(pk=user.pk)


# --- users ---------------------------------------------------------------------------------------------


def test_a_manager_lists_every_user_with_block_details_and_mailing_counts_R_AUTH_5():
    boss = manager(email="boss@example.com", first_name="Bo", last_name="Ss")
    member = UserFactory(email="member@example.com", first_name="Mem", last_name="Ber")
    MailingFactory.create_batch(2, owner=member)
    root = UserFactory(email="root@example.com", is_superuser=True, is_staff=True)
    data_of(BLOCK, {"id": gid(member), "reason": "Sends spam"}, user=boss)

    result = data_of(USERS, user=boss)
    assert result["users"]["totalCount"] == 3
    by_email = {node["email"]: node for node in nodes(result)}
    assert list(by_email) == ["boss@example.com", "member@example.com", "root@example.com"]
    blocked = by_email["member@example.com"]
    assert blocked["id"] == gid(member)
    assert blocked["fullName"] == "Mem Ber"
    assert (blocked["isBlocked"], blocked["blockedReason"], blocked["mailingsCount"]) == (
        True,
        "Sends spam",
        2,
    )
    assert blocked["blockedBy"] == {"id": gid(boss), "email": "boss@example.com"}
    assert blocked["blockedAt"] is not None and blocked["emailVerified"] is True
    assert (by_email["boss@example.com"]["isManager"], by_email["boss@example.com"]["blockedBy"]) == (
        True,
        None,
    )
    assert (by_email["root@example.com"]["isManager"], by_email["root@example.com"]["isSuperuser"]) == (
        False,
        True,
    )
    assert by_email["member@example.com"]["isManager"] is False
    assert root.pk  # the superuser is listed, not hidden


def test_a_superuser_sees_the_list_too():
    root = UserFactory(is_superuser=True, is_staff=True)
    UserFactory(email="a@example.com")
    assert "a@example.com" in emails(data_of(USERS, user=root))


def test_filters_search_blocked_verified_and_pages():
    # Names given, not made up: a made-up name could contain "lee".
    boss = manager(email="boss@example.com", first_name="Bo", last_name="Ss")
    UserFactory(email="ann.lee@example.com", first_name="Ann", last_name="Lee")
    UserFactory(email="bob@example.com", first_name="Bob", last_name="Lee", is_blocked=True)
    UserFactory(email="new@example.com", first_name="Nu", last_name="Wu", email_verified=False)

    assert emails(data_of(USERS, {"search": "lee"}, user=boss)) == ["ann.lee@example.com", "bob@example.com"]
    assert emails(data_of(USERS, {"search": "ANN lee"}, user=boss)) == ["ann.lee@example.com"]
    assert emails(data_of(USERS, {"blocked": True}, user=boss)) == ["bob@example.com"]
    assert emails(data_of(USERS, {"verified": False}, user=boss)) == ["new@example.com"]
    first = data_of(USERS, {"first": 2}, user=boss)["users"]
    assert first["totalCount"] == 4 and first["pageInfo"]["hasNextPage"]
    rest = data_of(USERS, {"first": 2, "after": first["pageInfo"]["endCursor"]}, user=boss)
    assert emails(rest) == ["boss@example.com", "new@example.com"]


@pytest.mark.parametrize("who", ["owner", "content editor", "mailings-only manager", "blocked manager"])
def test_anyone_but_managers_and_superusers_is_refused_the_list(who):
    """FORBIDDEN rather than an empty list, so a dashboard can tell "not allowed" from "no users". The
    mailing permissions alone (factories.make_manager) do not show the user list."""
    actor = {
        "owner": UserFactory,
        "content editor": lambda: _in_group(UserFactory(), "Content editors"),
        "mailings-only manager": make_manager,
        "blocked manager": lambda: manager(is_blocked=True),
    }[who]()
    UserFactory(email="victim@example.com")
    status, body = gql(USERS, user=actor)
    if who == "blocked manager":
        assert status == 401 and error_codes(body) == ["UNAUTHENTICATED"]
    else:
        assert error_codes(body) == ["FORBIDDEN"] and body["data"] == {"users": None}
        assert "victim@example.com" not in str(body)


def _in_group(user: User, name: str) -> User:
    user.groups.add(Group.objects.get(name=name))
    return refreshed(user)


def test_anonymous_gets_401():
    status, body = gql(USERS)
    assert status == 401 and error_codes(body) == ["UNAUTHENTICATED"]


def test_a_managed_user_node_is_visible_to_managers_only_R_AUTH_4():
    boss, member = manager(), UserFactory()
    MailingFactory(owner=member)
    assert data_of(NODE, {"id": gid(member)}, user=boss)["node"] == {
        "__typename": "ManagedUser",
        "email": member.email,
        "mailingsCount": 1,
        "isManager": False,
    }
    assert data_of(NODE, {"id": gid(boss)}, user=boss)["node"]["isManager"] is True
    assert data_of(NODE, {"id": gid(boss)}, user=member)["node"] is None
    assert data_of(NODE, {"id": to_global_id("User", boss.pk)}, user=member)["node"] is None
    # Your own User node stays a User, whatever the schema lists first.
    mine = data_of(NODE, {"id": to_global_id("User", boss.pk)}, user=boss)["node"]
    assert mine == {"__typename": "User", "email": boss.email}


@pytest.mark.parametrize(
    "who, is_manager",
    [
        ("owner", False),
        ("manager", True),
        ("mailings-only manager", True),
        ("superuser", False),
        ("superuser and manager", True),
    ],
)
def test_is_manager_means_the_same_on_me_and_in_the_users_list(who, is_manager):
    """One meaning (roles.is_manager): given the managers' role. A superuser is not a manager unless given it,
    whether the user asks about themselves (`me`) or a superuser looks them up in the list or by node."""
    user = {
        "owner": UserFactory,
        "manager": manager,
        "mailings-only manager": make_manager,
        "superuser": lambda: UserFactory(is_superuser=True, is_staff=True),
        "superuser and manager": lambda: manager(is_superuser=True, is_staff=True),
    }[who]()
    root = UserFactory(is_superuser=True, is_staff=True)
    me = data_of("query { me { isManager isSuperuser } }", user=user)["me"]
    listed = {node["email"]: node for node in nodes(data_of(USERS, user=root))}[user.email]
    node = data_of(NODE, {"id": gid(user)}, user=root)["node"]
    assert me["isManager"] is listed["isManager"] is node["isManager"] is is_manager
    assert me["isSuperuser"] is listed["isSuperuser"] is (who.startswith("superuser"))


@pytest.mark.parametrize(
    ("who", "answers"),
    [
        ("owner", (False, False, False)),
        ("manager", (True, True, True)),
        ("mailings-only manager", (True, False, False)),
        ("superuser", (True, True, True)),
    ],
)
def test_me_says_what_the_user_may_oversee_R_AUTH_5(who, answers):
    """What a superuser may do without the managers' role is asked directly, not guessed from isManager."""
    user = {
        "owner": UserFactory,
        "manager": manager,
        "mailings-only manager": make_manager,
        "superuser": lambda: UserFactory(is_superuser=True, is_staff=True),
    }[who]()
    me = data_of("query { me { canViewAllMailings canManageUsers canBlockUsers } }", user=user)["me"]
    assert (me["canViewAllMailings"], me["canManageUsers"], me["canBlockUsers"]) == answers


def test_a_blocked_manager_is_still_listed_as_a_manager():
    """The role is what the account was given: the list shows it whether or not the user may act now."""
    blocked = manager(is_blocked=True)
    listed = {node["email"]: node for node in nodes(data_of(USERS, user=manager()))}[blocked.email]
    assert (listed["isManager"], listed["isBlocked"]) == (True, True)
    assert data_of(NODE, {"id": gid(blocked)}, user=manager())["node"]["isManager"] is True


def _seed(count: int) -> None:
    """`count` more users: a manager who blocked every other one, each with a mailing, every third one a
    manager too."""
    blocker = manager()
    for index in range(count - 1):
        user = UserFactory(
            is_blocked=index % 2 == 0, blocked_by=blocker if index % 2 == 0 else None, blocked_reason="x"
        )
        MailingFactory(owner=user)
        if index % 3 == 0:
            user.groups.add(Group.objects.get(name="Managers"))


def test_a_page_of_users_costs_the_same_queries_for_5_and_100_users():
    """BlockedBy, mailingsCount and isManager are loaded per page, not per user."""
    boss = manager()
    counts = {}
    for size in (5, 100):
        User.objects.exclude(pk=boss.pk).delete()
        _seed(size - 1)
        with CaptureQueriesContext(connection) as queries:
            result = data_of(USERS, {"first": 100}, user=boss)
        assert len(result["users"]["edges"]) == result["users"]["totalCount"] == size
        assert sum(node["isManager"] for node in nodes(result)) == 2 + len(range(0, size - 2, 3))
        assert sum(node["mailingsCount"] for node in nodes(result)) == size - 2
        assert all(node["blockedBy"] for node in nodes(result) if node["isBlocked"])
        counts[size] = len(queries)
    assert counts[5] == counts[100], counts


# --- blockUser / unblockUser ------------------------------------------------------------------------------


def test_a_manager_blocks_and_unblocks_through_the_services_R_AUTH_5():
    boss, member = manager(email="boss@example.com"), UserFactory(email="member@example.com")
    MailingFactory(owner=member)
    result = data_of(BLOCK, {"id": gid(member), "reason": "  Sends spam  "}, user=boss)["blockUser"]
    assert result["errors"] == []
    assert result["user"] == {
        "email": "member@example.com",
        "isBlocked": True,
        "blockedReason": "Sends spam",
        "blockedBy": {"email": "boss@example.com"},
        "mailingsCount": 1,
    }
    member = refreshed(member)
    assert (member.is_blocked, member.blocked_by, member.blocked_reason) == (True, boss, "Sends spam")

    result = data_of(UNBLOCK, {"id": gid(member)}, user=boss)["unblockUser"]
    assert result == {
        "user": {"email": "member@example.com", "isBlocked": False, "blockedBy": None},
        "errors": [],
    }
    assert not refreshed(member).is_blocked


def test_a_blocked_users_real_token_stops_working_on_the_next_request():
    boss, member = manager(), UserFactory()
    status, body = gql(
        "mutation($e: String!, $p: String!) { tokenAuth(email: $e, password: $p) { token } }",
        {"e": member.email, "p": "correct-horse-battery-staple"},
    )
    token = body["data"]["tokenAuth"]["token"]
    assert gql(ME, token=token)[0] == 200
    data_of(BLOCK, {"id": gid(member), "reason": "abuse"}, user=boss)
    status, body = gql(ME, token=token)
    assert status == 401 and error_codes(body) == ["UNAUTHENTICATED"]


@pytest.mark.parametrize("reason, code", [("   ", "required"), ("x" * 256, "max_length")])
def test_a_blank_or_too_long_reason_is_a_payload_error_and_blocks_no_one(reason, code):
    boss, member = manager(), UserFactory()
    result = data_of(BLOCK, {"id": gid(member), "reason": reason}, user=boss)["blockUser"]
    assert result["user"] is None
    assert [(error["field"], error["code"]) for error in result["errors"]] == [("reason", code)]
    assert not refreshed(member).is_blocked


@pytest.mark.parametrize("who", ["owner", "content editor", "mailings-only manager"])
def test_anyone_but_managers_is_refused_blocking_and_unblocking(who):
    actor = {
        "owner": UserFactory,
        "content editor": lambda: _in_group(UserFactory(), "Content editors"),
        "mailings-only manager": make_manager,
    }[who]()
    target, blocked = UserFactory(), UserFactory(is_blocked=True)
    _status, body = gql(BLOCK, {"id": gid(target), "reason": "spam"}, user=actor)
    assert error_codes(body) == ["FORBIDDEN"] and body["data"] == {"blockUser": None}
    _status, body = gql(UNBLOCK, {"id": gid(blocked)}, user=actor)
    assert error_codes(body) == ["FORBIDDEN"]
    assert not refreshed(target).is_blocked and refreshed(blocked).is_blocked


@pytest.mark.parametrize("target", ["themselves", "a superuser"])
def test_a_manager_cannot_block_themselves_or_a_superuser(target):
    boss = manager()
    victim = boss if target == "themselves" else UserFactory(is_superuser=True, is_staff=True)
    _status, body = gql(BLOCK, {"id": gid(victim), "reason": "spam"}, user=boss)
    assert error_codes(body) == ["FORBIDDEN"]
    assert not refreshed(victim).is_blocked


def test_a_superuser_may_block_a_manager():
    root, boss = UserFactory(is_superuser=True, is_staff=True), manager()
    assert data_of(BLOCK, {"id": gid(boss), "reason": "left"}, user=root)["blockUser"]["user"]["isBlocked"]


@pytest.mark.parametrize(
    "make_id",
    [
        lambda user: to_global_id("ManagedUser", 999_999),
        lambda user: to_global_id("Mailing", MailingFactory(owner=user).pk),
        lambda user: to_global_id("User", user.pk),
        lambda user: "garbage",
    ],
    ids=["unknown", "a mailing's id", "a User (me) id", "garbage"],
)
def test_an_unknown_or_foreign_id_is_not_found(make_id):
    boss, member = manager(), UserFactory()
    _status, body = gql(BLOCK, {"id": make_id(member), "reason": "spam"}, user=boss)
    assert error_codes(body) == ["NOT_FOUND"]
    _status, body = gql(UNBLOCK, {"id": make_id(member)}, user=boss)
    assert error_codes(body) == ["NOT_FOUND"]
    assert not User.objects.filter(is_blocked=True).exists()


def test_blocking_and_unblocking_are_the_only_user_writes_a_manager_has():
    """R-AUTH-5: no mutation edits a user's other fields."""
    names = schema.graphql_schema.mutation_type.fields
    assert sorted(name for name in names if "User" in name) == ["blockUser", "unblockUser"]
