"""Build each recipient's email from a message prepared once per occurrence.

A domain step, not the engine's: what a recipient receives is decided here once, and both the sending
engine (sending/worker.py, sending/transport.py) and the preview (services/previews.py) use it, so a
preview is exactly what would be sent without the domain importing the sender.

Everything that is the same for every recipient (sender, encoded static headers, the MIME skeleton) is
computed once; per recipient only the placeholders, the signed unsubscribe link (R-SEND-9) and the
Message-ID change. Building a full `email.message.EmailMessage` per recipient is several times slower and
would make the sender, not the mail server, the bottleneck.

Whatever path wrote the message or the client (form, admin, import, the ORM directly), what leaves here is
safe on the wire: every line of a body ends in CRLF, so no bare CR or LF can end SMTP DATA
early on any server (SMTP smuggling); a header value is always one line (CR, LF and other control
characters become a space), so no text can add a header; an address that would break the SMTP command is
refused (`UnsafeRecipient`).

Addresses go out in ASCII (`wire_address`): a non-ASCII domain, which Django's EmailField accepts, as IDNA
(punycode); a non-ASCII local part would need SMTPUTF8, which this sender does not use, so it is refused at
once instead of failing in smtplib and being retried to no end.
"""

from __future__ import annotations

import base64
import logging
import re
import secrets
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from email.errors import HeaderParseError
from email.header import Header
from email.headerregistry import Address
from email.utils import formataddr, formatdate, make_msgid, parseaddr, quote
from smtplib import quoteaddr
from typing import Protocol

import idna
from django.conf import settings
from django.utils.translation import gettext as _

from . import personalize, signing, verp
from .models import DeliveryAttempt, Mailing, Message
from .tracking.rewrite import TrackedHtml
from .unsubscribe import UnsubscribeLinks

logger = logging.getLogger(__name__)

_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]+")  # every ASCII control character but TAB
_NOT_IN_ADDRESS = re.compile(r"[\x00-\x20\x7f]")


class UnsafeRecipient(ValueError):
    """An address no server could take from us (a line break, a control character or a space, a non-ASCII
    local part, an invalid internationalised domain): not sendable, whoever stored it."""


def wire_address(email: str) -> str:
    """`email` as it goes into RCPT TO and the To header: ASCII, its domain in IDNA 2008 (UTS 46, what
    registries and browsers use: the stdlib's IDNA 2003 codec turns straße.de into strasse.de, another
    domain). Raises UnsafeRecipient for an address that cannot be sent."""
    if _NOT_IN_ADDRESS.search(email):
        raise UnsafeRecipient(f"the address {email!r} contains a line break, control character or space")
    if email.isascii():
        return email
    local, _at, domain = email.rpartition("@")
    if not local.isascii():
        raise UnsafeRecipient(
            f"the address {email!r} has non-ASCII characters before the @, which needs SMTPUTF8; "
            "this sender does not use it"
        )
    try:
        domain = idna.encode(domain, uts46=True).decode("ascii")
    except UnicodeError as exc:  # idna.IDNAError is one
        raise UnsafeRecipient(
            f"the domain of {email!r} is not a valid internationalised domain name: {exc}"
        ) from exc
    return f"{local}@{domain}"


def one_line(value: str) -> str:
    """A header value on one line: runs of CR, LF and other control characters become one space."""
    return _CONTROL.sub(" ", value)


def readable_address(value: str) -> str:
    """A sender as one well-formed, readable address ("Mailer <noreply@localhost>"): the name quoted where
    it must be, not MIME-encoded (Django's backend and the preview take it so; the SMTP path encodes it).
    The space before "<" comes back where it was lost: honcho's .env reader (`make run`) joins an unquoted
    value's words without it. A value with no address in it is kept as it was, on one line."""
    value = one_line(value).strip()
    name, address = parseaddr(value)
    if "@" not in address:
        return value
    if not name:
        return address
    try:
        return str(Address(display_name=name, addr_spec=address))
    except (ValueError, IndexError, HeaderParseError):
        return value


