"""`manage.py runbounces` (R-DLV-3): from an MTA's pipe, an inbound SMTP endpoint and an IMAP mailbox, each
mail let go of only once stored — exit 75, answer 451 or leave it in the mailbox otherwise — and stopped
cleanly by SIGTERM. Real parts: a child process, smtplib against the endpoint on loopback, a fake IMAP server
on loopback, the database really down (a port where nothing listens)."""

import io
import signal
import smtplib
import socket
import subprocess
import sys

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from backend.mailings import verp
from backend.mailings.bounces.readers import parse_listen, poll_imap, smtp_endpoint
from backend.mailings.models import Bounce, Client
from tests.deliverability import bounce_samples as samples
from tests.deliverability.bounce_helpers import (  # noqa: F401
    BOUNCE_DOMAIN,
    bounce_domain,
    return_path,
    sent_deliveries,
)
from tests.fakes.imap import FakeIMAPServer
from tests.fakes.smtp import closed_port, free_port
from tests.helpers import ROOT, clean_env, database_url, start_manage, wait_for

pytestmark = [
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.usefixtures("bounce_domain"),
]

DOWN = f"postgres://postgres@127.0.0.1:{closed_port()}/mailer"


def run_stdin(raw: bytes, *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "runbounces", "--stdin", *args],
        cwd=ROOT,
        env=clean_env(DEBUG="1", BOUNCE_DOMAIN=BOUNCE_DOMAIN, LOG_LEVEL="WARNING", **env),
        input=raw,
        capture_output=True,
        timeout=120,
    )


# --- --stdin -------------------------------------------------------------------------------------------


def test_stdin_stores_one_mail_and_acts_on_it(smtp):
    (delivery,) = sent_deliveries()
    raw = samples.postfix_dsn(return_path(delivery), delivery.email)
    call_command("runbounces", "--stdin", input_stream=io.BytesIO(raw), stdout=io.StringIO())
    bounce = Bounce.objects.get()
    assert (bounce.source, bounce.kind, bounce.client_id) == ("stdin", "hard", delivery.client_id)
    assert Client.objects.get(pk=delivery.client_id).bounced_at is not None


def test_stdin_in_a_child_process_exits_0_also_for_a_mail_it_does_not_understand():
    done = run_stdin(b"Subject: hello\r\n\r\nnot a bounce at all", DATABASE_URL=database_url())
    assert done.returncode == 0, done.stderr
    assert Bounce.objects.get().kind == "unclassified"
    # The MTA's retry of the same mail: stored once, exit 0 again.
    again = run_stdin(b"Subject: hello\r\n\r\nnot a bounce at all", DATABASE_URL=database_url())
    assert again.returncode == 0 and Bounce.objects.count() == 1


def test_stdin_with_the_envelope_recipient_given_by_the_mta(smtp):
    (delivery,) = sent_deliveries()
    raw = samples.postfix_dsn("someone@elsewhere.example", delivery.email)
    call_command(
        "runbounces",
        "--stdin",
        "--recipient",
        return_path(delivery),
        input_stream=io.BytesIO(raw),
        stdout=io.StringIO(),
    )
    assert Bounce.objects.get().delivery_id == delivery.pk


def test_stdin_exits_75_when_the_database_is_down_so_the_mta_retries():
    done = run_stdin(samples.postfix_dsn(f"bounces+1-0@{BOUNCE_DOMAIN}", "a@b.c"), DATABASE_URL=DOWN)
    assert done.returncode == 75, done.stderr
    assert b"try again" in done.stderr


# --- the inbound SMTP endpoint -------------------------------------------------------------------------


@pytest.fixture
def endpoint(settings):
    settings.BOUNCE_SMTP_MAX_BYTES = 200_000
    port = free_port()
    controller = smtp_endpoint("127.0.0.1", port)
    controller.start()
    yield port
    controller.stop()


