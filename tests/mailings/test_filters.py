"""The FilterSets of every list (mailings/filters.py, accounts/filters.py), read directly: what each field
narrows, that a value it refuses is named in `.errors` and left out of `.qs` (what a page shows), and the
sorting every list shares (`backend.filtering.ordered`)."""

import datetime as dt

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied

from backend.accounts import selectors as account_selectors
from backend.accounts.models import User
from backend.filtering import ordered
from backend.mailings import selectors
from backend.mailings.filters import ClientFilter, DeliveryFilter, MailingFilter
from backend.mailings.models import Client, Delivery, DeliveryAttempt, Mailing, Occurrence
from tests.factories import ClientFactory, MailingFactory, MessageFactory, UserFactory, make_manager

pytestmark = pytest.mark.django_db

NUL_ERROR = "Must not contain null characters."


def emails(queryset) -> list[str]:
    return sorted(queryset.values_list("email", flat=True))


# --- clients ----------------------------------------------------------------------------------------


def test_client_search_finds_a_part_of_the_email_or_the_name_in_any_case():
    owner = UserFactory()
    ClientFactory(owner=owner, email="ann@example.org", full_name="Anna Petrova")
    ClientFactory(owner=owner, email="bob@example.net", full_name="Bob Annson")
    ClientFactory(owner=owner, email="carl@example.org", full_name="Carl")
    ClientFactory(email="ann@elsewhere.org", full_name="Ann of another owner")

    def found(search):
        return emails(selectors.client_list(owner, {"search": search}).qs)

    assert found("ANN") == ["ann@example.org", "bob@example.net"]
    assert found("example.net") == ["bob@example.net"]
    # The text as typed, not word by word: "anna carl" is in nobody's email or name.
    assert found("anna carl") == []
    assert found("  petrova ") == ["ann@example.org"]
    assert found("") == found(None) == ["ann@example.org", "bob@example.net", "carl@example.org"]


def test_a_nul_character_in_a_search_is_refused_and_left_out():
    owner = UserFactory()
    ClientFactory(owner=owner, email="ann@example.org")
    ClientFactory(owner=owner, email="bob@example.org")
    filters = selectors.client_list(owner, {"search": "ann\x00"})
    assert not filters.is_valid()
    assert filters.errors["search"] == [NUL_ERROR]
    assert filters.value("search") is None
    assert emails(filters.qs) == ["ann@example.org", "bob@example.org"]


def test_the_filterset_narrows_only_the_queryset_it_is_given():
    owner, stranger = UserFactory(), UserFactory()
    ClientFactory(owner=stranger, email="ann@example.org")
    assert not selectors.client_list(owner, {"search": "ann"}).qs.exists()
    assert ClientFilter({"search": "ann"}, queryset=Client.objects.all()).qs.count() == 1


# --- messages ---------------------------------------------------------------------------------------


def test_message_search_reads_the_subject_and_the_text():
    owner = UserFactory()
    MessageFactory(owner=owner, subject="Spring sale", body="Flowers")
    MessageFactory(owner=owner, subject="Autumn news", body="Leaves and spring cleaning")
    MessageFactory(owner=owner, subject="Winter", body="Snow")

    def found(search):
        return sorted(selectors.message_list(owner, {"search": search}).qs.values_list("subject", flat=True))

    assert found("SPRING") == ["Autumn news", "Spring sale"]
    assert found("snow") == ["Winter"]
    assert selectors.message_list(owner, {"search": "a\x00"}).errors["search"] == [NUL_ERROR]


# --- mailings ---------------------------------------------------------------------------------------


@pytest.fixture
def mailings():
    owner = UserFactory(email="owner@example.com", first_name="Olga", last_name="Owens")
    other = UserFactory(email="other@example.com", first_name="Peter", last_name="Parker")
    rows = {
        "created": MailingFactory(owner=owner, message=MessageFactory(owner=owner, subject="Spring sale")),
        "started": MailingFactory(
            owner=owner, status=Mailing.Status.STARTED, periodicity="daily", is_active=False
        ),
        "other": MailingFactory(owner=other, status=Mailing.Status.COMPLETED, periodicity="weekly"),
    }
    return owner, rows


def _pks(filters) -> set[int]:
    return set(filters.qs.values_list("pk", flat=True))


