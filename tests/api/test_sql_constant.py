"""Every operation the pages and the manager dashboard send (graphql/operations/*.graphql) costs the same
number of SQL queries whether its lists hold 5 rows or 100 (R-API-2): what a row needs beyond its own
columns comes from the operation's loaders, one query per level. Each operation runs as the user it is for
(an owner's pages, a manager's dashboard) against data it reads: the owner's clients, messages, mailings,
occurrences, deliveries and attempts; the users and every mailing for the manager. A new file in the
folder must be given its data here, or this test fails."""

import datetime as dt
from pathlib import Path

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from graphql_relay import to_global_id

from backend.accounts.models import SendingDecision, User
from backend.mailings.models import Client, Delivery, DeliveryAttempt, Mailing, Message, Occurrence

from ..factories import UserFactory
from .helpers import data_of

OPERATIONS = Path(__file__).resolve().parents[2] / "graphql" / "operations"
FILES = sorted(OPERATIONS.glob("*.graphql"))

pytestmark = pytest.mark.django_db


def _bulk_clients(owner: User, count: int, tag: str) -> list[Client]:
    return Client.objects.bulk_create(
        [Client(owner=owner, email=f"{tag}-{n}@example.org", full_name=f"Reader {n}") for n in range(count)]
    )


def _mailings(owner: User, count: int, clients: list[Client], **fields) -> list[Mailing]:
    """`count` started, active mailings of `owner`, each with its own message, `clients` and a next run."""
    now = timezone.now()
    messages = Message.objects.bulk_create(
        [Message(owner=owner, subject=f"News #{n}", body="Hello {full_name}") for n in range(count)]
    )
    values = {
        "start_at": now - dt.timedelta(days=1),
        "end_at": now + dt.timedelta(days=30),
        "periodicity": Mailing.Periodicity.DAILY,
        "status": Mailing.Status.STARTED,
        "next_run_at": now + dt.timedelta(hours=1),
        **fields,
    }
    mailings = Mailing.objects.bulk_create(
        [Mailing(owner=owner, message=message, **values) for message in messages]
    )
    through = Mailing.clients.through
    through.objects.bulk_create(
        [through(mailing_id=mailing.pk, client_id=client.pk) for mailing in mailings for client in clients]
    )
    return mailings


def _log(mailing: Mailing, clients: list[Client], occurrences: int) -> None:
    """`occurrences` occurrences of `mailing`; the latest has a failed delivery per client, each after two
    attempts, within the dashboard's week."""
    now = timezone.now()
    made = Occurrence.objects.bulk_create(
        [
            Occurrence(mailing=mailing, scheduled_for=now - dt.timedelta(days=day, minutes=1))
            for day in range(occurrences)
        ]
    )
    latest = made[0]
    deliveries = Delivery.objects.bulk_create(
        [
            Delivery(
                mailing=mailing,
                occurrence=latest,
                client=client,
                email=client.email,
                status=Delivery.Status.FAILED,
                attempts=2,
                last_attempt_at=now - dt.timedelta(minutes=n),
            )
            for n, client in enumerate(clients)
        ]
    )
    DeliveryAttempt.objects.bulk_create(
        [
            DeliveryAttempt(delivery=delivery, attempted_at=now, outcome=outcome, smtp_code=code)
            for delivery in deliveries
            for outcome, code in (("temporary", 451), ("permanent", 550))
        ]
    )


def _manager() -> User:
    user = UserFactory()
    user.groups.add(Group.objects.get(name="Managers"))
    return User.objects.get(pk=user.pk)


