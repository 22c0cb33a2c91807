"""What a mail server's answer means, in words an owner can act on.

The engine stores each attempt's SMTP code and the server's own text (or the connection error), and the
delivery's latest answer as "<code> <text>". Those texts name relays and internal hosts ("mx3.relay.internal
[10.0.4.7]"), queue ids and the operator's setup: they stay in the operator's log and in the admin's delivery
log, which only superusers open. Owners (pages, API, CSV export) get `summary()`: a short classified sentence,
translated, read from the stored code, the enhanced status code (RFC 3463, "5.1.1") and a few well-known
words of the text. Pure functions: no database, no settings.
"""

from __future__ import annotations

import enum
import re

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

# Mailer's own texts (not a server's): sending/transport.py, sending/queue.py, sending/worker.py
# and the disabling service (services/mailings.py).
ACCEPTED_BY_BACKEND = "accepted by Django's "
NO_LONGER_RECIPIENT = "not sent: no longer a recipient"
NOT_SENT = "not sent: "
DISABLED_BY_MANAGER = "mailing disabled by a manager"
INTERNAL = "internal error: "

_LEADING_CODE = re.compile(r"([2-5]\d\d)(?:[ -]|$)")
_ENHANCED = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d.])")
_AUTH = re.compile(r"\bauth(?:entication)?\b|\bcredentials\b|\bpassword\b")
_TLS = re.compile(r"\bstarttls\b|\btls\b|\bssl\b|certificate")
_SENDER_AUTH = re.compile(r"\b(?:spf|dkim|dmarc)\b")
_SENDER = re.compile(r"\bsender\b|\bmail from\b")
_RECIPIENT = re.compile(
    r"\brecipient\b|\brcpt\b|user unknown|no such user|does not exist|mailbox unavailable"
)
_FULL = re.compile(r"quota|mailbox (?:is )?full|mailbox full")
_TOO_LARGE = re.compile(r"\bsize\b|too (?:large|big)")
_POLICY = re.compile(r"spam|\bpolicy\b|block|blacklist|reputation|unsolicited|\bbanned\b|\brelay")
_TIMEOUT = re.compile(r"timed out|timeout")
_LOST = re.compile(r"^connection lost|connection reset|broken pipe|disconnected|closed the connection")
_CONNECT = re.compile(
    r"refused|gaierror|name or service not known|nodename nor servname|no route to host|unreachable|"
    r"temporary failure in name resolution|cannot assign requested address|no address associated"
)


class Reading(enum.Enum):
    """The classes an answer falls in; `label` is what an owner reads."""

    ACCEPTED = "accepted"
    SENDER_REFUSED = "sender_refused"
    SENDER_NOT_AUTHENTICATED = "sender_not_authenticated"
    RECIPIENT_REFUSED = "recipient_refused"
    MAILBOX_FULL = "mailbox_full"
    TOO_LARGE = "too_large"
    MESSAGE_REFUSED = "message_refused"
    TRY_LATER = "try_later"
    UNAVAILABLE = "unavailable"
    CONNECT_FAILED = "connect_failed"
    CONNECTION_LOST = "connection_lost"
    TIMED_OUT = "timed_out"
    AUTH_FAILED = "auth_failed"
    TLS_FAILED = "tls_failed"
    PROTOCOL = "protocol"
    INVALID_ADDRESS = "invalid_address"
    NO_LONGER_RECIPIENT = "no_longer_recipient"
    DISABLED = "disabled"
    INTERNAL = "internal"
    OTHER_PERMANENT = "other_permanent"
    OTHER_TEMPORARY = "other_temporary"

    @property
    def label(self) -> Promise:
        return _LABELS[self]


_LABELS = {
    Reading.ACCEPTED: _("accepted by the mail server"),
    Reading.SENDER_REFUSED: _("the mail server refused the sender"),
    Reading.SENDER_NOT_AUTHENTICATED: _(
        "the mail server refused the sender: its SPF, DKIM or DMARC check failed"
    ),
    Reading.RECIPIENT_REFUSED: _("the recipient's address was refused"),
    Reading.MAILBOX_FULL: _("the recipient's mailbox is full"),
    Reading.TOO_LARGE: _("the message is too large for the mail server"),
    Reading.MESSAGE_REFUSED: _("the mail server refused the message (a policy or spam filter)"),
    Reading.TRY_LATER: _("the mail server asked to try again later"),
    Reading.UNAVAILABLE: _("the mail server is not available at the moment"),
    Reading.CONNECT_FAILED: _("could not connect to the mail server"),
    Reading.CONNECTION_LOST: _("the connection to the mail server was lost"),
    Reading.TIMED_OUT: _("the mail server timed out"),
    Reading.AUTH_FAILED: _("authentication with the mail server failed"),
    Reading.TLS_FAILED: _("a secure (TLS) connection to the mail server could not be made"),
    Reading.PROTOCOL: _("the mail server's answer could not be understood"),
    Reading.INVALID_ADDRESS: _("not sent: the address cannot be used"),
    Reading.NO_LONGER_RECIPIENT: _("not sent: no longer a recipient"),
    Reading.DISABLED: _("not sent: the mailing was disabled by a manager"),
    Reading.INTERNAL: _("an error on the sending side"),
    Reading.OTHER_PERMANENT: _("the mail server refused the message"),
    Reading.OTHER_TEMPORARY: _("the mail server could not take the message"),
}


