"""Real-looking mails that come back to a return path: each builder takes the VERP address the original went
out with (`verp.return_path(delivery.pk)`) and the recipient, and returns the bytes as a server sends them.
Modelled on what Postfix, Exim, qmail, Gmail, Microsoft 365 and Yahoo's feedback loop send."""

from __future__ import annotations


def _crlf(text: str) -> bytes:
    return text.replace("\r\n", "\n").replace("\n", "\r\n").encode("utf-8")


def original_headers(return_path: str, rcpt: str) -> str:
    return (
        f"Return-Path: <{return_path}>\n"
        "From: Shop <shop@example.com>\n"
        f"To: {rcpt}\n"
        "Subject: Our news\n"
        "Message-ID: <abc.123@mailer.example.com>\n"
        "Date: Mon, 7 Dec 2026 10:00:00 +0000\n"
    )


def postfix_dsn(return_path: str, rcpt: str, *, status: str = "5.1.1", action: str = "failed") -> bytes:
    code = "550" if status.startswith("5") else "452"
    return _crlf(
        f"""Return-Path: <>
Delivered-To: {return_path}
Received: by mx.mailer.example.com (Postfix) id 4Xy; Mon,  7 Dec 2026 10:00:05 +0000 (UTC)
Date: Mon,  7 Dec 2026 10:00:05 +0000 (UTC)
From: MAILER-DAEMON@relay.example.net (Mail Delivery System)
Subject: Undelivered Mail Returned to Sender
To: {return_path}
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
\tboundary="4Xy.1733565605/relay.example.net"
Message-Id: <20261207100005.4Xy@relay.example.net>

This is a MIME-encapsulated message.

--4Xy.1733565605/relay.example.net
Content-Description: Notification
Content-Type: text/plain; charset=us-ascii

This is the mail system at host relay.example.net.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients. It's attached below.

<{rcpt}>: host mx.example.org[203.0.113.5] said: {code} {status}
    <{rcpt}>: Recipient address rejected: User unknown in virtual mailbox
    table (in reply to RCPT TO command)

--4Xy.1733565605/relay.example.net
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; relay.example.net
X-Postfix-Queue-ID: 4Xy
X-Postfix-Sender: rfc822; {return_path}
Arrival-Date: Mon,  7 Dec 2026 10:00:01 +0000 (UTC)

Final-Recipient: rfc822; {rcpt}
Original-Recipient: rfc822;{rcpt}
Action: {action}
Status: {status}
Remote-MTA: dns; mx.example.org
Diagnostic-Code: smtp; {code} {status} <{rcpt}>: Recipient address rejected: User
    unknown in virtual mailbox table

--4Xy.1733565605/relay.example.net
Content-Description: Undelivered Message Headers
Content-Type: text/rfc822-headers

{original_headers(return_path, rcpt)}
--4Xy.1733565605/relay.example.net--
"""
    )


def exim_dsn(return_path: str, rcpt: str) -> bytes:
    return _crlf(
        f"""Return-path: <>
Envelope-to: {return_path}
From: Mail Delivery System <Mailer-Daemon@mx.example.net>
To: {return_path}
Subject: Mail delivery failed: returning message to sender
Auto-Submitted: auto-replied
Content-Type: multipart/report; report-type=delivery-status; boundary=1733565605-eximdsn-42
MIME-Version: 1.0

--1733565605-eximdsn-42
Content-type: text/plain; charset=us-ascii

This message was created automatically by mail delivery software.

A message that you sent could not be delivered to one or more of its
recipients. This is a permanent error. The following address(es) failed:

  {rcpt}
    host mx.example.org [203.0.113.9]
    SMTP error from remote mail server after RCPT TO:<{rcpt}>:
    550 5.1.1 The email account that you tried to reach does not exist.

--1733565605-eximdsn-42
Content-type: message/delivery-status

Reporting-MTA: dns; mx.example.net

Action: failed
Final-Recipient: rfc822;{rcpt}
Status: 5.0.0
Remote-MTA: dns; mx.example.org
Diagnostic-Code: smtp; 550 5.1.1 The email account that you tried to reach does not exist.

--1733565605-eximdsn-42
Content-type: message/rfc822

{original_headers(return_path, rcpt)}
Hello.

--1733565605-eximdsn-42--
"""
    )


