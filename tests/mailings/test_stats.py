"""Statistics selectors for reports and dashboards (R-SEND-4, R-UI-2/8/9,
R-AUTH-4/5): exact counts, scoped to the viewer, in a fixed number of queries whatever the data."""

import datetime as dt
import zoneinfo

import pytest
from django.contrib.auth.models import AnonymousUser, Group
from django.core.exceptions import PermissionDenied

from backend.accounts import selectors as account_selectors
from backend.accounts.models import User
from backend.mailings import selectors
from backend.mailings.models import Delivery, DeliveryAttempt, Mailing, Occurrence
from tests.factories import ClientFactory, MailingFactory, MessageFactory, UserFactory, make_manager

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2025, 6, 10, 12, 0, tzinfo=dt.UTC)
MOSCOW = zoneinfo.ZoneInfo("Europe/Moscow")


def at(**delta) -> dt.datetime:
    return NOW - dt.timedelta(**delta)


def occurrence(mailing: Mailing, *, hours_ago: int = 1) -> Occurrence:
    return Occurrence.objects.create(mailing=mailing, scheduled_for=at(hours=hours_ago))


def delivery(occ: Occurrence, status: str, *attempts: tuple[dt.datetime, str]) -> Delivery:
    """A delivery with its attempt log; `last_attempt_at` is its last attempt, as the engine writes it."""
    row = Delivery.objects.create(
        mailing=occ.mailing,
        occurrence=occ,
        email=f"{status}-{Delivery.objects.count()}@example.org",
        status=status,
        attempts=len(attempts),
        last_attempt_at=max((when for when, _ in attempts), default=None),
    )
    DeliveryAttempt.objects.bulk_create(
        DeliveryAttempt(delivery=row, attempted_at=when, outcome=outcome) for when, outcome in attempts
    )
    return row


def warm(user: User) -> User:
    """Load the viewer's permissions, as the first permission check of a request does, so that a query
    count measures the selector alone."""
    user.get_all_permissions()
    return user


def manager_with_group(**kwargs) -> User:
    user = UserFactory(**kwargs)
    user.groups.add(Group.objects.get(name="Managers"))
    return User.objects.get(pk=user.pk)


# --- occurrences_with_stats -------------------------------------------------------------------


@pytest.fixture
def report():
    """One mailing with an occurrence of every delivery status and one without deliveries."""
    mailing = MailingFactory()
    full = occurrence(mailing, hours_ago=2)
    delivery(full, "sent", (at(minutes=50), "sent"))
    delivery(full, "sent", (at(minutes=59), "temporary"), (at(minutes=30), "sent"))
    delivery(full, "failed", (at(minutes=55), "permanent"))
    delivery(full, "retrying", (at(minutes=40), "temporary"))
    delivery(full, "pending")
    delivery(full, "skipped")
    empty = occurrence(mailing, hours_ago=1)
    return mailing, full, empty


def stats(occurrences) -> dict[int, tuple]:
    return {
        o.pk: (
            o.sent_count,
            o.failed_count,
            o.retrying_count,
            o.pending_count,
            o.skipped_count,
            o.deliveries_count,
            o.first_attempt_at,
            o.last_attempt_at,
        )
        for o in occurrences
    }


def test_each_occurrence_has_its_counts_and_attempt_times(report):
    """R-SEND-4: per occurrence sent / failed / retrying / pending / skipped, first and last attempt."""
    mailing, full, empty = report
    result = stats(selectors.occurrences_with_stats(mailing.owner, mailing))
    assert result == {
        full.pk: (2, 1, 1, 1, 1, 6, at(minutes=59), at(minutes=30)),
        empty.pk: (0, 0, 0, 0, 0, 0, None, None),
    }
    assert [o.pk for o in selectors.occurrences_with_stats(mailing.owner)] == [empty.pk, full.pk]


def test_one_query_whatever_the_number_of_occurrences(report, django_assert_num_queries):
    mailing, _, _ = report
    warm(mailing.owner)
    with django_assert_num_queries(1):
        few = list(selectors.occurrences_with_stats(mailing.owner))
    for n in range(30):
        delivery(occurrence(mailing, hours_ago=10 + n), "sent", (at(hours=10 + n), "sent"))
    with django_assert_num_queries(1):
        many = list(selectors.occurrences_with_stats(mailing.owner))
        assert {o.mailing.pk for o in many} == {mailing.pk}
    assert (len(few), len(many)) == (2, 32)


def test_occurrence_stats_are_scoped_to_the_viewer(report):
    """R-AUTH-4: another owner sees none, also when passing the first owner's mailing; R-AUTH-5: a
    manager sees every mailing's log; a blocked owner or anonymous nobody's."""
    mailing, full, empty = report
    other = occurrence(MailingFactory())
    assert not selectors.occurrences_with_stats(UserFactory(), mailing).exists()
    assert set(selectors.occurrences_with_stats(other.mailing.owner)) == {other}
    assert set(selectors.occurrences_with_stats(make_manager())) == {full, empty, other}
    assert not selectors.occurrences_with_stats(AnonymousUser()).exists()
    mailing.owner.is_blocked = True
    mailing.owner.save()
    assert not selectors.occurrences_with_stats(mailing.owner, mailing).exists()


