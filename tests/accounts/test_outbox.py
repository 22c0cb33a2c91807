"""Account mail leaves the request: the pages queue it, the scheduler sends it.

Password reset took 0.5-0.8 s for a registered address and 0.007 s for an unknown one, "send the link again"
0.51 s vs 0.012 s: the mail went out inside the request. These tests measure what a request does (its
queries, its SMTP sessions), not the clock, and that the outbox sends every row once, through outages.
"""

from __future__ import annotations

import datetime as dt
import re
import threading

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from backend.accounts import outbox, ratelimit
from backend.accounts.models import AccountEmail
from backend.mailings.management.commands.runapscheduler import send_account_mail_job
from backend.mailings.sending import StopRequest
from tests.factories import UserFactory
from tests.fakes.smtp import FakeSMTPServer, closed_port

pytestmark = pytest.mark.django_db
PASSWORD = "plum-Orchard-47-lantern"
Kind = AccountEmail.Kind


def reset(client, email):
    return client.post(reverse("accounts:password_reset"), {"email": email})


def cms_reset(client, email):
    return client.post("/cms/password_reset/", {"email": email})


def resend(client, email):
    return client.post(reverse("accounts:resend"), {"email": email})


def sign_up(client, email):
    data = {"email": email, "full_name": "", "password1": PASSWORD}
    return client.post(reverse("accounts:signup"), data)


def bodies(smtp) -> list[str]:
    return [item.message.get_payload(decode=True).decode() for item in smtp.received]


def statements(queries) -> list[str]:
    """The statements a request ran, without their values: what a branch did, not for whom."""
    shapes = []
    for query in queries:
        sql = re.sub(r"'(?:[^']|'')*'", "?", query["sql"])
        sql = re.sub(r'"s\d+_x\d+"', "savepoint", sql)
        shapes.append(re.sub(r"\b\d+(\.\d+)?\b", "?", sql))
    return shapes


@pytest.fixture
def accounts():
    """One address per branch a request could take."""
    UserFactory(email="registered@example.com")
    UserFactory(email="unverified@example.com", email_verified=False)
    UserFactory(email="blocked@example.com", is_blocked=True)
    UserFactory(email="inactive@example.com", is_active=False)
    return ["registered@example.com", "unverified@example.com", "blocked@example.com", "inactive@example.com"]


# --- the request: no SMTP, the same work for every address ------------------------------------------------


@pytest.mark.parametrize("send", [reset, cms_reset, resend, sign_up])
def test_no_request_talks_to_the_mail_server(client, smtp, accounts, send):
    """Whatever the address, the request only queues; the scheduler's pass sends."""
    for email in [*accounts, "new@example.com"]:
        assert send(client, email).status_code in (200, 302)
    assert smtp.sessions == 0
    assert AccountEmail.objects.filter(status="pending").count() == len(accounts) + 1

    outbox.send_account_mail()
    assert smtp.sessions > 0
    assert smtp.received
    assert AccountEmail.objects.filter(status="pending").count() == 0


@pytest.mark.parametrize("send", [reset, cms_reset, resend])
def test_reset_and_resend_run_the_same_statements_for_every_address(smtp, accounts, send, monkeypatch):
    """Registered, unverified, blocked, inactive or unknown, the request runs the same
    statements (the counts, then one INSERT), so neither the page nor its timing tells them apart."""
    # The counters' housekeeping runs at random, whatever the address: here on every call, to compare.
    monkeypatch.setattr(ratelimit, "_SWEEP_ONE_IN", 1)
    seen = {}
    for email in [*accounts, "nobody@example.com"]:
        with CaptureQueriesContext(connection) as queries:
            response = send(Client(), email)
        assert response.status_code == 302
        seen[email] = statements(queries.captured_queries)
    first = seen["registered@example.com"]
    assert any(shape.startswith('INSERT INTO "accounts_accountemail"') for shape in first)
    assert all(shapes == first for shapes in seen.values()), seen
    assert smtp.sessions == 0


def test_sign_up_queues_one_email_for_a_new_and_a_taken_address(client, smtp, accounts):
    """The new address also gets its account (an INSERT the taken one cannot have); both hash once and
    queue exactly one email; neither talks to the mail server."""
    for email in ("fresh@example.com", "registered@example.com"):
        with CaptureQueriesContext(connection) as queries:
            assert "Check your email" in sign_up(client, email).content.decode()
        inserts = [s for s in statements(queries.captured_queries) if "accounts_accountemail" in s]
        assert len(inserts) == 1
    assert smtp.sessions == 0
    outbox.send_account_mail()
    received = dict(zip([item.rcpt_tos[0] for item in smtp.received], bodies(smtp), strict=True))
    assert "/accounts/verify/" in received["fresh@example.com"]
    assert "/accounts/password-reset/" in received["registered@example.com"]  # the "already have one" note


