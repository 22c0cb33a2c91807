"""SMTP smuggling and header injection: compose makes every message safe on the wire,
whatever path wrote the message or the client (here: the ORM directly, never MessageForm)."""

import re
from email import message_from_bytes
from email.header import decode_header, make_header

import pytest

from backend.mailings.compose import PreparedMessage, Sender, UnsafeRecipient
from backend.mailings.models import Delivery
from backend.mailings.sending import send_due
from tests.factories import ClientFactory, MessageFactory, UserFactory
from tests.sending_helpers import due_mailing

pytestmark = pytest.mark.django_db

SMUGGLING_BODY = (
    "x\r.\r\nMAIL FROM:<evil@example.org>\r\nRCPT TO:<victim@example.org>\r\nDATA\r\n"
    "From: bank@example.org\r\n\r\nsmuggled\r\n.\r\nline\nwith bare LF\rand bare CR\n.\nend"
)
BARE_CR_OR_LF = re.compile(rb"\r(?!\n)|(?<!\r)\n")


def render(message, *, email="anna@example.org", full_name="Anna", token="token", **kwargs) -> bytes:  # noqa: S107
    return PreparedMessage(message, **kwargs).render_bytes(email=email, full_name=full_name, token=token)


def header_names(data: bytes) -> list[str]:
    head = data.split(b"\r\n\r\n", 1)[0].decode()
    return [line.split(":", 1)[0] for line in head.split("\r\n") if line and not line[0].isspace()]


def test_a_body_with_bare_cr_and_lf_goes_out_with_crlf_only():
    """A bare CR or LF could end DATA early on some servers (`<CR>.<CR><LF>`): none is left."""
    data = render(MessageFactory(subject="News", body=SMUGGLING_BODY, html_body="<p>a\rb\nc</p>\r.\r"))
    assert BARE_CR_OR_LF.search(data) is None
    assert b"x\r\n.\r\nMAIL FROM:<evil@example.org>\r\n" in data  # the text stays, as lines of the body
    assert b"line\r\nwith bare LF\r\nand bare CR\r\n.\r\nend" in data
    assert b"<p>a\r\nb\r\nc</p>\r\n.\r\n" in data


def test_a_non_ascii_body_is_normalised_before_it_is_encoded():
    data = render(MessageFactory(subject="News", body="Grüße\rWelt\nund\r\nmehr"))
    text = message_from_bytes(data).get_payload(decode=True).decode()
    assert text.startswith("Grüße\r\nWelt\r\nund\r\nmehr\r\n")
    assert BARE_CR_OR_LF.search(text.encode()) is None


@pytest.mark.parametrize("subject", ["Hi\r\nBcc: victim@example.org", "Hi\rBcc: victim@example.org"])
def test_a_line_break_in_the_subject_does_not_become_a_header(subject):
    data = render(MessageFactory(subject=subject, body="b"))
    parsed = message_from_bytes(data)
    assert parsed["Bcc"] is None
    assert parsed["Subject"] == "Hi Bcc: victim@example.org"
    assert header_names(data).count("Subject") == 1 and "Bcc" not in header_names(data)


def test_a_line_break_in_a_personalised_or_non_ascii_subject_does_not_become_a_header():
    for subject in ("Привет {first_name}\nBcc: victim@example.org", "Привет\r\nBcc: victim@example.org"):
        data = render(MessageFactory(subject=subject, body="b"))
        parsed = message_from_bytes(data)
        assert parsed["Bcc"] is None and "Bcc" not in header_names(data)
        assert "\n" not in str(make_header(decode_header(parsed["Subject"])))


def test_a_line_break_in_the_sender_name_or_the_unsubscribe_token_does_not_become_a_header():
    data = render(
        MessageFactory(subject="News", body="b"),
        sender=Sender(from_email="Shop\r\nBcc: victim@example.org <shop@example.com>"),
        token="abc\r\nBcc: victim@example.org",
    )
    parsed = message_from_bytes(data)
    assert parsed["Bcc"] is None and "Bcc" not in header_names(data)
    assert header_names(data).count("From") == 1
    assert BARE_CR_OR_LF.search(data) is None


def test_an_address_with_a_line_break_is_refused():
    with pytest.raises(UnsafeRecipient):
        render(MessageFactory(body="b"), email="anna@example.org\r\nRCPT TO:<victim@example.org>")