# --- owner_dashboard -------------------------------------------------------------------------


@pytest.fixture
def owner():
    return UserFactory(email="owner@example.com")


def populate(owner, *, size: int) -> dict:
    """An owner's lists of `size`-dependent length, plus noise in another owner's."""
    ClientFactory.create_batch(size, owner=owner)
    ClientFactory(owner=owner, unsubscribed_at=NOW)
    MessageFactory.create_batch(2, owner=owner)
    made = {
        "created": MailingFactory(owner=owner, next_run_at=at(hours=-5)),
        "started": MailingFactory(owner=owner, status="started", next_run_at=at(hours=-1)),
        "disabled": MailingFactory(owner=owner, status="started", is_active=False, next_run_at=at(hours=-2)),
        "completed": MailingFactory(owner=owner, status="completed"),
    }
    upcoming = [
        MailingFactory(owner=owner, status="started", next_run_at=at(hours=-10 - n)) for n in range(size)
    ]
    occ = occurrence(made["started"])
    for n in range(size + 10):
        delivery(occ, "failed", (at(hours=n), "permanent"))
    delivery(occ, "failed", (at(days=8), "permanent"))  # too old for "recent"
    for _ in range(size):
        delivery(occ, "sent", (at(minutes=5), "sent"))
    foreign = occurrence(MailingFactory(status="started", next_run_at=at(hours=-3)))
    delivery(foreign, "failed", (at(minutes=1), "permanent"))
    ClientFactory(owner=foreign.mailing.owner)
    return {**made, "upcoming": upcoming}


def test_the_owner_dashboard_counts_only_the_owners_own(owner):
    made = populate(owner, size=3)
    dashboard = selectors.owner_dashboard(owner, now=NOW)
    assert (dashboard.clients, dashboard.subscribed_clients, dashboard.messages) == (4, 3, 2 + 4 + 3)
    by_status = (dashboard.mailings_created, dashboard.mailings_started, dashboard.mailings_completed)
    assert by_status == (1, 2 + 3, 1)
    assert dashboard.mailings == 7
    assert dashboard.active_mailings == 4  # started and not disabled
    # Soonest first; the disabled one is never sent, so it is not a next send.
    assert [send.mailing for send in dashboard.next_sends] == [made["started"], made["created"]] + [
        made["upcoming"][n] for n in range(3)
    ]
    assert dashboard.next_sends[0].next_run_at == at(hours=-1)
    failures = dashboard.recent_failures
    assert len(failures) == 10
    assert [f.last_attempt_at for f in failures] == [at(hours=n) for n in range(10)]
    assert {f.mailing.owner_id for f in failures} == {owner.pk}
    assert (dashboard.sent, dashboard.failed) == (3, 3 + 10 + 1)


def test_the_owner_dashboard_costs_the_same_queries_for_small_and_large_lists(
    owner, django_assert_num_queries
):
    populate(owner, size=2)
    warm(owner)
    with django_assert_num_queries(6):
        small = selectors.owner_dashboard(owner, now=NOW)
        [f.mailing.message.subject for f in small.recent_failures]
        [s.mailing.message.subject for s in small.next_sends]
    populate(owner, size=40)
    with django_assert_num_queries(6):
        large = selectors.owner_dashboard(owner, now=NOW)
        [f.mailing.message.subject for f in large.recent_failures]
        [s.mailing.message.subject for s in large.next_sends]
    assert (len(small.next_sends), len(large.next_sends)) == (4, 5)


def test_a_managers_dashboard_shows_their_own_lists_not_everyones(owner):
    populate(owner, size=2)
    dashboard = selectors.owner_dashboard(make_manager(), now=NOW)
    assert (dashboard.clients, dashboard.messages, dashboard.mailings, dashboard.sent, dashboard.failed) == (
        0,
        0,
        0,
        0,
        0,
    )
    assert dashboard.next_sends == [] and dashboard.recent_failures == []


@pytest.mark.parametrize("who", ["anonymous", "blocked"])
def test_signed_out_and_blocked_users_get_an_empty_dashboard(owner, who):
    populate(owner, size=2)
    if who == "blocked":
        owner.is_blocked = True
        owner.save()
    viewer = owner if who == "blocked" else AnonymousUser()
    dashboard = selectors.owner_dashboard(viewer, now=NOW)
    assert (dashboard.clients, dashboard.messages, dashboard.mailings, dashboard.failed) == (0, 0, 0, 0)
    assert dashboard.next_sends == [] and dashboard.recent_failures == []


# --- service_stats ---------------------------------------------------------------------------


