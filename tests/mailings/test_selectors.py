"""Reads are owner-scoped (R-AUTH-4); managers see every mailing, not others' lists (R-AUTH-5)."""

import datetime as dt

import pytest
from django.utils import timezone

from backend.mailings import selectors
from backend.mailings.models import Client, Delivery, Mailing, Occurrence
from tests.factories import ClientFactory, MailingFactory, MessageFactory, UserFactory, make_manager

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    alice, bob = UserFactory(), UserFactory()
    data = {}
    for user in (alice, bob):
        client = ClientFactory(owner=user)
        mailing = MailingFactory(owner=user, clients=[client])
        occurrence = Occurrence.objects.create(mailing=mailing, scheduled_for=mailing.start_at)
        Delivery.objects.create(mailing=mailing, occurrence=occurrence, client=client, email=client.email)
        data[user] = (client, mailing)
    return alice, bob, data


def test_owner_sees_only_their_own(world):
    alice, _bob, data = world
    assert list(selectors.clients_for(alice)) == [data[alice][0]]
    assert list(selectors.messages_for(alice)) == [data[alice][1].message]
    assert list(selectors.mailings_for(alice)) == [data[alice][1]]
    assert [d.mailing for d in selectors.deliveries_for(alice)] == [data[alice][1]]
    assert selectors.occurrences_for(alice).count() == 1


def test_attempt_log_is_scoped_like_the_mailings(world):
    from django.utils import timezone

    from backend.mailings.models import DeliveryAttempt

    alice, bob, data = world
    for user in (alice, bob):
        delivery = Delivery.objects.get(mailing=data[user][1])
        DeliveryAttempt.objects.create(
            delivery=delivery, attempted_at=timezone.now(), outcome="sent", smtp_code=250
        )
    assert [a.delivery.mailing for a in selectors.attempts_for(alice)] == [data[alice][1]]
    assert not selectors.attempts_for(make_manager()).exists()  # R-AUTH-5: no recipients for a manager
    alice.is_blocked = True
    alice.save()
    assert not selectors.attempts_for(alice).exists()


def test_another_owners_object_looks_missing(world):
    alice, bob, data = world
    with pytest.raises(Mailing.DoesNotExist):
        selectors.mailing_get(alice, data[bob][1].pk)
    with pytest.raises(Client.DoesNotExist):
        selectors.client_get(alice, data[bob][0].pk)
    assert selectors.mailing_get(alice, data[alice][1].pk) == data[alice][1]


def test_manager_sees_every_mailing_and_its_sends_but_no_ones_lists_or_recipients(world):
    """R-AUTH-5: every mailing and its occurrences (counts), but no client list, message or delivery log (the
    log lists the recipients)."""
    alice, bob, data = world
    manager = make_manager()
    assert set(selectors.mailings_for(manager)) == {data[alice][1], data[bob][1]}
    assert not selectors.deliveries_for(manager).exists()
    assert not selectors.clients_for(manager).exists()
    assert not selectors.messages_for(manager).exists()


def test_blocked_inactive_and_anonymous_see_nothing(world):
    from django.contrib.auth.models import AnonymousUser

    alice, bob, _data = world
    alice.is_blocked = True
    alice.save()
    bob.is_active = False
    bob.save()
    for user in (alice, bob, AnonymousUser()):
        assert not selectors.mailings_for(user).exists()
        assert not selectors.clients_for(user).exists()
        assert not selectors.deliveries_for(user).exists()


def test_due_mailings_skip_disabled_blocked_completed_and_future(world):
    from django.utils import timezone

    alice, _bob, _data = world
    now = timezone.now()
    due = MailingFactory(owner=alice, next_run_at=now)
    MailingFactory(owner=alice, next_run_at=now, is_active=False)
    MailingFactory(owner=alice, next_run_at=now, status=Mailing.Status.COMPLETED)
    MailingFactory(owner=alice, next_run_at=None)
    MailingFactory(owner=alice, next_run_at=now + timezone.timedelta(minutes=1))
    blocked_owner = UserFactory(is_blocked=True)
    MailingFactory(owner=blocked_owner, message=MessageFactory(owner=blocked_owner), next_run_at=now)
    assert list(selectors.due_mailings(now)) == [due]


def test_mailings_using_a_message_are_the_visible_ones_that_send_it_R_AUTH_4(world):
    """What stands in the way of deleting a message (the delete page lists these)."""
    alice, bob, data = world
    message = data[alice][1].message
    second = MailingFactory(owner=alice, message=message)
    MailingFactory(owner=alice)
    assert set(selectors.mailings_using(alice, message)) == {data[alice][1], second}
    assert list(selectors.mailings_using(bob, message)) == []
    blocked = UserFactory(is_active=False)
    assert list(selectors.mailings_using(blocked, MessageFactory(owner=blocked))) == []


def test_own_mailings_are_the_users_own_even_for_a_superuser_or_a_manager(world):
    """The owner pages and the API's `mailings` list the user's own only; `mailings_for` would give a
    superuser or a manager everyone's (R-AUTH-4)."""
    alice, _bob, data = world
    assert list(selectors.own_mailings(alice)) == [data[alice][1]]
    root = UserFactory(is_superuser=True)
    mine = MailingFactory(owner=root)
    assert selectors.mailings_for(root).count() == 3
    assert list(selectors.own_mailings(root)) == [mine]
    assert not selectors.own_mailings(make_manager()).exists()
    alice.is_blocked = True
    alice.save()
    assert not selectors.own_mailings(alice).exists()


@pytest.mark.parametrize(
    "changes,due",
    [
        ({}, True),
        ({"next_run_at": "future"}, False),
        ({"next_run_at": None}, False),
        ({"is_active": False}, False),
        ({"status": Mailing.Status.COMPLETED}, False),
        ({"owner_blocked": True}, False),
    ],
)
def test_a_mailing_is_due_exactly_when_due_mailings_lists_it_R_SEND_8(changes, due):
    """The mailing page's "due now" asks the scheduler's own query."""
    now = timezone.now()
    changes = dict(changes)
    owner = UserFactory(is_blocked=changes.pop("owner_blocked", False))
    if changes.get("next_run_at") == "future":
        changes["next_run_at"] = now + dt.timedelta(minutes=1)
    fields = {"next_run_at": now - dt.timedelta(seconds=1), "status": Mailing.Status.STARTED, **changes}
    mailing = MailingFactory(owner=owner, **fields)
    assert selectors.is_due(mailing, now) is due
    assert (mailing in selectors.due_mailings(now)) is due
