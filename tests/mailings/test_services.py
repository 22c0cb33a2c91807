"""Every service allowed and refused per SPEC R-AUTH-4/5: owner, another owner, manager, blocked owner,
superuser. Refusals must leave the database untouched."""

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from backend.mailings import scheduling, services
from backend.mailings.errors import ErrorCode
from backend.mailings.models import Client, Delivery, Mailing, Message, Occurrence
from tests.factories import ClientFactory, MailingFactory, MessageFactory, UserFactory, make_manager
from tests.mailings.test_forms import local_input, mailing_data
from tests.pages_helpers import make_content_editor

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner():
    return UserFactory(email="owner@example.com")


@pytest.fixture
def actors(owner):
    return {
        "owner": owner,
        "stranger": UserFactory(email="stranger@example.com"),
        "manager": make_manager(email="manager@example.com"),
        "superuser": UserFactory(email="root@example.com", is_superuser=True, is_staff=True),
    }


def block(user):
    user.is_blocked = True
    user.save()
    return user


# --- creating -----------------------------------------------------------------------


def test_owner_creates_client_message_and_mailing(owner):
    client = services.client_create(actor=owner, data={"email": "a@example.org", "full_name": "A"})
    message = services.message_create(actor=owner, data={"subject": "Hi", "body": "Hello"})
    mailing = services.mailing_create(
        actor=owner, data=mailing_data(owner, message=message, clients=[client])
    )
    assert (client.owner, message.owner, mailing.owner) == (owner, owner, owner)
    assert list(mailing.clients.all()) == [client]
    assert mailing.status == Mailing.Status.CREATED
    assert mailing.time_zone == owner.time_zone


@pytest.mark.parametrize("who", ["manager", "blocked", "content editor"])
def test_managers_and_blocked_users_cannot_create(actors, owner, who):
    """R-AUTH-5, R-AUTH-6: managers and content editors keep no lists; the pages' 403 and the API agree."""
    actor = {"manager": actors["manager"], "content editor": make_content_editor()}.get(who) or block(owner)
    with pytest.raises(PermissionDenied):
        services.client_create(actor=actor, data={"email": "a@example.org", "full_name": "A"})
    with pytest.raises(PermissionDenied):
        services.message_create(actor=actor, data={"subject": "Hi", "body": "Hello"})
    with pytest.raises(PermissionDenied):
        services.mailing_create(actor=actor, data={})
    assert not Client.objects.exists() and not Message.objects.exists() and not Mailing.objects.exists()


def test_inactive_and_anonymous_users_cannot_create():
    from django.contrib.auth.models import AnonymousUser

    for actor in (UserFactory(is_active=False), AnonymousUser()):
        with pytest.raises(PermissionDenied):
            services.message_create(actor=actor, data={"subject": "Hi", "body": "Hello"})
    assert not Message.objects.exists()


def test_invalid_data_raises_form_invalid_with_field_errors_and_saves_nothing(owner):
    with pytest.raises(services.FormInvalid) as excinfo:
        services.mailing_create(actor=owner, data=mailing_data(owner, periodicity="hourly"))
    assert set(excinfo.value.form.errors) == {"periodicity"}
    assert excinfo.value.code == ErrorCode.INVALID
    assert not Mailing.objects.exists()


def test_mailing_with_another_owners_message_is_refused(owner, actors):
    foreign = MessageFactory(owner=actors["stranger"])
    with pytest.raises(services.FormInvalid) as excinfo:
        services.mailing_create(actor=owner, data=mailing_data(owner, message=foreign))
    assert "message" in excinfo.value.form.errors
    assert not Mailing.objects.exists()


# --- editing and deleting ---------------------------------------------------------


@pytest.mark.parametrize("who", ["owner", "superuser"])
def test_owner_and_superuser_edit_and_delete(actors, owner, who):
    actor = actors[who]
    client = ClientFactory(owner=owner)
    message = MessageFactory(owner=owner)
    mailing = MailingFactory(owner=owner, message=message, clients=[client])

    services.client_update(actor=actor, client=client, data={"email": client.email, "full_name": "Renamed"})
    services.message_update(actor=actor, message=message, data={"subject": "New", "body": "Body"})
    services.mailing_update(
        actor=actor, mailing=mailing, data=mailing_data(owner, message=message, clients=[client])
    )
    client.refresh_from_db()
    message.refresh_from_db()
    assert (client.full_name, message.subject) == ("Renamed", "New")
    assert Mailing.objects.get().periodicity == "daily"

    services.mailing_delete(actor=actor, mailing=mailing)
    services.message_delete(actor=actor, message=message)
    services.client_delete(actor=actor, client=client)
    assert not Mailing.objects.exists() and not Message.objects.exists() and not Client.objects.exists()


@pytest.mark.parametrize("who", ["stranger", "manager", "blocked"])
def test_others_managers_and_blocked_owners_cannot_edit_or_delete(actors, owner, who):
    client = ClientFactory(owner=owner, full_name="Original")
    message = MessageFactory(owner=owner, subject="Original")
    mailing = MailingFactory(owner=owner, message=message, clients=[client], periodicity="once")
    actor = block(owner) if who == "blocked" else actors[who]

    calls = [
        lambda: services.client_update(
            actor=actor, client=client, data={"email": "x@example.org", "full_name": "X"}
        ),
        lambda: services.message_update(actor=actor, message=message, data={"subject": "X", "body": "X"}),
        lambda: services.mailing_update(
            actor=actor, mailing=mailing, data=mailing_data(owner, message=message)
        ),
        lambda: services.mailing_delete(actor=actor, mailing=mailing),
        lambda: services.message_delete(actor=actor, message=message),
        lambda: services.client_delete(actor=actor, client=client),
    ]
    for call in calls:
        with pytest.raises(PermissionDenied):
            call()
    client.refresh_from_db()
    message.refresh_from_db()
    mailing.refresh_from_db()
    assert (client.full_name, message.subject, mailing.periodicity) == ("Original", "Original", "once")


