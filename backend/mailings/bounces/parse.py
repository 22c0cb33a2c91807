"""One raw mail read back at the bounce address, understood (R-DLV-3, R-DLV-4). Pure: no database.

`parse(raw, envelope_to=...)` never raises: whatever the bytes (garbage, a truncated or enormous mail, MIME
nested a thousand deep, broken encodings, headers made to hurt), it returns a `Parsed` — at worst
`unclassified` with nothing found.

- Which delivery it is about comes ONLY from an address `verp.delivery_id_from` accepts (the HMAC-signed
  token): the envelope recipient when the caller knows it, else the To / Delivered-To / X-Original-To
  headers; then the envelope sender the original message went out with, as a report quotes it (an ARF
  report's Original-Mail-From, the quoted message's Return-Path), which a mailbox provider's feedback loop
  sends to its own registered address. Never a guess from the text.
- What happened comes from, in this order: an RFC 3464 delivery status report (Action failed → hard for a
  5.x.x Status, soft otherwise; delayed → a delay warning, a progress notice and not a failure: kept as
  unclassified, its reason starting "delay warning", never counted; delivered, relayed, expanded → not a
  bounce, kept as unclassified); an RFC 5965 feedback report (a complaint); an automatic reply
  (unclassified, not a bounce); flufl.bounce's detectors for the common non-standard formats (Exim, qmail,
  Postfix, Exchange...), with the status code and reason read from the text around.
"""

from __future__ import annotations

import email
import email.parser
import email.policy
import email.utils
import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from email.message import Message
from email.utils import getaddresses

from django.utils.translation import gettext
from flufl.bounce import all_failures

from .. import verp

logger = logging.getLogger(__name__)

HARD = "hard"
SOFT = "soft"
COMPLAINT = "complaint"
UNCLASSIFIED = "unclassified"

# What the heuristics read: the report's own parts are near the top; a large quoted original is not read.
HEURISTIC_BYTES = 256 * 1024
MAX_DEPTH = 20
MAX_PARTS = 200
REASON_CHARS = 1000
ADDRESS_HEADERS = ("To", "Delivered-To", "X-Original-To")

_ENHANCED = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d.])")
_SMTP_LINE = re.compile(r"(?<!\d)([45]\d\d)[ -]")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_EMAIL = re.compile(r"^[^@\s<>\"]{1,64}@[^@\s<>\"]{1,189}$")
_AUTOREPLY_SUBJECT = re.compile(
    r"^(?:auto(?:matic)?[ -]?reply|out of (?:the )?office|abwesenheit|autoresponse|vacation|"
    r"automatische antwort|réponse automatique|respuesta automática|автоответ)",
    re.IGNORECASE,
)
_BOUNCE_SUBJECT = re.compile(
    r"undeliver|returned mail|delivery (?:status notification|failure|has failed)|mail delivery failed|"
    r"failure notice|delivery notification|non[- ]?delivery|could not be delivered|unzustellbar",
    re.IGNORECASE,
)
_DAEMON = re.compile(r"mailer-daemon|postmaster|mail delivery (?:sub)?system", re.IGNORECASE)


@dataclass
class Parsed:
    kind: str = UNCLASSIFIED
    recipient: str = ""
    status_code: str = ""
    reason: str = ""
    # The VERP addresses it names, in the order they were found; `delivery_id` is the first one's.
    verp_addresses: list[str] = field(default_factory=list)
    delivery_id: int | None = None
    # For the operator: which reading decided ("dsn", "arf", "autoreply", "heuristic", "none", "error").
    method: str = "none"


def parse(raw: bytes, *, envelope_to: str | Iterable[str] | None = None, limit: int | None = None) -> Parsed:
    """`raw` understood; at most `limit` bytes of it are read (the caller's BOUNCE_RAW_MAX_BYTES)."""
    if limit is not None:
        raw = raw[:limit]
    result = Parsed()
    try:
        message = email.message_from_bytes(raw, policy=email.policy.compat32)
    except Exception:
        logger.info("bounce: the mail could not be parsed at all", exc_info=True)
        message = None
    try:
        _read(result, message, raw, envelope_to)
    except Exception:
        logger.warning("bounce: reading the mail failed; kept as unclassified", exc_info=True)
        result.kind, result.method = UNCLASSIFIED, "error"
    try:
        _match(result, message, envelope_to)
    except Exception:
        logger.warning("bounce: looking for the return path failed", exc_info=True)
    result.recipient = _clean_email(result.recipient)
    result.status_code = _clean(result.status_code)[:16]
    result.reason = _clean(result.reason)[:REASON_CHARS]
    return result