def test_a_non_ascii_domain_is_written_in_idna_2008():
    """Compose: IDNA 2008 / UTS 46, as registries and browsers use; the old IDNA 2003 codec
    would send straße.de's mail to strasse.de, another domain."""
    data = render(MessageFactory(body="b"), email="anna@Straße.de")
    assert message_from_bytes(data)["To"] == "Anna <anna@xn--strae-oqa.de>"


def test_an_invalid_internationalised_domain_is_refused():
    with pytest.raises(UnsafeRecipient, match="not a valid internationalised domain name"):
        render(MessageFactory(body="b"), email="anna@exämple..com")


# --- end to end, to a real SMTP server on loopback ---------------------------------------


def test_smuggling_body_and_injected_subject_arrive_as_exactly_one_message(smtp):
    """End to end: the server receives one message, to the one recipient, with one Subject and no
    extra header, and no bare CR or LF anywhere in what it was sent."""
    message = MessageFactory(subject="Hi {first_name}\r\nBcc: victim@example.org", body=SMUGGLING_BODY)
    mailing = due_mailing(clients=0, owner=message.owner, message=message)
    client = ClientFactory(owner=mailing.owner, full_name="Anna Smith", email="anna@example.org")
    mailing.clients.add(client)
    summary = send_due()
    assert (summary.sent, summary.errors) == (1, [])
    assert len(smtp.received) == 1
    received = smtp.received[0]
    assert (received.mail_from, received.rcpt_tos) == ("noreply@localhost", ["anna@example.org"])
    assert BARE_CR_OR_LF.search(received.data) is None
    assert received.message["Bcc"] is None
    assert received.message.get_all("Subject") == ["Hi Anna Bcc: victim@example.org"]
    assert received.message["To"] == "Anna Smith <anna@example.org>"
    assert "MAIL FROM:<evil@example.org>" in received.message.get_payload()


def test_an_address_with_a_line_break_fails_for_good_without_reaching_the_server(smtp):
    """Written by the ORM: never an SMTP command, never retried, not the server's fault (no breaker)."""
    mailing = due_mailing(clients=0)
    bad = ClientFactory(owner=mailing.owner, email="anna@example.org\r\nRCPT TO:<victim@example.org>")
    good = ClientFactory(owner=mailing.owner)
    mailing.clients.add(bad, good)
    summary = send_due()
    assert (summary.sent, summary.failed, summary.retrying, summary.breaker) == (1, 1, 0, "")
    assert smtp.recipients() == [good.email]
    delivery = mailing.deliveries.get(client=bad)
    assert delivery.status == Delivery.Status.FAILED
    assert delivery.last_response.startswith("not sent: the address")
    assert delivery.attempt_log.get().outcome == "permanent"


def test_without_email_host_a_line_break_in_the_subject_is_flattened_too(settings, mailoutbox):
    """Django's backend refuses such a header (BadHeaderError): flattened first, the message goes out."""
    settings.EMAIL_HOST = ""
    settings.MAILER_SEND_WORKERS = 1
    message = MessageFactory(subject="Hi\r\nBcc: victim@example.org", body=SMUGGLING_BODY)
    due_mailing(clients=1, owner=message.owner, message=message)
    assert send_due().sent == 1
    assert mailoutbox[0].subject == "Hi Bcc: victim@example.org"
    assert "\r" not in mailoutbox[0].body


def test_the_unsubscribe_link_is_the_domains_and_no_page_imports_the_engine(settings):
    """The domain makes and checks the signed link; compose and the page both call it."""
    import inspect

    from django.core import signing

    from backend.mailings import unsubscribe
    from backend.web import views

    settings.SITE_URL = "https://mailer.example.com"
    signed = unsubscribe.unsubscribe_url("tok").rstrip("/").rsplit("/", 1)[1]
    assert unsubscribe.unsubscribe_token_from(signed) == "tok"
    with pytest.raises(signing.BadSignature):
        unsubscribe.unsubscribe_token_from(signed[:-1] + ("A" if signed[-1] != "A" else "B"))
    assert views.unsubscribe_token_from is unsubscribe.unsubscribe_token_from
    assert "sending" not in inspect.getsource(views)


