"""An owner pauses and resumes their own mailing (R-OWN-1) against a real SMTP server on loopback: the
engine stops claiming at once, sends already handed over finish, and resuming sends the rest, no one twice."""

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from backend.mailings import services
from backend.mailings.compose import SendResult
from backend.mailings.models import Delivery, DeliveryAttempt, Mailing
from backend.mailings.sending import send_due
from backend.mailings.sending.occurrences import start_due
from backend.mailings.sending.summary import PassSummary
from backend.mailings.sending.worker import Workers
from tests.factories import UserFactory, make_manager
from tests.sending_helpers import due_mailing

pytestmark = pytest.mark.django_db


def test_a_paused_mailing_is_not_started_and_resuming_sends_it_R_OWN_1(smtp):
    mailing = due_mailing(clients=3)
    services.mailing_pause(actor=mailing.owner, mailing=mailing)
    summary = send_due()
    assert (summary.occurrences, summary.sent) == (0, 0)
    assert not smtp.received
    services.mailing_resume(actor=mailing.owner, mailing=mailing)
    assert send_due().sent == 3
    assert sorted(smtp.recipients()) == sorted(mailing.clients.values_list("email", flat=True))


def test_pausing_mid_send_keeps_what_waits_and_resuming_sends_each_once_R_OWN_1(smtp):
    mailing = due_mailing(clients=4)
    start_due(timezone.now(), PassSummary())
    workers = Workers(PassSummary())
    in_flight = workers.claim()
    assert len(in_flight) == 4
    # Two were handed to the server before the pause: they finish and are recorded as sent.
    services.mailing_pause(actor=mailing.owner, mailing=mailing)
    for job in in_flight[:2]:
        workers.record(job, SendResult("sent", 250, "ok"))
    # The other two come back to the queue unsent (a lease ending, as after a pass stops).
    Delivery.objects.filter(pk__in=[job.pk for job in in_flight[2:]]).update(
        claim_token="", next_attempt_at=timezone.now() - dt.timedelta(seconds=1)
    )
    assert send_due().sent == 0  # paused: nothing claimed
    waiting = mailing.deliveries.filter(status__in=Delivery.PENDING_STATUSES)
    assert waiting.count() == 2  # kept, not skipped as a manager's disable does
    services.mailing_resume(actor=mailing.owner, mailing=mailing)
    assert send_due().sent == 2
    assert mailing.deliveries.filter(status="sent").count() == 4
    assert DeliveryAttempt.objects.count() == 4  # no one twice
    assert len(smtp.recipients()) == 2  # only the resumed two went through this server


def test_send_now_is_refused_while_paused_with_its_code_R_OWN_1(smtp):
    mailing = due_mailing(clients=1)
    services.mailing_pause(actor=mailing.owner, mailing=mailing)
    with pytest.raises(ValidationError) as refused:
        services.mailing_send_now(actor=mailing.owner, mailing=mailing)
    assert refused.value.code == "mailing_paused"
    assert not mailing.occurrences.exists()


def test_resuming_does_not_undo_a_managers_disable_R_OWN_1(smtp):
    mailing = due_mailing(clients=1)
    services.mailing_pause(actor=mailing.owner, mailing=mailing)
    services.mailing_disable(actor=make_manager(), mailing=mailing)
    mailing = services.mailing_resume(actor=mailing.owner, mailing=mailing)
    assert mailing.paused_at is None and not mailing.is_active
    assert send_due().sent == 0
    assert not smtp.received


def test_a_daily_mailing_paused_over_days_sends_the_current_period_only_on_resume_R_OWN_1(smtp):
    now = timezone.now()
    mailing = due_mailing(clients=1, periodicity="daily", start_at=now - dt.timedelta(days=3, minutes=1))
    services.mailing_pause(actor=mailing.owner, mailing=mailing)
    send_due()
    services.mailing_resume(actor=mailing.owner, mailing=mailing)
    assert send_due().sent == 1  # today's, not a backlog of four
    assert mailing.occurrences.count() == 1


@pytest.mark.parametrize("who", ["stranger", "manager"])
def test_only_the_owner_pauses_or_resumes_R_OWN_1(smtp, who):
    mailing = due_mailing(clients=1)
    actor = UserFactory() if who == "stranger" else make_manager()
    with pytest.raises(PermissionDenied):
        services.mailing_pause(actor=actor, mailing=mailing)
    services.mailing_pause(actor=mailing.owner, mailing=mailing)
    with pytest.raises(PermissionDenied):
        services.mailing_resume(actor=actor, mailing=mailing)
    assert Mailing.objects.get(pk=mailing.pk).paused_at is not None