class World:
    """An owner and a manager, and `size` rows in every list an operation reads."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.owner = UserFactory()
        self.manager = _manager()
        clients = _bulk_clients(self.owner, size, f"o{self.owner.pk}")
        mailings = _mailings(self.owner, size, clients[:2])
        self.mailing = mailings[0]
        self.mailing.clients.set(clients)
        _log(self.mailing, clients, occurrences=size)
        # Other users for the manager's list: some managers, some blocked by this manager, each with mailings.
        for n in range(size):
            other = UserFactory()
            if n % 3 == 0:
                other.groups.add(Group.objects.get(name="Managers"))
            if n % 2 == 0:
                User.objects.filter(pk=other.pk).update(
                    is_blocked=True, blocked_by=self.manager, blocked_at=timezone.now(), blocked_reason="spam"
                )
            _mailings(other, 1, [])

    def target(self, *, blocked: bool) -> User:
        """A user with `size` mailings for a block or an unblock."""
        user = UserFactory()
        _mailings(user, self.size, [])
        if blocked:
            User.objects.filter(pk=user.pk).update(
                is_blocked=True, blocked_by=self.manager, blocked_at=timezone.now(), blocked_reason="spam"
            )
        return user

    def run(self, name: str) -> tuple[User, dict]:
        """Who sends the operation, and its variables."""
        mailing_id = to_global_id("Mailing", self.mailing.pk)
        if name in ("dashboard", "mailingProgress", "mailingReport"):
            return self.owner, {"id": mailing_id} if name != "dashboard" else {}
        if name == "managerBlockUser":
            return self.manager, {
                "id": to_global_id("ManagedUser", self.target(blocked=False).pk),
                "reason": "x",
            }
        if name == "managerUnblockUser":
            return self.manager, {"id": to_global_id("ManagedUser", self.target(blocked=True).pk)}
        if name == "managerDisableMailing":
            return self.manager, {"id": mailing_id}
        if name == "managerEnableMailing":
            Mailing.objects.filter(pk=self.mailing.pk).update(is_active=False, disabled_at=timezone.now())
            return self.manager, {"id": mailing_id}
        if name in ("managerMailings", "managerUsers"):
            return self.manager, {"first": 100}
        if name == "mailingClients":
            return self.owner, {"id": mailing_id, "first": 50}
        if name == "clientPicker":
            return self.owner, {"search": "example", "first": 20}
        if name == "managerStats":
            return self.manager, {}
        if name == "managerNeedsReview":
            # Every other user not blocked is a paused sender, with the decision that paused them.
            waiting = User.objects.filter(is_blocked=False).exclude(pk__in=[self.manager.pk, self.owner.pk])
            waiting.update(sending_paused_at=timezone.now(), sending_paused_reason="bounces")
            SendingDecision.objects.bulk_create(
                [
                    SendingDecision(user=user, action="paused", figures={"sent": 100, "bounced": 9})
                    for user in waiting
                ]
            )
            return self.manager, {}
        if name in ("managerResumeSending", "managerBlockSender", "managerSetSendQuota"):
            target = self.target(blocked=False)
            User.objects.filter(pk=target.pk).update(sending_paused_at=timezone.now())
            variables = {"id": to_global_id("ManagedUser", target.pk), "reason": "x"}
            if name == "managerSetSendQuota":
                variables["quota"] = 500
            return self.manager, variables
        raise AssertionError(f"give {name}.graphql its data in tests/api/test_sql_constant.py")


def _rows(data) -> int:
    """How many list items the answer holds, at any depth: the larger world must show more."""
    if isinstance(data, list):
        return len(data) + sum(_rows(item) for item in data)
    if isinstance(data, dict):
        return sum(_rows(value) for value in data.values())
    return 0


def _measure(name: str, query: str, size: int) -> tuple[int, int, dict]:
    world = World(size)
    user, variables = world.run(name)
    with CaptureQueriesContext(connection) as captured:
        data = data_of(query, variables, user=user)
    return len(captured), _rows(data), data


# The operations whose answer lists grow with the data (the others read one object, or a fixed 30 days).
LISTS = {
    "clientPicker",
    "dashboard",
    "mailingClients",
    "mailingReport",
    "managerMailings",
    "managerNeedsReview",
    "managerUsers",
}


@pytest.mark.parametrize("path", FILES, ids=[path.stem for path in FILES])
def test_an_operation_costs_the_same_queries_for_5_and_100_rows_R_API_2(path):
    query = path.read_text(encoding="utf-8")
    few, small_rows, small = _measure(path.stem, query, 5)
    many, big_rows, big = _measure(path.stem, query, 100)
    for answer in (small, big):
        payload = next(iter(answer.values()))
        assert payload is not None and payload.get("errors", []) == [], answer
    if path.stem in LISTS:
        assert big_rows > small_rows, (small_rows, big_rows)
    assert few == many, f"{path.stem}: {few} queries for 5 rows, {many} for 100"


RECENT_FAILURES = """query {
  dashboard { recentFailures { occurrence { sent mailing { clientCount } } attemptLog { outcome } mailing {
    message { subject } lastOccurrence { failed } } } }
}"""


def test_the_dashboards_recent_failures_with_their_occurrence_and_log_cost_the_same_for_1_and_10():
    """Each failure's occurrence with its counts, its attempt log and its mailing come in one query per
    level, not per row: once 11 queries for 1 failure and 29 for 10."""
    counts = {}
    for size in (1, 10):
        owner = UserFactory()
        clients = _bulk_clients(owner, size, f"f{owner.pk}")
        mailings = _mailings(owner, size, clients)
        for mailing, client in zip(mailings, clients, strict=True):
            _log(mailing, [client], occurrences=1)
        with CaptureQueriesContext(connection) as captured:
            failures = data_of(RECENT_FAILURES, user=owner)["dashboard"]["recentFailures"]
        assert len(failures) == size
        assert all(row["occurrence"]["sent"] == 0 for row in failures)
        assert all(row["occurrence"]["mailing"]["clientCount"] == size for row in failures)
        assert all(
            [a["outcome"] for a in row["attemptLog"]] == ["TEMPORARY", "PERMANENT"] for row in failures
        )
        assert all(row["mailing"]["lastOccurrence"]["failed"] == 1 for row in failures)
        counts[size] = len(captured)
    assert counts[1] == counts[10], counts