# --- the scheduler's pass: who gets what ------------------------------------------------------------------


def test_each_kind_goes_only_to_the_accounts_it_applies_to(client, smtp, accounts):
    for email in [*accounts, "nobody@example.com"]:
        reset(client, email)
        resend(client, email)
    summary = outbox.send_account_mail()
    # Django's reset rule (active, usable password: a blocked account may still set a new password);
    # the link again only to the active unverified account.
    assert sorted(smtp.recipients()) == [
        "blocked@example.com",
        "registered@example.com",
        "unverified@example.com",
        "unverified@example.com",
    ]
    assert (summary.sent, summary.nothing_to_send) == (4, 6)
    # The address someone typed is not kept when it had nothing to receive.
    assert set(AccountEmail.objects.filter(status="nothing").values_list("recipient", flat=True)) == {""}


def test_the_reset_links_come_from_site_url_and_work(client, smtp, settings, accounts):
    settings.WAGTAILADMIN_BASE_URL = settings.SITE_URL  # settings.py sets it from SITE_URL
    reset(client, "registered@example.com")
    cms_reset(client, "registered@example.com")
    outbox.send_account_mail()
    ours, wagtails = bodies(smtp)
    link = re.search(r"https://mailer\.example\.com(/accounts/password-reset/\S+/\S+/)", ours).group(1)
    assert "Set a new password" in client.get(link, follow=True).content.decode()
    assert re.search(r"https://mailer\.example\.com/cms/password_reset/confirm/\S+/\S+/", wagtails)


def test_the_email_is_in_the_language_of_the_request(client, smtp):
    UserFactory(email="ru@example.com")
    client.post(reverse("accounts:password_reset"), {"email": "ru@example.com"}, HTTP_ACCEPT_LANGUAGE="ru")
    assert AccountEmail.objects.get().language == "ru"
    outbox.send_account_mail()
    assert "Здравствуйте" in bodies(smtp)[0]


def test_no_body_or_link_is_stored(client, smtp, accounts):
    reset(client, "registered@example.com")
    outbox.send_account_mail()
    row = AccountEmail.objects.values().get()
    assert not any("password-reset/" in str(value) for value in row.values())
    assert row["status"] == "sent" and row["sent_at"] and row["recipient"] == "registered@example.com"


# --- once, and through outages --------------------------------------------------------------------------


def test_a_drain_sends_each_row_exactly_once(client, smtp, accounts):
    reset(client, "registered@example.com")
    first = outbox.send_account_mail()
    again = outbox.send_account_mail()
    call_command("send_account_mail")
    assert (first.sent, again.sent) == (1, 0)
    assert smtp.recipients() == ["registered@example.com"]
    assert AccountEmail.objects.get().attempts == 1


def test_the_mail_server_down_keeps_the_row_and_a_later_pass_sends_it(client, smtp, settings, accounts):
    """Nothing lost and nothing doubled. While the server refuses connections the row waits
    (backed off, its error kept); the first pass after it is back sends it, once."""
    settings.MAILER_RETRY_BASE_SECONDS = 60
    live_port = smtp.port
    settings.EMAIL_PORT = closed_port()
    for email in ("registered@example.com", "unverified@example.com"):
        reset(client, email)

    down = outbox.send_account_mail()
    assert (down.sent, down.retrying, down.given_back) == (0, 1, 1)  # one knock on a dead server per pass
    tried, waiting = AccountEmail.objects.order_by("-attempts")
    assert (tried.status, tried.attempts) == ("pending", 1)
    assert "ConnectionRefusedError" in tried.last_error
    assert waiting.attempts == 0 and waiting.next_try == tried.next_try
    assert tried.next_try >= timezone.now() + dt.timedelta(seconds=40)  # 60 s, jittered
    assert outbox.send_account_mail().retrying == 0  # not due yet: the server is left alone

    settings.EMAIL_PORT = live_port
    AccountEmail.objects.update(next_try=timezone.now())  # the backoff has run out
    assert outbox.send_account_mail().sent == 2
    assert outbox.send_account_mail().sent == 0
    assert sorted(smtp.recipients()) == ["registered@example.com", "unverified@example.com"]
    assert set(AccountEmail.objects.values_list("status", flat=True)) == {"sent"}


def test_a_temporary_refusal_is_retried_and_a_permanent_one_fails(client, smtp, accounts):
    reset(client, "registered@example.com")
    smtp.set(mode="tempfail_451")
    assert outbox.send_account_mail().retrying == 1
    row = AccountEmail.objects.get()
    assert (row.status, row.attempts) == ("pending", 1) and row.last_error.startswith("451")

    smtp.set(mode="accept", reject={"registered@example.com"})
    assert outbox.send_account_mail().failed == 1
    row.refresh_from_db()
    assert (row.status, row.attempts) == ("failed", 2) and row.last_error.startswith("550")
    assert row.finished is not None
    assert smtp.received == []


