"""The bounce parser (R-DLV-3, R-DLV-4): real-looking reports from the common servers, complaints from a
feedback loop, non-standard bounces, automatic replies, and mails made to break it. Pure: no database."""

import pytest

from backend.mailings import verp
from backend.mailings.bounces import COMPLAINT, HARD, SOFT, UNCLASSIFIED, parse
from tests.deliverability import bounce_samples as samples
from tests.deliverability.bounce_helpers import BOUNCE_DOMAIN, bounce_domain  # noqa: F401

pytestmark = pytest.mark.usefixtures("bounce_domain")

RCPT = "gone@example.org"


@pytest.fixture
def address():
    return verp.return_path(4242)


@pytest.mark.parametrize(
    ("build", "kind", "status", "reason_part"),
    [
        (samples.postfix_dsn, HARD, "5.1.1", "User unknown"),
        (samples.exim_dsn, HARD, "5.1.1", "does not exist"),  # "Status: 5.0.0", the diagnostic's is precise
        (samples.gmail_dsn, HARD, "5.1.1", "NoSuchUser"),
        (samples.microsoft_dsn, HARD, "5.2.2", "mailbox full"),
        (samples.delayed_dsn, UNCLASSIFIED, "4.4.1", "delay warning: "),
    ],
)
def test_rfc3464_reports_of_the_common_servers(address, build, kind, status, reason_part):
    """R-DLV-3: a DSN's per-recipient block decides: Action failed with 5.x.x is hard; delayed is a delay
    warning, no bounce (unclassified, its reason says so)."""
    parsed = parse(build(address, RCPT))
    assert (parsed.kind, parsed.status_code, parsed.recipient, parsed.method) == (kind, status, RCPT, "dsn")
    assert reason_part in parsed.reason
    assert parsed.delivery_id == 4242 and parsed.verp_addresses == [address]


def test_a_failed_report_with_a_temporary_status_is_soft(address):
    parsed = parse(samples.postfix_dsn(address, RCPT, status="4.2.2"))
    assert (parsed.kind, parsed.status_code) == (SOFT, "4.2.2")


def test_a_delivered_or_relayed_report_is_kept_but_is_not_a_bounce(address):
    for action in ("delivered", "relayed", "expanded"):
        parsed = parse(samples.postfix_dsn(address, RCPT, status="2.0.0", action=action))
        assert parsed.kind == UNCLASSIFIED and parsed.reason.startswith(f"not a bounce ({action})")
        assert parsed.delivery_id == 4242


def test_an_arf_complaint_from_a_feedback_loop_finds_the_return_path_in_the_report(address):
    """R-DLV-4: the loop writes to its registered address, not the VERP one; Original-Mail-From and the
    reported message's Return-Path name the delivery."""
    parsed = parse(samples.arf_complaint(address, RCPT), envelope_to="fbl@" + BOUNCE_DOMAIN)
    assert (parsed.kind, parsed.recipient, parsed.method) == (COMPLAINT, RCPT, "arf")
    assert "abuse" in parsed.reason and parsed.delivery_id == 4242


@pytest.mark.parametrize(
    ("build", "kind", "status"),
    [
        (samples.qmail_bounce, HARD, "5.1.1"),
        (samples.exim_text_bounce, HARD, "5.1.1"),
        (samples.postfix_text_warning, SOFT, "4.2.2"),
    ],
)
def test_non_standard_bounces_through_the_heuristics(address, build, kind, status):
    parsed = parse(build(address, RCPT))
    assert (parsed.kind, parsed.status_code, parsed.recipient, parsed.method) == (
        kind,
        status,
        RCPT,
        "heuristic",
    )
    assert parsed.delivery_id == 4242


def test_an_automatic_reply_is_not_a_bounce(address):
    """An out-of-office answer carries "550" in its text; it is kept as unclassified, never a bounce."""
    parsed = parse(samples.autoreply(address, RCPT))
    assert (parsed.kind, parsed.method) == (UNCLASSIFIED, "autoreply")


def test_the_delivery_is_found_only_through_a_signed_return_path():
    """R-DLV-3: a made-up token, another domain, or an address only in the body match nothing."""
    forged = f"bounces+1092-0000000000000000@{BOUNCE_DOMAIN}"
    assert parse(samples.postfix_dsn(forged, RCPT)).delivery_id is None
    assert parse(samples.postfix_dsn("bounces+1092-abc@elsewhere.example", RCPT)).delivery_id is None
    real = verp.return_path(7)
    body_only = samples.autoreply("someone@example.com", RCPT).replace(b"550 123", real.encode())
    assert parse(body_only).delivery_id is None


def test_the_envelope_recipient_wins_over_the_headers():
    headers_say = verp.return_path(1)
    envelope_says = verp.return_path(2)
    parsed = parse(samples.postfix_dsn(headers_say, RCPT), envelope_to=[envelope_says])
    assert parsed.delivery_id == 2
    # Known but not one of ours (a postmaster address): the headers are not read, the quoted original is.
    parsed = parse(samples.postfix_dsn(headers_say, RCPT), envelope_to="postmaster@" + BOUNCE_DOMAIN)
    assert parsed.delivery_id == 1  # from the quoted message's Return-Path


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\x00" * 1000,
        b"\xff\xfe garbage \x00\x01 with no headers at all",
        b"Subject: =?utf-8?b?!!!broken?=\r\nContent-Type: multipart/report; boundary=\r\n\r\n--\r\n",
        b"Content-Type: multipart/report; report-type=delivery-status; boundary=x\r\n\r\n--x\r\n"
        b"Content-Type: message/delivery-status\r\n\r\nAction: failed\r\nStatus: 9.9.9.9\r\n--x--",
        b"To: " + b"<" * 50_000 + b"\r\n\r\n",
        b"To: " + b"a@b," * 20_000 + b"\r\n\r\n",
        b"Content-Type: text/plain; charset=no-such-charset\r\nContent-Transfer-Encoding: base64\r\n\r\n@@@@",
        b"Content-Type: message/delivery-status\r\n\r\n" + b"X: y\r\n\r\n" * 5000,
    ],
)
def test_garbage_is_unclassified_and_never_raises(raw):
    parsed = parse(raw)
    assert parsed.kind in (HARD, SOFT, COMPLAINT, UNCLASSIFIED)
    assert "\x00" not in parsed.reason + parsed.recipient + parsed.status_code


def nested(depth: int, inner: bytes) -> bytes:
    raw = inner
    for level in range(depth):
        boundary = f"b{level}".encode()
        raw = (
            (
                b"Content-Type: multipart/mixed; boundary="
                + boundary
                + b"\r\n\r\n--"
                + boundary
                + b"\r\n"
                + raw
            )
            + b"\r\n--"
            + boundary
            + b"--\r\n"
        )
    return raw


def test_deeply_nested_mime_is_survived(address):
    parsed = parse(nested(2000, samples.postfix_dsn(address, RCPT)))
    assert parsed.kind in (HARD, UNCLASSIFIED)


def test_a_huge_mail_is_read_only_up_to_the_limit(address):
    raw = samples.postfix_dsn(address, RCPT) + b"x" * 5_000_000
    parsed = parse(raw, limit=1_000_000)
    assert (parsed.kind, parsed.delivery_id) == (HARD, 4242)


def test_control_characters_and_nuls_never_reach_the_result(address):
    raw = samples.postfix_dsn(address, RCPT).replace(b"Recipient address rejected", b"Reje\x00cted\x07")
    parsed = parse(raw)
    assert parsed.kind == HARD and "\x00" not in parsed.reason and "\x07" not in parsed.reason
