"""The envelope and the protocol headers: each delivery's own return path as MAIL FROM (VERP, R-DLV-3),
List-Id, a Message-ID on the operator's domain, Reply-To, Precedence (R-DLV-2)."""

from email import message_from_bytes
from email.header import decode_header, make_header
from email.utils import parseaddr

import pytest

from backend.mailings import verp
from backend.mailings.compose import PreparedMessage, Sender
from backend.mailings.models import Delivery
from backend.mailings.sending import send_due
from backend.mailings.sending.transport import DjangoBackendConnection, SMTPConnection
from tests.factories import MessageFactory, UserFactory
from tests.sending_helpers import due_mailing

pytestmark = pytest.mark.django_db


@pytest.fixture
def bounce_domain(settings):
    settings.BOUNCE_DOMAIN = "bounce.example.net"
    settings.BOUNCE_LOCAL_PART = "bounces"


def test_each_delivery_goes_out_with_its_own_return_path(smtp, bounce_domain):
    mailing = due_mailing(clients=3)
    assert send_due().sent == 3
    by_recipient = {item.rcpt_tos[0]: item for item in smtp.received}
    for delivery in Delivery.objects.filter(occurrence__mailing=mailing).select_related("client"):
        received = by_recipient[delivery.client.email]
        assert received.mail_from.startswith("bounces+") and received.mail_from.endswith(
            "@bounce.example.net"
        )
        assert verp.delivery_id_from(received.mail_from) == delivery.pk
        # The header is the From address: the operator's, with the owner's name (R-DLV-1).
        assert parseaddr(received.message["From"]) == (mailing.owner.get_full_name(), "noreply@localhost")
        assert received.message["Return-Path"] is None


def test_without_a_bounce_domain_the_envelope_sender_is_the_operators_address(smtp, settings):
    settings.BOUNCE_DOMAIN = ""
    due_mailing(clients=1)
    assert send_due().sent == 1
    assert smtp.received[0].mail_from == "noreply@localhost"


def test_an_owners_own_from_address_never_becomes_the_envelope_sender(smtp, settings):
    """A relay refusing senders it does not host (553) would otherwise fail the owner's whole send as the
    server's fault and open the circuit breaker shared by every owner."""
    settings.BOUNCE_DOMAIN = ""
    smtp.set(mode="reject_sender")
    connection = SMTPConnection()
    try:
        prepared = PreparedMessage(MessageFactory(), sender=Sender(from_email="Shop <news@shop.example>"))
        result = connection.send(prepared, email="a@example.org", full_name="A", token="t", delivery_id=9)
    finally:
        connection.close()
    assert result.connection_failed  # the operator's own address refused: the server's fault, for everyone
    smtp.set(mode="accept")
    connection = SMTPConnection()
    try:
        assert (
            connection.send(prepared, email="a@example.org", full_name="A", token="t", delivery_id=9).code
            == 250
        )
    finally:
        connection.close()
    received = smtp.received[0]
    assert received.mail_from == "noreply@localhost"
    assert received.message["From"] == "Shop <news@shop.example>"


def test_a_test_send_without_a_delivery_uses_the_from_address(smtp, bounce_domain):
    connection = SMTPConnection()
    try:
        connection.send(PreparedMessage(MessageFactory()), email="a@example.org", full_name="A", token="t")
    finally:
        connection.close()
    assert smtp.received[0].mail_from == "noreply@localhost"


def test_djangos_smtp_backend_gets_the_return_path_as_envelope_only(smtp, bounce_domain, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    connection = DjangoBackendConnection()
    try:
        result = connection.send(
            PreparedMessage(MessageFactory()), email="a@example.org", full_name="A", token="t", delivery_id=77
        )
    finally:
        connection.close()
    assert result.outcome == "sent"
    received = smtp.received[0]
    assert verp.delivery_id_from(received.mail_from) == 77
    assert received.message["From"] == "Mailer <noreply@localhost>"


def test_other_django_backends_keep_the_from_address(bounce_domain, settings, mailoutbox):
    settings.EMAIL_HOST = ""
    connection = DjangoBackendConnection()
    connection.send(
        PreparedMessage(MessageFactory()), email="a@example.org", full_name="A", token="t", delivery_id=5
    )
    assert mailoutbox[0].from_email == "Mailer <noreply@localhost>"


def test_message_id_is_on_the_operators_domain_not_the_senders(settings):
    settings.MESSAGE_ID_DOMAIN = "mailer.example.net"
    sender = Sender(from_email="Shop <news@shop.example.com>")
    data = PreparedMessage(MessageFactory(), sender=sender).render_bytes(
        email="a@example.org", full_name="A", token="t"
    )
    parsed = message_from_bytes(data)
    assert parsed["Message-ID"].endswith("@mailer.example.net>")
    assert parsed["From"] == "Shop <news@shop.example.com>"
    assert parsed["Precedence"] == "bulk"


def test_list_id_names_the_owner_on_the_operators_domain(settings):
    settings.DKIM_DOMAIN = "mailer.example.net"
    owner = UserFactory(first_name="Anna", last_name='Shop "Best"')
    data = PreparedMessage(MessageFactory(owner=owner)).render_bytes(
        email="a@example.org", full_name="A", token="t"
    )
    assert message_from_bytes(data)["List-Id"] == f'"Anna Shop \\"Best\\"" <u{owner.pk}.mailer.example.net>'

    settings.DKIM_DOMAIN = ""
    settings.DEFAULT_FROM_EMAIL = "Mailer <noreply@mail.example.org>"
    nameless = UserFactory(first_name="", last_name="")
    data = PreparedMessage(MessageFactory(owner=nameless)).render_bytes(
        email="a@example.org", full_name="A", token="t"
    )
    assert message_from_bytes(data)["List-Id"] == f"<u{nameless.pk}.mail.example.org>"


def test_a_hostile_or_non_ascii_owner_name_stays_one_header():
    owner = UserFactory(first_name="Ёжик\r\nBcc: victim@example.org", last_name="Магазин " * 18)
    data = PreparedMessage(MessageFactory(owner=owner)).render_bytes(
        email="a@example.org", full_name="A", token="t"
    )
    head = data.split(b"\r\n\r\n", 1)[0]
    parsed = message_from_bytes(data)
    assert parsed["Bcc"] is None and b"\nBcc:" not in head
    list_id = str(make_header(decode_header(parsed["List-Id"])))
    assert list_id.startswith("Ёжик Bcc: victim@example.org Магазин") and list_id.endswith(
        f"<u{owner.pk}.localhost>"
    )
    assert all(len(line) < 998 for line in head.split(b"\r\n"))


def test_reply_to_comes_from_the_sender_when_set():
    sender = Sender(
        from_email="Shop <news@shop.example.com>", reply_to="Ünïcode Help <help@shop.example.com>"
    )
    data = PreparedMessage(MessageFactory(), sender=sender).render_bytes(
        email="a@example.org", full_name="A", token="t"
    )
    parsed = message_from_bytes(data)
    assert str(make_header(decode_header(parsed["Reply-To"]))) == "Ünïcode Help <help@shop.example.com>"
    data = PreparedMessage(MessageFactory()).render_bytes(email="a@example.org", full_name="A", token="t")
    assert message_from_bytes(data)["Reply-To"] is None


def test_a_long_non_ascii_recipient_name_leaves_no_bare_line_feed():
    data = PreparedMessage(MessageFactory()).render_bytes(
        email="a@example.org", full_name="Анна " * 30, token="t"
    )
    head = data.split(b"\r\n\r\n", 1)[0]
    assert b"\n" not in head.replace(b"\r\n", b"")
