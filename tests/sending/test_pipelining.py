"""SMTP PIPELINING (RFC 2920): MAIL FROM, RCPT TO and DATA in one write when the server offers it, with every
outcome classified as it is one command at a time (R-SEND-5)."""

import pytest

from backend.mailings.compose import PreparedMessage
from backend.mailings.models import DeliveryAttempt
from backend.mailings.sending.transport import SMTPConnection
from tests.factories import MessageFactory
from tests.fakes.pipelining import PipeliningSMTPServer
from tests.fakes.smtp import FakeSMTPServer

pytestmark = pytest.mark.django_db
Outcome = DeliveryAttempt.Outcome


@pytest.fixture
def server(settings):
    with PipeliningSMTPServer() as server:
        settings.EMAIL_HOST = server.host
        settings.EMAIL_PORT = server.port
        settings.EMAIL_TIMEOUT = 2
        settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
        settings.EMAIL_HOST_USER = ""
        settings.EMAIL_PIPELINING = True
        yield server


@pytest.fixture
def prepared():
    return PreparedMessage(MessageFactory(subject="Hi {first_name}", body="Hello {full_name}"))


def send(connection, prepared, email):
    return connection.send(prepared, email=email, full_name="Anna Reader", token="t")


def test_the_three_commands_arrive_in_one_write_and_two_round_trips_per_message(server, prepared):
    connection = SMTPConnection()
    try:
        first = send(connection, prepared, "anna@example.org")
        second = send(connection, prepared, "bob@example.org")
    finally:
        connection.close()
    assert first.outcome == second.outcome == Outcome.SENT and first.code == 250
    assert b"MAIL FROM:<noreply@localhost>\r\nRCPT TO:<anna@example.org>\r\nDATA\r\n" in server.chunks
    assert b"MAIL FROM:<noreply@localhost>\r\nRCPT TO:<bob@example.org>\r\nDATA\r\n" in server.chunks
    assert [r.rcpt_tos for r in server.received] == [["anna@example.org"], ["bob@example.org"]]
    assert b"Hello Anna Reader" in server.received[0].data
    assert connection.round_trips == 4  # (commands, then the message) x 2; one command at a time: 8
    assert server.sessions == 1


def test_without_pipelining_offered_each_command_waits_for_its_reply(server, prepared):
    server.set(pipelining=False)
    connection = SMTPConnection()
    try:
        assert send(connection, prepared, "anna@example.org").outcome == Outcome.SENT
    finally:
        connection.close()
    assert connection.round_trips == 4
    assert b"MAIL FROM:<noreply@localhost>\r\n" in server.chunks
    assert not any(b"MAIL FROM" in chunk and b"RCPT TO" in chunk for chunk in server.chunks)


def test_pipelining_can_be_switched_off(server, prepared, settings):
    settings.EMAIL_PIPELINING = False
    connection = SMTPConnection()
    try:
        assert send(connection, prepared, "anna@example.org").outcome == Outcome.SENT
    finally:
        connection.close()
    assert connection.round_trips == 4
    assert not any(b"MAIL FROM" in chunk and b"RCPT TO" in chunk for chunk in server.chunks)


def test_a_refused_recipient_is_permanent_the_transaction_reset_and_the_next_one_sent(server, prepared):
    """RCPT 550, then DATA 554 (no valid recipients): the recipient's 550 decides; RSET, same session."""
    server.set(reject={"gone@example.org"})
    connection = SMTPConnection()
    try:
        refused = send(connection, prepared, "gone@example.org")
        after = send(connection, prepared, "anna@example.org")
    finally:
        connection.close()
    assert refused.outcome == Outcome.PERMANENT and refused.code == 550
    assert "User unknown" in refused.text and not refused.connection_failed
    assert server.commands[server.commands.index("DATA") + 1].upper() == "RSET"
    assert after.outcome == Outcome.SENT
    assert [r.rcpt_tos for r in server.received] == [["anna@example.org"]]
    assert server.sessions == 1


def test_a_deferred_recipient_is_temporary_and_not_the_servers_failure(server, prepared):
    server.set(defer={"grey@example.org"})
    connection = SMTPConnection()
    try:
        result = send(connection, prepared, "grey@example.org")
        after = send(connection, prepared, "anna@example.org")
    finally:
        connection.close()
    assert result.outcome == Outcome.TEMPORARY and result.code == 451 and not result.connection_failed
    assert after.outcome == Outcome.SENT


