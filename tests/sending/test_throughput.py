"""Less Python and fewer database round trips per message, every guarantee kept.

A message prepared once per occurrence renders exactly what the slow path rendered (`personalize.Template`,
`UnsubscribeLinks`); the lean SMTP transaction dot-stuffs as smtplib does; attempts are recorded
MAILER_RECORD_BATCH at a time, sooner when the server is slow, always before a worker claims, gives back or
stops, and never over a lease another pass took (R-SEND-4/7).
"""

import datetime as dt
import logging
import secrets

import pytest
from django.utils import timezone

from backend.mailings import personalize
from backend.mailings.compose import SendResult
from backend.mailings.models import Delivery, DeliveryAttempt
from backend.mailings.sending import queue, send_due, worker
from backend.mailings.sending.occurrences import start_due
from backend.mailings.sending.summary import PassSummary
from backend.mailings.sending.worker import StopRequest, Unrecorded, Workers
from backend.mailings.unsubscribe import UnsubscribeLinks, unsubscribe_token_from, unsubscribe_url
from tests.factories import ClientFactory, MessageFactory
from tests.sending_helpers import due_mailing

pytestmark = pytest.mark.django_db

TEXTS = [
    "",
    "plain text, no placeholder",
    "Hello {full_name}, {first_name} <{email}>",
    "{{full_name}} is written literally, {{ and }} too",
    "{{{full_name}}}",
    "{ full_name } with spaces, {unknown} kept, {} kept",
    "{full_name}{full_name}{email}",
    "a { b } c {{ d",
    "line one\nline two {first_name}\n",
    "{a\"b} & {x<y} <{full_name}> '{email}'",  # found in review: an unknown name is escaped in HTML too
]
VALUES = [
    {"full_name": "Anna Smith", "first_name": "Anna", "email": "anna@example.org"},
    {"full_name": '<b>Bob & "Co"</b>', "first_name": "<b>Bob", "email": "bob@example.org"},
    {"full_name": "", "first_name": "", "email": "x@example.org"},
    {"full_name": "Ёлка {email}", "first_name": "Ёлка", "email": "ёлка@пример.рф"},
]


@pytest.mark.parametrize("text", TEXTS)
@pytest.mark.parametrize("escape_html", [False, True])
def test_a_template_parsed_once_renders_what_render_renders(text, escape_html):
    template = personalize.Template(text, escape_html=escape_html)
    for values in VALUES:
        assert template.render(values) == personalize.render(text, values, escape_html=escape_html)


def test_prepared_unsubscribe_links_are_the_domains_links(settings):
    """The engine's links (key derived and page resolved once) are `unsubscribe_url`'s, and the page's
    check takes them back to the token: for the model's tokens and any URL-safe one."""
    from backend.mailings.models import new_unsubscribe_token

    for site in ("http://localhost:8000", "https://mailer.example.com/sub"):
        settings.SITE_URL = site
        links = UnsubscribeLinks()
        tokens = [new_unsubscribe_token() for _ in range(50)] + ["tok", "a-b_c", secrets.token_hex(32)]
        for token in tokens:
            link = links.link(token)
            assert link == unsubscribe_url(token)
            assert unsubscribe_token_from(link.rstrip("/").rsplit("/", 1)[1]) == token


def test_a_link_from_a_sent_message_unsubscribes_the_client(smtp, client):
    mailing = due_mailing(clients=1)
    recipient = mailing.clients.get()
    assert send_due().sent == 1
    link = smtp.received[0].message["List-Unsubscribe"].strip("<>")
    response = client.post("/" + link.split("://", 1)[1].split("/", 1)[1])
    assert response.status_code == 200
    recipient.refresh_from_db()
    assert recipient.unsubscribed_at is not None


def test_lines_starting_with_a_dot_arrive_as_written(smtp):
    """The lean DATA path dot-stuffs (RFC 5321 4.5.2) as smtplib does; the server takes the dots back off."""
    body = ".starts with a dot\n..two dots\n.\nalone above\nmiddle . dot\n."
    message = MessageFactory(subject="Dots", body=body)
    mailing = due_mailing(clients=0, owner=message.owner, message=message)
    mailing.clients.add(ClientFactory(owner=mailing.owner))
    assert send_due().sent == 1
    payload = smtp.received[0].message.get_payload()
    assert payload.startswith(body.replace("\n", "\r\n") + "\r\n\r\n-- \r\n")


# --- recording in batches -------------------------------------------------------------------------


@pytest.fixture
def batches(monkeypatch):
    """The size of every batch of attempts written, in order. Sends count as slow only past a minute, so
    that a slow first connection cannot split a batch (the slow-server test sets its own)."""
    monkeypatch.setattr(worker, "RECORD_WITHIN_SECONDS", 60.0)
    sizes: list[int] = []
    record = queue.record

    def spy(results):
        sizes.append(len(results))
        return record(results)

    monkeypatch.setattr(queue, "record", spy)
    return sizes