def test_the_smtp_endpoint_stores_each_mail_for_the_bounce_domain(smtp, endpoint):
    (delivery,) = sent_deliveries()
    raw = samples.gmail_dsn(return_path(delivery), delivery.email)
    with smtplib.SMTP("127.0.0.1", endpoint, timeout=10) as client:
        client.sendmail("", [return_path(delivery)], raw)
    bounce = Bounce.objects.get()
    assert (bounce.source, bounce.kind, bounce.envelope_to) == ("smtp", "hard", return_path(delivery))
    assert bytes(bounce.raw) == raw
    assert Client.objects.get(pk=delivery.client_id).bounced_at is not None


def test_the_smtp_endpoint_refuses_other_domains_and_oversized_mails(endpoint):
    with smtplib.SMTP("127.0.0.1", endpoint, timeout=10) as client:
        client.ehlo()
        client.mail("")
        code, _ = client.rcpt("someone@example.com")
        assert code == 550
        code, _ = client.rcpt(verp.return_path(4242).upper())
        assert code == 250
        code, _ = client.data(b"Subject: big\r\n\r\n" + (b"x" * 70 + b"\r\n") * 4000)
        assert code == 552
    assert Bounce.objects.count() == 0


@pytest.mark.parametrize(
    "address",
    [
        f"bounces+1-0000000000000000@{BOUNCE_DOMAIN}",  # a token that does not verify
        f"bounces+1@{BOUNCE_DOMAIN}",
        f"postmaster@{BOUNCE_DOMAIN}",
        f"bounces.x@{BOUNCE_DOMAIN}",
        f"random-spam-target@{BOUNCE_DOMAIN}",
    ],
)
def test_the_smtp_endpoint_refuses_any_other_local_part_at_the_bounce_domain(endpoint, address):
    """Only our own addresses: spam to made-up ones at the MX is refused before DATA, nothing stored."""
    with smtplib.SMTP("127.0.0.1", endpoint, timeout=10) as client:
        client.ehlo()
        client.mail("")
        assert client.rcpt(address)[0] == 550
        # The plain address, where a feedback loop is registered, is taken.
        assert client.rcpt(f"<BOUNCES@{BOUNCE_DOMAIN}>")[0] == 250
    assert Bounce.objects.count() == 0


def test_the_smtp_endpoint_keeps_only_the_head_of_a_mail_naming_no_delivery(endpoint, settings):
    settings.BOUNCE_UNMATCHED_MAX_BYTES = 1000
    raw = b"Subject: spam\r\n\r\n" + (b"s" * 70 + b"\r\n") * 1000
    with smtplib.SMTP("127.0.0.1", endpoint, timeout=10) as client:
        client.sendmail("", [f"bounces@{BOUNCE_DOMAIN}"], raw)
    bounce = Bounce.objects.get()
    assert (bounce.kind, bounce.owner_id, bounce.size, bounce.raw_truncated) == (
        "unclassified",
        None,
        len(raw),
        True,
    )
    assert bytes(bounce.raw) == raw[:1000]


def test_the_smtp_endpoint_answers_421_beyond_its_sessions_and_frees_them(settings):
    settings.BOUNCE_SMTP_MAX_SESSIONS = 2
    port = free_port()
    controller = smtp_endpoint("127.0.0.1", port)
    controller.start()
    try:
        first = smtplib.SMTP("127.0.0.1", port, timeout=10)
        second = smtplib.SMTP("127.0.0.1", port, timeout=10)
        with pytest.raises(smtplib.SMTPConnectError) as refused:
            smtplib.SMTP("127.0.0.1", port, timeout=10)
        assert refused.value.smtp_code == 421
        first.quit()
        assert wait_for(lambda: controller.sessions.open == 1, 10, interval=0.05)
        third = smtplib.SMTP("127.0.0.1", port, timeout=10)
        assert third.noop()[0] == 250
        second.quit()
        third.quit()
    finally:
        controller.stop()


def wait_listening(port: int, process: subprocess.Popen, timeout: float = 60) -> None:
    def listening() -> bool:
        assert process.poll() is None, process.communicate()
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        except OSError:
            return False
        return True

    assert wait_for(listening, timeout, interval=0.2)