# Not a server's answer but what came back later: accepted, then a bounce was read back for the delivery
# (R-DLV-3, Delivery.bounced_at). What an owner reads instead of "accepted".
BOUNCED_AFTER_ACCEPTANCE = _("bounced after acceptance")


def split_code(answer: str) -> tuple[int | None, str]:
    """A delivery's latest answer ("550 5.1.1 no such user") as (550, "5.1.1 no such user")."""
    match = _LEADING_CODE.match(answer)
    if match is None:
        return None, answer
    return int(match.group(1)), answer[match.end() :]


def classify(code: int | None, text: str) -> Reading | None:
    """The class of one stored answer: an attempt's `smtp_code` and `response`, or a delivery's
    `last_response` with `code` None (its leading code is read). None for no answer at all (not yet tried)."""
    text = " ".join((text or "").split())
    if not text and code is None:
        return None
    own = _own_text(text)
    if own is not None:
        return own
    if code is None:
        code, text = split_code(text)
    low = text.casefold()
    if code is None:
        return _local_error(low)
    if 200 <= code < 300:
        return Reading.ACCEPTED
    return _refusal(code, _enhanced(text), low)


def summary(code: int | None, text: str) -> str:
    """`classify`'s reading in the active language; "" for no answer."""
    reading = classify(code, text)
    return "" if reading is None else str(reading.label)


def _own_text(text: str) -> Reading | None:
    if text.startswith(ACCEPTED_BY_BACKEND):
        return Reading.ACCEPTED
    if text.startswith(NO_LONGER_RECIPIENT):
        return Reading.NO_LONGER_RECIPIENT
    if text.startswith(NOT_SENT):
        return Reading.INVALID_ADDRESS
    if text == DISABLED_BY_MANAGER:
        return Reading.DISABLED
    if text.startswith(INTERNAL):
        return Reading.INTERNAL
    return None


def _enhanced(text: str) -> tuple[int, int, int] | None:
    match = _ENHANCED.search(text[:40])  # it follows the basic code, never deep in the text
    return tuple(int(part) for part in match.groups()) if match else None  # type: ignore[return-value]


def _local_error(low: str) -> Reading:
    """No SMTP code: the connection failed before or while talking (transport.py's texts)."""
    if _TIMEOUT.search(low):
        return Reading.TIMED_OUT
    if _TLS.search(low):
        return Reading.TLS_FAILED
    if _AUTH.search(low):
        return Reading.AUTH_FAILED
    if _LOST.search(low):
        return Reading.CONNECTION_LOST
    if _CONNECT.search(low):
        return Reading.CONNECT_FAILED
    return Reading.OTHER_TEMPORARY


def _refusal(code: int, enhanced: tuple[int, int, int] | None, low: str) -> Reading:
    """A server's 4xx or 5xx answer: the enhanced code says most; the basic code and the words the big
    providers use settle the rest."""
    subject, detail = enhanced[1:] if enhanced else (None, None)
    temporary = 400 <= code < 500
    if _SENDER_AUTH.search(low) or (subject, detail) in {(7, 23), (7, 25), (7, 26), (7, 27)}:
        return Reading.SENDER_NOT_AUTHENTICATED
    if _TLS.search(low) and (code in (454, 530) or subject == 7):
        return Reading.TLS_FAILED
    if (
        code in (530, 534, 535, 538)
        or (subject, detail) in {(7, 8), (7, 9)}
        or (subject == 7 and _AUTH.search(low))
    ):
        return Reading.AUTH_FAILED
    if code == 421:
        return Reading.UNAVAILABLE
    if (subject, detail) in {(1, 7), (1, 8)} or (_SENDER.search(low) and not _RECIPIENT.search(low)):
        return Reading.SENDER_REFUSED
    if (subject, detail) == (2, 2) or _FULL.search(low):
        return Reading.MAILBOX_FULL
    if (subject, detail) in {(3, 4), (2, 3)} or (code == 552 and _TOO_LARGE.search(low)):
        return Reading.TOO_LARGE
    if subject == 1:
        return Reading.RECIPIENT_REFUSED
    if temporary:
        return Reading.TRY_LATER
    if subject in (6, 7) or code == 554 or _POLICY.search(low):
        return Reading.MESSAGE_REFUSED
    if subject == 4 or code in (550, 551, 553) or _RECIPIENT.search(low):
        return Reading.RECIPIENT_REFUSED
    if code == 552:
        return Reading.MAILBOX_FULL
    if 500 <= code <= 504 or subject == 5:
        return Reading.PROTOCOL
    return Reading.OTHER_PERMANENT if 500 <= code < 600 else Reading.OTHER_TEMPORARY
