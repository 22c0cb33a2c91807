"""The bounce reader survives anything (R-DLV-3): garbage, huge mails, malicious headers, MIME nested deep,
real reports mangled — `record()` never raises, stores exactly one row per distinct mail (the same bytes
again: the same row), and never deletes anything: not a bounce, a delivery or a client."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backend.mailings.bounces import record
from backend.mailings.models import Bounce, Client, Delivery
from tests.deliverability import bounce_samples as samples
from tests.deliverability.bounce_helpers import bounce_domain, return_path, sent_deliveries  # noqa: F401

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("bounce_domain")]

HEADER_NAMES = [
    "To",
    "From",
    "Subject",
    "Delivered-To",
    "X-Original-To",
    "Return-Path",
    "Content-Type",
    "Content-Transfer-Encoding",
    "Auto-Submitted",
    "Action",
    "Status",
    "Final-Recipient",
    "Original-Rcpt-To",
    "Original-Mail-From",
    "Diagnostic-Code",
    "Feedback-Type",
]
NASTY_VALUES = [
    "multipart/report; report-type=delivery-status; boundary=b",
    "multipart/report; report-type=feedback-report; boundary=b",
    "message/delivery-status",
    "message/feedback-report",
    "message/rfc822",
    "multipart/mixed; boundary=" + "b" * 2000,
    "text/plain; charset=x-no-such-charset",
    "=?utf-8?b?" + "!" * 50 + "?=",
    "=?x-unknown?q?=FF=FE?=",
    "<" * 500 + "a@b" + ">" * 500,
    "a@b, " * 300,
    "rfc822; " + "x" * 3000,
    "smtp; 550 5.1.1 \x00\x01\x02",
    "base64",
    "quoted-printable",
    "failed",
    "delayed",
    "5.1.1",
    "4.4.7",
    "9.9.9",
    "auto-replied",
]


def header_block(draw_pairs) -> bytes:
    return b"".join(
        name.encode() + b": " + value.encode("utf-8", "surrogatepass") + b"\r\n" for name, value in draw_pairs
    )


header_pairs = st.lists(
    st.tuples(
        st.sampled_from(HEADER_NAMES),
        st.one_of(st.sampled_from(NASTY_VALUES), st.text(max_size=200)),
    ),
    max_size=12,
)


@st.composite
def mime_mails(draw) -> bytes:
    """Headers and parts built from the report formats' own pieces, nested, broken at random."""
    depth = draw(st.integers(0, 60))
    body = header_block(draw(header_pairs)) + b"\r\n" + draw(st.binary(max_size=400))
    for level in range(depth):
        boundary = draw(st.sampled_from([b"b", b"b%d" % level, b""]))
        content_type = draw(
            st.sampled_from(
                [
                    b"multipart/report; report-type=delivery-status",
                    b"multipart/report; report-type=feedback-report",
                    b"multipart/mixed",
                    b"message/rfc822",
                ]
            )
        )
        closing = draw(st.booleans())
        body = (
            (
                b"Content-Type: "
                + content_type
                + b"; boundary="
                + boundary
                + b"\r\n\r\n--"
                + boundary
                + b"\r\n"
            )
            + body
            + ((b"\r\n--" + boundary + b"--\r\n") if closing else b"")
        )
    return header_block(draw(header_pairs)) + body


@st.composite
def mangled_reports(draw, address: str) -> bytes:
    """A real report of one of the formats, cut, with bytes flipped, or padded past the size limit."""
    build = draw(
        st.sampled_from(
            [
                samples.postfix_dsn,
                samples.exim_dsn,
                samples.gmail_dsn,
                samples.microsoft_dsn,
                samples.arf_complaint,
                samples.qmail_bounce,
                samples.exim_text_bounce,
                samples.autoreply,
            ]
        )
    )
    raw = bytearray(build(address, draw(st.sampled_from(["a@b.c", "ünï@例え.jp", "", "x" * 300]))))
    for _ in range(draw(st.integers(0, 10))):
        if raw:
            raw[draw(st.integers(0, len(raw) - 1))] = draw(st.integers(0, 255))
    cut = draw(st.integers(0, len(raw)))
    raw = bytes(raw[: cut if draw(st.booleans()) else len(raw)])
    if draw(st.integers(0, 9)) == 0:
        raw += b"A" * 70_000  # beyond the test's BOUNCE_RAW_MAX_BYTES
    return raw


@pytest.fixture
def small_limit(settings):
    settings.BOUNCE_RAW_MAX_BYTES = 50_000


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_record_never_raises_stores_one_row_per_distinct_mail_and_deletes_nothing(smtp, small_limit, data):
    if not Delivery.objects.exists():
        sent_deliveries(clients=2)
    deliveries = set(Delivery.objects.values_list("pk", flat=True))
    clients = set(Client.objects.values_list("pk", flat=True))
    delivery = Delivery.objects.order_by("pk").first()
    address = data.draw(st.sampled_from([return_path(delivery), "bounces+1-0@bounces.example.net", "x@y"]))
    raw = data.draw(
        st.one_of(
            st.binary(max_size=3000),
            mime_mails(),
            mangled_reports(address),
        )
    )
    envelope = data.draw(st.one_of(st.none(), st.just(address), st.text(max_size=100)))
    before = set(Bounce.objects.values_list("pk", "sha256"))
    first = record(raw, source="smtp", envelope_to=envelope)
    again = record(raw, source="imap", envelope_to=envelope)
    after = set(Bounce.objects.values_list("pk", "sha256"))
    assert first.pk == again.pk
    assert before <= after  # nothing stored before went away
    assert len(after - before) <= 1 and (first.pk, first.sha256) in after
    assert len({sha for _, sha in after}) == len(after)
    assert first.kind in {"hard", "soft", "complaint", "unclassified"}
    assert bytes(first.raw) == raw[:50_000] and first.raw_truncated == (len(raw) > 50_000)
    assert set(Delivery.objects.values_list("pk", flat=True)) == deliveries
    assert set(Client.objects.values_list("pk", flat=True)) == clients