def test_mailing_filters_by_status_periodicity_active_and_subject(mailings):
    owner, rows = mailings
    created, started = rows["created"].pk, rows["started"].pk
    assert _pks(selectors.mailing_list(owner)) == {created, started}
    assert _pks(selectors.mailing_list(owner, {"status": "started"})) == {started}
    assert _pks(selectors.mailing_list(owner, {"periodicity": "once"})) == {created}
    assert _pks(selectors.mailing_list(owner, {"search": "SPRING"})) == {created}
    # The pages' "yes" / "no" and the API's booleans are one field.
    assert _pks(selectors.mailing_list(owner, {"active": "yes"})) == {created}
    assert _pks(selectors.mailing_list(owner, {"active": "no"})) == {started}
    assert _pks(selectors.mailing_list(owner, {"active": True})) == {created}
    assert _pks(selectors.mailing_list(owner, {"active": False})) == {started}


def test_a_mailing_filter_value_that_is_no_choice_is_named_and_the_rest_still_applies(mailings):
    owner, rows = mailings
    filters = selectors.mailing_list(owner, {"status": "sending", "periodicity": "daily", "active": "maybe"})
    assert set(filters.errors) == {"status", "active"}
    assert _pks(filters) == {rows["started"].pk}
    assert filters.chosen
    assert not selectors.mailing_list(owner, {"status": "sending"}).chosen
    assert not selectors.mailing_list(owner, {}).chosen
    unbound = selectors.mailing_list(owner)
    assert (unbound.chosen, unbound.value("status")) == (False, None)


def test_every_visible_mailing_and_the_owner_search_for_a_manager(mailings):
    owner, rows = mailings
    manager = make_manager()
    assert _pks(selectors.mailing_list(manager)) == set()
    everything = selectors.mailing_list(manager, every_visible=True)
    assert _pks(everything) == {row.pk for row in rows.values()}
    assert _pks(selectors.mailing_list(manager, {"owner_search": "PARK"}, every_visible=True)) == {
        rows["other"].pk
    }
    assert _pks(selectors.mailing_list(manager, {"owner_search": "owner@"}, every_visible=True)) == {
        rows["created"].pk,
        rows["started"].pk,
    }
    # A full name finds its owner, as the users list does: every word in any of the fields.
    assert _pks(selectors.mailing_list(manager, {"owner_search": "peter parker"}, every_visible=True)) == {
        rows["other"].pk
    }
    # An owner's "every visible" is their own.
    assert _pks(selectors.mailing_list(owner, every_visible=True)) == {rows["created"].pk, rows["started"].pk}
    assert MailingFilter({"owner_search": "x\x00"}).errors["owner_search"] == [NUL_ERROR]


# --- occurrences, deliveries, attempts ---------------------------------------------------------------


@pytest.fixture
def log():
    owner = UserFactory()
    mailing = MailingFactory(owner=owner)
    now = dt.datetime(2025, 6, 10, 12, 0, tzinfo=dt.UTC)
    first = Occurrence.objects.create(mailing=mailing, scheduled_for=now - dt.timedelta(days=1))
    second = Occurrence.objects.create(mailing=mailing, scheduled_for=now)
    other = Occurrence.objects.create(mailing=MailingFactory(owner=owner), scheduled_for=now)
    rows = {
        "ann-sent": Delivery.objects.create(
            mailing=mailing, occurrence=first, email="ann@example.org", status="sent"
        ),
        "bob-failed": Delivery.objects.create(
            mailing=mailing, occurrence=first, email="bob@example.org", status="failed"
        ),
        "ann-pending": Delivery.objects.create(
            mailing=mailing, occurrence=second, email="ann@example.org", status="pending"
        ),
        "elsewhere": Delivery.objects.create(
            mailing=other.mailing, occurrence=other, email="ann@example.org", status="sent"
        ),
    }
    return owner, mailing, (first, second, other), rows


def test_occurrences_of_one_mailing(log):
    owner, mailing, (first, second, _other), _ = log
    found = selectors.occurrence_list(owner, {"mailing": mailing.pk}).qs
    assert set(found.values_list("pk", flat=True)) == {first.pk, second.pk}
    assert set(selectors.occurrence_list(UserFactory(), {"mailing": mailing.pk}).qs) == set()


