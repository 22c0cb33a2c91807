"""Shared set-up of the opens-and-clicks tests (R-ENG-2)."""

import datetime as dt
import re

from django.utils import timezone

from backend.mailings.compose import PreparedMessage
from backend.mailings.models import Delivery, Occurrence
from tests.factories import ClientFactory, MailingFactory, MessageFactory, UserFactory

HTML = (
    '<p>Hello {first_name}!</p>\n<p><a href="https://shop.example.com/sale?a=1&amp;b=2">Sale</a>'
    " <a class=\"x\" href='https://example.org/blog'>Blog</a>"
    ' <a href="mailto:help@example.com">Mail us</a> <a href="tel:+4930123">Call</a>'
    ' <a href="#top">Top</a> <a href="https://example.org/u?e={email}">Personal</a>'
    ' <a href="https://shop.example.com/sale?a=1&amp;b=2">Sale again</a></p>'
)
TEXT = "Hello {first_name}, see https://shop.example.com/sale?a=1&b=2"
CLICK = re.compile(r'href="(https://mailer\.example\.com/t/c/[^"]+/)"')
PIXEL = re.compile(r'<img src="(https://mailer\.example\.com/t/o/[^"]+\.gif)"')


def tracked_mailing(*, owner=None, clients: int = 2, tracking: bool = True, html: str = HTML):
    owner = owner or UserFactory()
    message = MessageFactory(owner=owner, subject="Hi", body=TEXT, html_body=html)
    return MailingFactory(
        owner=owner,
        message=message,
        tracking=tracking,
        clients=[ClientFactory(owner=owner) for _ in range(clients)],
    )


def sent_deliveries(mailing, *, sent_ago: dt.timedelta = dt.timedelta(hours=1)) -> list[Delivery]:
    """An occurrence of `mailing` with one sent delivery per client, handed `sent_ago` ago."""
    sent_at = timezone.now() - sent_ago
    occurrence = Occurrence.objects.create(mailing=mailing, scheduled_for=sent_at, first_attempted_at=sent_at)
    return [
        Delivery.objects.create(
            mailing=mailing,
            occurrence=occurrence,
            client=client,
            email=client.email,
            status=Delivery.Status.SENT,
            sent_at=sent_at,
        )
        for client in mailing.clients.order_by("pk")
    ]


def html_for(mailing, delivery) -> str:
    prepared = PreparedMessage(mailing.message, mailing=mailing)
    client = delivery.client
    return prepared.parts(
        email=client.email,
        full_name=client.full_name,
        token=client.unsubscribe_token,
        delivery_id=delivery.pk,
    ).html


def path_of(url: str) -> str:
    return url.removeprefix("https://mailer.example.com")