def normalise_newlines(text: str) -> str:
    """Every line break (CRLF, bare CR, bare LF) as "\\n"; the wire form turns them into CRLF."""
    return _LINE_BREAK.sub("\n", text)


@dataclass(frozen=True)
class Parts:
    """One recipient's personalised content, for transports that build their own message object."""

    to: str
    subject: str
    text: str
    html: str
    headers: dict[str, str]


def _encode_header(value: str) -> str:
    value = one_line(value)
    if value.isascii():
        return value
    return Header(value, "utf-8").encode(linesep="\r\n")


def _body_part(text: str, subtype: str) -> bytes:
    text = text.replace("\n", "\r\n")  # `parts` left only "\n" breaks: CRLF only, never a bare CR or LF
    if text.isascii():
        head = f'Content-Type: text/{subtype}; charset="us-ascii"\r\nContent-Transfer-Encoding: 7bit\r\n\r\n'
        return head.encode() + text.encode()
    return (
        f'Content-Type: text/{subtype}; charset="utf-8"\r\nContent-Transfer-Encoding: base64\r\n\r\n'.encode()
        + base64.encodebytes(text.encode("utf-8")).replace(b"\n", b"\r\n")
    )


@dataclass(frozen=True)
class DkimKey:
    """A key messages are DKIM-signed with (R-DLV-2): the d= domain, the s= selector, the private key's PEM
    (RSA or Ed25519). Never logged, never shown."""

    domain: str
    selector: str
    private_key: bytes = dataclass_field(repr=False)


@dataclass(frozen=True)
class Sender:
    """Who a mailing's messages come from (R-DLV-1), decided once per occurrence by the domain
    (`selectors.sender_for`): the From header as `readable_address` gives it, an optional Reply-To, and the
    keys of the owner's verified domain to sign with (the operator's key, from settings, is added here)."""

    from_email: str
    reply_to: str = ""
    dkim_keys: tuple[DkimKey, ...] = ()


def _signing_keys(sender: Sender) -> list[signing.SigningKey]:
    """The sender's domain keys first (their signature is the one aligned with From), then the operator's;
    each parsed once here. A stored key that cannot be parsed is left out with a warning naming its domain
    (the operator's signature still goes on); the operator's own key was checked when the process started."""
    keys: list[signing.SigningKey] = []
    for stored in sender.dkim_keys:
        try:
            keys.append(
                signing.load_private_key(
                    stored.private_key,
                    domain=stored.domain,
                    selector=stored.selector,
                    source=f"the DKIM key {stored.selector}._domainkey.{stored.domain}",
                )
            )
        except signing.DkimKeyError as exc:
            logger.warning("not signing with a stored key: %s", exc)
    operator = signing.operator_key()
    if operator is not None:
        keys.append(operator)
    unique: dict[tuple[str, str], signing.SigningKey] = {}
    for key in keys:
        unique.setdefault((key.domain, key.selector), key)
    return list(unique.values())


def _list_id(message: Message) -> str:
    """List-Id (RFC 2919): one list per owner, `<u{owner id}.{the operator's domain}>`, the owner's name as
    its phrase; on one line whatever the name holds."""
    operator_domain = parseaddr(settings.DEFAULT_FROM_EMAIL)[1].rpartition("@")[2]
    domain = settings.DKIM_DOMAIN or operator_domain or "localhost"
    list_id = f"<u{message.owner_id}.{domain}>"
    owner = message.owner
    name = " ".join(one_line(owner.get_full_name() or "").split())[:100]
    if not name:
        return list_id
    phrase = f'"{quote(name)}"' if name.isascii() else one_line(Header(name, "utf-8").encode())
    return f"{phrase} {list_id}"