# --- which delivery ------------------------------------------------------------------------------------


def _match(result: Parsed, message: Message | None, envelope_to: str | Iterable[str] | None) -> None:
    candidates: list[str] = []
    if envelope_to is not None:
        candidates += [envelope_to] if isinstance(envelope_to, str) else list(envelope_to)
    elif message is not None:
        for name in ADDRESS_HEADERS:
            candidates += [address for _, address in getaddresses(_headers(message, name))]
    if message is not None:
        candidates += _quoted_senders(message)
    for candidate in candidates:
        candidate = _clean(candidate)[:400]
        delivery_id = verp.delivery_id_from(candidate) if candidate else None
        if delivery_id is None:
            continue
        address = candidate.strip().strip("<>").strip().lower()
        if address not in result.verp_addresses:
            result.verp_addresses.append(address)
        if result.delivery_id is None:
            result.delivery_id = delivery_id


def _quoted_senders(message: Message) -> list[str]:
    """The envelope sender the reported message went out with, where a report quotes it."""
    found: list[str] = []
    for part in _parts(message):
        content_type = _content_type(part)
        if content_type == "message/feedback-report":
            for block in _field_blocks(part):
                found += [_strip_type(value) for value in _all(block, "Original-Mail-From")]
        elif content_type in ("message/rfc822", "text/rfc822-headers", "message/rfc822-headers"):
            quoted = _quoted_message(part)
            if quoted is not None:
                found += [address for _, address in getaddresses(_headers(quoted, "Return-Path"))]
    return found


# --- what happened -------------------------------------------------------------------------------------


def _read(result: Parsed, message: Message | None, raw: bytes, envelope_to) -> None:
    if message is None:
        return
    report_type = ""
    if _content_type(message) == "multipart/report":
        report_type = _param(message, "report-type").lower()
    dsn = report_type == "delivery-status" or _has_part(message, "message/delivery-status")
    if dsn and _read_dsn(result, message):
        return
    arf = report_type == "feedback-report" or _has_part(message, "message/feedback-report")
    if arf and _read_arf(result, message):
        return
    if _is_autoreply(message):
        result.kind, result.method = UNCLASSIFIED, "autoreply"
        result.reason = "automatic reply: " + _header(message, "Subject")[:200]
        return
    _read_heuristics(result, raw)


def _read_dsn(result: Parsed, message: Message) -> bool:
    """RFC 3464: the per-recipient blocks of the message/delivery-status part; the worst one decides."""
    recipients: list[Message] = []
    for part in _parts(message):
        if _content_type(part) == "message/delivery-status":
            recipients += _field_blocks(part)[1:]
    if not recipients:
        return False
    rank = {"failed": 3, "delayed": 2}
    worst = max(recipients, key=lambda block: rank.get(_header(block, "Action").lower(), 1))
    action = _header(worst, "Action").lower()
    status = _enhanced(_header(worst, "Status"))
    result.method = "dsn"
    result.recipient = _strip_type(_header(worst, "Original-Recipient")) or _strip_type(
        _header(worst, "Final-Recipient")
    )
    diagnostic = _strip_type(_header(worst, "Diagnostic-Code"))
    detailed = _enhanced(diagnostic)
    if status.endswith(".0.0") and detailed[:1] == status[:1]:
        # "Status: 5.0.0" with the remote server's "550 5.1.1" in the diagnostic (Exim): the precise one.
        status = detailed
    result.status_code = status
    result.reason = diagnostic or (f"{action} {status}".strip())
    if action == "failed":
        result.kind = HARD if status.startswith("5") else SOFT
    elif action == "delayed":
        # The sending server is still trying (greylisting, a full mailbox...): not a bounce of any kind.
        result.kind = UNCLASSIFIED
        result.reason = f"{gettext('delay warning')}: {result.reason}"
    else:
        # delivered, relayed, expanded: a success notice, not a bounce; kept for a person to read.
        result.kind = UNCLASSIFIED
        result.reason = f"not a bounce ({action or 'no action'}): {result.reason}"
    return True