def test_service_stats_for_a_manager(django_assert_num_queries):
    """R-UI-8: users, mailings by status, today's sends and failures and 30 days per day in the viewer's
    zone, every day present."""
    boss = make_manager(email_verified=True)
    UserFactory(email_verified=False)
    UserFactory(is_blocked=True)
    owner = UserFactory()
    started = MailingFactory(owner=owner, status="started")
    MailingFactory(owner=owner, status="started", is_active=False)
    MailingFactory(owner=owner, status="completed")
    MailingFactory()
    occ = occurrence(started)
    # 2025-06-10 12:00 UTC is 15:00 in Moscow; 21:30 UTC the day before is already 00:30 on the 10th.
    delivery(occ, "sent", (dt.datetime(2025, 6, 9, 21, 30, tzinfo=dt.UTC), "sent"))
    delivery(occ, "sent", (at(hours=1), "temporary"), (at(minutes=30), "sent"))
    delivery(occ, "failed", (at(minutes=10), "permanent"))
    delivery(occ, "sent", (dt.datetime(2025, 6, 9, 20, 30, tzinfo=dt.UTC), "sent"))  # 23:30 on the 9th
    delivery(occ, "sent", (dt.datetime(2025, 5, 12, 0, 0, tzinfo=dt.UTC), "sent"))  # first day, 03:00
    delivery(occ, "sent", (dt.datetime(2025, 5, 11, 20, 59, tzinfo=dt.UTC), "sent"))  # 23:59, a day too old
    delivery(occ, "sent", (at(minutes=-5), "sent"))  # after `now`

    warm(boss)
    with django_assert_num_queries(3):
        stats = selectors.service_stats(boss, tz=MOSCOW, now=NOW)
    # boss, the unverified, the blocked, the owner and the other mailing's owner
    assert (stats.users, stats.verified_users, stats.blocked_users) == (5, 4, 1)
    assert (stats.mailings_created, stats.mailings_started, stats.mailings_completed) == (1, 2, 1)
    assert (stats.mailings, stats.active_mailings) == (4, 1)
    assert (stats.sent_today, stats.failed_today) == (2, 2)
    assert len(stats.per_day) == 30
    assert stats.per_day[0].day == dt.date(2025, 5, 12)
    assert stats.per_day[-1].day == dt.date(2025, 6, 10)
    days = {row.day: (row.sent, row.failed) for row in stats.per_day if row.sent or row.failed}
    assert days == {dt.date(2025, 5, 12): (1, 0), dt.date(2025, 6, 9): (1, 0), dt.date(2025, 6, 10): (2, 2)}
    assert sum(row.sent + row.failed for row in stats.per_day) == 6


def test_service_stats_days_follow_the_viewers_zone():
    root = UserFactory(is_superuser=True, is_staff=True)
    occ = occurrence(MailingFactory())
    delivery(occ, "sent", (dt.datetime(2025, 6, 9, 21, 30, tzinfo=dt.UTC), "sent"))
    in_utc = selectors.service_stats(root, tz=dt.UTC, now=NOW)
    in_moscow = selectors.service_stats(root, tz=MOSCOW, now=NOW)
    assert (in_utc.per_day[-2].sent, in_utc.sent_today) == (1, 0)
    assert (in_moscow.per_day[-2].sent, in_moscow.sent_today) == (0, 1)


@pytest.mark.parametrize("who", ["owner", "blocked manager", "anonymous", "editor"])
def test_service_stats_are_refused_to_everyone_else(who):
    """R-AUTH-5: only managers and superusers see the service's figures."""
    viewer = {
        "owner": UserFactory,
        "blocked manager": lambda: make_manager(is_blocked=True),
        "anonymous": AnonymousUser,
        "editor": lambda: UserFactory(is_staff=True),
    }[who]()
    with pytest.raises(PermissionDenied):
        selectors.service_stats(viewer, tz=dt.UTC, now=NOW)


# --- users_for -------------------------------------------------------------------------------


def test_managers_list_every_user_with_mailing_counts_in_one_query(django_assert_num_queries):
    boss = manager_with_group(email="boss@example.com")
    owner = UserFactory(email="owner@example.com")
    MailingFactory.create_batch(3, owner=owner)
    UserFactory(email="blocked@example.com", is_blocked=True, blocked_by=boss)
    warm(boss)
    with django_assert_num_queries(1):
        rows = {
            u.email: (u.mailings_count, u.blocked_by and u.blocked_by.email)
            for u in account_selectors.users_for(boss)
        }
    assert rows == {
        "boss@example.com": (0, None),
        "owner@example.com": (3, None),
        "blocked@example.com": (0, "boss@example.com"),
    }


@pytest.mark.parametrize("who", ["owner", "blocked manager", "anonymous", "mailings-only manager"])
def test_nobody_else_lists_users(who):
    """R-AUTH-5: the list needs `accounts.view_all_users` (the Managers group has it)."""
    viewer = {
        "owner": UserFactory,
        "blocked manager": lambda: manager_with_group(is_blocked=True),
        "anonymous": AnonymousUser,
        "mailings-only manager": make_manager,
    }[who]()
    assert not account_selectors.users_for(viewer).exists()
