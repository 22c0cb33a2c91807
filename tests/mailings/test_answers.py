"""Owners read a relay's failure as a short classified sentence (issue item: the raw answer, with relay host
names, stays in the operator's log and the superusers' delivery log). Real answers from Postfix, Exim, Gmail,
Outlook, Yandex, Amazon SES and smtplib's connection errors, as the engine stores them."""

import pytest
from django.utils import translation

from backend.mailings.answers import Reading, classify, split_code, summary

R = Reading

ATTEMPTS = [
    # (SMTP code, stored text, reading)
    (250, "2.0.0 Ok: queued as 4F2A81C0042", R.ACCEPTED),
    (250, "2.0.0 OK  1717000000 a640c23a62f3a-a6f0f2 - gsmtp", R.ACCEPTED),
    (None, "accepted by Django's filebased email backend", R.ACCEPTED),
    (553, "5.1.8 <bounce+3@mail.example.com>: Sender address rejected: Domain not found", R.SENDER_REFUSED),
    (550, "5.1.7 Invalid sender address", R.SENDER_REFUSED),
    (553, "sorry, that domain isn't in my list of allowed rcpthosts; sender rejected", R.SENDER_REFUSED),
    (
        550,
        "5.7.26 This mail is unauthenticated, which poses a security risk to the sender and Gmail users, "
        "and has been blocked. The sender must authenticate with at least one of SPF or DKIM.",
        R.SENDER_NOT_AUTHENTICATED,
    ),
    (550, "5.7.1 Unauthenticated email from example.com is not accepted due to domain's DMARC policy",
     R.SENDER_NOT_AUTHENTICATED),
    (550, "5.1.1 <nobody@example.org>: Recipient address rejected: User unknown in virtual mailbox table",
     R.RECIPIENT_REFUSED),
    (550, "5.1.1 The email account that you tried to reach does not exist. Please try double-checking the "
     "recipient's email address for typos. - gsmtp", R.RECIPIENT_REFUSED),
    (550, "5.5.0 Requested action not taken: mailbox unavailable", R.RECIPIENT_REFUSED),
    (550, "No such user here", R.RECIPIENT_REFUSED),
    (501, "5.1.3 Bad recipient address syntax", R.RECIPIENT_REFUSED),
    (550, "5.4.1 Recipient address rejected: Access denied. [DM6PR11MB.namprd11.prod.outlook.com]",
     R.RECIPIENT_REFUSED),
    (552, "5.2.2 The email account that you tried to reach is over quota. - gsmtp", R.MAILBOX_FULL),
    (452, "4.2.2 The email account that you tried to reach is over quota. - gsmtp", R.MAILBOX_FULL),
    (552, "5.3.4 Message size exceeds fixed limit", R.TOO_LARGE),
    (552, "Message size exceeds maximum permitted", R.TOO_LARGE),
    (554, "5.7.1 Service unavailable; Client host [203.0.113.9] blocked using zen.spamhaus.org",
     R.MESSAGE_REFUSED),
    (550, "5.7.1 [203.0.113.9] Our system has detected that this message is likely unsolicited mail. - gsmtp",
     R.MESSAGE_REFUSED),
    (554, "5.7.1 <a@example.org>: Relay access denied", R.MESSAGE_REFUSED),
    (554, "Transaction failed", R.MESSAGE_REFUSED),
    (451, "4.7.1 Greylisting in action, please come back later", R.TRY_LATER),
    (450, "4.2.0 <a@example.org>: Recipient address rejected: Greylisted, see https://postgrey.example/",
     R.TRY_LATER),
    (451, "Requested action aborted: local error in processing", R.TRY_LATER),
    (452, "4.3.1 Insufficient system storage", R.TRY_LATER),
    (421, "4.7.0 mx3.relay.internal Error: too many connections from 10.0.4.7", R.UNAVAILABLE),
    (421, "Service not available, closing transmission channel", R.UNAVAILABLE),
    (535, "5.7.8 Error: authentication failed: authentication failure", R.AUTH_FAILED),
    (535, "5.7.8 Username and Password not accepted. - gsmtp", R.AUTH_FAILED),
    (530, "5.7.0 Authentication required", R.AUTH_FAILED),
    (454, "4.7.0 Temporary authentication failure", R.AUTH_FAILED),
    (530, "5.7.0 Must issue a STARTTLS command first", R.TLS_FAILED),
    (454, "4.7.0 TLS not available due to local problem", R.TLS_FAILED),
    (500, "5.5.1 Command unrecognized", R.PROTOCOL),
    (503, "5.5.1 Error: need MAIL command", R.PROTOCOL),
    (None, "timed out after 10 s", R.TIMED_OUT),
    (None, "connection lost: Connection unexpectedly closed", R.CONNECTION_LOST),
    (None, "ConnectionResetError: [Errno 104] Connection reset by peer", R.CONNECTION_LOST),
    (None, "ConnectionRefusedError: [Errno 111] Connection refused", R.CONNECT_FAILED),
    (None, "gaierror: [Errno -2] Name or service not known", R.CONNECT_FAILED),
    (None, "OSError: [Errno 101] Network is unreachable", R.CONNECT_FAILED),
    (None, "SSLCertVerificationError: [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: Hostname "
     "mismatch, certificate is not valid for 'smtp.relay.internal'. (_ssl.c:1006)", R.TLS_FAILED),
    (None, "SMTPNotSupportedError: STARTTLS extension not supported by server.", R.TLS_FAILED),
    (None, "SMTPNotSupportedError: SMTP AUTH extension not supported by server.", R.AUTH_FAILED),
    (None, "SMTPException: No suitable authentication method found.", R.AUTH_FAILED),
    (None, "not sent: the address contains a line break", R.INVALID_ADDRESS),
    (None, "not sent: no longer a recipient (unsubscribed, removed from the mailing or its owner's list)",
     R.NO_LONGER_RECIPIENT),
    (None, "mailing disabled by a manager", R.DISABLED),
    (None, "internal error: KeyError: 'x'", R.INTERNAL),
    (None, "SMTPException: something nobody has seen", R.OTHER_TEMPORARY),
    (557, "something odd", R.OTHER_PERMANENT),
]  # fmt: skip


