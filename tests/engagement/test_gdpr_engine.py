"""Erasing a person while the engine sends to them (R-ENG-4, R-SEND-7): the delivery a sender holds is
deleted under it; the message in flight is sent once, its answer finds no row to record, and the pass goes
on without an error; nothing is sent twice and the counts name only the deliveries that remain."""

import threading

import pytest
from django.db import connection

from backend.mailings import services
from backend.mailings.models import Client, Delivery, DeliveryAttempt, Mailing, Occurrence, Suppression
from backend.mailings.sending import send_due
from tests.helpers import wait_for
from tests.sending_helpers import due_mailing

pytestmark = [pytest.mark.django_db(transaction=True, serialized_rollback=True), pytest.mark.slow]


def test_erasing_a_client_whose_delivery_is_being_sent_does_not_crash_the_engine_R_ENG_4(smtp, caplog):
    mailing = due_mailing(clients=2)
    smtp.set(mode="slow", delay=1.5)
    erased: list[tuple[int, str]] = []
    failures: list[BaseException] = []

    def erase_the_one_in_flight():
        try:
            assert wait_for(lambda: smtp.data_commands >= 1, timeout=30)
            # The sender holds both (one claim); the message in DATA is the first of its batch.
            delivery = Delivery.objects.exclude(claim_token="").order_by("next_attempt_at", "pk").first()
            client = delivery.client
            services.client_erase(actor=mailing.owner, client=client)
            erased.append((delivery.pk, client.email))
        except BaseException as exc:  # reported by the test below
            failures.append(exc)
        finally:
            connection.close()

    eraser = threading.Thread(target=erase_the_one_in_flight)
    eraser.start()
    caplog.set_level("WARNING", logger="backend.mailings.sending")
    summary = send_due()
    eraser.join(30)

    assert failures == []
    [(delivery_id, address)] = erased
    assert summary.errors == []
    assert not Delivery.objects.filter(pk=delivery_id).exists()
    assert not DeliveryAttempt.objects.filter(delivery_id=delivery_id).exists()
    assert "taken over by another pass" in caplog.text
    # The message already in DATA reached the server once; the other client got theirs.
    assert sorted(smtp.recipients()).count(address) == 1
    [left] = Delivery.objects.all()
    assert left.status == Delivery.Status.SENT

    again = send_due()
    assert (again.sent, again.errors) == (0, [])
    assert len(smtp.received) == 2
    occurrence = Occurrence.objects.get()
    assert occurrence.finished_at is not None
    assert (occurrence.deliveries_total, occurrence.sent_total) == (1, 1)
    assert Mailing.objects.get().status == Mailing.Status.COMPLETED
    assert Client.objects.count() == 1 and Suppression.objects.count() == 1


def test_erasing_a_client_whose_delivery_waits_in_a_running_occurrence_sends_it_to_nobody_R_ENG_4(smtp):
    mailing = due_mailing(clients=2)
    smtp.set(mode="tempfail_451")
    send_due()  # both deliveries now wait for a retry in the running occurrence
    assert Delivery.objects.filter(status=Delivery.Status.RETRYING).count() == 2
    gone = mailing.clients.order_by("pk").first()
    services.client_erase(actor=mailing.owner, client=gone)
    smtp.set(mode="accept")
    Delivery.objects.update(next_attempt_at=Occurrence.objects.get().scheduled_for)
    summary = send_due()
    assert (summary.sent, summary.errors) == (1, [])
    assert gone.email not in smtp.recipients()
    assert Occurrence.objects.get().sent_total == 1
