"""The engine's finish step: a mailing is completed once, when nothing of it is left (R-SEND-3)."""

import pytest

from backend.mailings.models import Delivery, Mailing, Occurrence
from backend.mailings.sending.occurrences import complete_if_finished
from tests.factories import ClientFactory, MailingFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_complete_only_when_nothing_is_left_and_every_delivery_is_final():
    owner = UserFactory()
    client = ClientFactory(owner=owner)
    mailing = MailingFactory(owner=owner, clients=[client], status=Mailing.Status.STARTED)
    occurrence = Occurrence.objects.create(mailing=mailing, scheduled_for=mailing.start_at)
    delivery = Delivery.objects.create(
        mailing=mailing,
        occurrence=occurrence,
        client=client,
        email=client.email,
        status=Delivery.Status.RETRYING,
    )
    mailing.next_run_at = None
    assert complete_if_finished(mailing) is False
    delivery.status = Delivery.Status.FAILED
    delivery.save()
    assert complete_if_finished(mailing) is True
    mailing.refresh_from_db()
    assert mailing.status == Mailing.Status.COMPLETED


def test_only_one_of_several_schedulers_completes_a_mailing_R_SEND_3():
    """Two processes finish the same mailing: one conditional UPDATE completes it; exactly one counts it."""
    mailing = MailingFactory(status=Mailing.Status.STARTED)
    Mailing.objects.filter(pk=mailing.pk).update(next_run_at=None)
    first, second = Mailing.objects.get(pk=mailing.pk), Mailing.objects.get(pk=mailing.pk)
    assert complete_if_finished(first) is True
    assert complete_if_finished(second) is False
    assert Mailing.objects.get(pk=mailing.pk).status == Mailing.Status.COMPLETED
