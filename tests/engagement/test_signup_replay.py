"""Found in review (R-ENG-1, R-ENG-4): a link already used changes nothing again, a link asked for before an
unsubscribe or an erasure is void, and a lookalike address never reaches another client's preferences."""

import datetime as dt

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core import mail
from django.utils import timezone

from backend.mailings import selectors, services
from backend.mailings.models import Client, Consent, Suppression, Unsubscription
from tests.factories import ClientFactory, UserFactory

from .signup_helpers import confirm_path, make_form, post_signup

pytestmark = pytest.mark.django_db


def test_a_used_link_posted_again_does_not_undo_a_later_unsubscribe_or_bounce(client):
    form = make_form()
    post_signup(client, form, "reader@example.org")
    path = confirm_path(mail.outbox[0])
    client.post(path)
    reader = Client.objects.get(email="reader@example.org")
    services.client_unsubscribe(client=reader)
    Client.objects.filter(pk=reader.pk).update(bounced_at=timezone.now())
    assert client.post(path).status_code == 200
    reader.refresh_from_db()
    assert reader.unsubscribed_at is not None and reader.bounced_at is not None
    assert Consent.objects.count() == 1


def test_a_link_asked_for_before_an_erasure_is_void(client):
    form = make_form()
    post_signup(client, form, "gone@example.org")
    path = confirm_path(mail.outbox[0])
    client.post(path)
    services.client_erase(actor=form.owner, client=Client.objects.get(email="gone@example.org"))
    # A while later (the link keeps its time in whole seconds: the same second counts as before).
    Suppression.objects.update(created_at=timezone.now() + dt.timedelta(seconds=2))
    again = client.post(path)
    assert again.status_code == 400
    assert not Client.objects.filter(email="gone@example.org").exists()
    assert Suppression.objects.filter(owner=form.owner).count() == 1


def test_a_link_asked_for_before_an_unsubscribe_of_an_unconfirmed_address_is_void(client):
    form = make_form()
    ClientFactory(owner=form.owner, email="late@example.org")
    post_signup(client, form, "late@example.org")  # "already subscribed" mail with its confirmation link
    services.client_unsubscribe(client=Client.objects.get(email="late@example.org"))
    Unsubscription.objects.update(created_at=timezone.now() + dt.timedelta(seconds=2))
    assert client.post(confirm_path(mail.outbox[0])).status_code == 400
    assert Client.objects.get(email="late@example.org").unsubscribed_at is not None


def test_a_lookalike_address_is_a_new_subscriber_not_the_client_it_resembles():
    """On PostgreSQL UPPER() folds a dotless i into I: matching by `iexact` made the lookalike the "gmail"
    client and mailed that client's preferences link to the lookalike address."""
    owner = UserFactory()
    ClientFactory(owner=owner, email="alice@gmail.com")
    lookalike = "alice@gma\u0131l.com"
    assert selectors.subscribed_client(owner.pk, lookalike) is None
    assert selectors.subscribed_client(owner.pk, "ALICE@gmail.com") is not None


def test_erasure_removes_the_admin_history_that_names_the_client():
    owner = UserFactory()
    person = ClientFactory(owner=owner, email="secret.person@example.org", full_name="Secret P.")
    LogEntry.objects.create(
        user=UserFactory(is_superuser=True, is_staff=True),
        content_type=ContentType.objects.get_for_model(Client),
        object_id=str(person.pk),
        object_repr=str(person),
        action_flag=CHANGE,
    )
    services.client_erase(actor=owner, client=person)
    assert not LogEntry.objects.filter(object_repr__contains="secret.person").exists()