def gmail_dsn(return_path: str, rcpt: str) -> bytes:
    return _crlf(
        f"""Delivered-To: {return_path}
Return-Path: <>
From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>
To: {return_path}
Auto-Submitted: auto-replied
Subject: Delivery Status Notification (Failure)
MIME-Version: 1.0
Content-Type: multipart/report; boundary="000000000000a1b2c3"; report-type=delivery-status

--000000000000a1b2c3
Content-Type: multipart/related; boundary="000000000000a1b2c4"

--000000000000a1b2c4
Content-Type: multipart/alternative; boundary="000000000000a1b2c5"

--000000000000a1b2c5
Content-Type: text/plain; charset="UTF-8"

** Address not found **

Your message wasn't delivered to {rcpt} because the address couldn't be found, or is unable to receive mail.

--000000000000a1b2c5
Content-Type: text/html; charset="UTF-8"

<html><body><p>Address not found</p></body></html>

--000000000000a1b2c5--

--000000000000a1b2c4--

--000000000000a1b2c3
Content-Type: message/delivery-status

Reporting-MTA: dns; googlemail.com
Arrival-Date: Mon, 07 Dec 2026 02:00:04 -0800 (PST)
X-Original-Message-ID: <abc.123@mailer.example.com>

Final-Recipient: rfc822; {rcpt}
Action: failed
Status: 5.1.1
Remote-MTA: dns; gmail-smtp-in.l.google.com. (142.250.1.26, the server for the domain gmail.com.)
Diagnostic-Code: smtp; 550-5.1.1 The email account that you tried to reach does not exist. Please try
 550-5.1.1 double-checking the recipient's email address for typos or
 550 5.1.1 unnecessary spaces. https://support.google.com/mail/?p=NoSuchUser
Last-Attempt-Date: Mon, 07 Dec 2026 02:00:05 -0800 (PST)

--000000000000a1b2c3
Content-Type: message/rfc822

{original_headers(return_path, rcpt)}
Hello.

--000000000000a1b2c3--
"""
    )


def microsoft_dsn(return_path: str, rcpt: str) -> bytes:
    """Microsoft 365 (Exchange Online): a quota-full delay notice and a failure look alike; this is the
    failure, base64 text part and all."""
    return _crlf(
        f"""From: Microsoft Outlook <postmaster@outlook.com>
To: <{return_path}>
Date: Mon, 7 Dec 2026 10:00:09 +0000
Content-Type: multipart/report; report-type=delivery-status;
\tboundary="b4e6f7a0-1234-4c1b-8d8e-0123456789ab"
X-MS-Exchange-Message-Is-Ndr:
Content-Language: en-US
Subject: Undeliverable: Our news
MIME-Version: 1.0

--b4e6f7a0-1234-4c1b-8d8e-0123456789ab
Content-Type: multipart/alternative; differences=Content-Type;
\tboundary="0c5c7d1e-aaaa-bbbb-cccc-0123456789ab"

--0c5c7d1e-aaaa-bbbb-cccc-0123456789ab
Content-Type: text/plain; charset="utf-8"
Content-Transfer-Encoding: base64

WW91ciBtZXNzYWdlIHRvIHRoZSByZWNpcGllbnQgY291bGRuJ3QgYmUgZGVsaXZlcmVkLg==

--0c5c7d1e-aaaa-bbbb-cccc-0123456789ab--

--b4e6f7a0-1234-4c1b-8d8e-0123456789ab
Content-Type: message/delivery-status

Reporting-MTA: dns;AM0PR01MB1234.eurprd01.prod.exchangelabs.com
Received-From-MTA: dns;relay.example.net
Arrival-Date: Mon, 7 Dec 2026 10:00:08 +0000

Original-Recipient: rfc822;{rcpt}
Final-Recipient: rfc822;{rcpt}
Action: failed
Status: 5.2.2
Diagnostic-Code: smtp;554 5.2.2 mailbox full; STOREDRV.Deliver.Exception:QuotaExceededException

--b4e6f7a0-1234-4c1b-8d8e-0123456789ab
Content-Type: message/rfc822

{original_headers(return_path, rcpt)}
Hello.

--b4e6f7a0-1234-4c1b-8d8e-0123456789ab--
"""
    )