def test_superuser_edit_stays_within_the_owners_lists(actors, owner):
    """A superuser editing someone's mailing cannot attach their own (or a third user's) clients."""
    mailing = MailingFactory(owner=owner, clients=[ClientFactory(owner=owner)])
    foreign_client = ClientFactory(owner=actors["superuser"])
    with pytest.raises(services.FormInvalid) as excinfo:
        services.mailing_update(
            actor=actors["superuser"],
            mailing=mailing,
            data=mailing_data(owner, message=mailing.message, clients=[foreign_client]),
        )
    assert "clients" in excinfo.value.form.errors


def test_message_used_by_a_mailing_cannot_be_deleted(owner):
    mailing = MailingFactory(owner=owner)
    with pytest.raises(ValidationError) as excinfo:
        services.message_delete(actor=owner, message=mailing.message)
    assert excinfo.value.code == ErrorCode.MESSAGE_IN_USE
    assert Message.objects.filter(pk=mailing.message_id).exists()
    assert excinfo.value.messages == ["This message is used by 1 mailing; delete or change it first."]


def test_the_in_use_count_is_plural_aware_in_russian(owner):
    """Every count shown to people goes through plural-aware translation."""
    from django.utils import translation

    message = MessageFactory(owner=owner)
    for _ in range(2):
        MailingFactory(owner=owner, message=message)
    with translation.override("ru"), pytest.raises(ValidationError) as excinfo:
        services.message_delete(actor=owner, message=message)
    with translation.override("ru"):
        text = excinfo.value.messages[0]
    assert "2 рассылках" in text


# --- disabling (manager powers) ----------------------------------------------------


def test_manager_disables_and_re_enables_any_mailing(actors, owner):
    manager = actors["manager"]
    mailing = MailingFactory(owner=owner)
    disabled = services.mailing_disable(actor=manager, mailing=mailing)
    assert (disabled.is_active, disabled.disabled_by) == (False, manager)
    assert disabled.disabled_at is not None
    enabled = services.mailing_enable(actor=manager, mailing=mailing)
    assert (enabled.is_active, enabled.disabled_by, enabled.disabled_at) == (True, None, None)


@pytest.mark.parametrize("who", ["owner", "stranger"])
def test_owners_cannot_use_the_managers_switch(actors, owner, who):
    mailing = MailingFactory(owner=owner)
    with pytest.raises(PermissionDenied):
        services.mailing_disable(actor=actors[who], mailing=mailing)
    mailing.refresh_from_db()
    assert mailing.is_active


def test_blocked_manager_cannot_disable(actors, owner):
    mailing = MailingFactory(owner=owner)
    with pytest.raises(PermissionDenied):
        services.mailing_disable(actor=block(actors["manager"]), mailing=mailing)
    mailing.refresh_from_db()
    assert mailing.is_active


def test_superuser_can_disable(actors, owner):
    mailing = MailingFactory(owner=owner)
    assert services.mailing_disable(actor=actors["superuser"], mailing=mailing).is_active is False


# --- scheduling (R-SEND-1..3) -------------------------------------------------------


def test_start_in_the_future_is_due_at_the_start(owner):
    start = timezone.now().replace(second=0, microsecond=0) + dt.timedelta(days=2)
    data = mailing_data(owner)
    data["start_at"] = local_input(start, owner.time_zone)
    mailing = services.mailing_create(actor=owner, data=data)
    assert mailing.next_run_at == start


def test_start_in_the_past_makes_it_due_now(owner):
    """R-SEND-1: start <= now < end: due at once (the latest occurrence), never sent inline."""
    start = timezone.now().replace(second=0, microsecond=0) - dt.timedelta(days=3, hours=1)
    data = mailing_data(
        owner,
        start_at=local_input(start, owner.time_zone),
        end_at=local_input(start + dt.timedelta(days=10), owner.time_zone),
    )
    mailing = services.mailing_create(actor=owner, data=data)
    assert mailing.next_run_at == start + dt.timedelta(days=3)
    assert mailing.next_run_at <= timezone.now()
    assert not Occurrence.objects.exists() and not Delivery.objects.exists()


def test_completed_mailing_reopens_when_its_end_moves_later(owner):
    mailing = MailingFactory(
        owner=owner,
        start_at=timezone.now() - dt.timedelta(days=5),
        end_at=timezone.now() - dt.timedelta(days=1),
        status=Mailing.Status.COMPLETED,
    )
    scheduling.reschedule(mailing)
    assert (mailing.next_run_at, mailing.status) == (None, Mailing.Status.COMPLETED)

    mailing.end_at = timezone.now() + dt.timedelta(days=5)
    mailing.save()
    scheduling.reschedule(mailing)
    assert mailing.next_run_at is not None
    assert mailing.status == Mailing.Status.CREATED