def test_a_row_whose_link_would_have_expired_is_not_sent(client, smtp, accounts):
    reset(client, "registered@example.com")
    AccountEmail.objects.update(expires=timezone.now() - dt.timedelta(seconds=1))
    assert outbox.send_account_mail().failed == 1
    assert AccountEmail.objects.get().last_error == "expired before it was sent"
    assert smtp.received == []


def test_a_stopped_pass_gives_its_rows_back_untried(client, smtp, accounts):
    reset(client, "registered@example.com")
    stop = StopRequest()
    stop.set(within=1)
    assert outbox.send_account_mail(stop=stop).sent == 0
    assert AccountEmail.objects.get().status == "pending"
    assert smtp.sessions == 0


def test_finished_rows_are_deleted_after_the_keep_days(settings):
    settings.ACCOUNT_EMAIL_KEEP_DAYS = 7
    now = timezone.now()
    for days, status in ((8, "sent"), (8, "nothing"), (6, "sent")):
        row = outbox.enqueue(kind=Kind.PASSWORD_RESET, address="x@example.com")
        AccountEmail.objects.filter(pk=row.pk).update(status=status, finished=now - dt.timedelta(days=days))
    old_pending = outbox.enqueue(kind=Kind.SIGN_UP, address="y@example.com")
    AccountEmail.objects.filter(pk=old_pending.pk).update(created=now - dt.timedelta(days=30))
    assert outbox.purge_account_mail() == 2
    assert AccountEmail.objects.count() == 2


def test_a_row_that_cannot_be_composed_fails_after_the_attempts_and_stops_nothing_else(
    smtp, settings, monkeypatch
):
    """A bug in composing one email is retried MAILER_MAX_ATTEMPTS times, not until its link expires (days
    of a try every ten minutes), and the rows after it are sent meanwhile."""
    settings.MAILER_MAX_ATTEMPTS, settings.MAILER_RETRY_BASE_SECONDS = 3, 0
    UserFactory(email="fine@example.com")
    UserFactory(email="broken@example.com")
    real = outbox.compose

    def compose(kind, recipient):
        if recipient == "broken@example.com":
            raise RuntimeError("template bug")
        return real(kind, recipient)

    monkeypatch.setattr(outbox, "compose", compose)
    broken = outbox.enqueue(kind=Kind.PASSWORD_RESET, address="broken@example.com")
    outbox.enqueue(kind=Kind.PASSWORD_RESET, address="fine@example.com")
    for _ in range(5):
        outbox.send_account_mail()
    broken.refresh_from_db()
    assert (broken.status, broken.attempts) == (AccountEmail.Status.FAILED, 3)
    assert broken.last_error.startswith("not composed: RuntimeError: template bug")
    assert smtp.recipients() == ["fine@example.com"]


@pytest.mark.django_db(
    transaction=True, serialized_rollback=True
)  # keeps the migrations' data for the next test
def test_the_scheduler_job_sends_the_outbox(client, smtp, accounts):
    reset(client, "registered@example.com")
    send_account_mail_job(StopRequest())
    assert smtp.recipients() == ["registered@example.com"]


@pytest.mark.django_db(
    transaction=True, serialized_rollback=True
)  # keeps the migrations' data for the next test
def test_parallel_passes_never_send_a_row_twice(postgresql_only, settings):
    """Four schedulers draining one outbox at once (PostgreSQL): every address gets its one email."""
    with FakeSMTPServer() as server:
        settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = server.host, server.port, 5
        emails = [f"user{n}@example.com" for n in range(60)]
        for email in emails:
            UserFactory(email=email)
            outbox.enqueue(kind=Kind.PASSWORD_RESET, address=email)
        start = threading.Barrier(4)
        errors = []

        def drain():
            try:
                start.wait()
                outbox.send_account_mail()
            except Exception as exc:  # reported below: an exception in a thread is otherwise lost
                errors.append(exc)
            finally:
                connection.close()

        threads = [threading.Thread(target=drain) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert not errors
        assert sorted(server.recipients()) == sorted(emails)
        assert set(AccountEmail.objects.values_list("status", flat=True)) == {"sent"}


def test_the_admin_lists_the_outbox_read_only(client, smtp, accounts):
    reset(client, "registered@example.com")
    outbox.send_account_mail()
    root = UserFactory(is_superuser=True, is_staff=True)
    client.force_login(root)
    page = client.get("/admin/accounts/accountemail/")
    assert page.status_code == 200
    assert "registered@example.com" in page.content.decode()
    row = AccountEmail.objects.get()
    detail = client.get(f"/admin/accounts/accountemail/{row.pk}/change/").content.decode()
    assert "password-reset/" not in detail
    assert client.get("/admin/accounts/accountemail/add/").status_code == 403