def delayed_dsn(return_path: str, rcpt: str) -> bytes:
    return postfix_dsn(return_path, rcpt, status="4.4.1", action="delayed")


def delivered_dsn(return_path: str, rcpt: str) -> bytes:
    return postfix_dsn(return_path, rcpt, status="2.0.0", action="delivered")


def arf_complaint(return_path: str, rcpt: str, *, to: str = "fbl@bounces.example.net") -> bytes:
    """Yahoo's / a feedback loop's ARF report, sent to the address registered with the loop (not the VERP
    address): the VERP address is in the reported message's Return-Path and Original-Mail-From."""
    return _crlf(
        f"""From: Yahoo! Mail AntiSpam Feedback <feedback@arf.mail.yahoo.com>
To: {to}
Subject: FW: Our news
Date: Mon, 7 Dec 2026 11:00:00 +0000
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report;
\tboundary="----=_Part_123_456.789"

------=_Part_123_456.789
Content-Type: text/plain; charset=us-ascii

This is an email abuse report for an email message received from IP 198.51.100.7 on Mon, 7 Dec 2026.

------=_Part_123_456.789
Content-Type: message/feedback-report

Feedback-Type: abuse
User-Agent: Yahoo!-Mail-Feedback/2.0
Version: 1
Original-Mail-From: <{return_path}>
Original-Rcpt-To: <{rcpt}>
Arrival-Date: Mon, 07 Dec 2026 10:00:02 +0000
Source-IP: 198.51.100.7
Reported-Domain: mailer.example.com

------=_Part_123_456.789
Content-Type: message/rfc822

{original_headers(return_path, rcpt)}
Hello.

------=_Part_123_456.789--
"""
    )


def qmail_bounce(return_path: str, rcpt: str) -> bytes:
    return _crlf(
        f"""Return-Path: <>
Delivered-To: {return_path}
From: MAILER-DAEMON@mail.example.net
To: {return_path}
Subject: failure notice

Hi. This is the qmail-send program at mail.example.net.
I'm afraid I wasn't able to deliver your message to the following addresses.
This is a permanent error; I've given up. Sorry it didn't work out.

<{rcpt}>:
203.0.113.7 does not like recipient.
Remote host said: 550 5.1.1 <{rcpt}>... User unknown
Giving up on 203.0.113.7.

--- Below this line is a copy of the message.

{original_headers(return_path, rcpt)}
Hello.
"""
    )


def exim_text_bounce(return_path: str, rcpt: str) -> bytes:
    """An old Exim's plain-text bounce (no delivery-status part)."""
    return _crlf(
        f"""Return-path: <>
Envelope-to: {return_path}
X-Failed-Recipients: {rcpt}
From: Mail Delivery System <Mailer-Daemon@mail.example.net>
To: {return_path}
Subject: Mail delivery failed: returning message to sender

This message was created automatically by mail delivery software.

A message that you sent could not be delivered to one or more of its
recipients. This is a permanent error. The following address(es) failed:

  {rcpt}
    SMTP error from remote mail server after RCPT TO:<{rcpt}>:
    host mx.example.org [203.0.113.9]: 550 5.1.1 No such user here

------ This is a copy of the message, including all the headers. ------

{original_headers(return_path, rcpt)}
Hello.
"""
    )


def postfix_text_warning(return_path: str, rcpt: str) -> bytes:
    """A plain-text "delayed" notice without a report part, as some relays send."""
    return _crlf(
        f"""From: MAILER-DAEMON@relay.example.net (Mail Delivery System)
To: {return_path}
Subject: Delayed Mail (still being retried)

This is the mail system at host relay.example.net.

####################################################################
# THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #
####################################################################

Your message could not be delivered for more than 4 hour(s).
It will be retried until it is 5 day(s) old.

<{rcpt}>: host mx.example.org[203.0.113.5] said: 452 4.2.2 Mailbox full
    (in reply to RCPT TO command)
"""
    )


def autoreply(return_path: str, rcpt: str) -> bytes:
    return _crlf(
        f"""From: {rcpt}
To: {return_path}
Subject: Automatic reply: Our news
Auto-Submitted: auto-replied
X-Autoreply: yes
Content-Type: text/plain; charset=utf-8

I am out of the office until 4 January with no access to mail. For anything urgent, please call 550 123.
"""
    )
