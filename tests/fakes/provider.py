"""A recipient's mail provider on loopback that answers after accepting (R-DLV-3, R-DLV-4).

`BouncingProvider` is a real SMTP server (aiosmtpd in a thread) that accepts every message with 250, as a
relay does, and afterwards, like the recipient's server that refuses later or a mailbox provider's feedback
loop, mails a report back to the message's envelope sender (its VERP return path) through another SMTP
server — the bounce reader's inbound endpoint in the tests:

- recipients in `bounce` get an RFC 3464 delivery status notification, "5.1.1 user unknown";
- recipients in `soft` get one with "4.2.2 mailbox full";
- recipients in `complain` get an RFC 5965 abuse report (ARF), as a provider's feedback loop sends.

The report goes out from the server's thread right after it answered 250, so a sender sees exactly what
it sees in real life: accepted, then a mail some time later.
"""

from __future__ import annotations

import contextlib
import smtplib
import threading
from email.utils import formatdate, make_msgid

from aiosmtpd.controller import Controller

from .smtp import Received, free_port


def _report(
    *, sender: str, return_path: str, subject: str, report_type: str, parts: list[tuple[str, bytes]]
) -> bytes:
    """A multipart/report mail, written out by hand as providers send it (CRLF line ends)."""
    boundary = "=_report_" + make_msgid().strip("<>").split("@")[0].replace(".", "_")
    head = (
        f"From: {sender}\r\n"
        f"To: {return_path}\r\n"
        f"Subject: {subject}\r\n"
        f"Date: {formatdate(usegmt=True)}\r\n"
        f"Message-ID: {make_msgid(domain='provider.test')}\r\n"
        "MIME-Version: 1.0\r\n"
        f'Content-Type: multipart/report; report-type={report_type}; boundary="{boundary}"\r\n\r\n'
    ).encode()
    body = b""
    for content_type, content in parts:
        body += f"--{boundary}\r\nContent-Type: {content_type}\r\n\r\n".encode() + content + b"\r\n"
    return head + body + f"--{boundary}--\r\n".encode()


def dsn(*, return_path: str, recipient: str, original: bytes, status: str, diagnostic: str) -> bytes:
    """An RFC 3464 report about `recipient`, as a Postfix relay writes it: the delivery failed (a 4.x.x
    status: a soft bounce; "delayed" would be a delay warning, no bounce at all)."""
    action = "failed"
    human = (
        "This is the mail system at host mx.provider.test.\r\n\r\n"
        "I'm sorry to have to inform you that your message could not\r\n"
        "be delivered to one or more recipients.\r\n\r\n"
        f"<{recipient}>: host mx.provider.test said: {diagnostic}\r\n"
    )
    fields = (
        "Reporting-MTA: dns; mx.provider.test\r\n"
        f"Arrival-Date: {formatdate(usegmt=True)}\r\n\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\n"
        f"Original-Recipient: rfc822; {recipient}\r\n"
        f"Action: {action}\r\n"
        f"Status: {status}\r\n"
        f"Diagnostic-Code: smtp; {diagnostic}\r\n"
    )
    headers = original.split(b"\r\n\r\n", 1)[0] + b"\r\n"
    return _report(
        sender="MAILER-DAEMON@mx.provider.test (Mail Delivery System)",
        return_path=return_path,
        subject="Undelivered Mail Returned to Sender",
        report_type="delivery-status",
        parts=[
            ("text/plain; charset=us-ascii", human.encode()),
            ("message/delivery-status", fields.encode()),
            ("text/rfc822-headers", headers),
        ],
    )


def arf(*, return_path: str, recipient: str, original: bytes) -> bytes:
    """An RFC 5965 abuse report about a message sent to `recipient`, as a feedback loop sends it."""
    fields = (
        "Feedback-Type: abuse\r\n"
        "User-Agent: ProviderFBL/1.0\r\n"
        "Version: 1\r\n"
        f"Original-Mail-From: <{return_path}>\r\n"
        f"Original-Rcpt-To: <{recipient}>\r\n"
        f"Arrival-Date: {formatdate(usegmt=True)}\r\n"
    )
    return _report(
        sender="feedbackloop@provider.test",
        return_path=return_path,
        subject="Abuse report",
        report_type="feedback-report",
        parts=[
            (
                "text/plain; charset=us-ascii",
                b"This is an email abuse report for a message received from you.\r\n",
            ),
            ("message/feedback-report", fields.encode()),
            ("message/rfc822", original),
        ],
    )


class _Handler:
    def __init__(self, provider: BouncingProvider):
        self.provider = provider

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        received = Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.content)
        with self.provider.lock:
            self.provider.received.append(received)
        threading.Thread(target=self.provider.answer_later, args=(received,), daemon=True).start()
        return "250 2.0.0 Ok: queued"


class BouncingProvider:
    def __init__(self, *, reports_to: tuple[str, int]):
        self.reports_to = reports_to
        self.bounce: set[str] = set()
        self.soft: set[str] = set()
        self.complain: set[str] = set()
        self.received: list[Received] = []
        self.reports_sent: list[tuple[str, str]] = []  # (kind, recipient)
        self.report_errors: list[str] = []
        self.lock = threading.Lock()
        self.host = "127.0.0.1"
        self.port = free_port()
        self._controller = Controller(_Handler(self), hostname=self.host, port=self.port, ready_timeout=10)

    def answer_later(self, received: Received) -> None:
        for recipient in received.rcpt_tos:
            address = recipient.lower()
            if address in self.bounce:
                kind = "bounce"
                data = dsn(
                    return_path=received.mail_from,
                    recipient=recipient,
                    original=received.data,
                    status="5.1.1",
                    diagnostic=f"550 5.1.1 <{recipient}>: Recipient address rejected: User unknown",
                )
            elif address in self.soft:
                kind = "soft"
                data = dsn(
                    return_path=received.mail_from,
                    recipient=recipient,
                    original=received.data,
                    status="4.2.2",
                    diagnostic="452 4.2.2 Mailbox full",
                )
            elif address in self.complain:
                kind = "complaint"
                data = arf(return_path=received.mail_from, recipient=recipient, original=received.data)
            else:
                continue
            try:
                with smtplib.SMTP(*self.reports_to, timeout=10) as smtp:
                    smtp.sendmail("", [received.mail_from], data)
            except (OSError, smtplib.SMTPException) as exc:
                with self.lock:
                    self.report_errors.append(f"{recipient}: {exc}")
                continue
            with self.lock:
                self.reports_sent.append((kind, recipient))

    def start(self) -> BouncingProvider:
        self._controller.start()
        return self

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self._controller.stop()

    def __enter__(self) -> BouncingProvider:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
