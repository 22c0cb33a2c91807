"""Who may do what (R-AUTH-4, R-AUTH-5, R-AUTH-6): every predicate of backend/accounts/roles.py for every kind
of account. The table is the reference: a change of who may do what is a change of a mark here."""

import pytest
from django.contrib.auth.models import AnonymousUser, Group
from django.template import Context, Template

from backend.accounts import roles
from backend.accounts.models import User
from backend.mailings.models import Mailing
from tests.factories import MailingFactory, UserFactory, make_manager

COLUMNS = {
    "act": "may_act",
    "sign": "may_sign_in",
    "mgr": "is_manager",
    "edit": "is_content_editor",
    "mail": "sees_all_mailings",
    "off": "may_disable_mailings",
    "rev": "may_revoke_senders",
    "usrs": "sees_all_users",
    "blk": "may_block_users",
    "any": "may_edit_for_any_owner",
    "logs": "sees_all_delivery_logs",
    "raw": "sees_relay_answers",
    "own": "has_owner_pages",
    "mpg": "has_manager_page",
    "adm": "may_use_admin",
    "cms": "may_use_cms",
}

# Y: True, -: False.
TABLE = """
                       act sign mgr edit mail off rev usrs blk any logs raw own mpg adm cms
anonymous              -   -    -   -    -    -   -   -    -   -   -    -   -   -   -   -
unverified             Y   -    -   -    -    -   -   -    -   -   -    -   Y   -   -   -
inactive               -   -    -   -    -    -   -   -    -   -   -    -   -   -   -   -
blocked owner          -   -    -   -    -    -   -   -    -   -   -    -   -   -   -   -
owner                  Y   Y    -   -    -    -   -   -    -   -   -    -   Y   -   -   -
staff, not superuser   Y   Y    -   -    -    -   -   -    -   -   -    -   Y   -   -   -
content editor         Y   Y    -   Y    -    -   -   -    -   -   -    -   -   -   -   Y
manager                Y   Y    Y   -    Y    Y   Y   Y    Y   -   -    -   -   Y   -   -
mailings-only manager  Y   Y    Y   -    Y    Y   Y   -    -   -   -    -   -   Y   -   -
blocked manager        -   -    Y   -    -    -   -   -    -   -   -    -   -   -   -   -
inactive manager       -   -    Y   -    -    -   -   -    -   -   -    -   -   -   -   -
superuser              Y   Y    -   -    Y    Y   Y   Y    Y   Y   Y    Y   Y   Y   Y   Y
superuser, not staff   Y   Y    -   -    Y    Y   Y   Y    Y   Y   Y    Y   Y   Y   -   Y
superuser and manager  Y   Y    Y   -    Y    Y   Y   Y    Y   Y   Y    Y   Y   Y   Y   Y
superuser and editor   Y   Y    -   -    Y    Y   Y   Y    Y   Y   Y    Y   Y   Y   Y   Y
blocked superuser      -   -    -   -    -    -   -   -    -   -   -    -   -   -   -   -
"""


def in_group(name: str, **kwargs) -> User:
    user = UserFactory(**kwargs)
    user.groups.add(Group.objects.get(name=name))
    return User.objects.get(pk=user.pk)  # a fresh instance: no stale permission cache


ACCOUNTS = {
    "anonymous": AnonymousUser,
    "unverified": lambda: UserFactory(email_verified=False),
    "inactive": lambda: UserFactory(is_active=False),
    "blocked owner": lambda: UserFactory(is_blocked=True),
    "owner": UserFactory,
    "staff, not superuser": lambda: UserFactory(is_staff=True),
    "content editor": lambda: in_group("Content editors"),
    "manager": lambda: in_group("Managers"),
    "mailings-only manager": make_manager,
    "blocked manager": lambda: in_group("Managers", is_blocked=True),
    "inactive manager": lambda: in_group("Managers", is_active=False),
    "superuser": lambda: UserFactory(is_superuser=True, is_staff=True),
    "superuser, not staff": lambda: UserFactory(is_superuser=True),
    "superuser and manager": lambda: in_group("Managers", is_superuser=True, is_staff=True),
    "superuser and editor": lambda: in_group("Content editors", is_superuser=True, is_staff=True),
    "blocked superuser": lambda: UserFactory(is_superuser=True, is_staff=True, is_blocked=True),
}