def test_attempts_are_written_a_batch_at_a_time(smtp, settings, batches):
    settings.MAILER_SEND_WORKERS = 1
    settings.MAILER_RECORD_BATCH = 10
    mailing = due_mailing(clients=25)
    summary = send_due()
    assert (summary.sent, summary.errors) == (25, [])
    assert batches == [10, 10, 5]  # the last five before the worker claims again (and finds nothing)
    assert DeliveryAttempt.objects.filter(delivery__mailing=mailing, outcome="sent").count() == 25
    assert set(mailing.deliveries.values_list("status", "claim_token").distinct()) == {("sent", "")}


def test_a_batch_of_one_writes_each_attempt_before_the_next_send(smtp, settings, batches):
    settings.MAILER_SEND_WORKERS = 1
    settings.MAILER_RECORD_BATCH = 1
    due_mailing(clients=4)
    assert send_due().sent == 4
    assert batches == [1, 1, 1, 1]


def test_with_a_slow_server_each_answer_is_written_before_the_next_send(smtp, settings, batches, monkeypatch):
    """A send that took RECORD_WITHIN_SECONDS or more is written at once, whatever MAILER_RECORD_BATCH
    allows: with a slow server the crash window is the message in flight, as with a batch of one."""
    settings.MAILER_SEND_WORKERS = 1
    settings.MAILER_RECORD_BATCH = 10
    monkeypatch.setattr(worker, "RECORD_WITHIN_SECONDS", 0.05)
    smtp.set(mode="slow", delay=0.1)
    due_mailing(clients=4)
    assert send_due().sent == 4
    assert batches == [1, 1, 1, 1]


def test_an_answer_waits_for_others_at_most_record_within_seconds(smtp, settings, batches, monkeypatch):
    """Sends of 30 ms (each below the 50 ms that counts as slow): before the fourth send the oldest answer
    has waited 60 ms, so at most three are ever written together, whatever MAILER_RECORD_BATCH allows."""
    settings.MAILER_SEND_WORKERS = 1
    settings.MAILER_RECORD_BATCH = 10
    monkeypatch.setattr(worker, "RECORD_WITHIN_SECONDS", 0.05)
    smtp.set(mode="slow", delay=0.03)
    due_mailing(clients=8)
    assert send_due().sent == 8
    assert sum(batches) == 8
    assert max(batches) <= 3, batches


def test_with_a_rate_limit_each_answer_is_written_before_the_limiter_waits(smtp, settings, batches):
    """Found in review: the limiter's wait could outlast the lease while answers waited to be written."""
    settings.MAILER_SEND_WORKERS = 1
    settings.MAILER_RECORD_BATCH = 10
    settings.MAILER_RATE_LIMIT = 100
    due_mailing(clients=4)
    assert send_due().sent == 4
    assert batches == [1, 1, 1, 1]


