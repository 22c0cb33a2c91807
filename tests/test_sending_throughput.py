"""Issue 14: less Python per message, every guarantee kept.

A message prepared once per occurrence renders exactly what the slow path rendered (`personalize.Template`,
`UnsubscribeLinks`); the lean SMTP transaction dot-stuffs as smtplib does; attempts are recorded
MAILER_RECORD_BATCH at a time, sooner when the server is slow, always before a worker claims, gives back or
stops, and never over a lease another pass took (R-SEND-4/7).
"""

import secrets

import pytest

from backend.mailings import personalize
from backend.mailings.sending import send_due
from backend.mailings.unsubscribe import UnsubscribeLinks, unsubscribe_token_from, unsubscribe_url
from tests.factories import ClientFactory, MessageFactory
from tests.sending_helpers import due_mailing

pytestmark = pytest.mark.django_db

TEXTS = [
    "",
    "plain text, no placeholder",
    "Hello {full_name}, {first_name} <{email}>",
    "{{full_name}} is written literally, {{ and }} too",
    "{{{full_name}}}",
    "{ full_name } with spaces, {unknown} kept, {} kept",
    "{full_name}{full_name}{email}",
    "a { b } c {{ d",
    "line one\nline two {first_name}\n",
]
VALUES = [
    {"full_name": "Anna Smith", "first_name": "Anna", "email": "anna@example.org"},
    {"full_name": '<b>Bob & "Co"</b>', "first_name": "<b>Bob", "email": "bob@example.org"},
    {"full_name": "", "first_name": "", "email": "x@example.org"},
    {"full_name": "Ёлка {email}", "first_name": "Ёлка", "email": "ёлка@пример.рф"},
]


@pytest.mark.parametrize("text", TEXTS)
@pytest.mark.parametrize("escape_html", [False, True])
def test_a_template_parsed_once_renders_what_render_renders(text, escape_html):
    template = personalize.Template(text, escape_html=escape_html)
    for values in VALUES:
        assert template.render(values) == personalize.render(text, values, escape_html=escape_html)


def test_prepared_unsubscribe_links_are_the_domains_links(settings):
    """The engine's links (key derived and page resolved once) are `unsubscribe_url`'s, and the page's
    check takes them back to the token: for the model's tokens and any URL-safe one."""
    from backend.mailings.models import new_unsubscribe_token

    for site in ("http://localhost:8000", "https://mailer.example.com/sub"):
        settings.SITE_URL = site
        links = UnsubscribeLinks()
        tokens = [new_unsubscribe_token() for _ in range(50)] + ["tok", "a-b_c", secrets.token_hex(32)]
        for token in tokens:
            link = links.link(token)
            assert link == unsubscribe_url(token)
            assert unsubscribe_token_from(link.rstrip("/").rsplit("/", 1)[1]) == token


def test_a_link_from_a_sent_message_unsubscribes_the_client(smtp, client):
    mailing = due_mailing(clients=1)
    recipient = mailing.clients.get()
    assert send_due().sent == 1
    link = smtp.received[0].message["List-Unsubscribe"].strip("<>")
    response = client.post("/" + link.split("://", 1)[1].split("/", 1)[1])
    assert response.status_code == 200
    recipient.refresh_from_db()
    assert recipient.unsubscribed_at is not None


def test_lines_starting_with_a_dot_arrive_as_written(smtp):
    """The lean DATA path dot-stuffs (RFC 5321 4.5.2) as smtplib does; the server takes the dots back off."""
    body = ".starts with a dot\n..two dots\n.\nalone above\nmiddle . dot\n."
    message = MessageFactory(subject="Dots", body=body)
    mailing = due_mailing(clients=0, owner=message.owner, message=message)
    mailing.clients.add(ClientFactory(owner=mailing.owner))
    assert send_due().sent == 1
    payload = smtp.received[0].message.get_payload()
    assert payload.startswith(body.replace("\n", "\r\n") + "\r\n\r\n-- \r\n")