def parse(table: str) -> dict[str, dict[str, bool]]:
    header, *rows = table.strip().splitlines()
    columns = [COLUMNS[short] for short in header.split()]
    answers = {}
    for row in rows:
        account, *marks = row.rsplit(maxsplit=len(columns))
        assert len(marks) == len(columns) and set(marks) <= {"Y", "-"}, row
        answers[account] = {column: mark == "Y" for column, mark in zip(columns, marks, strict=True)}
    return answers


EXPECTED = parse(TABLE)


def test_the_table_has_a_row_per_account_and_a_column_per_predicate():
    assert list(EXPECTED) == list(ACCOUNTS)
    assert set(COLUMNS.values()) == set(roles.PREDICATES)
    assert all(list(row) == list(COLUMNS.values()) for row in EXPECTED.values())


@pytest.mark.django_db
@pytest.mark.parametrize("predicate", list(COLUMNS.values()))
@pytest.mark.parametrize("account", list(ACCOUNTS))
def test_who_may_do_what(account, predicate):
    user = ACCOUNTS[account]()
    assert roles.PREDICATES[predicate](user) is EXPECTED[account][predicate]


@pytest.mark.parametrize("predicate", list(COLUMNS.values()))
def test_no_user_at_all_may_do_nothing(predicate):
    """A caller without a user (a template without one, a command) is refused by every predicate."""
    assert roles.PREDICATES[predicate](None) is False


@pytest.mark.django_db
def test_the_managers_of_a_list_in_one_query_are_those_is_manager_names(django_assert_num_queries):
    users = {account: make() for account, make in ACCOUNTS.items() if account != "anonymous"}
    with django_assert_num_queries(1):
        found = set(roles.managers_among(User.objects.all()))
    assert found == {user for account, user in users.items() if EXPECTED[account]["is_manager"]}


@pytest.mark.django_db
def test_the_may_act_filter_picks_the_accounts_may_act_names():
    """`may_act_q` is `may_act` for queries over many rows (the sendable mailings' owners)."""
    users = {account: make() for account, make in ACCOUNTS.items() if account != "anonymous"}
    found = set(User.objects.filter(roles.may_act_q()))
    assert found == {user for account, user in users.items() if EXPECTED[account]["may_act"]}
    mailings = {user.pk: MailingFactory(owner=user) for user in users.values()}
    through_owner = set(Mailing.objects.filter(roles.may_act_q("owner")))
    assert through_owner == {mailings[user.pk] for user in found}


@pytest.mark.django_db
def test_a_request_asking_many_questions_loads_the_permissions_once(django_assert_num_queries):
    """has_owner_pages is asked by every owner page and again by the navbar: the grants are read once, the
    user's own and their groups' in one query."""
    user = User.objects.get(pk=in_group("Content editors").pk)
    with django_assert_num_queries(1):
        for _ in range(3):
            assert not roles.has_owner_pages(user)
            assert not roles.is_manager(user)


@pytest.mark.django_db
def test_permissions_given_directly_and_through_groups_are_read_together(django_assert_num_queries):
    """The one query reads both kinds of grant, as Django's two would, and nothing of another user's."""
    from django.contrib.auth.models import Permission

    user = in_group("Content editors")
    direct = Permission.objects.get(codename="view_all_mailings")
    user.user_permissions.add(direct)
    in_group("Managers")  # someone else's grants are not this user's
    user = User.objects.get(pk=user.pk)
    from django.contrib.auth.backends import ModelBackend

    expected = ModelBackend().get_all_permissions(User.objects.get(pk=user.pk))
    with django_assert_num_queries(1):
        found = user.get_all_permissions()
    assert found == expected
    assert "mailings.view_all_mailings" in found and any(perm.startswith("wagtail") for perm in found)
    assert "mailings.disable_mailing" not in found


@pytest.mark.django_db
@pytest.mark.parametrize("account", ["anonymous", "owner", "manager", "superuser"])
def test_templates_ask_the_same_predicates(account):
    user = ACCOUNTS[account]()
    names = list(roles.PREDICATES)
    template = Template("{% load roles %}" + "".join(f"{{{{ user|{name}|yesno:'Y,-' }}}}" for name in names))
    assert template.render(Context({"user": user})) == "".join(
        "Y" if EXPECTED[account][name] else "-" for name in names
    )


def test_a_template_without_a_user_is_refused_everything():
    """The 500 page renders without a request context: `user` is then an empty string."""
    template = Template("{% load roles %}{{ user|has_owner_pages }} {{ user|has_manager_page }}")
    assert template.render(Context({})) == "False False"
