"""How a message leaves: straight SMTP (the fast path whenever EMAIL_HOST is set) or Django's configured
email backend (the file backend in development, locmem in unit tests).

A connection sends one recipient at a time and turns every outcome into a `SendResult`; it never raises.
Classification (R-SEND-5): 2xx accepted; 4xx, a dropped or timed-out connection, a refused connection and
a reply that is not SMTP are temporary; 5xx is permanent.

Every message leaves as the bytes `PreparedMessage.render_bytes` makes, DKIM-signed (R-DLV-2), with the
delivery's own return path as the envelope sender when bounces are read back (R-DLV-3). When the server
offers PIPELINING (RFC 2920), MAIL FROM, RCPT TO and DATA go out in one write and their three replies are
read together: two round trips per message instead of four.
"""

from __future__ import annotations

import contextlib
import smtplib
import ssl
from email.message import Message as EmailMessageHeaders
from email.parser import BytesHeaderParser

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.mail.backends.smtp import EmailBackend as DjangoSMTPBackend

from .. import answers
from ..compose import Connection, PreparedMessage, SendResult, UnsafeRecipient, wire_address
from ..models import DeliveryAttempt

# The one outcome enum: what the transport returns is what the attempt log stores.
Outcome = DeliveryAttempt.Outcome


def _decode(reply: bytes | str) -> str:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    return " ".join(text.split())[:1000]


def classify(code: int | None, text: str, *, connection_failed: bool = False) -> SendResult:
    if code is not None and 200 <= code < 300:
        return SendResult(Outcome.SENT, code, text)
    if code is not None and 500 <= code < 600:
        return SendResult(Outcome.PERMANENT, code, text, connection_failed)
    return SendResult(Outcome.TEMPORARY, code if code and code > 0 else None, text, connection_failed)