@pytest.mark.parametrize(
    ("reply", "outcome"), [("451 4.3.0 try later", Outcome.TEMPORARY), ("554 5.7.1 no", Outcome.PERMANENT)]
)
def test_data_refused_after_the_recipient_was_accepted_decides(server, prepared, reply, outcome):
    server.set(data=reply)
    connection = SMTPConnection()
    try:
        result = send(connection, prepared, "anna@example.org")
    finally:
        connection.close()
    assert result.outcome == outcome and result.code == int(reply[:3])
    assert server.received == []


def test_a_refused_sender_is_temporary_and_counts_for_the_breaker(server, prepared):
    server.set(mail="553 5.7.1 Sender address rejected")
    connection = SMTPConnection()
    try:
        result = send(connection, prepared, "anna@example.org")
    finally:
        connection.close()
    assert result.outcome == Outcome.TEMPORARY and result.code == 553 and result.connection_failed
    assert "RSET" in [command.upper() for command in server.commands]


def test_421_on_mail_drops_the_connection_and_the_next_message_reconnects(server, prepared):
    server.set(mail="421 4.3.2 Service not available, closing channel")
    connection = SMTPConnection()
    try:
        result = send(connection, prepared, "anna@example.org")
        server.set(mail="")
        after = send(connection, prepared, "bob@example.org")
    finally:
        connection.close()
    assert result.outcome == Outcome.TEMPORARY and result.code == 421 and result.connection_failed
    assert after.outcome == Outcome.SENT and server.sessions == 2


def test_a_server_that_takes_data_without_a_recipient_gets_an_empty_message_ended(server, prepared):
    """RFC 2920 §3.1: DATA answered 354 although RCPT was refused: the client ends it with a lone dot."""
    server.set(reject={"gone@example.org"}, data_despite_no_recipient=True)
    connection = SMTPConnection()
    try:
        refused = send(connection, prepared, "gone@example.org")
        after = send(connection, prepared, "anna@example.org")
    finally:
        connection.close()
    assert refused.outcome == Outcome.PERMANENT and refused.code == 550
    assert after.outcome == Outcome.SENT
    assert [r.rcpt_tos for r in server.received] == [["anna@example.org"]]


def test_an_idle_connection_closed_by_the_server_is_reopened_once(server, prepared):
    connection = SMTPConnection()
    try:
        assert send(connection, prepared, "anna@example.org").outcome == Outcome.SENT
        connection._smtp.sock.close()  # as if the server had timed the idle session out
        connection._smtp.sock = None
        result = send(connection, prepared, "bob@example.org")
    finally:
        connection.close()
    assert result.outcome == Outcome.SENT and server.sessions == 2


@pytest.mark.parametrize(
    ("behaviour", "outcome", "code"),
    [
        ({"reject": {"anna@example.org"}}, Outcome.PERMANENT, 550),
        ({"mode": "tempfail_451"}, Outcome.TEMPORARY, 451),
        ({"mode": "tempfail_421"}, Outcome.TEMPORARY, 421),
        ({"mode": "reject_sender"}, Outcome.TEMPORARY, 553),
        ({"fail_first": 1}, Outcome.TEMPORARY, 451),
        ({"mode": "drop"}, Outcome.TEMPORARY, None),
    ],
)
def test_aiosmtpd_offering_pipelining_gives_the_same_classification(
    settings, prepared, behaviour, outcome, code
):
    with FakeSMTPServer(pipelining=True, **behaviour) as server:
        settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = server.host, server.port, 2
        settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
        settings.EMAIL_HOST_USER = ""
        connection = SMTPConnection()
        try:
            result = send(connection, prepared, "anna@example.org")
            assert connection._pipelining or result.connection_failed
            server.set(mode="accept", reject=set(), fail_first=0)
            after = send(connection, prepared, "bob@example.org")
        finally:
            connection.close()
    assert (result.outcome, result.code) == (outcome, code)
    assert after.outcome == Outcome.SENT
    assert server.recipients()[-1] == "bob@example.org"