def test_an_address_with_a_non_ascii_domain_is_delivered_to_its_idna_form(smtp):
    """Compose: Django's EmailField accepts a@exämple.com; SMTP carries the domain as IDNA
    (punycode) in RCPT TO and in the To header. It used to fail in smtplib and be retried as an internal
    error until MAILER_MAX_ATTEMPTS."""
    mailing = due_mailing(clients=0, message=MessageFactory(subject="Hi", body="To {email}"))
    client = ClientFactory(owner=mailing.owner, full_name="Anna Smith", email="anna@exämple.com")
    mailing.clients.add(client)
    summary = send_due()
    assert (summary.sent, summary.retrying, summary.failed, summary.errors) == (1, 0, 0, [])
    received = smtp.received[0]
    assert received.rcpt_tos == ["anna@xn--exmple-cua.com"]
    assert received.message["To"] == "Anna Smith <anna@xn--exmple-cua.com>"
    assert received.message.get_payload(decode=True).decode().startswith("To anna@exämple.com")
    delivery = mailing.deliveries.get()
    assert (delivery.status, delivery.attempts) == (Delivery.Status.SENT, 1)


def test_a_non_ascii_local_part_fails_for_good_after_one_attempt_and_nothing_is_sent(smtp):
    """Compose: a non-ASCII local part needs SMTPUTF8, which this sender does not use: refused
    at once with a clear answer (not retried as an internal error), no server contact, no breaker count."""
    mailing = due_mailing(clients=0)
    bad = ClientFactory(owner=mailing.owner, email="änna@example.org")
    good = ClientFactory(owner=mailing.owner)
    mailing.clients.add(bad, good)
    summary = send_due()
    assert (summary.sent, summary.failed, summary.retrying, summary.breaker) == (1, 1, 0, "")
    assert send_due().sent == 0  # a later pass tries nothing again
    assert smtp.recipients() == [good.email]
    delivery = mailing.deliveries.get(client=bad)
    assert (delivery.status, delivery.attempts) == (Delivery.Status.FAILED, 1)
    assert "SMTPUTF8" in delivery.last_response
    assert delivery.attempt_log.get().outcome == "permanent"


@pytest.mark.parametrize("setting", ["Mailer <noreply@localhost>", "Mailer<noreply@localhost>"])
def test_the_sender_is_mailer_space_address_in_the_message_the_outbox_and_the_preview(
    settings, mailoutbox, setting
):
    """`make run` showed `Mailer<noreply@localhost>` (honcho's .env reader drops the space of
    an unquoted value). However the setting arrives, the sent message (SMTP and Django backend) and the
    preview (R-SEND-9's compose step) carry the same well-formed `Mailer <noreply@localhost>`."""
    from email import policy

    from backend.mailings import services

    settings.DEFAULT_FROM_EMAIL = setting
    # An owner without a name and without a sender identity sends as the operator (R-DLV-1).
    message = MessageFactory(subject="News", body="b", owner=UserFactory(first_name="", last_name=""))
    sent = message_from_bytes(render(message), policy=policy.default)
    assert str(sent["From"]) == "Mailer <noreply@localhost>"
    assert sent["From"].addresses[0].display_name == "Mailer"
    assert sent["From"].addresses[0].addr_spec == "noreply@localhost"

    client = ClientFactory(owner=message.owner)
    preview = services.message_preview(actor=message.owner, message=message, client=client)
    assert preview.from_email == "Mailer <noreply@localhost>"

    settings.EMAIL_HOST = ""
    settings.MAILER_SEND_WORKERS = 1
    due_mailing(clients=1, owner=message.owner, message=message)
    assert send_due().sent == 1
    assert mailoutbox[0].message()["From"] == "Mailer <noreply@localhost>"


def test_a_sender_name_that_needs_quotes_keeps_them_and_a_bare_address_stays_bare():
    from backend.mailings.compose import readable_address

    assert readable_address('"Shop, Inc." <shop@example.com>') == '"Shop, Inc." <shop@example.com>'
    assert readable_address("Магазин<shop@example.com>") == "Магазин <shop@example.com>"
    assert readable_address("noreply@localhost") == "noreply@localhost"


def test_the_footer_goes_inside_a_whole_html_document():
    """Found from a fresh clone: the footer (and the open pixel) came after </html>. Now before the last
    </body>, any letter case; a fragment without one still gets them at its end."""
    whole = PreparedMessage(
        MessageFactory(subject="S", body="B", html_body="<html><BODY><p>Hi {first_name}</p></Body></html>")
    ).parts(email="anna@example.org", full_name="Anna", token="t")
    assert whole.html.startswith("<html><BODY><p>Hi Anna</p>")
    assert whole.html.endswith("</p></Body></html>")
    assert whole.html.index("Unsubscribe") < whole.html.index("</Body>")
    fragment = PreparedMessage(MessageFactory(subject="S", body="B", html_body="<p>Hi</p>")).parts(
        email="anna@example.org", full_name="Anna", token="t"
    )
    assert fragment.html.startswith("<p>Hi</p>\n<p") and fragment.html.endswith("</p>")
