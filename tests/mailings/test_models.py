"""Database-level invariants of the mailings domain (R-DATA); they hold even when forms are bypassed."""

import datetime as dt

import pytest
from django.db import IntegrityError, transaction
from django.db.models import RestrictedError
from django.utils import timezone

from backend.mailings.models import Client, Delivery, Mailing, Occurrence
from tests.factories import ClientFactory, MailingFactory, MessageFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_end_must_be_after_start_in_the_database():
    owner = UserFactory()
    start = timezone.now()
    for end in (start, start - dt.timedelta(seconds=1)):
        with pytest.raises(IntegrityError), transaction.atomic():
            Mailing.objects.create(
                owner=owner, message=MessageFactory(owner=owner), start_at=start, end_at=end
            )
    assert not Mailing.objects.exists()


def test_client_email_unique_per_owner_in_any_letter_case():
    owner, other = UserFactory(), UserFactory()
    Client.objects.create(owner=owner, email="Ann@Example.org", full_name="Ann")
    with pytest.raises(IntegrityError), transaction.atomic():
        Client.objects.create(owner=owner, email="ann@example.ORG", full_name="Ann again")
    # Another owner may keep the same person in their own list.
    Client.objects.create(owner=other, email="ann@example.org", full_name="Ann")
    assert Client.objects.count() == 2


def test_unsubscribe_tokens_are_unguessable_and_unique():
    tokens = {ClientFactory().unsubscribe_token for _ in range(20)}
    assert len(tokens) == 20
    assert all(len(token) >= 40 for token in tokens)


def test_delivery_unique_per_occurrence_and_client():
    client = ClientFactory()
    mailing = MailingFactory(owner=client.owner, clients=[client])
    occurrence = Occurrence.objects.create(mailing=mailing, scheduled_for=mailing.start_at)
    Delivery.objects.create(mailing=mailing, occurrence=occurrence, client=client, email=client.email)
    with pytest.raises(IntegrityError), transaction.atomic():
        Delivery.objects.create(mailing=mailing, occurrence=occurrence, client=client, email=client.email)
    # bulk creation with ignore_conflicts (what the engine uses) is idempotent
    Delivery.objects.bulk_create(
        [Delivery(mailing=mailing, occurrence=occurrence, client=client, email=client.email)],
        ignore_conflicts=True,
    )
    assert Delivery.objects.count() == 1


def test_occurrence_unique_per_mailing_and_time():
    mailing = MailingFactory()
    Occurrence.objects.create(mailing=mailing, scheduled_for=mailing.start_at)
    with pytest.raises(IntegrityError), transaction.atomic():
        Occurrence.objects.create(mailing=mailing, scheduled_for=mailing.start_at)


def test_message_in_use_is_protected():
    mailing = MailingFactory()
    with pytest.raises(RestrictedError), transaction.atomic():
        mailing.message.delete()
    assert Mailing.objects.filter(pk=mailing.pk).exists()


def test_deleting_an_owner_deletes_their_whole_domain():
    """Account deletion: clients, messages, mailings and the log go with the owner; others stay."""
    other = MailingFactory()
    client = ClientFactory()
    mailing = MailingFactory(owner=client.owner, clients=[client])
    occurrence = Occurrence.objects.create(mailing=mailing, scheduled_for=mailing.start_at)
    Delivery.objects.create(mailing=mailing, occurrence=occurrence, client=client, email=client.email)
    client.owner.delete()
    assert list(Mailing.objects.all()) == [other]
    assert not Delivery.objects.exists() and not Client.objects.exists()


def test_deleting_a_client_keeps_the_delivery_log():
    client = ClientFactory(email="gone@example.org")
    mailing = MailingFactory(owner=client.owner, clients=[client])
    occurrence = Occurrence.objects.create(mailing=mailing, scheduled_for=mailing.start_at)
    Delivery.objects.create(mailing=mailing, occurrence=occurrence, client=client, email=client.email)
    client.delete()
    delivery = Delivery.objects.get()
    assert delivery.client is None
    assert delivery.email == "gone@example.org"


def test_mailing_upcoming_lists_next_occurrences_in_its_zone():
    owner = UserFactory(time_zone="Europe/Moscow")
    start = timezone.now() + dt.timedelta(days=1)
    mailing = MailingFactory(
        owner=owner, start_at=start, end_at=start + dt.timedelta(days=10), periodicity="daily"
    )
    upcoming = mailing.upcoming(after=timezone.now(), limit=3)
    assert upcoming == [start, start + dt.timedelta(days=1), start + dt.timedelta(days=2)]