class PreparedMessage:
    """A message ready to be personalised for many recipients."""

    def __init__(self, message: Message, *, sender: Sender | None = None, mailing: Mailing | None = None):
        self.sender = sender or Sender(from_email=settings.DEFAULT_FROM_EMAIL)
        self.from_email = readable_address(self.sender.from_email)
        # Without a bounce domain the envelope sender is the operator's address, never an owner's From: a
        # relay refusing a sender it does not host (553, "unverified") would otherwise fail every message of
        # that owner as the server's fault and open the shared circuit breaker for every owner. It is also
        # the domain SPF checks the operator's server against.
        operator = readable_address(settings.DEFAULT_FROM_EMAIL)
        self.envelope_from = parseaddr(operator)[1] or operator
        self.envelope_from_command = quoteaddr(self.envelope_from)  # MAIL FROM's argument, as smtplib has it
        self.reply_to = readable_address(self.sender.reply_to) if self.sender.reply_to else ""
        # Keys parsed once per occurrence; each message is signed with all of them (R-DLV-2).
        self.signer = signing.MessageSigner(_signing_keys(self.sender))
        self.subject = message.subject
        # Line breaks normalised once here; no placeholder value can add one (names and links are one line,
        # addresses are checked), so every recipient's text has "\n" breaks only.
        self.body = normalise_newlines(message.body)
        self.html_body = normalise_newlines(message.html_body)
        # Parsed once for every recipient of the occurrence: only the placeholders are filled in.
        self._subject = personalize.Template(self.subject)
        self._body = personalize.Template(self.body)
        # Opens and clicks (R-ENG-2): the HTML body's links become signed redirects, found and stored once
        # here; per recipient only the delivery's tokens are signed in. Never the plain text, never a
        # preview or test send (no delivery), never a mailing with tracking off.
        self.tracked: TrackedHtml | None = None
        html_source = self.html_body
        if mailing is not None and mailing.tracking and self.html_body:
            self.tracked = TrackedHtml(mailing, self.html_body)
            html_source = self.tracked.html
        # The footer and the pixel go inside the document: before its last </body> when it has one.
        end = html_source.lower().rfind("</body>")
        end = len(html_source) if end < 0 else end
        self._html_body = personalize.Template(html_source[:end], escape_html=True)
        self._html_end = personalize.Template(html_source[end:], escape_html=True)
        self._links = UnsubscribeLinks()
        self.footer_text = _(
            "You receive this because you are on the sender's list. Unsubscribe: %(url)s\n"
            "Your preferences: %(preferences)s"
        )
        self.footer_html = _(
            'You receive this because you are on the sender\'s list. <a href="%(url)s">Unsubscribe</a>'
            ' &middot; <a href="%(preferences)s">Your preferences</a>'
        )
        self._static_subject = None if "{" in self.subject else _encode_header(self.subject)
        self._from_header = self._format_address(self.from_email)
        # Message-IDs on the operator's domain (R-DLV-2): an owner's From domain would claim ids it does not
        # issue, and a Message-ID should not change with the identity a mailing picks.
        self._domain = settings.MESSAGE_ID_DOMAIN
        self._static_headers = {
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "List-Id": _list_id(message),
            "Precedence": "bulk",
        }
        if self.reply_to:
            self._static_headers["Reply-To"] = self._format_address(self.reply_to)

    @staticmethod
    def _format_address(value: str) -> str:
        name, address = parseaddr(one_line(value))
        return one_line(formataddr((name, address), charset="utf-8") if name else address)

    def envelope_command(self, delivery_id: int | None) -> str:
        """MAIL FROM's argument for one delivery: its own return path (VERP, R-DLV-3) when BOUNCE_DOMAIN is
        set, else the operator's address (DEFAULT_FROM_EMAIL)."""
        if delivery_id is not None:
            return_path = verp.return_path(delivery_id)
            if return_path:
                return f"<{return_path}>"
        return self.envelope_from_command

    def envelope_sender(self, delivery_id: int | None) -> str:
        return self.envelope_command(delivery_id)[1:-1] or self.envelope_from

    def parts(self, *, email: str, full_name: str, token: str, delivery_id: int | None = None) -> Parts:
        address = wire_address(email)
        # A name goes into headers: collapse any line break a user typed, so no header can be injected.
        full_name = " ".join(full_name.split())
        values = personalize.values_for(full_name=full_name, email=email)
        url, preferences = (one_line(link) for link in self._links.links(token))
        links = {"url": url, "preferences": preferences}
        text = self._body.render(values) + "\n\n-- \n" + self.footer_text % links
        html = ""
        if self.html_body:
            pixel = ""
            if self.tracked is not None:
                values.update(self.tracked.values(delivery_id))
                pixel = self.tracked.pixel(delivery_id)
            html = (
                self._html_body.render(values)
                + '\n<p style="color:#666;font-size:12px">'
                + self.footer_html % links
                + "</p>"
                + pixel
                + self._html_end.render(values)
            )
        return Parts(
            # one_line: a long non-ASCII name becomes several encoded words, folded with a bare LF
            to=one_line(formataddr((full_name, address), charset="utf-8")) if full_name else address,
            subject=one_line(self._subject.render(values)),
            text=text,
            html=html,
            headers={"List-Unsubscribe": f"<{url}>", **self._static_headers},
        )

    def render_bytes(
        self, *, email: str, full_name: str, token: str, delivery_id: int | None = None
    ) -> bytes:
        """The complete RFC 5322 message for one recipient, CRLF line endings, ready for SMTP DATA, with a
        DKIM-Signature per key (the sender's domain's, then the operator's; none when no key is set)."""
        return self.bytes_for(
            self.parts(email=email, full_name=full_name, token=token, delivery_id=delivery_id)
        )

    def bytes_for(self, parts: Parts, *, sign: bool = True) -> bytes:
        """`render_bytes` for parts already made (a transport that needs both); unsigned with sign=False."""
        data = self._assemble(parts)
        return self.signer.sign(data) if sign else data

    def _assemble(self, parts: Parts) -> bytes:
        subject = self._static_subject if self._static_subject is not None else _encode_header(parts.subject)
        headers = [
            f"From: {self._from_header}",
            f"To: {parts.to}",
            f"Subject: {subject}",
            f"Date: {formatdate(localtime=False, usegmt=True)}",
            f"Message-ID: {make_msgid(domain=self._domain)}",
            "MIME-Version: 1.0",
            *(f"{key}: {value}" for key, value in parts.headers.items()),
        ]
        head = "\r\n".join(headers).encode()
        if not parts.html:
            return head + b"\r\n" + _body_part(parts.text, "plain")
        boundary = "=_mailer_" + secrets.token_hex(12)
        return (
            head
            + f'\r\nContent-Type: multipart/alternative; boundary="{boundary}"\r\n\r\n'.encode()
            + f"--{boundary}\r\n".encode()
            + _body_part(parts.text, "plain")
            + f"\r\n--{boundary}\r\n".encode()
            + _body_part(parts.html, "html")
            + f"\r\n--{boundary}--\r\n".encode()
        )


# --- the interface a message leaves through ------------------------------------------------------------
# The engine's transports (sending/transport.py) implement it; the test send is handed one by its caller, so
# the domain knows the interface and never imports the sender.


@dataclass(frozen=True)
class SendResult:
    """One recipient's outcome as the attempt log stores it."""

    outcome: DeliveryAttempt.Outcome
    code: int | None
    text: str
    # The connection itself failed (refused, dropped, timed out, not SMTP): counts for the circuit breaker.
    connection_failed: bool = False


class Connection(Protocol):
    """Sends one recipient at a time and turns every outcome into a `SendResult`; never raises."""

    def send(
        self,
        prepared: PreparedMessage,
        *,
        email: str,
        full_name: str,
        token: str,
        delivery_id: int | None = None,
    ) -> SendResult:
        """Send one message; `delivery_id` (none for a test send) picks the envelope sender, the delivery's
        own return path when bounces are read back (R-DLV-3)."""
        ...

    def close(self) -> None: ...