def test_the_smtp_endpoint_answers_451_when_it_cannot_store_and_stops_on_sigterm():
    port = free_port()
    env = clean_env(DEBUG="1", BOUNCE_DOMAIN=BOUNCE_DOMAIN, DATABASE_URL=DOWN, LOG_LEVEL="WARNING")
    process = start_manage("runbounces", "--smtp", f"127.0.0.1:{port}", env=env)
    try:
        wait_listening(port, process)
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
            with pytest.raises(smtplib.SMTPDataError) as refused:
                client.sendmail("", [f"bounces@{BOUNCE_DOMAIN}"], b"Subject: x\r\n\r\nbody")
            assert refused.value.smtp_code == 451
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err
    assert "stopped" in out


def test_parse_listen():
    assert parse_listen("127.0.0.1:2525") == ("127.0.0.1", 2525)
    assert parse_listen("[::1]:25") == ("::1", 25)
    for bad in ("nohost", "host:port", "h:0", "h:70000"):
        with pytest.raises(ValueError):
            parse_listen(bad)


# --- IMAP ------------------------------------------------------------------------------------------------


@pytest.fixture
def imap(settings):
    with FakeIMAPServer() as server:
        settings.BOUNCE_IMAP_HOST = server.host
        settings.BOUNCE_IMAP_PORT = server.port
        settings.BOUNCE_IMAP_SSL = False
        settings.BOUNCE_IMAP_USER = server.user
        settings.BOUNCE_IMAP_PASSWORD = server.password
        settings.BOUNCE_IMAP_FOLDER = "INBOX"
        settings.BOUNCE_IMAP_DONE_FOLDER = ""
        settings.BOUNCE_IMAP_DELETE = False
        yield server


def test_imap_mails_are_stored_then_marked_seen_and_never_deleted(smtp, imap):
    (delivery,) = sent_deliveries()
    imap.add("INBOX", samples.postfix_dsn(return_path(delivery), delivery.email))
    imap.add("INBOX", b"Subject: not understood\r\n\r\n???")
    imap.add("INBOX", b"Subject: read already\r\n\r\n", flags={"\\Seen"})
    assert poll_imap() == (2, 0)
    assert sorted(Bounce.objects.values_list("kind", flat=True)) == ["hard", "unclassified"]
    assert all("\\Seen" in mail.flags for mail in imap.folders["INBOX"])
    assert len(imap.folders["INBOX"]) == 3 and imap.deleted == []
    assert not any("\\Deleted" in command for command in imap.commands)
    assert poll_imap() == (0, 0)  # nothing new
    assert Bounce.objects.count() == 2


def test_imap_leaves_what_it_could_not_store_for_the_next_poll(smtp, imap, monkeypatch):
    from django.db import OperationalError

    from backend.mailings.bounces import readers

    imap.add("INBOX", b"Subject: one\r\n\r\n1")
    imap.add("INBOX", b"Subject: two\r\n\r\n2")

    def database_down(raw, **kwargs):
        raise OperationalError("connection refused")

    with monkeypatch.context() as patched:
        patched.setattr(readers, "record", database_down)
        assert poll_imap() == (0, 2)
    assert Bounce.objects.count() == 0
    assert all(not mail.flags for mail in imap.folders["INBOX"])  # unseen, still there
    assert poll_imap() == (2, 0)
    assert Bounce.objects.count() == 2