def test_the_delivery_log_by_mailing_send_outcome_and_email(log):
    owner, mailing, (first, second, _other), rows = log
    sends = [(first.pk, "first"), (second.pk, "second")]

    def found(**data):
        filters = selectors.delivery_list(owner, {"mailing": mailing.pk, **data}, occurrences=sends)
        return {name for name, row in rows.items() if filters.qs.filter(pk=row.pk).exists()}

    assert found() == {"ann-sent", "bob-failed", "ann-pending"}
    assert found(occurrence=str(first.pk)) == {"ann-sent", "bob-failed"}
    assert found(status="pending") == {"ann-pending"}
    assert found(email="ANN@") == {"ann-sent", "ann-pending"}
    assert found(email="ann", occurrence=second.pk, status="pending") == {"ann-pending"}


def test_a_send_that_is_not_offered_is_refused_and_left_out(log):
    owner, _mailing, (first, _second, other), rows = log
    filters = selectors.delivery_list(owner, {"occurrence": other.pk}, occurrences=[(first.pk, "first")])
    assert list(filters.errors) == ["occurrence"]
    assert filters.qs.count() == len(rows)
    # Without offered sends, none may be chosen.
    assert list(DeliveryFilter({"occurrence": first.pk}, queryset=Delivery.objects.all()).errors) == [
        "occurrence"
    ]
    assert selectors.delivery_list(owner, {"status": "bounced"}).errors["status"]
    assert selectors.delivery_list(owner, {"email": "a\x00"}).errors["email"] == [NUL_ERROR]


def test_the_attempts_of_one_delivery(log):
    owner, _mailing, _occurrences, rows = log
    when = dt.datetime(2025, 6, 10, 12, 0, tzinfo=dt.UTC)
    mine = DeliveryAttempt.objects.create(delivery=rows["bob-failed"], attempted_at=when, outcome="permanent")
    DeliveryAttempt.objects.create(delivery=rows["ann-sent"], attempted_at=when, outcome="sent")
    assert list(selectors.attempt_list(owner, {"delivery": rows["bob-failed"].pk}).qs) == [mine]
    assert list(selectors.attempt_list(UserFactory(), {"delivery": rows["bob-failed"].pk}).qs) == []


# --- users ------------------------------------------------------------------------------------------


def manager_with_group(**kwargs) -> User:
    user = UserFactory(**kwargs)
    user.groups.add(Group.objects.get(name="Managers"))
    return User.objects.get(pk=user.pk)


def test_user_filters():
    boss = manager_with_group(email="boss@example.com", first_name="Boris", last_name="Bossov")
    UserFactory(email="anna@example.com", first_name="Anna", last_name="Lee", email_verified=False)
    UserFactory(email="lee@example.org", first_name="Tom", last_name="Lee", is_blocked=True)

    def found(**filters):
        return emails(account_selectors.user_list(boss, filters).qs)

    assert found(search="LEE") == ["anna@example.com", "lee@example.org"]
    assert found(search="anna lee") == ["anna@example.com"]
    assert found(search="example.org") == ["lee@example.org"]
    assert found(search="  ") == ["anna@example.com", "boss@example.com", "lee@example.org"]
    assert found(blocked=True) == ["lee@example.org"]
    assert found(blocked=False, verified=True) == ["boss@example.com"]
    assert found(verified=False) == ["anna@example.com"]
    assert account_selectors.user_list(boss, {"search": "a\x00"}).errors["search"] == [NUL_ERROR]
    with pytest.raises(PermissionDenied):
        account_selectors.user_list(UserFactory(), {})


# --- sorting ----------------------------------------------------------------------------------------


def test_sorting_breaks_ties_by_the_primary_key_in_the_same_direction_and_puts_empty_values_last():
    owner = UserFactory()
    later = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
    a = MailingFactory(owner=owner, next_run_at=later)
    b = MailingFactory(owner=owner, next_run_at=None)
    c = MailingFactory(owner=owner, next_run_at=later)
    d = MailingFactory(owner=owner, next_run_at=later - dt.timedelta(days=1))
    mine = Mailing.objects.filter(owner=owner)
    assert list(ordered(mine, "next_run_at")) == [d, a, c, b]
    assert list(ordered(mine, "-next_run_at")) == [c, a, d, b]
    assert list(ordered(mine)) == [a, b, c, d]