def _read_arf(result: Parsed, message: Message) -> bool:
    """RFC 5965: a mailbox provider's feedback loop reporting that its user called the message spam."""
    report: Message | None = None
    quoted: Message | None = None
    for part in _parts(message):
        content_type = _content_type(part)
        if content_type == "message/feedback-report" and report is None:
            blocks = _field_blocks(part)
            report = blocks[0] if blocks else None
        elif content_type in ("message/rfc822", "text/rfc822-headers") and quoted is None:
            quoted = _quoted_message(part)
    if report is None:
        return False
    result.kind, result.method = COMPLAINT, "arf"
    feedback = _header(report, "Feedback-Type") or "abuse"
    agent = _header(report, "User-Agent")
    result.reason = f"complaint ({feedback})" + (f" from {agent}" if agent else "")
    result.recipient = _strip_type(_header(report, "Original-Rcpt-To"))
    if not result.recipient and quoted is not None:
        addresses = [address for _, address in getaddresses(_headers(quoted, "To"))]
        result.recipient = addresses[0] if addresses else ""
    return True


def _is_autoreply(message: Message) -> bool:
    auto = _header(message, "Auto-Submitted").lower()
    if auto.startswith("auto-replied"):
        return True
    if any(_header(message, name) for name in ("X-Autoreply", "X-Autorespond")):
        return True
    if _header(message, "Precedence").lower() == "auto_reply":
        return True
    return bool(_AUTOREPLY_SUBJECT.search(_header(message, "Subject").strip()))


def _read_heuristics(result: Parsed, raw: bytes) -> None:
    """The non-standard bounces: flufl.bounce finds whether it is one and for whom; the status code and the
    reason are read from the text (the delivery is never looked for here)."""
    head = raw[:HEURISTIC_BYTES]
    try:
        message = email.message_from_bytes(head, policy=email.policy.compat32)
    except Exception:
        return
    temporary: set = set()
    permanent: set = set()
    try:
        temporary, permanent = (set(found) for found in all_failures(message))
    except Exception as exc:
        logger.info("bounce: flufl.bounce could not read this mail (%s); kept as it is", type(exc).__name__)
        logger.debug("flufl.bounce's error", exc_info=True)
    text = _text_of(message)
    status, reason = _status_from_text(text)
    looks_like_bounce = bool(
        _BOUNCE_SUBJECT.search(_header(message, "Subject")) or _DAEMON.search(_header(message, "From"))
    )
    if permanent or temporary:
        result.method = "heuristic"
        result.kind = SOFT if (temporary and not permanent) or status.startswith("4") else HARD
        result.recipient = _decode_address(next(iter(sorted(permanent or temporary))))
    elif looks_like_bounce and status:
        result.method = "heuristic"
        result.kind = HARD if status.startswith("5") else SOFT
    else:
        return
    result.status_code = status
    result.reason = reason


def _status_from_text(text: str) -> tuple[str, str]:
    """The first enhanced status code (5.1.1) of the text and its line; else an SMTP reply code's line."""
    for line in text.splitlines()[:2000]:
        match = _ENHANCED.search(line)
        if match and match.group(1) in "45":
            return match.group(0), line.strip()
    for line in text.splitlines()[:2000]:
        match = _SMTP_LINE.search(line)
        if match:
            code = match.group(1)
            return f"{code[0]}.0.0", line.strip()
    return "", ""


# --- safe reading of a parsed mail ---------------------------------------------------------------------