def test_imap_moves_to_the_done_folder_or_deletes_only_stored_mails(imap, settings, monkeypatch):
    from backend.mailings.bounces import readers

    settings.BOUNCE_IMAP_DONE_FOLDER = "Done"
    imap.add("INBOX", b"Subject: one\r\n\r\n1")
    assert poll_imap() == (1, 0)
    assert imap.folders["INBOX"] == [] and len(imap.folders["Done"]) == 1

    settings.BOUNCE_IMAP_DONE_FOLDER = ""
    settings.BOUNCE_IMAP_DELETE = True
    imap.add("INBOX", b"Subject: two\r\n\r\n2")
    imap.add("INBOX", b"Subject: poison\r\n\r\n3")
    real_record = readers.record

    def fails_on_poison(raw, **kwargs):
        if b"poison" in raw:
            raise ValueError("cannot store this one")
        return real_record(raw, **kwargs)

    monkeypatch.setattr(readers, "record", fails_on_poison)
    assert poll_imap() == (1, 1)
    assert [mail.data for mail in imap.deleted] == [b"Subject: two\r\n\r\n2"]
    assert [mail.data for mail in imap.folders["INBOX"]] == [b"Subject: poison\r\n\r\n3"]
    assert Bounce.objects.count() == 2


def test_imap_never_deletes_a_mail_whose_stored_copy_was_cut(imap, settings):
    settings.BOUNCE_IMAP_DELETE = True
    settings.BOUNCE_UNMATCHED_MAX_BYTES = 1000
    big = b"Subject: big\r\n\r\n" + b"b" * 5000
    imap.add("INBOX", big)
    imap.add("INBOX", b"Subject: small\r\n\r\nsmall")
    assert poll_imap() == (2, 0)
    assert [mail.data for mail in imap.deleted] == [b"Subject: small\r\n\r\nsmall"]
    (kept,) = imap.folders["INBOX"]
    assert kept.data == big and "\\Seen" in kept.flags
    assert Bounce.objects.get(size=len(big)).raw_truncated
    # With a done folder it goes there, whole, instead.
    settings.BOUNCE_IMAP_DONE_FOLDER = "Done"
    assert poll_imap() == (1, 0)
    assert imap.folders["INBOX"] == [] and [mail.data for mail in imap.folders["Done"]] == [big]
    assert Bounce.objects.count() == 2


def test_runbounces_imap_once_reports_what_it_did(imap):
    imap.add("INBOX", b"Subject: one\r\n\r\n1")
    out = io.StringIO()
    call_command("runbounces", "--imap", "--once", stdout=out)
    assert "1 stored, 0 left" in out.getvalue()


def test_imap_with_a_wrong_password_raises_and_stores_nothing(imap, settings):
    settings.BOUNCE_IMAP_PASSWORD = "wrong"
    imap.add("INBOX", b"Subject: one\r\n\r\n1")
    with pytest.raises(Exception, match=r"(?i)login|credentials|AUTHENTICATIONFAILED"):
        poll_imap()
    assert len(imap.folders["INBOX"]) == 1 and Bounce.objects.count() == 0


def test_imap_without_a_host_is_a_clear_error(settings):
    settings.BOUNCE_IMAP_HOST = ""
    with pytest.raises(CommandError, match="BOUNCE_IMAP_HOST"):
        call_command("runbounces", "--imap", "--once")


def test_without_configuration_it_idles_harmlessly_and_stops_on_sigterm():
    """The Procfile's `bounces:` line on an install that reads nothing back: no port taken, exit 0."""
    process = start_manage("runbounces", env=clean_env(DEBUG="1", DATABASE_URL=DOWN, LOG_LEVEL="WARNING"))
    try:
        assert "BOUNCE_DOMAIN is unset" in process.stderr.readline()
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err
    assert "stopped" in out


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("BOUNCE_SOFT_LIMIT", "0"),
        ("BOUNCE_RAW_MAX_BYTES", "100"),
        ("BOUNCE_SMTP_MAX_BYTES", "10485761"),  # over BOUNCE_RAW_MAX_BYTES: a 250 for a mail stored cut
        ("BOUNCE_UNMATCHED_MAX_BYTES", "-1"),
        ("BOUNCE_SMTP_MAX_SESSIONS", "0"),
        ("BOUNCE_RAW_DAYS", "-1"),
        ("BOUNCE_IMAP_SSL", "maybe"),
    ],
)
def test_a_wrong_bounce_setting_stops_start_up_clearly(name, value):
    from tests.helpers import run_manage

    done = run_manage("check", DEBUG="1", **{name: value})
    assert done.returncode != 0 and name in done.stderr