def test_answers_held_by_a_worker_that_fails_are_still_written(smtp, settings, monkeypatch):
    """Found in review: a worker stopped by an error (here in the breaker's bookkeeping, after its third
    send) writes the answers it holds instead of leaving them to be sent again after the lease."""
    from backend.mailings.sending.breaker import CircuitBreaker

    settings.MAILER_SEND_WORKERS = 1
    settings.MAILER_RECORD_BATCH = 10
    monkeypatch.setattr(worker, "RECORD_WITHIN_SECONDS", 60.0)
    observe = CircuitBreaker.observe
    calls = []

    def failing(self, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("bookkeeping failed")
        return observe(self, **kwargs)

    monkeypatch.setattr(CircuitBreaker, "observe", failing)
    mailing = due_mailing(clients=5)
    summary = send_due()
    assert summary.sent == 3
    assert any("bookkeeping failed" in error for error in summary.errors)
    assert len(smtp.received) == 3
    statuses = sorted(mailing.deliveries.values_list("status", flat=True))
    assert statuses == ["pending", "pending", "sent", "sent", "sent"]
    assert DeliveryAttempt.objects.filter(delivery__mailing=mailing).count() == 3


def test_retries_and_failures_are_recorded_in_batches_too(smtp, settings, batches):
    """R-SEND-5 through one batch: 451 → retrying after its backoff, 550 → failed, 250 → sent; each attempt
    logged with the server's answer."""
    settings.MAILER_SEND_WORKERS = 1
    settings.MAILER_RECORD_BATCH = 10
    settings.MAILER_RETRY_BASE_SECONDS = 60
    mailing = due_mailing(clients=3)
    greylisted, refused, fine = mailing.clients.order_by("pk")
    smtp.set(reject={refused.email}, fail_first=1)  # the first DATA gets 451; a 550 never reaches DATA
    before = timezone.now()
    summary = send_due()
    assert (summary.sent, summary.retrying, summary.failed) == (1, 1, 1)
    assert batches == [3]
    rows = {
        d.client_id: (d.status, d.attempts, d.attempt_log.get().smtp_code, d.last_response[:3])
        for d in mailing.deliveries.all()
    }
    assert rows == {
        greylisted.pk: ("retrying", 1, 451, "451"),
        refused.pk: ("failed", 1, 550, "550"),
        fine.pk: ("sent", 1, 250, "250"),
    }
    attempted = DeliveryAttempt.objects.get(delivery__client=greylisted).attempted_at
    assert attempted >= before
    backoff = mailing.deliveries.get(client=greylisted).next_attempt_at - attempted
    assert dt.timedelta(seconds=48) <= backoff <= dt.timedelta(seconds=72)  # 60 s, jittered by ±20 %


def claimed(clients: int = 3) -> tuple[Workers, list]:
    due_mailing(clients=clients)
    start_due(timezone.now(), PassSummary())
    workers = Workers(PassSummary())
    return workers, workers.claim()


def test_a_batch_records_only_the_deliveries_still_leased_to_it(smtp, caplog):
    """R-SEND-7: one delivery of the batch was taken over by another pass; the others are recorded, that one
    is left to its new holder, and the log says so."""
    workers, jobs = claimed(3)
    Delivery.objects.filter(pk=jobs[1].pk).update(claim_token="taken-by-another-pass")
    caplog.set_level(logging.WARNING, logger="backend.mailings")
    workers.write([workers.result(job, SendResult("sent", 250, "ok")) for job in jobs])
    assert workers.summary.sent == 2
    assert set(DeliveryAttempt.objects.values_list("delivery_id", flat=True)) == {jobs[0].pk, jobs[2].pk}
    taken = Delivery.objects.get(pk=jobs[1].pk)
    assert (taken.status, taken.claim_token) == ("pending", "taken-by-another-pass")
    assert [r.getMessage() for r in caplog.records if "taken over" in r.getMessage()] == [
        f"delivery {jobs[1].pk} was taken over by another pass while being sent"
    ]


def test_a_stop_deadline_records_the_answered_messages_before_giving_leases_back(smtp):
    """A worker stuck in a send at the stop deadline holds answered messages not yet written: the pass
    writes them (sent, not due again) and gives back only the rest."""
    workers, jobs = claimed(3)
    stop = StopRequest()
    workers = Workers(PassSummary(), stop=stop)
    workers.now = timezone.now()
    unrecorded = Unrecorded(10)
    unrecorded.add(workers.result(jobs[0], SendResult("sent", 250, "ok")))
    workers._unrecorded.append(unrecorded)
    workers._held.add(jobs[0].lease)
    workers.give_back_held()
    statuses = dict(Delivery.objects.values_list("pk", "status"))
    assert statuses == {jobs[0].pk: "sent", jobs[1].pk: "pending", jobs[2].pk: "pending"}
    assert DeliveryAttempt.objects.get().delivery_id == jobs[0].pk
    assert workers.summary.given_back == 2
    given = Delivery.objects.get(pk=jobs[1].pk)
    assert given.next_attempt_at <= timezone.now() + dt.timedelta(seconds=1)


def test_answers_the_database_could_not_take_are_written_by_the_next_pass(smtp, settings, monkeypatch):
    """The database went away when a worker wrote its answers: they are kept, and the next pass writes them
    before it claims anything (their deliveries still carry the lease), so no accepted message is sent
    again and every attempt is logged once."""
    from django.db import OperationalError

    settings.MAILER_SEND_WORKERS = 1
    settings.MAILER_RECORD_BATCH = 10
    monkeypatch.setattr(worker, "RECORD_WITHIN_SECONDS", 60.0)
    record = queue.record
    calls = []

    def unreachable_once(results):
        calls.append(len(results))
        if len(calls) == 1:
            raise OperationalError("server closed the connection unexpectedly")
        return record(results)

    monkeypatch.setattr(queue, "record", unreachable_once)
    mailing = due_mailing(clients=4)
    first = send_due()
    assert first.database and first.sent == 0
    assert len(smtp.received) == 4
    assert set(mailing.deliveries.values_list("status", flat=True)) == {"pending"}
    assert not DeliveryAttempt.objects.exists()

    second = send_due()
    assert (second.sent, second.errors) == (4, [])
    assert len(smtp.received) == 4  # nothing sent twice
    assert set(mailing.deliveries.values_list("status", flat=True)) == {"sent"}
    assert DeliveryAttempt.objects.filter(delivery__mailing=mailing).count() == 4
    assert worker.Unwritten.take() == []