@pytest.mark.parametrize(("code", "text", "reading"), ATTEMPTS)
def test_an_attempts_answer_is_classified(code, text, reading):
    """Issue item: each attempt's stored code and answer read as one short class."""
    assert classify(code, text) is reading


@pytest.mark.parametrize(("code", "text", "reading"), [row for row in ATTEMPTS if row[0]])
def test_a_deliverys_last_answer_reads_the_same_with_its_code_inside(code, text, reading):
    """A delivery keeps its latest answer as "<code> <text>" (queue.py): the same reading."""
    assert classify(None, f"{code} {text}") is reading


def test_no_answer_has_no_reading():
    assert classify(None, "") is None
    assert summary(None, "") == ""


def test_split_code_reads_a_leading_smtp_code_only():
    assert split_code("550 5.1.1 no") == (550, "5.1.1 no")
    assert split_code("550-5.1.1 no") == (550, "5.1.1 no")
    assert split_code("timed out after 10 s") == (None, "timed out after 10 s")
    assert split_code("1000 things") == (None, "1000 things")


def test_the_summary_names_no_host_and_is_translated():
    """The summary is one of a fixed set of sentences: nothing of the server's text (host names, addresses)
    gets through; every sentence has a Russian translation."""
    text = "4.7.0 mx3.relay.internal Error: too many connections from 10.0.4.7"
    assert summary(421, text) == "the mail server is not available at the moment"
    english = {reading: str(reading.label) for reading in Reading}
    with translation.override("ru"):
        untranslated = [reading for reading in Reading if str(reading.label) == english[reading]]
        assert untranslated == []
        assert summary(421, text) == "почтовый сервер сейчас недоступен"