def _parts(message: Message) -> Iterator[Message]:
    """The parts, depth first, without recursion: at most MAX_PARTS of them, MAX_DEPTH deep."""
    stack: list[tuple[Message, int]] = [(message, 0)]
    seen = 0
    while stack and seen < MAX_PARTS:
        part, depth = stack.pop()
        seen += 1
        yield part
        if depth >= MAX_DEPTH:
            continue
        payload = part.get_payload() if part.is_multipart() else None
        if isinstance(payload, list):
            stack.extend((child, depth + 1) for child in reversed(payload) if isinstance(child, Message))


def _has_part(message: Message, content_type: str) -> bool:
    return any(_content_type(part) == content_type for part in _parts(message))


def _content_type(part: Message) -> str:
    try:
        return part.get_content_type().lower()
    except Exception:
        return ""


def _param(part: Message, name: str) -> str:
    try:
        value = part.get_param(name)
    except Exception:
        return ""
    if isinstance(value, tuple):
        value = email.utils.collapse_rfc2231_value(value)
    return _clean(str(value or ""))


def _field_blocks(part: Message) -> list[Message]:
    """A message/delivery-status or message/feedback-report part as its blocks of fields."""
    payload = part.get_payload()
    if isinstance(payload, list):
        return [block for block in payload if isinstance(block, Message)]
    text = _payload_text(part)
    parser = email.parser.HeaderParser(policy=email.policy.compat32)
    blocks = re.split(r"\r?\n[ \t]*\r?\n", text.strip())
    return [parser.parsestr(block) for block in blocks[:MAX_PARTS] if block.strip()]


def _quoted_message(part: Message) -> Message | None:
    payload = part.get_payload()
    if isinstance(payload, list):
        return next((item for item in payload if isinstance(item, Message)), None)
    text = _payload_text(part)
    if not text:
        return None
    return email.parser.HeaderParser(policy=email.policy.compat32).parsestr(text)


def _payload_text(part: Message) -> str:
    try:
        payload = part.get_payload(decode=True)
    except Exception:
        payload = None
    if isinstance(payload, bytes):
        return payload[:HEURISTIC_BYTES].decode("utf-8", "replace")
    payload = part.get_payload()
    return payload[:HEURISTIC_BYTES] if isinstance(payload, str) else ""


def _text_of(message: Message) -> str:
    """The text parts (and the subject), decoded leniently, up to HEURISTIC_BYTES in all."""
    chunks = [_header(message, "Subject")]
    size = 0
    for part in _parts(message):
        if part.is_multipart() or _content_type(part) not in ("text/plain", "text/html", ""):
            continue
        text = _payload_text(part)
        chunks.append(text)
        size += len(text)
        if size > HEURISTIC_BYTES:
            break
    return "\n".join(chunks)


def _headers(message: Message, name: str) -> list[str]:
    return [_clean(_unfold(value[:4000])) for value in _all(message, name)][:50]


def _all(message: Message, name: str) -> list[str]:
    try:
        return [_str(value) for value in (message.get_all(name) or [])]
    except Exception:
        return []


def _header(message: Message, name: str) -> str:
    values = _all(message, name)
    return _clean(_unfold(values[0]))[:2000] if values else ""


def _str(value) -> str:
    try:
        text = str(value)
    except Exception:
        return ""
    # Bytes that were not ASCII come through as surrogates: shown as replacement characters.
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _unfold(value: str) -> str:
    return " ".join(value.split())


def _clean(value: str) -> str:
    """Without NULs and other control characters (PostgreSQL refuses NUL in text), without surrogates."""
    value = value.encode("utf-8", "replace").decode("utf-8", "replace") if isinstance(value, str) else ""
    return _CONTROL.sub("", value).strip()


def _strip_type(value: str) -> str:
    """ "rfc822; someone@example.org" → "someone@example.org"; "smtp; 550 ..." → "550 ..."."""
    kind, semicolon, rest = value.partition(";")
    if semicolon and len(kind) < 20 and " " not in kind.strip():
        value = rest
    return value.strip().strip("<>").strip()


def _enhanced(value: str) -> str:
    match = _ENHANCED.search(value)
    return match.group(0) if match else ""


def _decode_address(value) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _clean_email(value: str) -> str:
    value = _clean(value).strip("<>").strip()
    return value.lower() if _EMAIL.match(value) and len(value) <= 254 else ""