class SMTPConnection:
    """One SMTP session reused for many messages; reconnects after any connection-level failure."""

    def __init__(self) -> None:
        self.host = settings.EMAIL_HOST
        self.port = settings.EMAIL_PORT
        self.timeout = settings.EMAIL_TIMEOUT
        self._smtp: smtplib.SMTP | None = None
        self._pipelining = False
        self._answered = False  # the server answered something in this transaction (no silent reconnect)
        # Times this connection waited for the server's answer in a transaction (the benchmark reads it).
        self.round_trips = 0

    def _connect(self) -> smtplib.SMTP:
        if settings.EMAIL_USE_SSL:
            smtp = smtplib.SMTP_SSL(
                self.host, self.port, timeout=self.timeout, context=ssl.create_default_context()
            )
        else:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        try:
            if settings.EMAIL_USE_TLS:
                smtp.starttls(context=ssl.create_default_context())
            if settings.EMAIL_HOST_USER:
                smtp.login(settings.EMAIL_HOST_USER, settings.EMAIL_HOST_PASSWORD)
            smtp.ehlo_or_helo_if_needed()
        except BaseException:
            _close_quietly(smtp)
            raise
        self._pipelining = settings.EMAIL_PIPELINING and smtp.has_extn("pipelining")
        return smtp

    def close(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (smtplib.SMTPException, OSError):
                _close_quietly(self._smtp)
            self._smtp = None

    def _drop(self) -> None:
        if self._smtp is not None:
            _close_quietly(self._smtp)
            self._smtp = None

    def send(
        self,
        prepared: PreparedMessage,
        *,
        email: str,
        full_name: str,
        token: str,
        delivery_id: int | None = None,
    ) -> SendResult:
        try:
            address = wire_address(email)
            data = prepared.render_bytes(
                email=email, full_name=full_name, token=token, delivery_id=delivery_id
            )
        except UnsafeRecipient as exc:
            return _refused_before_sending(exc)
        try:
            return self._transaction(prepared.envelope_command(delivery_id), address, data)
        except (
            smtplib.SMTPDataError
        ) as exc:  # DATA refused after the recipient was accepted: about this message
            self._drop()
            return classify(exc.smtp_code, _decode(exc.smtp_error))
        except smtplib.SMTPResponseException as exc:
            # Greeting, HELO, STARTTLS or AUTH refused: about us or the server, never this recipient's fault,
            # so never a permanent failure for them; it counts for the circuit breaker.
            self._drop()
            return _server_side(exc.smtp_code, _decode(exc.smtp_error))
        except smtplib.SMTPServerDisconnected as exc:
            self._drop()
            if isinstance(exc.__context__, TimeoutError):  # smtplib wraps a read timeout
                return classify(None, f"timed out after {self.timeout:g} s", connection_failed=True)
            lost = f"connection lost: {exc or 'server closed the connection'}"
            return classify(None, lost, connection_failed=True)
        except TimeoutError:
            self._drop()
            return classify(None, f"timed out after {self.timeout:g} s", connection_failed=True)
        except (OSError, smtplib.SMTPException) as exc:  # refused, reset, TLS errors, unexpected replies
            self._drop()
            return classify(None, f"{type(exc).__name__}: {exc}", connection_failed=True)

    def _transaction(self, envelope_from: str, email: str, data: bytes) -> SendResult:
        reused = self._smtp is not None
        if self._smtp is None:
            self._smtp = self._connect()
        begin = self._pipelined_begin if self._pipelining else self._begin
        self._answered = False
        try:
            early = begin(envelope_from, email)
        except smtplib.SMTPServerDisconnected as exc:
            if not reused or self._answered or isinstance(exc.__context__, TimeoutError):
                raise
            # The server closed our idle connection before this message began: reconnect once; nothing
            # was sent, so this is not an attempt for the recipient.
            self._drop()
            self._smtp = self._connect()
            begin = self._pipelined_begin if self._pipelining else self._begin
            early = begin(envelope_from, email)
        if early is not None:
            return early
        smtp = self._smtp
        # `data` is CRLF-only (compose.py); dot-stuffing and the end as smtplib's `data` does them, without
        # its regular expression.
        data = (b"." * data.startswith(b".")) + data.replace(b"\r\n.", b"\r\n..")
        smtp.send(data + (b"" if data.endswith(b"\r\n") else b"\r\n") + b".\r\n")
        code, reply = self._reply()
        if code == 421:
            self._drop()
        return classify(code, _decode(reply), connection_failed=code == 421)

    def _reply(self) -> tuple[int, bytes]:
        self.round_trips += 1
        answer = self._smtp.getreply()
        self._answered = True
        return answer

    def _begin(self, envelope_from: str, email: str) -> SendResult | None:
        """MAIL FROM, RCPT TO and DATA one at a time; None once the server waits for the message. The
        commands are what smtplib's `mail`, `rcpt` and `data` send for one address and no options, without
        re-parsing addresses compose.py has already checked (`wire_address`)."""
        smtp = self._smtp
        smtp.putcmd(f"MAIL FROM:{envelope_from}")
        code, reply = self._reply()
        if code != 250:
            return self._sender_refused(code, reply)
        smtp.putcmd(f"RCPT TO:<{email}>")
        code, reply = self._reply()
        if code not in (250, 251):
            return self._refused(code, reply)
        smtp.putcmd("DATA")
        code, reply = self._reply()
        if code != 354:
            raise smtplib.SMTPDataError(code, reply)
        return None

    def _pipelined_begin(self, envelope_from: str, email: str) -> SendResult | None:
        """The three commands in one write, then their three replies (RFC 2920): one round trip. The
        first reply that is not a success decides, as it would have one command at a time; DATA's reply
        decides only when MAIL and RCPT were accepted."""
        smtp = self._smtp
        smtp.send(f"MAIL FROM:{envelope_from}\r\nRCPT TO:<{email}>\r\nDATA\r\n")
        mail_code, mail_reply = self._reply()
        if mail_code == 421:  # the server is closing the channel: the other replies may never come
            return self._sender_refused(mail_code, mail_reply)
        rcpt_code, rcpt_reply = smtp.getreply()
        if rcpt_code == 421:
            return (
                self._refused(rcpt_code, rcpt_reply)
                if mail_code == 250
                else self._sender_refused(mail_code, mail_reply)
            )
        data_code, data_reply = smtp.getreply()
        if mail_code == 250 and rcpt_code in (250, 251):
            if data_code != 354:
                raise smtplib.SMTPDataError(data_code, data_reply)
            return None
        if data_code == 354:
            # A server that took DATA although the transaction had no recipient: an empty message ends
            # it (RFC 2920 §3.1), then the reset below.
            smtp.send(b".\r\n")
            smtp.getreply()
        if mail_code != 250:
            return self._sender_refused(mail_code, mail_reply)
        return self._refused(rcpt_code, rcpt_reply)

    def _sender_refused(self, code: int, reply: bytes) -> SendResult:
        # The sender address refused: the same for every recipient, so temporary and a breaker count.
        result = _server_side(code, _decode(reply))
        self._reset_or_drop(code)
        return result

    def _refused(self, code: int, reply: bytes) -> SendResult:
        result = classify(code, _decode(reply), connection_failed=code == 421)
        self._reset_or_drop(code)
        return result

    def _reset_or_drop(self, code: int) -> None:
        if code == 421:  # the server is closing the channel
            self._drop()
            return
        try:
            self._smtp.rset()
        except (smtplib.SMTPException, OSError):
            self._drop()


class _SignedBytes(EmailMessageHeaders):
    """What `EmailMessage.message()` hands a backend: the headers parsed for reading (`msg["From"]`), and as
    bytes exactly the signed message compose made, so no re-serialisation can break the DKIM signature."""

    raw: bytes = b""

    def as_bytes(self, unixfrom: bool = False, policy=None, linesep: str | None = None) -> bytes:
        return self.raw

    def as_string(self, unixfrom: bool = False, maxheaderlen: int = 0, policy=None) -> str:
        return self.raw.decode("ascii", "replace")

    def __bytes__(self) -> bytes:
        return self.raw


class _PreparedEmail(EmailMultiAlternatives):
    """An email whose wire form is the bytes compose made (signed, with our Message-ID and headers): Django's
    SMTP, file, console and locmem backends take it through `message()`. Its attributes (subject, body, to,
    headers, the HTML alternative) stay filled in, for backends that build their own request from them
    (an ESP's API, which then signs and sets the return path itself) and for `mail.outbox`."""

    def __init__(self, raw: bytes, **kwargs):
        super().__init__(**kwargs)
        self._raw = raw

    def message(self, *, policy=None):
        parsed = BytesHeaderParser(_class=_SignedBytes).parsebytes(self._raw)
        parsed.raw = self._raw
        return parsed


class DjangoBackendConnection:
    """Django's configured backend: slower, but shows every message in var/outbox/ or mail.outbox.

    It is handed the same signed bytes as the SMTP path. With Django's SMTP backend (or a subclass) the
    envelope sender is the delivery's return path: that backend uses `from_email` only for MAIL FROM,
    the From header being in the bytes. Any other backend keeps `from_email` the From address, since one
    that builds its own message from the attributes would put it in the From header."""

    def __init__(self) -> None:
        self._connection = get_connection(fail_silently=False)
        self._backend_name = type(self._connection).__module__.rsplit(".", 1)[-1]
        self._envelope_is_from_email = isinstance(self._connection, DjangoSMTPBackend)

    def close(self) -> None:
        # Closing must never fail a pass, whatever the backend raises.
        with contextlib.suppress(Exception):
            self._connection.close()

    def send(
        self,
        prepared: PreparedMessage,
        *,
        email: str,
        full_name: str,
        token: str,
        delivery_id: int | None = None,
    ) -> SendResult:
        try:
            parts = prepared.parts(email=email, full_name=full_name, token=token, delivery_id=delivery_id)
            raw = prepared.bytes_for(parts)
        except UnsafeRecipient as exc:
            return _refused_before_sending(exc)
        headers = dict(parts.headers)
        reply_to = headers.pop("Reply-To", None)
        message = _PreparedEmail(
            raw,
            subject=parts.subject,
            body=parts.text,
            from_email=(
                prepared.envelope_sender(delivery_id) if self._envelope_is_from_email else prepared.from_email
            ),
            to=[parts.to],
            reply_to=[prepared.reply_to] if reply_to else None,
            headers=headers,
            connection=self._connection,
        )
        if parts.html:
            message.attach_alternative(parts.html, "text/html")
        try:
            message.send()
        except smtplib.SMTPResponseException as exc:
            return classify(exc.smtp_code, _decode(exc.smtp_error))
        except smtplib.SMTPRecipientsRefused as exc:
            code, reply = next(iter(exc.recipients.values()))
            return classify(code, _decode(reply))
        except Exception as exc:  # any backend failure is a temporary, logged one
            return classify(None, f"{type(exc).__name__}: {exc}", connection_failed=True)
        text = f"{answers.ACCEPTED_BY_BACKEND}{self._backend_name} email backend"
        return SendResult(Outcome.SENT, None, text)


def _server_side(code: int | None, text: str) -> SendResult:
    return SendResult(Outcome.TEMPORARY, code if code and code > 0 else None, text, connection_failed=True)


def _refused_before_sending(exc: UnsafeRecipient) -> SendResult:
    """An address no server could accept (it would break the SMTP command): final, and not the server's
    fault, so it does not count for the breaker."""
    return SendResult(Outcome.PERMANENT, None, f"{answers.NOT_SENT}{exc}")


def _close_quietly(smtp: smtplib.SMTP) -> None:
    with contextlib.suppress(OSError):
        smtp.close()


def open_connection() -> Connection:
    return SMTPConnection() if settings.EMAIL_HOST else DjangoBackendConnection()
